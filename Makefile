# The one place that knows how to set up a fresh machine. Everything builds on `make install`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@./infra/prerequisites.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(BIN)/hubbub demo

# PYTEST_RC_FILE (set by .ci/run) receives pytest's own exit code: make reports every failure as 2.
test: install
	@$(BIN)/python -m pytest; rc=$$?; [ -z "$$PYTEST_RC_FILE" ] || echo $$rc > "$$PYTEST_RC_FILE"; exit $$rc

bench: install
	$(BIN)/hubbub bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	-$(BIN)/hubbub infra down
	rm -rf $(VENV) .hubbub .pytest_cache .mypy_cache .ruff_cache
