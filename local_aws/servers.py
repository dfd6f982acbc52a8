"""One entry point: the License Manager emulator and moto's server, side by side."""

from __future__ import annotations

from pathlib import Path

from local_aws.control import EmulatorClient
from local_aws.emulator import LicenseManagerEmulator
from local_aws.moto_server import MotoServer

DUMMY_ACCESS_KEY = "testing"
DUMMY_SECRET_KEY = "testing"
DEFAULT_REGION = "us-east-1"
MOTO_SERVICES = ("KMS", "S3", "SNS", "SQS")


class LocalAWS:
    """Start both servers on `host` (free ports when 0); stop both on exit.

    `env` holds what a client process needs (endpoint overrides and dummy credentials).
    STS goes through the emulator, which forwards it to moto (see local_aws.sts): AssumeRole
    can be denied there, and the License Manager API knows the account of assumed credentials.
    With `isolate_accounts`, a caller reads only its own account's configurations, as on AWS.
    """

    def __init__(
        self,
        seed_path: str | Path | None = None,
        emulator_port: int = 0,
        moto_port: int = 0,
        *,
        host: str = "127.0.0.1",
        page_size_cap: int = 100,
        isolate_accounts: bool = False,
    ) -> None:
        self.emulator = LicenseManagerEmulator(
            seed_path,
            host=host,
            port=emulator_port,
            page_size_cap=page_size_cap,
            isolate_accounts=isolate_accounts,
        )
        self.moto = MotoServer(host, moto_port)
        self._started = False

    def start(self) -> LocalAWS:
        if not self._started:
            self.emulator.start()
            try:
                self.moto.start()
            except BaseException:
                self.emulator.stop()
                raise
            self.emulator.sts_upstream = self.moto_url
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            try:
                self.moto.stop()
            finally:
                self.emulator.stop()
                self._started = False

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def emulator_url(self) -> str:
        return self.emulator.url

    @property
    def moto_url(self) -> str:
        return self.moto.url

    @property
    def env(self) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL_LICENSE_MANAGER": self.emulator_url,
            "AWS_ENDPOINT_URL_STS": self.emulator_url,
        }
        env.update({f"AWS_ENDPOINT_URL_{service}": self.moto_url for service in MOTO_SERVICES})
        env.update(
            AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
            AWS_DEFAULT_REGION=DEFAULT_REGION,
        )
        return env

    def control(self) -> EmulatorClient:
        """An HTTP control client (what another process would use)."""
        return EmulatorClient(self.emulator_url)
