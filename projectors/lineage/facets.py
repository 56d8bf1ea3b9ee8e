"""ledgerline's custom OpenLineage facets (imports openlineage: load this module only once the extra is known present)."""

from __future__ import annotations

from importlib import resources

import attr
from openlineage.client.facet_v2 import RunFacet

#: where the custom facets' JSON schemas say they live; the files ship in projectors/lineage/schemas/
SCHEMA_BASE = "https://ledgerline.dev/spec/facets/1-0-0/"
#: the producer every event and facet this product emits names
PRODUCER = "https://ledgerline.dev/ledgerline"
LEDGERLINE_FACET = "ledgerline"
ROWS_DROPPED_FACET = "ledgerlineRowsDropped"


def schema_files() -> dict[str, str]:
    """File name -> text of every custom facet schema shipped with the package."""
    folder = resources.files("projectors.lineage") / "schemas"
    return {entry.name: entry.read_text() for entry in folder.iterdir() if entry.name.endswith(".json")}


@attr.define
class LedgerlineRunFacet(RunFacet):
    """The ledger lines an event summarises: seq range, the hash of its last line, the run's config hash and code."""

    ledgerRunId: str  # noqa: N815
    firstSeq: int  # noqa: N815
    lastSeq: int  # noqa: N815
    headHash: str  # noqa: N815
    configHash: str  # noqa: N815
    codeVersion: dict[str, object]  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_BASE + "LedgerlineRunFacet.json#/$defs/LedgerlineRunFacet"


@attr.define
class LedgerlineRowsDroppedRunFacet(RunFacet):
    """Rows a stage dropped, reason -> count (from its RowsDropped events)."""

    rowsDropped: dict[str, int]  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_BASE + "LedgerlineRowsDroppedRunFacet.json#/$defs/LedgerlineRowsDroppedRunFacet"
