# Every target creates or reuses .venv and installs what it needs, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install leaves compiling to the first import; where PYTHONDONTWRITEBYTECODE is
# set that means on every start (~80 ms of hvlab's start-up). Compile once, as pip does for
# a regular install; a source changed later is recompiled by Python when it is imported.
$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q hvlab plugins > /dev/null
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q hvlab plugins > /dev/null
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/hvlab

# One worker more than cores: many tests wait on a subprocess or a TUI frame, and an extra
# worker fills those waits (measured on 2 cores: 3:43 for the suite against 4:32 with -n auto).
WORKERS = $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

test: $(STAMP_TEST)
	$(BIN)/ruff check hvlab plugins tests bench docs/examples
	$(BIN)/python -m pytest -q -n $(WORKERS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check hvlab plugins tests bench docs/examples
	$(BIN)/ruff format --check hvlab plugins tests bench docs/examples

format: $(STAMP_TEST)
	$(BIN)/ruff format hvlab plugins tests bench docs/examples
	$(BIN)/ruff check --fix hvlab plugins tests bench docs/examples

bench: $(STAMP_TEST)
	$(BIN)/python bench/run.py --write-readme README.md

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis .ruff_cache
