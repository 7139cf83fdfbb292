# patronsync developer tasks. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install demo test test-servers test-sqlite test-postgres lint typecheck migrations-check openapi openapi-check bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default (SQLite in ./var), its report, then the web UI.
demo: $(STAMP)
	$(BIN)/patronsync quickstart
	$(BIN)/patronsync serve

## The whole suite: lint, types, migrations, tests on SQLite and on PostgreSQL.
test: lint typecheck migrations-check openapi-check test-servers test-sqlite test-postgres

## What the tests start themselves but this machine may lack (OpenSSH's sshd, from Debian).
test-servers:
	.ci/test-servers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy patronsync config

## The committed OpenAPI file of /api/v1/: `make openapi` regenerates it, `openapi-check` fails
## when it differs from what the code describes.
OPENAPI_FILE := docs/openapi/patronsync-api.yaml

openapi: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py spectacular --fail-on-warn --file $(OPENAPI_FILE)

openapi-check: $(STAMP)
	@fresh=$$(mktemp) && trap 'rm -f "$$fresh"' EXIT && \
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py spectacular \
		--fail-on-warn --file "$$fresh" && \
	if ! diff -u $(OPENAPI_FILE) "$$fresh"; then \
		echo "$(OPENAPI_FILE) is out of date: run make openapi, and commit it"; exit 1; fi

migrations-check: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

test-sqlite: $(STAMP)
	$(BIN)/pytest -q

test-postgres: $(STAMP)
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -q

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
