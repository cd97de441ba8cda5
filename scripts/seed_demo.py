#!/usr/bin/env python3
"""Seeds the local emulator and the dev server with a demo org (used by scripts/run.sh).

Two phases, run with the venv's python (boto3) against the emulator in AWS_ENDPOINT_URL (the moto
that enforces IAM once seeding is done: IAM, STS and the S3 the validator checks).

Two accounts, as on AWS, where a customer's roles and buckets are never in the platform's account:
the platform principal is in moto's default account (PLATFORM_ACCOUNT, 123456789012); the demo
customer's role, bucket and console user are in the emulator's second account (CUSTOMER_ACCOUNT,
210987654321). moto picks the account of a request from its `x-moto-account-id` header, else from
the account of its access key (see in_account); credentials from AssumeRole of a customer role act
in the customer account.

  seed_demo.py platform --env-file PATH
      Creates the IAM user `platform` in the platform account (the platform principal every trust
      policy names), allowed sts:AssumeRole on any role (as the platform's own role is; whether a
      customer role lets it in is up to that role's trust policy), with an access key, and writes
      PLATFORM_PRINCIPAL_ARN, PLATFORM_AWS_ACCESS_KEY_ID and PLATFORM_AWS_SECRET_ACCESS_KEY to PATH
      as shell assignments (mode 600).

  seed_demo.py seed --url URL [--objects-url URL] [--admin-env-file PATH]
                                       (admin token in the environment: ADMIN_TOKEN)
      Seeds the demo org through the public API, as an admin would: reads the trust policy
      (GET /policies/trust), the access policy for the draft scope (POST /policies/access) and the
      CORS configuration (GET /policies/cors), creates the IAM role `demo-platform-read` in the
      customer account with exactly those documents, creates the bucket `demo-images` there
      (versioned, with that CORS configuration) with four generated PNG images and a 5 s WebM video
      (VIDEOS: samples/clip.webm, the committed fixture web/e2e/fixtures/demo-clip.webm), then saves the
      integration (POST /integrations, role arn:aws:iam::210987654321:role/demo-platform-read).
      Prints the integration id on stdout; progress goes to stderr.
      --objects-url: a second, plain emulator (no IAM enforcement) that serves the presigned URLs
      (the dev server's S3_ENDPOINT_URL): the same bucket, images and CORS configuration go there
      too, plus a bucket policy that lets moto evaluate CORS preflights (see ensure_bucket). There
      they stay in moto's default account: that moto does not know the assumed-role keys the
      presigned URLs are signed with, so it serves them from its default account.
      --admin-env-file: also creates the IAM user `demo-admin` in the customer account (inline
      policy: every action on every resource) with an access key, written to PATH
      (DEMO_ADMIN_AWS_ACCESS_KEY_ID, DEMO_ADMIN_AWS_SECRET_ACCESS_KEY, DEMO_ADMIN_ARN; mode 600):
      the customer's console user, with which a person (or scripts/demo_trust.py and
      scripts/aws_console.py) changes the customer's IAM and S3 once the emulator enforces IAM.

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

# The platform's account: moto's default, where the platform principal (the IAM user `platform`) is.
PLATFORM_ACCOUNT = "123456789012"
# The customer's account: the emulator's second one. Every customer role and bucket (the demo's,
# the wizard's, the browser tests') is created here, never in PLATFORM_ACCOUNT, as on AWS.
CUSTOMER_ACCOUNT = "210987654321"
# moto reads the account of a request from this header before the access key's account.
ACCOUNT_HEADER = "x-moto-account-id"

PLATFORM_USER = "platform"
PLATFORM_POLICY_NAME = "assume-customer-roles"
ADMIN_USER = "demo-admin"
ADMIN_POLICY_NAME = "everything"
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

# key -> the file (from the repository root) of a demo video: a short WebM that a browser can seek
# (its Segment has a Duration and Cues), made once with ffmpeg and committed (the fixture's README
# has the command). The browser tests play and seek it through a stable link.
VIDEOS: dict[str, str] = {
    "samples/clip.webm": os.path.join("web", "e2e", "fixtures", "demo-clip.webm"),
}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def in_account(client: Any, account_id: str) -> Any:
    """`client` (boto3), its requests acting in the emulator's account `account_id`: each carries
    `x-moto-account-id` (signed), which moto reads before the access key's account. Under IAM
    enforcement the access key must then be one of that account's users (demo-admin's, for the
    customer account). Returns the client."""

    def add_account_header(request: Any, **_: Any) -> None:
        request.headers[ACCOUNT_HEADER] = account_id

    client.meta.events.register("before-sign", add_account_header)
    return client


def aws_client(service: str, endpoint_url: str | None = None, account: str | None = None) -> Any:
    """A client for the emulator; with `account`, acting in that account (in_account)."""
    # Without endpoint_url boto3 reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself.
    if not endpoint_url and not os.environ.get("AWS_ENDPOINT_URL"):
        raise SeedError("AWS_ENDPOINT_URL is not set; this script seeds the local emulator only")
    config = Config(region_name=REGION, retries={"max_attempts": 3, "mode": "standard"})
    if service == "s3":
        config = config.merge(Config(s3={"addressing_style": "path"}))
    client = boto3.client(service, config=config, endpoint_url=endpoint_url or None)
    return in_account(client, account) if account else client


def aws_error(action: str, err: Exception) -> SeedError:
    if isinstance(err, ClientError):
        e = err.response.get("Error", {})
        return SeedError(f"{action} failed: {e.get('Code', '?')}: {e.get('Message', err)}")
    return SeedError(f"{action} failed: {err}")


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def write_env_file(path: str, values: dict[str, str]) -> None:
    """Writes NAME='value' lines atomically, readable by the owner only (`source`-able, and read
    by scripts/demo_trust.py)."""
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


def ensure_user(iam: Any, name: str, policy_name: str, policy: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The IAM user `name` with exactly this inline policy and a fresh access key: (ARN, key).
    Older keys of the user are deleted (IAM allows two per user; a re-run must not hit that)."""
    try:
        try:
            arn = iam.create_user(UserName=name)["User"]["Arn"]
        except ClientError as err:
            if error_code(err) != "EntityAlreadyExists":
                raise
            arn = iam.get_user(UserName=name)["User"]["Arn"]
        iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
        for old in iam.list_access_keys(UserName=name).get("AccessKeyMetadata", []):
            iam.delete_access_key(UserName=name, AccessKeyId=old["AccessKeyId"])
        key = iam.create_access_key(UserName=name)["AccessKey"]
    except (ClientError, BotoCoreError) as err:
        raise aws_error(f"creating the IAM user {name!r}", err) from err
    return str(arn), key


