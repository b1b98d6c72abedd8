# Two commands on a fresh machine: `make boot` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/minixvm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: boot test lint bench
boot: $(BIN)/minixvm
	$(BIN)/minixvm boot

test: $(BIN)/minixvm
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(BIN)/minixvm
	$(BIN)/python -m benchmarks
