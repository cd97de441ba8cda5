#!/usr/bin/env python3
"""Plays the AWS console for the wizard, against the emulators of a running scripts/run.sh.

The wizard tells an admin to paste its documents into AWS; locally, "AWS" is the emulators, and
this script is the console: it changes them exactly as the pasted JSON says. The console is the
customer's: it works in the customer account 210987654321, the emulator's second account (customer
roles and buckets are never in the platform's account, 123456789012, as on AWS).

    scripts/aws_console.py bucket NAME [--object KEY ...]
        creates the bucket NAME with a generated PNG image under each KEY (default
        photos/kitten.png), in both emulators: in the customer account of the one that enforces IAM
        (which validation checks), and in the default account of the one that serves presigned
        URLs (it does not know the assumed-role keys they are signed with, so it serves them from
        its default account)
    scripts/aws_console.py role NAME --trust FILE --access FILE
        creates the IAM role NAME in the customer account with the trust policy and the access
        policy (inline) from the files (the wizard's step 3 and step 2 JSON, as copied); prints the
        role's ARN, arn:aws:iam::210987654321:role/NAME, for the wizard's step 4
    scripts/aws_console.py cors BUCKET --file FILE
        sets the bucket's CORS configuration to the JSON in FILE (the wizard's CORS JSON: the list of
        rules the S3 console's CORS editor takes), in both emulators

FILE may be `-` for standard input. Changes are made as the customer account's IAM user
`demo-admin` (scripts/run.sh writes its keys to .run/demo-admin.env), as a person with console
access would. Runs with the project's venv python; exits 1 with a message on any failure.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from project_venv import use_project_venv  # noqa: E402

use_project_venv(__file__, "aws_console")

import argparse  # noqa: E402 - after the venv switch
import json  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

from demo_trust import ADMIN_ENV, RUN_ENV, read_env_file  # noqa: E402
from seed_demo import CUSTOMER_ACCOUNT, REGION, arn_account, in_account, png_gradient, preflight_policy  # noqa: E402


class ConsoleError(Exception):
    pass


def read_document(path: str) -> str:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    try:
        json.loads(text)
    except ValueError as err:
        raise ConsoleError(f"{path} is not JSON ({err}); copy the whole document from the wizard") from err
    return text


class Emulators:
    """Clients for both emulators, from the files scripts/run.sh writes while it runs."""

    def __init__(self) -> None:
        run = read_env_file(RUN_ENV)
        admin = read_env_file(ADMIN_ENV)
        self.aws_url = run.get("AWS_ENDPOINT_URL", "")
        self.objects_url = run.get("S3_ENDPOINT_URL", "")
        self.key = admin.get("DEMO_ADMIN_AWS_ACCESS_KEY_ID", "")
        self.secret = admin.get("DEMO_ADMIN_AWS_SECRET_ACCESS_KEY", "")
        if not self.aws_url or not self.objects_url or not self.key or not self.secret:
            raise ConsoleError(
                f"{os.path.relpath(RUN_ENV)} or {os.path.relpath(ADMIN_ENV)} is missing: is scripts/run.sh running?"
            )

    def client(self, service: str, url: str, account: str | None = None) -> Any:
        """A client as demo-admin; with `account`, its requests act in that account (in_account)."""
        config = Config(region_name=REGION, retries={"max_attempts": 2, "mode": "standard"})
        if service == "s3":
            config = config.merge(Config(s3={"addressing_style": "path"}))
        client = boto3.client(
            service,
            endpoint_url=url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            config=config,
        )
        return in_account(client, account) if account else client

    def customer(self, service: str) -> Any:
        """The enforcing emulator, in the customer account."""
        return self.client(service, self.aws_url, CUSTOMER_ACCOUNT)

    def both_s3(self) -> list[tuple[str, Any, bool]]:
        """(where, client, plain) for the enforcing emulator (the customer account) and the one
        serving presigned URLs. That one does not know the assumed-role keys the presigned URLs are
        signed with, so it serves them from its default account: its buckets stay there (no
        account header)."""
        return [
            (f"account {CUSTOMER_ACCOUNT} at {self.aws_url}", self.customer("s3"), False),
            (f"the default account at {self.objects_url}", self.client("s3", self.objects_url), True),
        ]


def create_bucket(emulators: Emulators, bucket: str, keys: list[str]) -> str:
    for where, s3, plain in emulators.both_s3():
        try:
            try:
                s3.create_bucket(Bucket=bucket)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            if plain:
                s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(preflight_policy(bucket)))
            for n, key in enumerate(keys):
                image = png_gradient(48 + 16 * n, (250, 170, 90), (40, 90, 160))
                s3.put_object(Bucket=bucket, Key=key, Body=image, ContentType="image/png")
        except (ClientError, BotoCoreError) as err:
            raise ConsoleError(f"creating bucket {bucket!r} at {where} failed: {err}") from err
    return (
        f"bucket {bucket} with {', '.join(keys)} in the customer account {CUSTOMER_ACCOUNT}"
        " (and in the default account of the emulator serving presigned URLs)"
    )


def create_role(emulators: Emulators, name: str, trust: str, access: str) -> str:
    iam = emulators.customer("iam")
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-access", PolicyDocument=access)
    except (ClientError, BotoCoreError) as err:
        raise ConsoleError(f"creating role {name!r} in account {CUSTOMER_ACCOUNT} failed: {err}") from err
    if arn_account(arn) != CUSTOMER_ACCOUNT:
        raise ConsoleError(f"the role was created as {arn}, not in the customer account {CUSTOMER_ACCOUNT}")
    return str(arn)


def put_cors(emulators: Emulators, bucket: str, rules_text: str) -> str:
    rules = json.loads(rules_text)
    if not isinstance(rules, list):
        raise ConsoleError("the CORS JSON must be a list of rules, as the wizard shows it")
    for where, s3, _plain in emulators.both_s3():
        try:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        except (ClientError, BotoCoreError) as err:
            raise ConsoleError(f"setting the CORS configuration of {bucket!r} at {where} failed: {err}") from err
    return f"CORS configuration of {bucket} set in both emulators (customer account {CUSTOMER_ACCOUNT} and default)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    bucket = sub.add_parser("bucket", help=f"create a bucket with images (customer account {CUSTOMER_ACCOUNT})")
    bucket.add_argument("name")
    bucket.add_argument("--object", action="append", dest="objects", help="key of a PNG to put (repeatable)")
    role = sub.add_parser(
        "role", help=f"create a role in the customer account {CUSTOMER_ACCOUNT} from the wizard's trust and access policies"
    )
    role.add_argument("name")
    role.add_argument("--trust", required=True, help="file with the trust policy JSON (- for stdin)")
    role.add_argument("--access", required=True, help="file with the access policy JSON")
    cors = sub.add_parser("cors", help="set a bucket's CORS configuration from the wizard's CORS JSON")
    cors.add_argument("bucket")
    cors.add_argument("--file", required=True, help="file with the CORS JSON (- for stdin)")
    args = parser.parse_args(argv)
    try:
        emulators = Emulators()
        if args.command == "bucket":
            done = create_bucket(emulators, args.name, args.objects or ["photos/kitten.png"])
        elif args.command == "role":
            arn = create_role(emulators, args.name, read_document(args.trust), read_document(args.access))
            print(arn)
            done = f"role {arn}"
        else:
            done = put_cors(emulators, args.bucket, read_document(args.file))
    except (ConsoleError, OSError) as err:
        print(f"aws_console: ERROR: {err}", file=sys.stderr)
        return 1
    print(f"aws_console: {done}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
