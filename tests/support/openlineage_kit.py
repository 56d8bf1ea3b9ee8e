"""Offline OpenLineage 2-0-2 validation (vendored spec + the package's custom facet schemas) and an HTTP receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SPEC = Path(__file__).resolve().parent.parent / "fixtures" / "openlineage-spec"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def registry() -> Registry:
    """Every vendored spec file and every custom facet schema shipped in projectors/lineage, by $id (no network)."""
    from projectors.lineage.facets import schema_files

    docs = [json.loads((SPEC / "OpenLineage.json").read_text())]
    docs += [json.loads(p.read_text()) for p in sorted((SPEC / "facets").glob("*.json"))]
    docs += [json.loads(text) for text in schema_files().values()]
    return Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)


def _validator(registry_: Registry, url: str) -> jsonschema.protocols.Validator:
    base, _, fragment = url.partition("#")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": url}
    del base, fragment
    return jsonschema.Draft202012Validator(
        schema, registry=registry_, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def facets_of(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, facet) for every facet of an event: run, job, datasets, input and output facets."""
    yield from (("run." + k, v) for k, v in event["run"].get("facets", {}).items())
    yield from (("job." + k, v) for k, v in event["job"].get("facets", {}).items())
    for side in ("inputs", "outputs"):
        for ds in event.get(side, []):
            for group in ("facets", "inputFacets", "outputFacets"):
                yield from ((f"{side}.{ds['name']}.{group}.{k}", v) for k, v in ds.get(group, {}).items())


def validate(events: list[dict[str, Any]]) -> int:
    """Validate each event against RunEvent and each facet against its _schemaURL; return facets checked."""
    reg = registry()
    cache: dict[str, jsonschema.protocols.Validator] = {}

    def check(url: str, doc: dict[str, Any]) -> None:
        if url not in cache:
            cache[url] = _validator(reg, url)
        cache[url].validate(doc)

    checked = 0
    for event in events:
        check(RUN_EVENT, event)
        assert event["schemaURL"] == RUN_EVENT
        for _where, facet in facets_of(event):
            check(facet["_schemaURL"], facet)
            checked += 1
    return checked


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class Receiver:
    """An OpenLineage HTTP endpoint on 127.0.0.1: records each POST to /api/v1/lineage; `fail` answers 503."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail = False
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.attempts += 1
                outer.paths.append(self.path)
                if outer.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.events.append(json.loads(body))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
