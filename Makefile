# personvern: `make run` for a demo you can use, `make test` for the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
DB     ?= sqlite:///personvern.db
PYTEST_ARGS ?=

.PHONY: install run test lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "personvern needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/personvern demo --db $(DB)
	@echo "For the command line in another terminal: . $(BIN)/activate (then e.g. personvern subject list)"
	PERSONVERN_DEMO_SINK=1 $(BIN)/personvern serve --db $(DB)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# Three test processes on this kind of two-core machine: much of the suite waits on subprocesses, servers and
# PostgreSQL, and a third process fills those waits (measured 4 December: 7 min 46 s against 9 min 44 s with two).
test: lint audit
	$(BIN)/pytest -n 3 $(PYTEST_ARGS)

# Supply chain (README, 'Release build'): the release installs the exact versions and hashes of requirements.lock;
# pyproject.toml keeps lower bounds. `make lock` remakes the lock (keeping pins; LOCK_ARGS=--upgrade for the
# newest); `make audit` fails on a known vulnerability in it and says why when it is skipped (no network).
.PHONY: lock audit
lock: install
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) --output-file requirements.lock pyproject.toml

audit: install
	$(BIN)/python tools/audit_lock.py requirements.lock

# Benchmarks (bench/README.md): BENCH_SUBJECTS=100000 for a quick run; PERSONVERN_BENCH_DATABASE_URL adds PostgreSQL.
.PHONY: bench
bench: install
	$(BIN)/python -m bench.run

# The soak (README, 'Hardening'): two servers and two workers on one PostgreSQL database under a mixed load,
# LINK Mobility flaky; SOAK_SECONDS (60), SOAK_CLIENTS (8), SOAK_DATABASE_URL (CI's server). Not in `make test`.
.PHONY: soak
soak: install
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
