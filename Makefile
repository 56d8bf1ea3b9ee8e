# ledgerline: `make run` and `make test` are the two commands a new user needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOME_DIR ?= runs
PROFILE ?= canary
DATA ?=
# `make run ORCHESTRATOR=prefect` runs the same stages as a Prefect flow (the ephemeral API under the home)
ORCHESTRATOR ?= plain

.PHONY: install run test bench flow-production clean

install: $(STAMP)

# uv installs the same resolution as pip in about a minute instead of five; pip itself only fetches uv.
# --compile-bytecode: unlike pip, uv writes no .pyc files, and where PYTHONDONTWRITEBYTECODE is set (many CI
# images) no process ever writes them, so every command would compile mlflow, pandas and polars from source.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) -e '.[test]'
	touch $(STAMP)

# `make run DATA=DIR` runs on a folder of market files; a DVC-tracked one is `dvc pull`ed first (the pipeline never calls dvc)
run: install
ifdef DATA
	bin/_dvc_pull.sh $(DATA)
	bin/run-pipeline --profile $(PROFILE) --home $(HOME_DIR) --mirror --orchestrator $(ORCHESTRATOR) --source $(DATA)
else
	bin/run-pipeline --profile $(PROFILE) --home $(HOME_DIR) --mirror --orchestrator $(ORCHESTRATOR)
endif

flow-production: run

# the project's own modules are compiled too (a source edited later is simply recompiled in memory)
test: install
	$(PY) -m compileall -q -j 2 ledger projectors schemas stages bin tests examples
	$(PY) -m pytest -q -n 2 --dist worksteal --durations=15

bench: install
	$(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) -e '.[test,bench]'
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
