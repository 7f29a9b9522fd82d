# The quick start: `make serve` runs the service on SQLite with the bundled content; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test lint typecheck check bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "$(PYTHON) -m venv failed: install python3-venv (Debian/Ubuntu: apt-get install python3-venv)" >&2; \
	  exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/vipbot serve

test: $(STAMP)
	scripts/ensure-chromium
	scripts/ensure-slack-types
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bot scheduler tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
