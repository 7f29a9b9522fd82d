# The quick start: `make serve` runs the service on SQLite with the bundled content; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: `make serve` needs only what vipbot runs with; tests, lint and types also need the dev extras
# (Playwright, embedded PostgreSQL, mypy, ruff). STAMP keeps its old name so existing set-ups stay valid.
RUNTIME_STAMP := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test lint typecheck check bench clean

$(RUNTIME_STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "$(PYTHON) -m venv failed: install python3-venv (Debian/Ubuntu: apt-get install python3-venv)" >&2; \
	  exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(RUNTIME_STAMP)
	$(BIN)/vipbot serve

test: $(STAMP)
	scripts/ensure-chromium
	scripts/ensure-node-tools
	scripts/ensure-slack-types
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bot scheduler tests bench
	$(BIN)/ruff format --check bot scheduler tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .grimp_cache
