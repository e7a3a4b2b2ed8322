# Thin wrappers: each target sets up the virtualenv it needs, then runs one thing.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
SOAK_ARGS   ?= --seconds 45 --writers 4

.PHONY: demo test lint bench soak clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade "pip>=25.1"
	$(VENV)/bin/pip install --quiet -e . --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/scripts-es demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check scripts_es projections tests bench examples
	$(VENV)/bin/ruff format --check scripts_es projections tests bench examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench $(if $(QUICK),--quick,)

soak: $(STAMP)
	$(PY) -m tests.reliability.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
