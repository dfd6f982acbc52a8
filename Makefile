# Two entry points: `make demo` (the main job on the local AWS) and `make test` (every test).
# Both install what they need: uv from PyPI into .local/tools, then the locked dependencies.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .local/tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
# Precompiled bytecode: every Airflow process (tasks included) starts faster.
export UV_COMPILE_BYTECODE := 1

.PHONY: install demo test test-fast lint browser shell-tools ui test-compat test-compat-all dist mwaa

install: .venv/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

demo: install
	.venv/bin/python -m demo

# The Airflow UI and the License consumption page on the demo data, with a few days of history;
# PORT=... chooses the port (default 8080). Runs until Ctrl-C.
ui: install
	.venv/bin/python -m demo.ui

# Every CloudFormation template of the repository (tests/ aside), and the IAM policies of iam/
# as one template (iam/policies_as_template.py), so that cfn-lint checks their actions,
# condition keys and ARNs too.
CFN_TEMPLATES = $(shell grep -rl --include='*.yaml' --include='*.yml' --include='*.json' \
	--exclude-dir=.git --exclude-dir=.venv --exclude-dir=.local --exclude-dir=node_modules \
	--exclude-dir=tests AWSTemplateFormatVersion .)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/cfn-lint $(CFN_TEMPLATES)
	.venv/bin/python iam/policies_as_template.py > .local/iam-policies.template.json
	.venv/bin/cfn-lint .local/iam-policies.template.json

# The end-to-end UI test drives Debian's chromium; Playwright's own browser download is not used.
browser:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The documented shell examples (docs/operating.md) that tests/test_make_ui.py runs use curl and jq.
shell-tools:
	command -v jq >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y jq)

# Everything, cheapest tier first, so that a cheap failure shows within the first minute: the
# tests that run no Airflow (`make test-fast`), then the DAG runs in the test process and the
# environment builds on every core (pytest-xdist; each worker has its own SQLite database and
# local AWS; `--dist loadgroup` keeps a module marked `xdist_group` on one worker, so that its
# module-scoped fixture is made once), then the running Airflow deployments one at a time (their
# timings assume they have the machine to themselves). tests/conftest.py sets the markers from
# the fixtures.
FAST_TIER := not deployment and not slow and not dag_run
IN_PROCESS_TIER := (dag_run or slow) and not deployment
WORKERS ?= 4

test: lint browser shell-tools
	.venv/bin/python -m pytest -m "$(FAST_TIER)"
	.venv/bin/python -m pytest -m "$(IN_PROCESS_TIER)" --numprocesses $(WORKERS) --dist loadgroup
	.venv/bin/python -m pytest -m deployment
	$(MAKE) test-compat-all

# The tests that run no Airflow at all (no deployment, no dag.test): feedback within a minute.
test-fast: install
	.venv/bin/python -m pytest -m "$(FAST_TIER)"

# The compatibility matrix (tools/compat_matrix.py): the wheel installed into a fresh environment
# under .local/compat/ that holds exactly one Airflow, with the dependencies of its release day
# (cached while its inputs are unchanged), `airflow plugins`, then the DAG-level tests, the
# page's tests and the checks of the reaches into internals, against the installed package.
# One cell: `make test-compat AIRFLOW=3.1.8 [AMAZON=9.6.0] [CELL_PYTHON=python3.12]`. Every
# cell: the newest patch of each supported minor below the locked one, the oldest with the
# oldest supported amazon provider; the locked 3.3.2 is what every other tier runs
# (test_package_install installs the wheel into it).
AIRFLOW ?= 3.3.2
AMAZON ?=
CELL_PYTHON ?=
COMPAT_WORKERS ?= 4
COMPAT_CELLS := 3.1.8:9.6.0 3.2.2

test-compat: install
	.venv/bin/python tools/compat_matrix.py --airflow $(AIRFLOW) $(if $(AMAZON),--amazon $(AMAZON)) $(if $(CELL_PYTHON),--python $(CELL_PYTHON)) --workers $(COMPAT_WORKERS)

test-compat-all: install
	set -e; for cell in $(COMPAT_CELLS); do \
		airflow=$${cell%%:*}; amazon=$${cell#$$airflow}; amazon=$${amazon#:}; \
		$(MAKE) --no-print-directory test-compat AIRFLOW=$$airflow AMAZON=$$amazon; \
	done

# The sdist and the wheel, in dist/.
dist: install
	rm -rf dist/*.whl dist/*.tar.gz
	$(UV) build --out-dir dist

# What an MWAA environment needs for a private package: dist/mwaa/plugins.zip (the wheel and an
# .airflowignore) and dist/mwaa/requirements.txt (the wheel from the plugins folder, under the
# environment's constraints). MWAA_AIRFLOW is the environment's Airflow version.
MWAA_AIRFLOW ?= 3.1.8
mwaa: install
	.venv/bin/python tools/mwaa_bundle.py --airflow $(MWAA_AIRFLOW)
