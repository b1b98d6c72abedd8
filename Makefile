# Two commands on a fresh machine: `make boot` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/minixvm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: boot test lint bench userland
boot: $(BIN)/minixvm
	$(BIN)/minixvm boot

test: $(BIN)/minixvm
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(BIN)/minixvm
	$(BIN)/python -m benchmarks

# Rebuild the i386 programs (needs gcc -m32; the built files are committed).
userland:
	$(MAKE) -C userland
