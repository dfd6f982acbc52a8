"""Static checks of the production deployment: docker-compose.yaml, deploy/airflow.env, the
Dockerfile, .env.example and the requirements exported from uv.lock.

No Docker is needed: the compose file is read as YAML and compared with the files it names.
"""

from __future__ import annotations

import os
import re
import subprocess
from urllib.parse import urlsplit

import pytest

from local_airflow.environment import (
    AIRFLOW_COMMANDS,
    AIRFLOW_ENV_FILE,
    IMAGE_AIRFLOW_HOME,
    ROOT,
    load_compose,
    read_env_file,
    shared_airflow_env,
)
from tests.deployment import (
    ENV_EXAMPLE_FILE,
    OFFICIAL_SERVICES,
    REQUIREMENTS_EXPORTS,
    env_files_of,
    environment_of,
    find_uv,
    requirement_lines,
)

DOCKERFILE = (ROOT / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def compose():
    return load_compose()


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def airflow_services(services) -> dict:
    """Every service built from the Airflow image (the x-airflow-common block)."""
    return {
        name: s for name, s in services.items() if name.startswith("airflow-") or name == "flower"
    }


def test_every_service_of_the_official_file_is_there(services):
    assert set(OFFICIAL_SERVICES) <= set(services)
    profiles = {name: service.get("profiles", []) for name, service in services.items()}
    assert profiles["flower"] == ["flower"]
    assert profiles["airflow-cli"] == ["debug"]
    assert profiles["local-aws"] == ["local-aws"]
    always_on = set(OFFICIAL_SERVICES) - {"flower", "airflow-cli"}
    assert all(not profiles[name] for name in always_on)


def test_long_running_services_run_their_airflow_command_with_a_health_check(services):
    for name, command in AIRFLOW_COMMANDS.items():
        service = services[name]
        assert service["command"] == command, name
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "always", name
        assert service["depends_on"]["airflow-init"] == {
            "condition": "service_completed_successfully"
        }, name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
    for name in ("postgres", "redis", "local-aws", "flower"):
        assert services[name]["healthcheck"]["test"], name
    worker = services["airflow-worker"]["depends_on"]
    assert worker["airflow-apiserver"]["condition"] == "service_healthy"
    assert worker["local-aws"] == {"condition": "service_healthy", "required": False}
    assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert services["airflow-apiserver"]["ports"] == ["${AIRFLOW_API_PORT:-8080}:8080"]


def test_airflow_services_use_the_built_image_and_the_shared_settings(services):
    images = {s["image"] for s in airflow_services(services).values()}
    assert images == {"${AIRFLOW_IMAGE_NAME:-airflow-license-tracking:latest}"}
    for name, service in airflow_services(services).items():
        assert service["build"] == {"context": ".", "target": "airflow"}, name
        # deploy/airflow.env first, then .env: a deployment's .env overrides a shared value.
        assert env_files_of(service) == ["deploy/airflow.env", ".env"], name
        assert service["env_file"][0]["required"] is True
        assert service["env_file"][1]["required"] is False


def test_every_airflow_variable_compose_sets_is_the_shared_one(compose, services):
    shared = shared_airflow_env()
    set_by_compose = {}
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if key.startswith("AIRFLOW") and not key.startswith("AIRFLOW_VAR_"):
                set_by_compose[f"{name}: {key}"] = (key, value)
    # compose's own environment blocks may repeat a shared value but never change it
    for where, (key, value) in set_by_compose.items():
        assert key in shared, f"{where} is not in deploy/airflow.env"
        assert value == shared[key], f"{where}={value!r} differs from deploy/airflow.env"
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in (ROOT / "docker-compose.yaml").read_text()


def test_the_shared_settings_are_airflow_options_and_name_compose_hosts(services):
    from airflow.configuration import conf
    from license_manager.plugin import PRELOAD_OPTION, PRELOAD_SECTION

    options = conf.configuration_description  # Airflow's and the providers' options
    own_options = {(PRELOAD_SECTION, PRELOAD_OPTION)}  # the package's own
    shared = shared_airflow_env()
    for key in shared:
        if key.startswith("AIRFLOW__"):
            section, option = key[len("AIRFLOW__") :].lower().split("__", 1)
            known = option in options.get(section, {}).get("options", {})
            assert known or (section, option) in own_options, f"{key} is no option"
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    hosts = {}
    for key, value in shared.items():
        if "://" in value:
            parts = urlsplit(value)
            assert parts.hostname in services, f"{key}: {parts.hostname} is no compose service"
            hosts[key] = (parts.hostname, parts.port)
    assert hosts["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == ("postgres", 5432)
    assert hosts["AIRFLOW__CELERY__RESULT_BACKEND"] == ("postgres", 5432)
    assert hosts["AIRFLOW__CELERY__BROKER_URL"] == ("redis", 6379)
    assert hosts["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == ("airflow-apiserver", 8080)
    paths = [v for v in shared.values() if v.startswith("/")]
    assert paths and all(path.startswith(IMAGE_AIRFLOW_HOME + "/config/") for path in paths)
    # The postgres service creates the database and user the URLs name; the password reaches
    # the Airflow containers as PGPASSWORD, from the same variable.
    postgres = environment_of(services["postgres"])
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        database = urlsplit(shared[key])
        assert (database.username, database.password, database.path) == (
            postgres["POSTGRES_USER"],
            None,
            "/" + postgres["POSTGRES_DB"],
        )
    for name, service in airflow_services(services).items():
        assert environment_of(service)["PGPASSWORD"] == postgres["POSTGRES_PASSWORD"], name


def test_mounts_point_at_folders_of_the_repository(compose, services):
    named = set(compose["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (ROOT / source).is_dir(), f"{name}: {source} does not exist"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
            assert target.startswith("/"), name
    common = services["airflow-scheduler"]["volumes"]
    assert "./dags:/opt/airflow/dags" in common
    assert "./plugins:/opt/airflow/plugins" in common
    assert "./local_aws:/opt/airflow/local_aws:ro" in services["local-aws"]["volumes"]


def test_the_image_is_apache_airflow_3_3_2_with_the_locked_requirements():
    assert "ARG AIRFLOW_IMAGE=apache/airflow:3.3.2\n" in DOCKERFILE
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\} AS airflow$", DOCKERFILE, re.M)
    assert re.search(r"^FROM airflow AS local-aws$", DOCKERFILE, re.M)
    installs = re.findall(r"^RUN pip install .*-r (\S+)$", DOCKERFILE, re.M)
    assert installs == ["/requirements/docker.txt", "/requirements/local-aws.txt"]
    for name in REQUIREMENTS_EXPORTS:
        assert f"COPY --chown=airflow:0 requirements/{name} /requirements/{name}" in DOCKERFILE
    import airflow

    assert airflow.__version__ == "3.3.2"  # the image and the locked venv are one version
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:5] == [
        "*",
        "!requirements/",
        "!dags/",
        "!plugins/",
        "!local_aws/",
    ]


def test_local_aws_profile_serves_what_env_example_points_at(services):
    from local_aws.seeding import DEMO_SEED_PATH, load_seed
    from local_aws.servers import MOTO_SERVICES

    service = services["local-aws"]
    assert service["build"] == {"context": ".", "target": "local-aws"}
    entrypoint = service["entrypoint"]
    assert entrypoint[:4] == ["python", "-m", "local_aws", "serve"]
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in entrypoint[4:])
    assert flags["host"] == "0.0.0.0"
    example = read_env_file(ENV_EXAMPLE_FILE)
    emulator = f"http://local-aws:{flags['emulator-port']}"
    expected = {"LICENSE_MANAGER": emulator, "STS": emulator}  # STS: the emulator's front
    expected.update({name: f"http://local-aws:{flags['moto-port']}" for name in MOTO_SERVICES})
    assert {
        key.removeprefix("AWS_ENDPOINT_URL_"): value
        for key, value in example.items()
        if key.startswith("AWS_ENDPOINT_URL_")
    } == expected
    assert flags["bucket"] == "${AIRFLOW_VAR_LICENSE_REPORT_BUCKET:-license-reports}"
    assert example["AIRFLOW_VAR_LICENSE_REPORT_BUCKET"] == "license-reports"
    demo = [entry["LicenseConfigurationArn"] for entry in load_seed(DEMO_SEED_PATH)]
    assert example["AIRFLOW_VAR_LICENSE_CONFIG_ARNS"].split(",") == demo


def test_env_example_holds_every_setting_of_the_contract():
    from license_manager.schedule import SCHEDULE_VARIABLE, parse_schedule
    from license_manager.settings import SETTINGS

    example = read_env_file(ENV_EXAMPLE_FILE)
    contract = {
        SCHEDULE_VARIABLE,
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    }
    contract |= {f"AIRFLOW_VAR_{setting.name.upper()}" for setting in SETTINGS}
    assert len(contract) == 4 + len(SETTINGS)
    assert contract <= set(example)
    parse_schedule(example[SCHEDULE_VARIABLE])
    # Airflow configuration lives in deploy/airflow.env, not in a deployment's settings.
    assert not [key for key in example if key.startswith("AIRFLOW__")]
    assert set(example) & set(read_env_file(AIRFLOW_ENV_FILE)) == set()


@pytest.mark.parametrize("name", sorted(REQUIREMENTS_EXPORTS))
def test_requirements_are_the_lock_exported(name):
    uv = find_uv()
    if uv is None:
        pytest.fail("uv is needed to export uv.lock: run `make install` (it installs .local/tools)")
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-header", *REQUIREMENTS_EXPORTS[name]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (ROOT / "requirements" / name).read_text()
    header = " ".join(["uv export --frozen", *REQUIREMENTS_EXPORTS[name]])
    assert f"#    {header}\n" in committed, f"regenerate with: {header} > requirements/{name}"
    assert requirement_lines(committed) == requirement_lines(exported), (
        f"requirements/{name} is stale; regenerate with: {header} > requirements/{name}"
    )


def test_the_two_requirement_files_pin_the_same_versions():
    pins = {}
    for name in REQUIREMENTS_EXPORTS:
        for line in requirement_lines((ROOT / "requirements" / name).read_text()):
            if "==" in line and not line.startswith("--hash"):
                requirement = line.split(" ;")[0].split(" \\")[0]
                package, version = requirement.split("==")
                marker = line.split(";", 1)[1].rstrip(" \\") if ";" in line else ""
                assert pins.setdefault((package, marker), version) == version, package
    assert ("apache-airflow", "") in pins and ("moto", "") in pins


def test_shipped_max_map_length_allows_organisation_scale():
    shipped = read_env_file(AIRFLOW_ENV_FILE)["AIRFLOW__CORE__MAX_MAP_LENGTH"]
    assert int(shipped) >= 5000
    assert os.environ["AIRFLOW__CORE__MAX_MAP_LENGTH"] == shipped  # the tests' dag.test Airflow


# --- Secrets and exposure -----------------------------------------------------------------------

#: A compose reference to a variable that must be set: ``${NAME:?message}``, no default.
REQUIRED_VARIABLE = re.compile(r"^\$\{(\w+):\?[^}]*\}$")
SECRET_NAME = re.compile(r"PASSWORD$|SECRET|FERNET_KEY$|TOKEN$")


def test_env_is_never_committed():
    def ignored(path: str) -> bool:
        check = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        return check.returncode == 0

    assert ignored(".env")
    assert not ignored(".env.example")


def test_flower_and_the_local_aws_servers_listen_on_this_host_only(services):
    for name in ("flower", "local-aws"):
        ports = services[name]["ports"]
        assert ports and all(port.startswith("127.0.0.1:") for port in ports), name


def test_every_password_of_the_stack_comes_from_env_without_a_default(services):
    passwords = {
        f"{name}: {key}": value
        for name, service in services.items()
        for key, value in environment_of(service).items()
        if SECRET_NAME.search(key)
    }
    assert "postgres: POSTGRES_PASSWORD" in passwords
    assert "airflow-init: _AIRFLOW_WWW_USER_PASSWORD" in passwords
    for where, value in passwords.items():
        assert REQUIRED_VARIABLE.match(value), f"{where}={value!r} is not a required variable"
    text = (ROOT / "docker-compose.yaml").read_text()
    assert not re.findall(r"\$\{\w*(?:PASSWORD|SECRET)\w*:?-", text)  # no ${...:-default}


def test_no_password_is_committed_in_the_shared_settings_or_the_example():
    for key, value in shared_airflow_env().items():
        assert not SECRET_NAME.search(key), key
        if "://" in value:
            assert urlsplit(value).password is None, f"{key} holds a password"
    example = read_env_file(ENV_EXAMPLE_FILE)
    secrets = {key: value for key, value in example.items() if SECRET_NAME.search(key)}
    assert {"POSTGRES_PASSWORD", "_AIRFLOW_WWW_USER_PASSWORD"} <= set(secrets)
    # The dummy AWS key is for the local AWS servers of the demo only (which .env.example
    # points at), where any key works; AWS refuses it.
    assert secrets.pop("AWS_SECRET_ACCESS_KEY") == "testing"
    assert example["AWS_ENDPOINT_URL_S3"].startswith("http://local-aws:")
    assert secrets == dict.fromkeys(secrets, "")


@pytest.mark.slow  # a fresh Airflow interpreter
def test_a_task_supervisor_of_the_deployment_checks_its_task_every_second():
    """A supervisor sleeps its heartbeat interval before it sees a task process that closed its
    sockets a moment before exiting; the shared settings shorten that sleep to 1 s. Fails if
    Airflow stops reading the option or the line goes."""
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    option = "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"
    env[option] = shared_airflow_env()[option]
    probe = (
        "from airflow.sdk.execution_time import supervisor; "
        "print(supervisor.MIN_HEARTBEAT_INTERVAL)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.splitlines()[-1] == "1"
