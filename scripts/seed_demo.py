#!/usr/bin/env python3
"""Seeds the local emulator and the dev server with a demo org (used by scripts/run.sh).

Two phases, run with the venv's python (boto3) against the emulator in AWS_ENDPOINT_URL:

  seed_demo.py platform --env-file PATH
      Creates the IAM user `platform` (the platform principal every trust policy names) with an
      access key, and writes PLATFORM_PRINCIPAL_ARN, PLATFORM_AWS_ACCESS_KEY_ID and
      PLATFORM_AWS_SECRET_ACCESS_KEY to PATH as shell assignments (mode 600).

  seed_demo.py seed --url URL          (admin token in the environment: ADMIN_TOKEN)
      Seeds the demo org through the public API, as an admin would: reads the trust policy
      (GET /policies/trust) and the access policy for the draft scope (POST /policies/access),
      creates the IAM role `demo-platform-read` with exactly those documents, creates the bucket
      `demo-images` (versioned) with four generated PNG images, then saves the integration
      (POST /integrations). Prints the integration id on stdout; progress goes to stderr.

Any failure prints what went wrong (the API's error code and message, or the AWS error) and exits
with status 1. Re-running against the same emulator reuses what already exists.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

PLATFORM_USER = "platform"
ROLE_NAME = "demo-platform-read"
ROLE_POLICY_NAME = "demo-images-read"
BUCKET = "demo-images"
REGION = "us-east-1"
INTEGRATION_NAME = "Demo images"
SCOPE = {"type": "default", "buckets": [BUCKET]}
VERSIONING = True

# key -> (top-left colour, bottom-right colour) of a 64x64 diagonal gradient
IMAGES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "samples/cat.png": ((238, 196, 140), (92, 64, 51)),
    "samples/forest.png": ((170, 220, 120), (16, 72, 32)),
    "samples/ocean.png": ((150, 220, 255), (0, 40, 120)),
    "samples/sunset ☀ 01.png": ((255, 200, 60), (120, 30, 110)),
}


class SeedError(Exception):
    """A failure with a message for the person running the script."""


def log(message: str) -> None:
    print(f"seed: {message}", file=sys.stderr, flush=True)


# ---- images ----------------------------------------------------------------------------------------


def png_gradient(size: int, start: tuple[int, int, int], end: tuple[int, int, int]) -> bytes:
    """A valid size x size 8-bit RGB PNG: a diagonal gradient from `start` to `end`."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    steps = max(2 * (size - 1), 1)
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            t = (x + y) / steps
            rows.extend(round(a + (b - a) * t) for a, b in zip(start, end))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


# ---- AWS (the emulator) ----------------------------------------------------------------------------


def aws_client(service: str) -> Any:
    # boto3 reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself.
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise SeedError("AWS_ENDPOINT_URL is not set; this script seeds the local emulator only")
    config = Config(region_name=REGION, retries={"max_attempts": 3, "mode": "standard"})
    if service == "s3":
        config = config.merge(Config(s3={"addressing_style": "path"}))
    return boto3.client(service, config=config)


