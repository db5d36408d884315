# One entry point. Every target sets up .venv from pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit bench soak emulator clean

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

## Benchmarks (installs the peers and the plotting library first); writes benchmarks/results/
## and the README table.
bench: $(STAMP)
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks.run --readme

soak: $(STAMP)
	LYZR_SOAK_STREAMS=1000 $(BIN)/python -m pytest -m soak -q

emulator: $(STAMP)
	$(BIN)/python -m lyzr_stream.emulator --port 8080

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
