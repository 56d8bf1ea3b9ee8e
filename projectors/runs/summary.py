"""The summary of one run read back from the ledger: status, seq range, headline metrics, rows dropped by reason."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ledger import Ledger
from schemas.events import (
    DataContractChecked,
    DataContractCheckedData,
    DataInput,
    MetricLogged,
    RowsDropped,
    RunStarted,
)


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What a person first wants to know about a run that just ended."""

    run_id: str
    status: str
    error: str | None
    first_seq: int
    last_seq: int
    metrics: dict[str, float]
    rows_dropped: dict[str, int]
    warnings: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The JSON document of `bin/run-pipeline --json` (seqs as [first, last])."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "error": self.error,
            "seqs": [self.first_seq, self.last_seq],
            "metrics": dict(self.metrics),
            "rows_dropped": dict(self.rows_dropped),
            "warnings": list(self.warnings),
        }


def summarize_run(
    home: Path, run_id: str, status: str, first_seq: int, last_seq: int, error: str | None = None
) -> RunSummary:
    """Headline metrics (no step, no asset) and drops by reason of the run recorded at seqs first_seq..last_seq."""
    headline: dict[str, float] = {}
    drops: Counter[str] = Counter()
    warnings: list[str] = []
    with Ledger.open(home, readonly=True) as ledger:
        for event in ledger.read(after=first_seq - 1, until=last_seq):
            if event.run_id != run_id:
                continue
            match event:
                case MetricLogged(data=d) if d.step is None and d.asset is None:
                    headline[d.key] = d.value
                case RowsDropped(data=d):
                    drops[d.reason] += d.count
                case DataContractChecked(data=d) if d.status == "warned":
                    warnings.append(_warning(d))
                case RunStarted(data=d):
                    warnings += unversioned_data(d.inputs)
    return RunSummary(run_id, status, error, first_seq, last_seq, headline, dict(drops), warnings)


def _warning(d: DataContractCheckedData) -> str:
    """One line for a warned check: contract.check, then its problem (or its count) and the inputs it names."""
    inputs = [str(s["input"]) for s in d.sample if "input" in s]
    problem = next((str(s["problem"]) for s in d.sample if "problem" in s), f"{d.failed} of {d.total} rows warned")
    shown = ", ".join(inputs[:3]) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else "")
    return f"{d.contract}.{d.check}: {problem}" + (f" ({shown})" if shown else "")


def unversioned_data(inputs: Iterable[DataInput]) -> list[str]:
    """One line per DVC-tracked path whose files did not match their DVC version when the run read them."""
    paths = dict.fromkeys(i.dvc.path for i in inputs if i.dvc is not None and not i.dvc.matches)
    return [
        f"data: {p} does not match its DVC version (uncommitted changes; dvc add and commit it); not a candidate"
        for p in paths
    ]
