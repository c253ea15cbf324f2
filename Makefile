# perfops: `make demo` runs the loop on the embedded default, `make test` runs the whole suite.
# Both bootstrap what they need: a venv with the locked deps (uv.lock) and the Debian packages.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
DEBS := prometheus prometheus-alertmanager chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never

.PHONY: all setup debs tools demo test lint typecheck unit bench clean lock

all: setup

setup: $(VENV)/.synced

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: uv.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv sync --frozen --all-extras --python $(BIN)/python
	touch $@

debs:
	@scripts/ensure-debs $(DEBS)

# The peer tools the suite checks against, each in its own Python 3.12 venv (they pin
# libraries perfops cannot share), installed before the tests so no test waits on pip.
# Exit 3 means no Python 3.12 here: the tests that need them then say so and skip.
tools:
	@scripts/ensure-focus-validator >/dev/null || [ $$? -eq 3 ]
	@scripts/ensure-chaostoolkit >/dev/null || [ $$? -eq 3 ]

lock: | $(BIN)/uv
	$(BIN)/uv lock

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy

# Two test processes (each file's tests stay together, in order): most tests wait on servers
# and subprocesses, so two overlap well on two cores. TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
unit: setup debs tools
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

test: setup debs lint typecheck unit

demo: setup debs
	$(BIN)/perfops demo demo-workspace

bench: setup
	$(BIN)/python bench/store_ingest.py
	$(BIN)/python bench/sim_throughput.py
	$(BIN)/python bench/parse_ingest.py
	$(BIN)/python bench/slo_eval.py
	$(BIN)/python bench/cost_attribution.py
	$(BIN)/python bench/proxy_overhead.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .venv-focus .venv-ctk demo-workspace .mypy_cache .ruff_cache .pytest_cache
