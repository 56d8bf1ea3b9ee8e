#!/usr/bin/env bash
# `make run DATA=DIR`, first step: `dvc pull` DIR's tracked path when DIR is DVC-tracked and a remote is configured.
# The pipeline itself only reads files; pulling is the orchestration side's job. Nothing happens for other folders.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
py="$root/.venv/bin/python"
if [ $# -ne 1 ]; then echo "usage: bin/_dvc_pull.sh DIR" >&2; exit 2; fi
target="$(PYTHONPATH="$root" "$py" -c '
import sys
from pathlib import Path
from stages.sources.dvc import pull_target
found = pull_target(Path(sys.argv[1]))
print("" if found is None else f"{found[0]}\t{found[1]}")
' "$1")"
[ -z "$target" ] && exit 0
repo="${target%%$'\t'*}"
path="${target#*$'\t'}"
dvc="$root/.venv/bin/dvc"
if [ ! -x "$dvc" ]; then
    echo "_dvc_pull: $1 is DVC-tracked ($path in $repo); install the dvc extra to pull it: .venv/bin/pip install -e '.[dvc]'" >&2
    exit 2
fi
echo "dvc pull $path (in $repo)" >&2
cd "$repo" && exec "$dvc" pull -q "$path"