def aws_error(action: str, err: Exception) -> SeedError:
    if isinstance(err, ClientError):
        e = err.response.get("Error", {})
        return SeedError(f"{action} failed: {e.get('Code', '?')}: {e.get('Message', err)}")
    return SeedError(f"{action} failed: {err}")


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def write_env_file(path: str, values: dict[str, str]) -> None:
    """Writes NAME='value' lines atomically, readable by the owner only."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".platform-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("# Written by scripts/seed_demo.py for the local emulator; not real AWS credentials.\n")
            for name, value in values.items():
                if "'" in value or "\n" in value:
                    raise SeedError(f"unexpected character in {name}")
                f.write(f"{name}='{value}'\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def phase_platform(env_file: str) -> None:
    iam = aws_client("iam")
    try:
        try:
            arn = iam.create_user(UserName=PLATFORM_USER)["User"]["Arn"]
        except ClientError as err:
            if error_code(err) != "EntityAlreadyExists":
                raise
            arn = iam.get_user(UserName=PLATFORM_USER)["User"]["Arn"]
        key = iam.create_access_key(UserName=PLATFORM_USER)["AccessKey"]
    except (ClientError, BotoCoreError) as err:
        raise aws_error(f"creating the IAM user {PLATFORM_USER!r}", err) from err
    write_env_file(
        env_file,
        {
            "PLATFORM_PRINCIPAL_ARN": arn,
            "PLATFORM_AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "PLATFORM_AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        },
    )
    log(f"platform principal {arn} (access key in {os.path.relpath(env_file)})")


# ---- the public API ---------------------------------------------------------------------------------


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("authorization", f"Bearer {self.token}")
        request.add_header("accept", "application/json")
        if data is not None:
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        except (urllib.error.URLError, OSError) as err:
            raise SeedError(f"{method} {path}: cannot reach the dev server at {self.url}: {err}") from err
        if status not in expect:
            raise SeedError(f"{method} {path} answered {status}: {describe_error(raw)}")
        try:
            return json.loads(raw) if raw else None
        except ValueError as err:
            raise SeedError(f"{method} {path} answered {status} with a body that is not JSON: {raw[:200]!r}") from err


def describe_error(raw: bytes) -> str:
    try:
        error = json.loads(raw)["error"]
        text = f"{error.get('code', '?')}: {error.get('message', '')}"
        if error.get("field"):
            text += f" (field {error['field']!r})"
        return text
    except (ValueError, KeyError, TypeError):
        return raw[:500].decode("utf-8", "replace") or "(empty body)"


def policy_text(response: Any, what: str) -> str:
    text = response.get("text") if isinstance(response, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise SeedError(f"{what}: the answer has no policy \"text\": {json.dumps(response)[:300]}")
    return text


def ensure_role(iam: Any, trust_text: str, access_text: str) -> str:
    try:
        try:
            arn = iam.create_role(
                RoleName=ROLE_NAME,
                AssumeRolePolicyDocument=trust_text,
                Description="Demo customer role the platform assumes to read demo-images",
            )["Role"]["Arn"]
        except ClientError as err:
            if error_code(err) != "EntityAlreadyExists":
                raise
            iam.update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=trust_text)
            arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
        iam.put_role_policy(RoleName=ROLE_NAME, PolicyName=ROLE_POLICY_NAME, PolicyDocument=access_text)
    except (ClientError, BotoCoreError) as err:
        raise aws_error(f"creating the IAM role {ROLE_NAME!r}", err) from err
    return str(arn)


def ensure_bucket(s3: Any) -> None:
    try:
        try:
            s3.create_bucket(Bucket=BUCKET)
        except ClientError as err:
            if error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for key, (start, end) in IMAGES.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=png_gradient(64, start, end), ContentType="image/png")
    except (ClientError, BotoCoreError) as err:
        raise aws_error(f"creating the bucket {BUCKET!r} and its images", err) from err


def phase_seed(url: str, token: str) -> None:
    api = Api(url, token)
    iam, s3 = aws_client("iam"), aws_client("s3")

    trust = api.call("GET", "/policies/trust")
    trust_text = policy_text(trust, "GET /policies/trust")
    log(f"trust policy: principal {trust.get('principal')}, external id {trust.get('external_id')}")

    access = api.call("POST", "/policies/access", {"scope": SCOPE, "versioning": VERSIONING})
    access_text = policy_text(access, "POST /policies/access")

    role_arn = ensure_role(iam, trust_text, access_text)
    log(f"role {role_arn} (trust and access policies as the API rendered them)")

    ensure_bucket(s3)
    log(f"bucket {BUCKET} (versioning enabled): {', '.join(sorted(IMAGES))}")

    draft = {
        "name": INTEGRATION_NAME,
        "role_arn": role_arn,
        "region": REGION,
        "scope": SCOPE,
        "versioning": VERSIONING,
    }
    # A persistent DynamoDB (AWS_ENDPOINT_URL_DYNAMODB) may still hold the integration.
    existing = api.call("GET", "/integrations").get("integrations", [])
    for item in existing:
        if item.get("name") == INTEGRATION_NAME and item.get("role_arn") == role_arn:
            log(f"integration {item['id']} already exists; reusing it")
            print(item["id"])
            return
    created = api.call("POST", "/integrations", draft, expect=(201,))
    integration_id = created.get("id") if isinstance(created, dict) else None
    if not isinstance(integration_id, str) or not integration_id:
        raise SeedError(f"POST /integrations answered 201 without an id: {json.dumps(created)[:300]}")
    log(f"integration {integration_id} ({INTEGRATION_NAME!r}, status {created.get('status', {}).get('state')})")
    print(integration_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="phase", required=True)
    platform = sub.add_parser("platform", help="create the platform IAM user and its access key")
    platform.add_argument("--env-file", required=True, help="where to write the platform credentials")
    seed = sub.add_parser("seed", help="seed the demo org through the API (token in ADMIN_TOKEN)")
    seed.add_argument("--url", required=True, help="the dev server's base URL")
    args = parser.parse_args(argv)
    try:
        if args.phase == "platform":
            phase_platform(args.env_file)
        else:
            token = os.environ.get("ADMIN_TOKEN", "")
            if not token:
                raise SeedError("ADMIN_TOKEN is not set (an admin dev token for the demo org)")
            phase_seed(args.url, token)
    except SeedError as err:
        print(f"seed: ERROR: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
