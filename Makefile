# The two commands of the README: `make demo` and `make test`. Both set up .venv on their own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: demo test lint unit bench clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# make demo needs only the package; make test adds the test tools (and dask for --dask tests).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $(STAMP)

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP) $(TSTAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/mikeyshark analyze pcaps/conference.pcap --keys pcaps/demo-keys.toml --html report.html
	@echo "wrote report.html"

lint: $(TSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(TSTAMP)
	@$(BIN)/python tests/check_system_tools.py
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

test: lint unit

bench: $(TSTAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