def phase_platform(env_file: str) -> None:
    # Under IAM enforcement sts:AssumeRole needs the caller's own permission as well as the role's
    # trust policy, as in AWS (the platform's Lambda role has sts:AssumeRole on customer roles).
    # The dev server also seals and opens S3-compatible secrets as this principal (template.yaml
    # grants the functions Encrypt / Decrypt on the secrets key for that purpose only). Its key is
    # made by the dev server on start, so the statement names the purpose, not the key; CreateKey,
    # DescribeKey and CreateAlias make and find it.
    platform_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "s3-compatible-secret"}},
            },
            {"Effect": "Allow", "Action": ["kms:CreateKey", "kms:DescribeKey", "kms:CreateAlias"], "Resource": "*"},
        ],
    }
    arn, key = ensure_user(aws_client("iam"), PLATFORM_USER, PLATFORM_POLICY_NAME, platform_policy)
    if arn_account(arn) != PLATFORM_ACCOUNT:
        # e.g. MOTO_ACCOUNT_ID set for the emulator: moto then ignores x-moto-account-id as well.
        raise SeedError(f"the platform principal is {arn}, not in moto's default account {PLATFORM_ACCOUNT}")
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


def ensure_bucket(s3: Any, cors_rules: list[dict[str, Any]], where: str, plain: bool = False) -> None:
    """The bucket, versioned, with the rendered CORS rules and the images, in one emulator.

    `plain` (the emulator without IAM enforcement that serves presigned URLs and CORS preflights):
    moto 5.2 answers an unsigned request for an existing private object 403 before it looks at
    the method (an anonymous-access ACL check on the action `s3:<Method>Object`), so an OPTIONS
    preflight never reaches its CORS evaluation. S3 does not authorize preflights; a bucket policy
    granting moto's made-up `s3:OptionsObject` to anyone lets the preflight through and nothing
    else (an anonymous GET stays 403). Same workaround as tests/api/validation.rs.
    """
    try:
        try:
            s3.create_bucket(Bucket=BUCKET)
        except ClientError as err:
            if error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": cors_rules})
        if plain:
            s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(preflight_policy(BUCKET)))
        for key in IMAGES:
            s3.put_object(Bucket=BUCKET, Key=key, Body=image_bytes(key), ContentType="image/png")
        for key in VIDEOS:
            s3.put_object(Bucket=BUCKET, Key=key, Body=video_bytes(key), ContentType="video/webm")
    except (ClientError, BotoCoreError) as err:
        raise aws_error(f"creating the bucket {BUCKET!r} and its images in {where}", err) from err


