# Two commands do everything on a fresh Debian 12 machine (as root): `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
EXAMPLE ?= examples/kiraz_case1.yaml

.PHONY: bootstrap demo test test-heavy test-fast lint schema golden clean

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	@$(VENV)/bin/codegen build $(EXAMPLE)

test: bootstrap
	@$(PY) -m pytest -q -p no:cacheprovider -m "not heavy" $(PYTEST_ARGS)

# The heavy tests (the 784x100x10 MNIST chip in every backend, ngspice training at that size, the
# deep-chip accuracy run): minutes to an hour on a 2-core machine, so not in `make test` / CI.
test-heavy: bootstrap
	@$(PY) -m pytest -q -p no:cacheprovider -m heavy $(PYTEST_ARGS)

# Tests that need no external simulator (ngspice, openvaf-r, VACASK, Icarus, Verilator).
test-fast: bootstrap
	@$(PY) -m pytest -q -m "not ngspice and not openvaf and not vacask and not icarus and not verilator and not yosys and not slow" $(PYTEST_ARGS)

lint: bootstrap
	@$(VENV)/bin/ruff check codegen tests bench sim
	@$(VENV)/bin/mypy codegen

schema: bootstrap
	@$(VENV)/bin/codegen schema -o schema/chip.schema.json

# Regenerate golden files (review the diff like code).
golden: bootstrap
	@GOLDEN_RUN=1 $(PY) -m pytest -q tests -k golden

clean:
	rm -rf build .pytest_cache
