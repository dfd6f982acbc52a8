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

# The end-to-end UI test drives Debian's chromium; Playwright's own browser download is not used.
browser:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# Everything, cheapest tier first (tests/conftest.py orders them): unit, in-process DAG runs,
# environment builds, then the running Airflow deployments.
test: lint browser
	.venv/bin/python -m pytest

# The tests that run no Airflow at all (no deployment, no dag.test): feedback within a minute.
test-fast: install
	.venv/bin/python -m pytest -m "not deployment and not slow and not dag_run"
