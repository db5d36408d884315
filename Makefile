# One entry point. Every target sets up .venv from pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The lowest supported versions (constraints/lowest.txt), in a venv of their own, on
# LOWEST_PYTHON (CI gives python3.12 there, so that both supported Pythons run the whole suite).
LOWEST        := .venv-lowest
LOWEST_PYTHON ?= $(PYTHON)
LOWEST_STAMP  := $(LOWEST)/.installed-$(notdir $(LOWEST_PYTHON))

.PHONY: install demo test lint typecheck unit test-live test-lowest docs docs-lowest dist bench soak emulator clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Stream one answer through LangChain and one through LlamaIndex (embedded emulator unless
## LYZR_API_KEY and LYZR_AGENT_ID are set).
demo: $(STAMP)
	$(BIN)/python examples/demo.py

## Lint, type-check, then the whole test suite (what CI runs).
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

## The conformance suite (tests/live/): against the embedded emulator, or, with LYZR_API_KEY and
## LYZR_AGENT_ID set, against that service (it prints the agent runs it will spend first).
## Writes conformance-report.md and .json (see docs/check-against-your-account.md).
test-live: $(STAMP)
	$(BIN)/python -m pytest -m live -rs tests/live

$(LOWEST_STAMP): pyproject.toml constraints/lowest.txt
	rm -rf $(LOWEST)
	$(LOWEST_PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install -q --upgrade pip
	$(LOWEST)/bin/python -m pip install -q -c constraints/lowest.txt -e ".[dev]"
	touch $(LOWEST_STAMP)

## The whole test suite (and ruff at its floor) on the lowest supported versions.
test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/ruff check .
	$(LOWEST)/bin/python -m pytest

## The documentation site (mkdocs.yml, docs/, the API reference from the docstrings) into
## site/; --strict: a broken link, a missing page or a docstring reference that does not resolve
## fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## The same build on the lowest supported versions of the docs packages (constraints/lowest.txt).
docs-lowest: $(LOWEST_STAMP)
	NO_MKDOCS_2_WARNING=1 $(LOWEST)/bin/mkdocs build --strict --site-dir site

## Build the sdist and wheel into dist/, check them with twine and check the wheel's contents.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/python .ci/check_wheel.py dist/*.whl

## Benchmarks (installs the peers and the plotting library first); writes benchmarks/results/,
## docs/benchmarks.md with its plot, and the README's headline figures.
bench: $(STAMP)
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks.run --readme

soak: $(STAMP)
	LYZR_SOAK_STREAMS=1000 $(BIN)/python -m pytest -m soak -q

emulator: $(STAMP)
	$(BIN)/python -m lyzr_stream.emulator --port 8080

clean:
	rm -rf $(VENV) $(LOWEST) dist site .pytest_cache .mypy_cache .ruff_cache .hypothesis \
	  conformance-report.md conformance-report.json
