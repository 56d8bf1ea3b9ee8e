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

# uv installs the same resolution as pip in about a minute instead of five; pip itself only fetches uv
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(PY) -m uv pip install --quiet --python $(PY) -e '.[test]'
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

test: install
	$(PY) -m pytest -q -n 2 --dist worksteal --durations=15

bench: install
	$(PY) -m uv pip install --quiet --python $(PY) -e '.[test,bench]'
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
