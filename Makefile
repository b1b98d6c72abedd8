# Two commands on a fresh machine: `make boot` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/minixvm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: boot test fuzz lint bench userland
boot: $(BIN)/minixvm
	$(BIN)/minixvm boot

test: $(BIN)/minixvm
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

# The long fault campaign (CI runs 10,000 ELF cases, 200 images, 200
# kills and 100 disk driver kills): mutated ELF headers, MFS on damaged
# images over FUZZ_JOBS processes, random kills, the disk driver killed
# under a file workload, every allocation and disk transfer failed in
# turn, random messages. The seed is printed; set MINIXVM_FUZZ_SEED for others.
FUZZ_ELF_CASES ?= 100000
FUZZ_IMAGE_CASES ?= 10000
FUZZ_KILL_RUNS ?= 1000
FUZZ_DRIVER_KILLS ?= 1000
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
fuzz: $(BIN)/minixvm
	MINIXVM_FUZZ_ELF_CASES=$(FUZZ_ELF_CASES) MINIXVM_FUZZ_IMAGE_CASES=$(FUZZ_IMAGE_CASES) \
	MINIXVM_FUZZ_JOBS=$(FUZZ_JOBS) MINIXVM_FUZZ_KILL_RUNS=$(FUZZ_KILL_RUNS) \
	MINIXVM_FUZZ_DRIVER_KILLS=$(FUZZ_DRIVER_KILLS) $(BIN)/pytest -s \
	tests/test_exec_fuzz.py tests/test_mfs_fuzz.py tests/test_kill_anywhere.py \
	tests/test_driver_recovery.py tests/test_alloc_failure.py tests/test_fuzz_messages.py

bench: $(BIN)/minixvm
	$(BIN)/python -m benchmarks

# Rebuild the i386 programs (needs gcc -m32; the built files are committed).
userland:
	$(MAKE) -C userland
