# One command runs the demo, one runs the tests; both set the machine up from nothing first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint typecheck

setup:
	./scripts/setup.sh

demo: setup
	$(VENV)/bin/stemjepa demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	./scripts/with-postgres.sh $(PY) -m pytest -q
