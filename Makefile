# Two promises: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# torch is installed first, pinned, so no extra ever makes pip resolve a CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-demo: pyproject.toml | $(BIN)/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[falcon,blake3,ml,gateway,monitor]"
	touch $@

$(VENV)/.stamp-all: pyproject.toml | $(BIN)/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[all]"
	touch $@ $(VENV)/.stamp-demo

demo: $(VENV)/.stamp-demo
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

test: $(VENV)/.stamp-all
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

lint: $(VENV)/.stamp-all
	$(BIN)/ruff check src tests bench

bench: $(VENV)/.stamp-all
	$(BIN)/python bench/primitives.py
	$(BIN)/python bench/signing.py --size-mib 64 --rounds 3
	$(BIN)/python bench/scan.py

docs: $(VENV)/.stamp-demo
	$(BIN)/pqml algorithms --markdown > docs/ALGORITHMS.md

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache
