# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
# Day to day, `make check` (lint, types and the fast tests) answers in under a minute.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE_STAMP := $(VENV)/.installed-base
STAMP := $(VENV)/.installed
DEMO_DB ?= demo.db
PYTEST := $(BIN)/python -m pytest -q -n 2

.PHONY: install demo check test test-postgresql test-latest lint typecheck unit fast clean bench completions

# opp alone (what `make demo` needs), then opp with its test tools (everything else).
$(BASE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(BASE_STAMP)

$(STAMP): $(BASE_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(BASE_STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	OPP_DB=$(DEMO_DB) $(BIN)/opp demo
	@echo
	OPP_DB=$(DEMO_DB) $(BIN)/opp pipeline
	@echo
	OPP_DB=$(DEMO_DB) $(BIN)/opp forecast --period this-quarter --by assignee

lint: $(STAMP)
	$(BIN)/ruff check opp tests bench
	$(BIN)/ruff format --check opp tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The tests marked slow (real processes, stress, crash, the example scripts) are left to `make test`.
fast: $(STAMP)
	$(PYTEST) -m "not slow"

unit: $(STAMP)
	$(PYTEST)

check: lint typecheck fast

test: lint typecheck unit

# The whole suite again on PostgreSQL: OPP_TEST_DATABASE_URL names a role that may create databases,
# e.g. postgresql://opp:opp@127.0.0.1:5432/postgres (.ci/run starts such a server).
test-postgresql: $(STAMP)
	@test -n "$$OPP_TEST_DATABASE_URL" || { echo "set OPP_TEST_DATABASE_URL to a PostgreSQL URL"; exit 2; }
	$(PYTEST)

# The fast tests against the newest Typer, which pyproject.toml's pin keeps from users until it is
# tested: a break in what opp.cli.compat reaches into shows here first. A venv of its own; pip warns
# there that opp asks for an older Typer, which is the point.
LATEST := .venv-latest

test-latest:
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade typer
	$(LATEST)/bin/python -c "import typer; print('testing against typer', typer.__version__)"
	$(LATEST)/bin/python -m pytest -q -n 2 -m "not slow"

clean:
	rm -rf $(VENV) $(LATEST) *.egg-info $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm

# Shell completion scripts, generated from the app's commands (tests/test_completions.py fails when stale).
completions: $(STAMP)
	$(BIN)/python -m opp.cli.complete completions

# Benchmarks (docs/performance.md): generated databases of 10k, 100k and 1M deals, each command timed as
# a whole process beside a plain sqlite3 script doing the same query. Takes a while; not part of test.
BENCH_DIR ?= /tmp/oppbench

bench: $(STAMP)
	mkdir -p $(BENCH_DIR)
	for n in 10000 100000 1000000; do \
	    test -f $(BENCH_DIR)/$$n.done || { $(BIN)/python bench/generate.py --replace --deals $$n --db $(BENCH_DIR)/$$n.db \
	        && touch $(BENCH_DIR)/$$n.done; } || exit 1; \
	done
	$(BIN)/python bench/run.py --db $(BENCH_DIR)/100000.db --small $(BENCH_DIR)/10000.db --check --out bench-100k.json
	$(BIN)/python bench/run.py --db $(BENCH_DIR)/1000000.db --small $(BENCH_DIR)/10000.db --check --out bench-1m.json

# The CLI reference, generated from --help (tests/test_cli_reference.py fails when it is stale).
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m opp.cli.reference docs/cli.md
