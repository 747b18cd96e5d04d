# The two commands of the README: `make demo` and `make test`. Both set up .venv on their own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# The package is installed in setuptools' "strict" editable mode: a tree of links under build/
# that tools reading the file system (mypy) follow like an installed package. The tree lists
# files, so the stamps carry a checksum of the file list: adding or removing a module reinstalls.
LAYOUT := $(shell find analyzer dissectors templates -type f ! -path '*/__pycache__/*' 2>/dev/null | sort | cksum | cut -d' ' -f1)
STAMP  := $(VENV)/.installed-$(LAYOUT)
TSTAMP := $(VENV)/.installed-test-$(LAYOUT)
EDITABLE := --config-settings editable_mode=strict

.PHONY: demo test lint unit bench bombs fuzz clean venv docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# make demo needs only the package; make test adds the test tools (and dask for --dask tests).
$(STAMP): pyproject.toml | $(BIN)/python
	rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install -q -e . $(EDITABLE)
	touch $(STAMP)

$(TSTAMP): pyproject.toml | $(BIN)/python
	rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install -q -e '.[test]' $(EDITABLE)
	touch $(STAMP) $(TSTAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/mikeyshark analyze pcaps/conference.pcap --keys pcaps/demo-keys.toml --html report.html
	$(BIN)/mikeyshark analyze pcaps/conference-mrf.pcap --keys pcaps/demo-keys.toml --html report-mrf.html
	@echo "wrote report.html (the conference at the UEs) and report-mrf.html (at the MRF, with the Mp leg)"

lint: $(TSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p mikeyshark
	$(BIN)/mypy

unit: $(TSTAMP)
	@$(BIN)/python tests/support/check_system_tools.py
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

test: lint unit

# The long randomized fuzz campaign (tests/fuzz/campaign.py): mutants through the command line,
# then a coverage-guided atheris run when atheris installs. Crashers are saved, minimised, in
# tests/fuzz/corpus, which `make test` replays. The acceptance campaign (about an hour on two
# cores): FUZZ_ARGS="--mutants 5000 --seed 1 --jobs 2 --fork".
FUZZ_ARGS ?= --mutants 1000 --fork --atheris 600
fuzz: $(TSTAMP)
	-$(BIN)/python -m pip install -q atheris
	nice $(BIN)/python -m tests.fuzz.campaign $(FUZZ_ARGS)

# docs/rules.md, cli.md and fields.md are written from the code (a test fails when stale)
docs: $(STAMP)
	$(BIN)/python -m mikeyshark.docs docs

bench: $(TSTAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The review's resource bombs at its sizes and ten times them: peak RSS and time of each run
bombs: $(TSTAMP)
	nice $(BIN)/python bench/bombs.py $(BOMBS_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
