"""bin/load-arctic: write a folder of market files into an ArcticDB library (records nothing in the ledger)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bin._cli import EXIT_OK, UsageError, parser, run

PROG = "load-arctic"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Write a folder of Parquet/CSV market files (long bar format: date, symbol, ...) into an ArcticDB library, "
        "one symbol per ticker (or one frame symbol), optionally snapshotting it; then run on it with "
        "bin/run-pipeline --source arcticdb+lmdb:///PATH?library=NAME. Records nothing in the ledger. "
        "ArcticDB is the optional extra pip install '.[arctic]' (Business Source License 1.1).",
        "bin/load-arctic data/market --uri lmdb:///tmp/arctic --library market --snapshot v1",
        home=False,
    )
    p.add_argument("folder", type=Path, help="folder of Parquet/CSV files (or one such file)")
    p.add_argument("--uri", required=True, help="the ArcticDB store: lmdb:///PATH, s3://ENDPOINT:BUCKET?aws_auth=true")
    p.add_argument("--library", required=True, help="the library to write into (created when missing)")
    p.add_argument("--snapshot", default=None, metavar="NAME", help="snapshot the library under NAME after writing")
    p.add_argument(
        "--layout",
        choices=("symbol_per_ticker", "frame"),
        default="symbol_per_ticker",
        help="one symbol per ticker (default), or one frame symbol holding every ticker",
    )
    p.add_argument("--frame-symbol", default="bars", help="with --layout frame: the symbol's name (default bars)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)

    def body() -> int:
        from stages.sources.arctic_load import load_folder, store_uri

        try:
            _, source = store_uri(args.uri, args.library)
        except ValueError as exc:
            raise UsageError(f"--uri: {exc}") from exc
        if not args.folder.exists():
            raise UsageError(f"{args.folder} does not exist (give a folder of Parquet/CSV files)")
        progress = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        # every file is read and checked before the store is opened: bad input (ArcticLoadError) writes nothing
        loaded = load_folder(
            args.folder,
            args.uri,
            args.library,
            snapshot=args.snapshot,
            layout=args.layout,
            frame_symbol=args.frame_symbol,
            progress=progress,
        )
        if args.json:
            print(json.dumps({**loaded.as_dict(), "source": source}))
        else:
            snap = f", snapshot {loaded.snapshot}" if loaded.snapshot else ""
            print(
                f"wrote {len(loaded.versions)} symbols ({loaded.rows} rows) into library {loaded.library} of {loaded.store}{snap}"
            )
            as_of = f" --as-of {loaded.snapshot}" if loaded.snapshot else ""
            layout = f" --set source.arctic.layout=frame --set source.arctic.frame_symbol={args.frame_symbol}"
            layout = layout if args.layout == "frame" else ""
            print(f"next:\n  bin/run-pipeline --source '{source}'{as_of}{layout}")
        return EXIT_OK

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
