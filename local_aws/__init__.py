"""Local AWS for demos, tests and benchmarks: a License Manager emulator plus moto's server."""

from local_aws.arns import make_config_arn, partition_for_region
from local_aws.control import EmulatorClient, EmulatorControlError
from local_aws.emulator import LicenseManagerEmulator
from local_aws.seeding import DEMO_SEED_PATH, load_seed, make_configuration
from local_aws.servers import LocalAWS

__all__ = [
    "DEMO_SEED_PATH",
    "EmulatorClient",
    "EmulatorControlError",
    "LicenseManagerEmulator",
    "LocalAWS",
    "load_seed",
    "make_config_arn",
    "make_configuration",
    "partition_for_region",
]
