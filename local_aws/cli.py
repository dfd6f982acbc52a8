"""`python -m local_aws serve`: run the emulator and moto until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from local_aws.seeding import DEMO_SEED_PATH
from local_aws.servers import LocalAWS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_aws")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the License Manager emulator and moto")
    serve.add_argument(
        "--seed",
        default=str(DEMO_SEED_PATH),
        help="seed JSON file (default: the demo seed; 'none' for an empty emulator)",
    )
    serve.add_argument("--emulator-port", type=int, default=0)
    serve.add_argument("--moto-port", type=int, default=0)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--isolate-accounts",
        action="store_true",
        help="a caller reads only its own account's configurations, as on AWS",
    )
    serve.add_argument("--env-file", type=Path, help="also write the env as KEY=VALUE lines")
    serve.add_argument(
        "--bucket",
        action="append",
        default=[],
        help="S3 bucket to create in moto once it runs (repeatable)",
    )
    return parser


def create_buckets(local: LocalAWS, names: list[str]) -> None:
    """Create S3 buckets in moto, the way a client with the local env would."""
    if not names:
        return
    import boto3

    env = local.env
    s3 = boto3.client(
        "s3",
        endpoint_url=local.moto_url,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    for name in names:
        s3.create_bucket(Bucket=name)


def serve(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    seed = None if args.seed.lower() == "none" else args.seed
    with LocalAWS(
        seed,
        args.emulator_port,
        args.moto_port,
        host=args.host,
        isolate_accounts=args.isolate_accounts,
    ) as local:
        create_buckets(local, args.bucket)
        env = local.env
        if args.env_file:
            args.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        for name in args.bucket:
            print(f"# S3 bucket: {name}")
        print(f"# License Manager emulator control: {local.emulator_url}/_emulator/health")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    print("# stopped", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2
