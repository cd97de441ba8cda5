#!/usr/bin/env python3
"""Breaks or fixes the demo role's trust policy in the running local emulator (scripts/run.sh).

    scripts/demo_trust.py break     the role `demo-platform-read` trusts another external ID: the
                                    platform can no longer assume it, so
                                    POST /integrations/{id}/validate reports `failing` (ASSUME_ROLE)
    scripts/demo_trust.py fix       the role gets the trust policy the API renders again
                                    (GET /policies/trust, as an admin), so validation passes again

It changes IAM in the emulator that enforces IAM, in the customer account 210987654321 (where the
demo role is; the platform's account, 123456789012, holds no customer roles), as that account's IAM
user `demo-admin` (every action allowed) that scripts/run.sh created. What it needs comes from the
files run.sh writes, or from the options:
  .run/run.env         URL (the dev server), ADMIN (an admin token), AWS_ENDPOINT_URL (the emulator)
  .run/demo-admin.env  DEMO_ADMIN_AWS_ACCESS_KEY_ID, DEMO_ADMIN_AWS_SECRET_ACCESS_KEY

Runs with the project's venv python (boto3); started with another python it re-runs itself with
.tools/venv/bin/python. Prints what it did; exits 1 with a message on any failure.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from project_venv import ROOT, use_project_venv  # noqa: E402

use_project_venv(__file__, "demo_trust")

import argparse  # noqa: E402 - after the venv switch
import json  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

from seed_demo import CUSTOMER_ACCOUNT, REGION, ROLE_NAME, Api, SeedError, in_account, policy_text  # noqa: E402

RUN_ENV = os.path.join(ROOT, ".run", "run.env")
ADMIN_ENV = os.path.join(ROOT, ".run", "demo-admin.env")
# What `break` puts in the trust policy instead of the org's external ID: another customer's.
OTHER_EXTERNAL_ID = "another-org-external-id-0000"


class TrustError(Exception):
    pass


def read_env_file(path: str) -> dict[str, str]:
    """NAME='value' lines as seed_demo.py and run.sh write them (no shell evaluation)."""
    values: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                name, value = line.split("=", 1)
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                    value = value[1:-1]
                values[name.strip()] = value
    except FileNotFoundError:
        pass
    return values


def external_ids(document: dict[str, Any]) -> list[str]:
    found: list[str] = []
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        for operator, keys in (statement.get("Condition") or {}).items():
            value = keys.get("sts:ExternalId") if isinstance(keys, dict) else None
            if value is not None and operator.startswith("String"):
                found.extend(value if isinstance(value, list) else [value])
    return found


def broken(document: dict[str, Any], other: str) -> dict[str, Any]:
    """The same trust policy with every sts:ExternalId condition naming `other` instead."""
    document = json.loads(json.dumps(document))
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        conditions = statement.setdefault("Condition", {})
        replaced = False
        for keys in conditions.values():
            if isinstance(keys, dict) and "sts:ExternalId" in keys:
                keys["sts:ExternalId"] = other
                replaced = True
        if not replaced:
            conditions.setdefault("StringEquals", {})["sts:ExternalId"] = other
    document["Statement"] = statements
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Break or fix the demo role's trust policy in the local emulator (see the module doc).",
    )
    parser.add_argument("action", choices=("break", "fix"))
    parser.add_argument("--endpoint", help="the emulator that enforces IAM (default: AWS_ENDPOINT_URL in .run/run.env)")
    parser.add_argument("--url", help="the dev server (default: URL in .run/run.env); for fix")
    parser.add_argument("--admin-token", help="an admin dev token (default: ADMIN in .run/run.env); for fix")
    parser.add_argument("--role", default=ROLE_NAME, help=f"the role's name (default {ROLE_NAME})")
    args = parser.parse_args(argv)

    run = read_env_file(RUN_ENV)
    admin = read_env_file(ADMIN_ENV)
    endpoint = args.endpoint or run.get("AWS_ENDPOINT_URL")
    key_id = admin.get("DEMO_ADMIN_AWS_ACCESS_KEY_ID")
    secret = admin.get("DEMO_ADMIN_AWS_SECRET_ACCESS_KEY")
    try:
        if not endpoint:
            raise TrustError(f"no emulator endpoint: {os.path.relpath(RUN_ENV)} is missing (is scripts/run.sh running?); pass --endpoint")
        if not key_id or not secret:
            raise TrustError(f"no demo-admin keys in {os.path.relpath(ADMIN_ENV)} (is scripts/run.sh running?)")
        iam = in_account(
            boto3.client(
                "iam",
                endpoint_url=endpoint,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                aws_session_token=None,
                config=Config(region_name=REGION, retries={"max_attempts": 2, "mode": "standard"}),
            ),
            CUSTOMER_ACCOUNT,
        )
        try:
            role = iam.get_role(RoleName=args.role)["Role"]
        except (ClientError, BotoCoreError) as err:
            raise TrustError(
                f"reading role {args.role!r} in account {CUSTOMER_ACCOUNT} at {endpoint} as demo-admin failed: {err}"
            ) from err
        current = role["AssumeRolePolicyDocument"]
        if isinstance(current, str):
            current = json.loads(current)
        before = external_ids(current) or ["(none)"]

        if args.action == "break":
            text = json.dumps(broken(current, OTHER_EXTERNAL_ID), indent=2)
            what = f"now trusts external ID {OTHER_EXTERNAL_ID!r} (was {', '.join(before)})"
        else:
            url = args.url or run.get("URL")
            token = args.admin_token or run.get("ADMIN")
            if not url or not token:
                raise TrustError(f"no dev server URL or admin token: {os.path.relpath(RUN_ENV)} is missing; pass --url and --admin-token")
            trust = Api(url, token).call("GET", "/policies/trust")
            text = policy_text(trust, "GET /policies/trust")
            what = (
                f"has the trust policy GET /policies/trust renders again: principal {trust.get('principal')}, "
                f"external ID {trust.get('external_id')!r} (was {', '.join(before)})"
            )
        try:
            iam.update_assume_role_policy(RoleName=args.role, PolicyDocument=text)
        except (ClientError, BotoCoreError) as err:
            raise TrustError(f"updating the trust policy of {args.role!r} failed: {err}") from err
    except (TrustError, SeedError) as err:
        print(f"demo_trust: ERROR: {err}", file=sys.stderr)
        return 1
    print(f"demo_trust: {args.action}: role {role['Arn']} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
