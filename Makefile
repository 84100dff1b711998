# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= demo.db

.PHONY: install demo test test-postgresql lint typecheck unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	OPP_DB=$(DEMO_DB) $(BIN)/opp demo
	@echo
	OPP_DB=$(DEMO_DB) $(BIN)/opp pipeline
	@echo
	OPP_DB=$(DEMO_DB) $(BIN)/opp forecast --period this-quarter --by assignee

lint: $(STAMP)
	$(BIN)/ruff check opp tests
	$(BIN)/ruff format --check opp tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

test: lint typecheck unit

# The whole suite again on PostgreSQL: OPP_TEST_DATABASE_URL names a role that may create databases,
# e.g. postgresql://opp:opp@127.0.0.1:5432/postgres (.ci/run starts such a server).
test-postgresql: $(STAMP)
	@test -n "$$OPP_TEST_DATABASE_URL" || { echo "set OPP_TEST_DATABASE_URL to a PostgreSQL URL"; exit 2; }
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf $(VENV) *.egg-info $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
