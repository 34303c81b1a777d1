# Two commands matter: `make run` (the product on its embedded SQLite) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: run install test test-sqlite test-postgres lint format migrations clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/emploi-store migrate
	$(BIN)/emploi-store seed
	$(BIN)/emploi-store serve

# The whole suite, once on SQLite and once on PostgreSQL (a throwaway database per run).
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install
	TEST_DATABASE=sqlite $(BIN)/pytest

test-postgres: install
	TEST_DATABASE=postgres TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) $(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations: install
	$(BIN)/tortoise makemigrations

clean:
	rm -rf $(VENV) var .pytest_cache

# schema.graphql, the SDL client developers read, regenerated from the code (a test checks it).
.PHONY: schema
schema: install
	$(BIN)/emploi-store schema export
