"""The benchmark suite's smoke version: every scenario runs and produces its figures.

Nothing here is timed; the figures' values are the benchmark's business, not the tests'.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.__main__ import ALL, main

pytestmark = pytest.mark.deployment  # the smoke run starts Airflow, as the benchmarks do


def test_every_scenario_produces_its_figures(tmp_path, capsys):
    output = tmp_path / "latest.json"
    assert main(["--smoke", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    scenarios = {s["scenario"]: s for s in report["scenarios"]}
    assert list(scenarios) == list(ALL)
    for scenario in scenarios.values():
        assert scenario["knobs"] and scenario["figures"] and scenario["target"]
        assert isinstance(scenario["holds"], bool)
    assert scenarios["api_calls"]["figures"]["run_state"] == "success"
    assert scenarios["throttled"]["figures"]["records_lost"] == 0
    big = scenarios["big_usage"]["figures"]["one_configuration"]
    assert big["records_written"] == big["records"]
    assert big["peak_rss_mib_by_task"]["fetch_license_configuration"] > 0
    assert "airflow_overhead" in capsys.readouterr().out
