"""The HTTP control API under /_emulator/ and its client class."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from local_aws import EmulatorClient, EmulatorControlError, make_config_arn, make_configuration
from tests.local_aws.helpers import ACCOUNT_A

WIN = make_config_arn("us-east-1", ACCOUNT_A, "demo-win-dc-use1")


@pytest.fixture
def control(emulator):
    return EmulatorClient(emulator.url)


def test_health_and_settings(control):
    health = control.health()
    assert health["status"] == "ok" and health["configurations"] == 12
    assert control.settings()["page_size_cap"] == 100
    assert control.update_settings(page_size_cap=10)["page_size_cap"] == 10
    with pytest.raises(EmulatorControlError) as info:
        control.update_settings(page_size_cap=0)
    assert info.value.status == 400
    control.reset(settings=False)
    assert control.settings()["page_size_cap"] == 10
    control.reset()
    assert control.settings()["page_size_cap"] == 100


def test_faults_and_calls_over_http(lm, control):
    client = lm()
    state = control.set_faults(
        latency_ms=5,
        fail_then_succeed={WIN: {"failures": 1, "error": "ServerInternalException"}},
    )
    assert state["fail_then_succeed"][WIN]["remaining"] == 1
    with pytest.raises(ClientError) as info:
        client.get_license_configuration(LicenseConfigurationArn=WIN)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    client.get_license_configuration(LicenseConfigurationArn=WIN)
    assert control.call_count("GetLicenseConfiguration") == 2
    assert control.call_count("GetLicenseConfiguration", WIN) == 2
    assert control.calls()["total"] == 2
    assert control.faults()["fail_then_succeed"][WIN]["remaining"] == 0
    assert control.clear_faults()["fail_then_succeed"] == {}
    assert control.reset_calls()["total"] == 0
    with pytest.raises(EmulatorControlError):
        control.set_faults(throttle_rate=2)


def test_seed_replace_add_and_reset(lm, control):
    extra = make_config_arn("us-east-1", ACCOUNT_A, "over-http")
    assert control.seed([make_configuration(extra, usage_count=5)], replace=False)["loaded"] == 1
    assert control.health()["configurations"] == 13
    client = lm()
    assert client.get_license_configuration(LicenseConfigurationArn=extra)["ConsumedLicenses"]
    control.seed([make_configuration(extra, name="only one")])  # replace is the default
    assert control.health()["configurations"] == 1
    assert lm().list_license_configurations()["LicenseConfigurations"][0]["Name"] == "only one"
    with pytest.raises(EmulatorControlError) as info:
        control.seed([{"LicenseConfigurationArn": extra, "NotAMember": 1}])
    assert info.value.status == 400 and "NotAMember" in str(info.value)
    assert control.health()["configurations"] == 1  # a bad seed changes nothing
    control.set_faults(latency_ms=1)
    control.reset()
    assert control.health()["configurations"] == 12
    assert control.faults()["latency_ms"] == 0
    assert control.calls()["total"] == 0


def test_seed_file(control, tmp_path):
    path = tmp_path / "seed.json"
    arn = make_config_arn("eu-west-1", ACCOUNT_A, "from-file")
    path.write_text(json.dumps({"configurations": [make_configuration(arn, usage_count=3)]}))
    assert control.seed_file(path)["configurations"] == 1


def test_raw_endpoints(emulator):
    def call(method, path, body=None):
        data = None if body is None else body.encode()
        request = urllib.request.Request(emulator.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert call("GET", "/_emulator/health")[0] == 200
    assert call("POST", "/_emulator/faults", '{"throttle_rate": 0.5}')[1]["throttle_rate"] == 0.5
    assert call("DELETE", "/_emulator/faults")[1]["throttle_rate"] == 0
    assert call("POST", "/_emulator/faults", "{not json")[0] == 400
    assert call("GET", "/_emulator/nothing")[0] == 404
    assert call("GET", "/")[0] == 404
    assert call("POST", "/_emulator/reset", '{"data": false}')[0] == 200
