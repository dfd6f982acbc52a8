"""What Amazon MWAA needs to install the package privately (``make mwaa``).

    python tools/mwaa_bundle.py --airflow 3.1.8 [--out dist/mwaa]

writes

- ``plugins.zip``: the wheel at the top level, and an ``.airflowignore`` that keeps Airflow's
  plugin loader from scanning it (the plugin is found through the wheel's entry point);
- ``requirements.txt``: the environment's ``--constraint`` line (Airflow's constraints for that
  version and MWAA's Python 3.11) and the wheel from the folder where MWAA unpacks
  ``plugins.zip`` (``/usr/local/airflow/plugins``).

Upload both to the environment's bucket and select them as its plugins and requirements files;
the DAG file (``dags/license_tracking.py``) goes to its ``dags/`` folder as usual.
Standard library only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".local" / "tools" / "bin" / "uv"
MWAA_PLUGINS_FOLDER = "/usr/local/airflow/plugins"
MWAA_PYTHON = "3.11"
CONSTRAINTS_URL = "https://raw.githubusercontent.com/apache/airflow/constraints-{airflow}/constraints-{python}.txt"
AIRFLOWIGNORE = (
    "# The package is installed from this wheel (requirements.txt); nothing to scan.\n*.whl\n"
)


def build_wheel(into: Path) -> Path:
    subprocess.run([str(UV), "build", "--wheel", "--out-dir", str(into)], cwd=ROOT, check=True)
    (wheel,) = into.glob("*.whl")
    return wheel


def requirements_text(airflow: str, wheel_name: str) -> str:
    constraints = CONSTRAINTS_URL.format(airflow=airflow, python=MWAA_PYTHON)
    return f'--constraint "{constraints}"\n{MWAA_PLUGINS_FOLDER}/{wheel_name}\n'


def write_bundle(airflow: str, out: Path) -> tuple[Path, Path]:
    """``out/plugins.zip`` and ``out/requirements.txt`` for an MWAA environment of ``airflow``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as build:
        wheel = build_wheel(Path(build))
        plugins = out / "plugins.zip"
        with zipfile.ZipFile(plugins, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            bundle.write(wheel, wheel.name)
            bundle.writestr(".airflowignore", AIRFLOWIGNORE)
        requirements = out / "requirements.txt"
        requirements.write_text(requirements_text(airflow, wheel.name))
    return plugins, requirements


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow", required=True, help="the MWAA environment's Airflow version")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "mwaa")
    options = parser.parse_args(argv)
    for path in write_bundle(options.airflow, options.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
