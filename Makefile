# Two entry points: `make demo` (the main job on the local AWS) and `make test` (every test).
# Both install what they need: uv from PyPI into .local/tools, then the locked dependencies.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .local/tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
# Precompiled bytecode: every Airflow process (tasks included) starts faster.
export UV_COMPILE_BYTECODE := 1

.PHONY: install demo test test-fast lint browser

install: .venv/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

demo: install
	.venv/bin/python -m demo

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/cfn-lint iam/*.yaml

# The end-to-end UI test drives Debian's chromium; Playwright's own browser download is not used.
browser:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# Everything, cheapest tier first, so that a cheap failure shows within the first minute: the
# tests that run no Airflow (`make test-fast`), then the DAG runs in the test process and the
# environment builds on every core (pytest-xdist; each worker has its own SQLite database and
# local AWS), then the running Airflow deployments one at a time (their timings assume they
# have the machine to themselves). tests/conftest.py sets the markers from the fixtures.
FAST_TIER := not deployment and not slow and not dag_run
IN_PROCESS_TIER := (dag_run or slow) and not deployment
WORKERS ?= 4

test: lint browser
	.venv/bin/python -m pytest -m "$(FAST_TIER)"
	.venv/bin/python -m pytest -m "$(IN_PROCESS_TIER)" --numprocesses $(WORKERS) --dist load
	.venv/bin/python -m pytest -m deployment

# The tests that run no Airflow at all (no deployment, no dag.test): feedback within a minute.
test-fast: install
	.venv/bin/python -m pytest -m "$(FAST_TIER)"