def preflight_policy(bucket: str) -> dict[str, Any]:
    """The bucket policy the plain emulator needs to evaluate CORS preflights (see ensure_bucket)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "MotoEvaluatesPreflightsOnlyForReadableObjects",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:OptionsObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }


def arn_account(arn: str) -> str:
    """The account ID of an ARN (its fifth field), or "" when there is none."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def image_bytes(key: str) -> bytes:
    """The demo image stored under `key` (run.sh --check compares presigned downloads with it)."""
    start, end = IMAGES[key]
    return png_gradient(64, start, end)


def video_bytes(key: str) -> bytes:
    """The demo video stored under `key`: the committed WebM file VIDEOS names."""
    path = os.path.join(ROOT, VIDEOS[key])
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise SeedError(f"cannot read the demo video {VIDEOS[key]} for {key}: {err.strerror}") from err


def ensure_admin(env_file: str) -> None:
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    # The customer's console user: in the customer account, so that its keys act there (and the
    # x-moto-account-id header of its requests names its own account, as enforcement needs).
    iam = aws_client("iam", account=CUSTOMER_ACCOUNT)
    arn, key = ensure_user(iam, ADMIN_USER, ADMIN_POLICY_NAME, everything)
    write_env_file(
        env_file,
        {
            "DEMO_ADMIN_ARN": arn,
            "DEMO_ADMIN_AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "DEMO_ADMIN_AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        },
    )
    log(f"customer console user {arn} (every action; access key in {os.path.relpath(env_file)})")


def phase_seed(url: str, token: str, objects_url: str | None, admin_env_file: str | None) -> None:
    api = Api(url, token)
    # The customer's side: the role and the bucket the validator checks, in the customer account.
    iam = aws_client("iam", account=CUSTOMER_ACCOUNT)
    s3 = aws_client("s3", account=CUSTOMER_ACCOUNT)
    if admin_env_file:
        ensure_admin(admin_env_file)

    trust = api.call("GET", "/policies/trust")
    trust_text = policy_text(trust, "GET /policies/trust")
    log(f"trust policy: principal {trust.get('principal')}, external id {trust.get('external_id')}")

    access = api.call("POST", "/policies/access", {"scope": SCOPE, "versioning": VERSIONING})
    access_text = policy_text(access, "POST /policies/access")

    role_arn = ensure_role(iam, trust_text, access_text)
    if arn_account(role_arn) != CUSTOMER_ACCOUNT:
        raise SeedError(f"the role {role_arn} is not in the customer account {CUSTOMER_ACCOUNT}")
    log(f"role {role_arn} (trust and access policies as the API rendered them)")

    cors = api.call("GET", "/policies/cors")
    cors_rules = cors.get("cors") if isinstance(cors, dict) else None
    if not isinstance(cors_rules, list) or not cors_rules:
        raise SeedError(f"GET /policies/cors: the answer has no \"cors\" rules: {json.dumps(cors)[:300]}")

    ensure_bucket(s3, cors_rules, f"account {CUSTOMER_ACCOUNT} at {os.environ['AWS_ENDPOINT_URL']}")
    where = f"the customer account {CUSTOMER_ACCOUNT}"
    if objects_url:
        # The plain emulator serves the presigned URLs, which are signed with the keys of the
        # assumed customer role; it does not know them (they exist in the other moto only), so it
        # answers from its default account: the bucket stays there, with no account header.
        ensure_bucket(aws_client("s3", objects_url), cors_rules, f"the default account at {objects_url}", plain=True)
        where += " and, for presigned URLs, the plain emulator's default account"
    log(f"bucket {BUCKET} in {where} (versioning and CORS as rendered): {', '.join(sorted([*IMAGES, *VIDEOS]))}")

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
    seed.add_argument("--objects-url", help="a plain emulator serving presigned URLs: same bucket and images")
    seed.add_argument("--admin-env-file", help="also create the IAM user demo-admin; its keys go here")
    args = parser.parse_args(argv)
    try:
        if args.phase == "platform":
            phase_platform(args.env_file)
        else:
            token = os.environ.get("ADMIN_TOKEN", "")
            if not token:
                raise SeedError("ADMIN_TOKEN is not set (an admin dev token for the demo org)")
            phase_seed(args.url, token, args.objects_url, args.admin_env_file)
    except SeedError as err:
        print(f"seed: ERROR: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
