"""Proves scripts/moto_server.py's IAM patches against a real moto server.

Run: .tools/venv/bin/pytest -q scripts/test_moto_launcher.py

The `patched` and `unpatched` servers are started with INITIAL_NO_AUTH_ACTION_COUNT=SETUP_REQUESTS:
moto counts every request that goes through its IAM authorizer (one per boto3 call; retries are
disabled below so a call is exactly one request) and enforces IAM from the next request on. The
setup makes exactly that many calls, unauthenticated; every AssumeRole after it is signed with the
new user's keys and evaluated against the role's trust policy (`StringEquals sts:ExternalId`) and
the user's identity policy.

The `accounts` server (cross-account roles, role sessions, DynamoDB, SSE-KMS, KMS Encrypt and
Decrypt) starts without enforcement and switches it on after its setup with moto's POST
/moto-api/reset-auth 0, as scripts/run.sh does. The `unenforced` server never enforces IAM
(external IDs are checked all the same).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

SCRIPTS = Path(__file__).resolve().parent
LAUNCHER = SCRIPTS / "moto_server.py"
EXTERNAL_ID = "ext-123"
REGION = "us-east-1"
# create_user, create_access_key, create_role, put_user_policy
SETUP_REQUESTS = 4
START_TIMEOUT_S = 30.0
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _server_env(initial_no_auth: int | None = SETUP_REQUESTS) -> dict[str, str]:
    """The server's environment; `initial_no_auth=None`: IAM not enforced (moto's default)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "MOTO_")) and k != "INITIAL_NO_AUTH_ACTION_COUNT"
    }
    if initial_no_auth is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(initial_no_auth)
    return env


def _stop(proc: subprocess.Popen, log: Path) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait(proc: subprocess.Popen, log: Path, ready) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        url = ready()
        if url:
            return url
        time.sleep(0.1)
    _stop(proc, log)
    pytest.fail(f"server not ready within {START_TIMEOUT_S}s:\n{log.read_text()}")


def _start_patched(tmp: Path, initial_no_auth: int | None = SETUP_REQUESTS) -> tuple[subprocess.Popen, Path, str]:
    ready_file = tmp / "ready"
    log = tmp / "launcher.log"
    cmd = [sys.executable, str(LAUNCHER), "--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready_file)]
    env = _server_env(initial_no_auth)
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = _wait(proc, log, lambda: ready_file.read_text().strip() if ready_file.exists() else None)
    return proc, log, url


def _start_unpatched(tmp: Path) -> tuple[subprocess.Popen, Path, str]:
    port = _free_port()
    log = tmp / "moto_server.log"
    script = Path(sys.executable).parent / "moto_server"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen(
        base + ["-H", "127.0.0.1", "-p", str(port)],
        env=_server_env(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = _wait(proc, log, lambda: f"http://127.0.0.1:{port}" if _accepts(port) else None)
    return proc, log, url


def _client(service: str, url: str, key: str = "testing", secret: str = "testing"):
    return boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
    ).client(service, endpoint_url=url, config=NO_RETRY)


def _setup(url: str) -> dict[str, str]:
    """Exactly SETUP_REQUESTS calls; they run before moto starts enforcing IAM."""
    iam = _client("iam", url)
    suffix = uuid.uuid4().hex[:8]
    user = iam.create_user(UserName=f"platform-{suffix}")["User"]  # 1
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]  # 2
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": user["Arn"]},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    role = iam.create_role(RoleName=f"customer-read-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]  # 3
    allow = {
        "Version": "2012-10-17",
        # As the platform's own policy: any role; whether a role lets it in is up to that role.
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user["UserName"], PolicyName="assume", PolicyDocument=json.dumps(allow))  # 4
    return {
        "url": url,
        "role_arn": role["Arn"],
        "key": key["AccessKeyId"],
        "secret": key["SecretAccessKey"],
    }


@pytest.fixture(scope="module")
def patched(tmp_path_factory) -> Iterator[dict[str, str]]:
    proc, log, url = _start_patched(tmp_path_factory.mktemp("patched"))
    try:
        yield _setup(url)
    finally:
        _stop(proc, log)


@pytest.fixture(scope="module")
def unpatched(tmp_path_factory) -> Iterator[dict[str, str]]:
    proc, log, url = _start_unpatched(tmp_path_factory.mktemp("unpatched"))
    try:
        yield _setup(url)
    finally:
        _stop(proc, log)


def _assume(env: dict[str, str], external_id: str | None) -> dict:
    sts = _client("sts", env["url"], env["key"], env["secret"])
    kwargs = {"RoleArn": env["role_arn"], "RoleSessionName": "launcher-test", "DurationSeconds": 900}
    if external_id is not None:
        kwargs["ExternalId"] = external_id
    return sts.assume_role(**kwargs)


def _assert_denied(env: dict[str, str], external_id: str | None) -> None:
    with pytest.raises(ClientError) as err:
        _assume(env, external_id)
    _assert_access_denied(err)


def _assert_access_denied(err: pytest.ExceptionInfo[ClientError]) -> None:
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403, response
    assert response["Error"]["Code"] == "AccessDenied", response


# --- the patched launcher -----------------------------------------------------------------------


def test_enforcement_is_on(patched):
    """Guards the request count: IAM really is enforced once setup is done."""
    with pytest.raises(ClientError) as err:
        _client("sts", patched["url"], "AKIAUNKNOWNKEY000000", "nope").get_caller_identity()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_patched_right_external_id_is_allowed(patched):
    creds = _assume(patched, EXTERNAL_ID)["Credentials"]
    assert creds["AccessKeyId"] and creds["SessionToken"]


def test_patched_missing_external_id_is_denied(patched):
    _assert_denied(patched, None)


def test_patched_wrong_external_id_is_denied(patched):
    _assert_denied(patched, "ext-999")


def test_patched_missing_role_is_denied(patched):
    missing = {**patched, "role_arn": patched["role_arn"].rsplit("/", 1)[0] + "/no-such-role"}
    with pytest.raises(ClientError) as err:
        _assume(missing, EXTERNAL_ID)
    _assert_access_denied(err)


# --- moto as shipped: the bug the launcher exists for ---------------------------------------------


def test_unpatched_moto_hands_out_credentials_for_a_missing_role(unpatched):
    """If this starts failing, moto denies it upstream and patch_assume_missing_role can go."""
    missing = {**unpatched, "role_arn": unpatched["role_arn"].rsplit("/", 1)[0] + "/no-such-role"}
    assert _assume(missing, EXTERNAL_ID)["Credentials"]["AccessKeyId"]



def test_unpatched_moto_lets_missing_external_id_through(unpatched):
    """If this starts failing, moto fixed the bug upstream and the patch can be dropped."""
    creds = _assume(unpatched, None)["Credentials"]
    assert creds["AccessKeyId"]


def test_unpatched_moto_still_denies_wrong_external_id(unpatched):
    """Same setup, so the only difference between the two servers is the missing-key rule."""
    _assert_denied(unpatched, "ext-999")


# --- the launcher's own guards --------------------------------------------------------------------


def _launcher_module():
    spec = importlib.util.spec_from_file_location("moto_launcher", LAUNCHER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("operator", "positive"),
    [
        ("StringEquals", True),
        ("StringLike", True),
        ("StringEqualsIgnoreCase", True),
        ("ArnEquals", True),
        ("ArnLike", True),
        ("NumericEquals", True),
        ("Bool", True),
        ("ForAnyValue:StringEquals", True),
        ("StringNotEquals", False),
        ("StringNotLike", False),
        ("ArnNotLike", False),
        ("NumericNotEquals", False),
        ("NotIpAddress", False),
        ("StringEqualsIfExists", False),
        ("Null", False),
        ("ForAllValues:StringEquals", False),
    ],
)
def test_operator_classification(operator, positive):
    assert _launcher_module().is_positive_operator(operator) is positive


def test_launcher_fails_loudly_when_moto_drifts(tmp_path):
    """Simulate a moto without the patched function: the launcher must refuse to start."""
    code = (
        "import runpy, sys\n"
        "import moto.iam.policy_conditions as pc\n"
        "del pc.TrustCondition.verify_condition\n"
        f"sys.argv = [{str(LAUNCHER)!r}, '--port', '0', '--ready-file', {str(tmp_path / 'ready')!r}]\n"
        f"runpy.run_path({str(LAUNCHER)!r}, run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_server_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result
    assert "verify_condition" in result.stderr
    assert not (tmp_path / "ready").exists()


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("photos/*", "photos/", True),
        ("photos/*", "photos/2026/cat.png", True),
        ("photos/*", "Photos/cat.png", False),
        ("photos/*", "other/", False),
        ("photos/*", "", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a.c*", "abc", False),
        (["x/*", "photos/*"], "photos/a", True),
    ],
)
def test_string_like_matches_as_iam_does(pattern, value, matches):
    assert _launcher_module().string_like(pattern, value) is matches


def test_a_prefix_condition_lists_its_prefix_only():
    launcher = _launcher_module()
    launcher.patch_condition_evaluation()
    launcher.patch_s3_condition_keys()
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    statement = IAMPolicyStatement(
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b",
            "Condition": {"StringLike": {"s3:prefix": "photos/*"}},
        }
    )

    def listing(values):
        return statement.is_action_permitted("s3:ListBucket", "arn:aws:s3:::b", None, values)

    assert listing({"s3:prefix": "photos/"}) == PermissionResult.PERMITTED
    assert listing({"s3:prefix": "other/"}) != PermissionResult.PERMITTED
    assert listing({}) != PermissionResult.PERMITTED, "no prefix (HeadBucket, whole-bucket list) is denied"


# --- two accounts: the platform's and a customer's ------------------------------------------------
#
# One server, started without enforcement; the setup runs unauthenticated and then switches IAM
# enforcement on with moto's own POST /moto-api/reset-auth 0 (as scripts/run.sh does), so the setup
# does not have to be an exact number of requests.

PLATFORM_ACCOUNT = "123456789012"
CUSTOMER_ACCOUNT = "210987654321"
BUCKET = "customer-data"
TABLE = "integrations"
OTHER_TABLE = "other-table"


def _client_as(service: str, url: str, creds: dict[str, str]):
    """A client signing with `creds` (an STS Credentials dict, or a user's key: no SessionToken)."""
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        region_name=REGION,
    ).client(service, endpoint_url=url, config=NO_RETRY)


def _in_account(client, account: str):
    """Send every request of `client` to `account`: moto reads x-moto-account-id first."""
    client.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
    )
    return client


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(principal: str, external_id: str | None = EXTERNAL_ID) -> str:
    statement: dict = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return _policy(statement)


def _enforce(url: str) -> None:
    # moto reads the count from the raw body, which a form content type would swallow.
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth", data=b"0", method="POST", headers={"content-type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _assume_as(url: str, creds: dict[str, str], role_arn: str, external_id: str | None = None) -> dict[str, str]:
    kwargs = {"RoleArn": role_arn, "RoleSessionName": "launcher-test", "DurationSeconds": 900}
    if external_id is not None:
        kwargs["ExternalId"] = external_id
    return _client_as("sts", url, creds).assume_role(**kwargs)["Credentials"]


def _denied(call) -> None:
    with pytest.raises(ClientError) as err:
        call()
    _assert_access_denied(err)


def _setup_accounts(url: str) -> dict:
    iam = _client("iam", url)
    customer_iam = _in_account(_client("iam", url), CUSTOMER_ACCOUNT)

    def user(name: str, *statements: dict) -> dict[str, str]:
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        iam.put_user_policy(UserName=name, PolicyName="access", PolicyDocument=_policy(*statements))
        return {"Arn": arn, "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}

    def role(client, name: str, trust: str, *statements: dict) -> str:
        arn = client.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        if statements:
            client.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=_policy(*statements))
        return arn

    assume_any = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/*"}
    platform_user = user("platform", assume_any)
    # Patch 2: V may assume the platform role and nothing else; the role's policy is the platform's.
    caller = user(
        "platform-caller",
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{PLATFORM_ACCOUNT}:role/platform"},
    )
    platform_role = role(iam, "platform", _trust(caller["Arn"], None), assume_any)
    table_arn = f"arn:aws:dynamodb:{REGION}:{PLATFORM_ACCOUNT}:table/{TABLE}"
    table_reader = user(
        "table-reader",
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": table_arn},
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{table_arn}/index/allowed-index"},
    )

    read_own = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/allowed/*"}
    roles = {
        "read": role(customer_iam, "customer-read", _trust(platform_user["Arn"]), read_own),
        "other_principal": role(
            customer_iam, "customer-other-principal", _trust(f"arn:aws:iam::{PLATFORM_ACCOUNT}:user/someone-else")
        ),
        "trusts_platform_role": role(customer_iam, "customer-trusts-platform-role", _trust(platform_role)),
        "trusts_other_role": role(
            customer_iam, "customer-trusts-other-role", _trust(f"arn:aws:iam::{PLATFORM_ACCOUNT}:role/other")
        ),
    }

    s3 = _in_account(_client("s3", url), CUSTOMER_ACCOUNT)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="allowed/report.txt", Body=b"report")
    s3.put_object(Bucket=BUCKET, Key="secret/keys.txt", Body=b"secret")

    dynamodb = _client("dynamodb", url)
    index = lambda name: {  # noqa: E731
        "IndexName": name,
        "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    for name, indexes in ((TABLE, [index("allowed-index"), index("other-index")]), (OTHER_TABLE, [])):
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}]
            + ([{"AttributeName": "owner", "AttributeType": "S"}] if indexes else []),
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
        )
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "owner": {"S": "o"}})

    secretsmanager = _client("secretsmanager", url)
    link_keys = secretsmanager.create_secret(Name="link-keys", SecretString='{"current": "k1"}')["ARN"]
    secretsmanager.create_secret(Name="other-secret", SecretString="other")
    secret_reader = user(
        "secret-reader", {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": link_keys}
    )

    return {
        "url": url,
        "platform_user": platform_user,
        "caller": caller,
        "platform_role": platform_role,
        "table_reader": table_reader,
        "secret_reader": secret_reader,
        "link_keys_arn": link_keys,
        "roles": roles,
        "kms": _setup_kms(url, customer_iam, platform_user),
        "secrets": _setup_secrets(url, iam, user, platform_user),
    }


KMS_BUCKET = "customer-kms-data"
VIA_S3 = f"s3.{REGION}.amazonaws.com"


def _setup_kms(url: str, customer_iam, platform_user: dict[str, str]) -> dict:
    """A versioned customer bucket with objects under SSE-KMS (a customer-managed key, sent as a bare
    key id, as an alias, and as no key at all: aws/s3), SSE-S3 and no encryption; one customer role
    per kms:Decrypt variant, each allowed s3:GetObject(Version) on the bucket."""
    kms = _in_account(_client("kms", url), CUSTOMER_ACCOUNT)
    key = kms.create_key(Description="customer data")["KeyMetadata"]
    other_key = kms.create_key(Description="another key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/customer-data", TargetKeyId=key["KeyId"])

    s3 = _in_account(_client("s3", url), CUSTOMER_ACCOUNT)
    s3.create_bucket(Bucket=KMS_BUCKET)
    s3.put_bucket_versioning(Bucket=KMS_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    kms_object = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key["KeyId"]}
    objects = {
        "kms": ("kms/report.txt", kms_object),
        "kms_alias": ("kms/by-alias.txt", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/customer-data"}),
        "kms_default": ("kms/default-key.txt", {"ServerSideEncryption": "aws:kms"}),
        "sse_s3": ("sse-s3/report.txt", {"ServerSideEncryption": "AES256"}),
        "plain": ("plain/report.txt", {}),
    }
    versions = {
        name: s3.put_object(Bucket=KMS_BUCKET, Key=object_key, Body=object_key.encode(), **extra)["VersionId"]
        for name, (object_key, extra) in objects.items()
    }

    def decrypt(key_arn: str, via: str = VIA_S3) -> dict:
        return {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": [key_arn],
            "Condition": {"StringEquals": {"kms:ViaService": via}},
        }

    read = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": f"arn:aws:s3:::{KMS_BUCKET}/*",
    }
    variants = {
        "no_decrypt": [read],
        "decrypt": [read, decrypt(key["Arn"])],
        "decrypt_other_key": [read, decrypt(other_key["Arn"])],
        "decrypt_via_other_region": [read, decrypt(key["Arn"], "s3.eu-west-1.amazonaws.com")],
        "decrypt_denied": [
            read,
            decrypt(key["Arn"]),
            {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        ],
    }
    roles = {}
    for name, statements in variants.items():
        role_name = f"customer-kms-{name.replace('_', '-')}"
        trust = _trust(platform_user["Arn"])
        roles[name] = customer_iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        customer_iam.put_role_policy(RoleName=role_name, PolicyName="access", PolicyDocument=_policy(*statements))
    return {
        "key_arn": key["Arn"],
        "aws_s3_key_arn": kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"],
        "objects": {name: object_key for name, (object_key, _) in objects.items()},
        "versions": versions,
        "roles": roles,
    }

SECRETS_PURPOSE = "s3-compatible-secret"
SECRETS_CONTEXT = {"purpose": SECRETS_PURPOSE, "org_id": "org-1"}


def _setup_secrets(url: str, iam, user, platform_user: dict[str, str]) -> dict:
    """The template's SecretsKey statements (platform account): a user allowed kms:Encrypt, a role
    allowed kms:Decrypt, both on the key's ARN with `StringEquals kms:EncryptionContext:purpose`;
    ciphertexts sealed before enforcement under every context the tests need."""
    kms = _client("kms", url)
    key = kms.create_key(Description="secrets")["KeyMetadata"]["Arn"]
    other_key = kms.create_key(Description="another key")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/secrets", TargetKeyId=key)

    def statement(action: str) -> dict:
        return {
            "Effect": "Allow",
            "Action": action,
            "Resource": key,
            "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": SECRETS_PURPOSE}},
        }

    sealer = user("secrets-sealer", statement("kms:Encrypt"))
    opener = iam.create_role(RoleName="secrets-opener", AssumeRolePolicyDocument=_trust(platform_user["Arn"], None))
    iam.put_role_policy(
        RoleName="secrets-opener", PolicyName="open-store-secrets", PolicyDocument=_policy(statement("kms:Decrypt"))
    )

    def seal(key_id: str, context: dict | None) -> bytes:
        extra = {"EncryptionContext": context} if context is not None else {}
        return kms.encrypt(KeyId=key_id, Plaintext=b"secret", **extra)["CiphertextBlob"]

    return {
        "key_arn": key,
        "other_key_arn": other_key,
        "sealer": sealer,
        "opener_role": opener["Role"]["Arn"],
        "sealed": {
            "right": seal(key, SECRETS_CONTEXT),
            "no_context": seal(key, None),
            "other_purpose": seal(key, {"purpose": "other", "org_id": "org-1"}),
            "other_key": seal(other_key, SECRETS_CONTEXT),
        },
    }


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> Iterator[dict]:
    proc, log, url = _start_patched(tmp_path_factory.mktemp("accounts"), initial_no_auth=None)
    try:
        env = _setup_accounts(url)
        _enforce(url)
        yield env
    finally:
        _stop(proc, log)


def test_accounts_enforcement_is_on(accounts):
    """Guards reset-auth: IAM really is enforced once the setup is done."""
    with pytest.raises(ClientError) as err:
        _client("sts", accounts["url"], "AKIAUNKNOWNKEY000000", "nope").get_caller_identity()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# Patch 1 (patch_cross_account_trust): the customer role's trust policy is evaluated.


def test_cross_account_right_external_id_is_allowed(accounts):
    creds = _assume_as(accounts["url"], accounts["platform_user"], accounts["roles"]["read"], EXTERNAL_ID)
    assert creds["AccessKeyId"] and creds["SessionToken"]
    identity = _client_as("sts", accounts["url"], creds).get_caller_identity()
    assert identity["Account"] == CUSTOMER_ACCOUNT


@pytest.mark.parametrize("external_id", ["ext-999", None])
def test_cross_account_wrong_or_missing_external_id_is_denied(accounts, external_id):
    _denied(lambda: _assume_as(accounts["url"], accounts["platform_user"], accounts["roles"]["read"], external_id))


def test_cross_account_role_trusting_another_principal_is_denied(accounts):
    role = accounts["roles"]["other_principal"]
    _denied(lambda: _assume_as(accounts["url"], accounts["platform_user"], role, EXTERNAL_ID))


def test_cross_account_missing_role_is_denied(accounts):
    missing = f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/no-such-role"
    _denied(lambda: _assume_as(accounts["url"], accounts["platform_user"], missing, EXTERNAL_ID))


def test_cross_account_credentials_read_what_the_role_allows(accounts):
    creds = _assume_as(accounts["url"], accounts["platform_user"], accounts["roles"]["read"], EXTERNAL_ID)
    s3 = _client_as("s3", accounts["url"], creds)
    assert s3.get_object(Bucket=BUCKET, Key="allowed/report.txt")["Body"].read() == b"report"


def test_cross_account_credentials_are_denied_what_the_role_does_not_allow(accounts):
    creds = _assume_as(accounts["url"], accounts["platform_user"], accounts["roles"]["read"], EXTERNAL_ID)
    s3 = _client_as("s3", accounts["url"], creds)
    _denied(lambda: s3.get_object(Bucket=BUCKET, Key="secret/keys.txt"))


# Patch 2 (patch_role_principal_sessions): a trust policy naming a role admits its sessions.


def _platform_session(accounts: dict) -> dict[str, str]:
    return _assume_as(accounts["url"], accounts["caller"], accounts["platform_role"])


def test_platform_role_session_assumes_a_role_trusting_the_platform_role(accounts):
    session = _platform_session(accounts)
    creds = _assume_as(accounts["url"], session, accounts["roles"]["trusts_platform_role"], EXTERNAL_ID)
    assert creds["AccessKeyId"] and creds["SessionToken"]


def test_platform_role_session_with_wrong_external_id_is_denied(accounts):
    session = _platform_session(accounts)
    _denied(lambda: _assume_as(accounts["url"], session, accounts["roles"]["trusts_platform_role"], "ext-999"))


def test_role_trusting_another_role_denies_the_platform_session(accounts):
    session = _platform_session(accounts)
    _denied(lambda: _assume_as(accounts["url"], session, accounts["roles"]["trusts_other_role"], EXTERNAL_ID))


def test_the_caller_itself_is_not_the_platform_role(accounts):
    """A user of the platform account that is no session of the role: the trust names the role only."""
    role = accounts["roles"]["trusts_platform_role"]
    _denied(lambda: _assume_as(accounts["url"], accounts["platform_user"], role, EXTERNAL_ID))


@pytest.mark.parametrize(
    ("principal", "expected", "matches"),
    [
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "arn:aws:iam::123456789012:role/platform", True),
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "arn:aws:iam::123456789012:role/team/platform", True),
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "arn:aws:iam::210987654321:role/platform", False),
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "arn:aws:iam::123456789012:role/platformx", False),
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "arn:aws:iam::123456789012:role/plat", False),
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "arn:aws:iam::123456789012:user/platform", False),
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "arn:aws-cn:iam::123456789012:role/platform", False),
        ("arn:aws:iam::123456789012:user/platform", "arn:aws:iam::123456789012:role/platform", False),
        ("arn:aws:sts::123456789012:assumed-role/platform/s", "*", False),
    ],
)
def test_session_of_role_matches_account_and_role_name_only(principal, expected, matches):
    assert _launcher_module().session_of_role(principal, expected) is matches


# patch_secretsmanager_resources: Secrets Manager is authorized against the secret's ARN.


def _secrets_denied(call) -> None:
    """Secrets Manager's refusal: 400 AccessDeniedException, naming the action and the resource."""
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    assert response["Error"]["Code"] == "AccessDeniedException", response
    assert "is not authorized to perform: secretsmanager:" in response["Error"]["Message"], response
    assert " on resource: arn:aws:secretsmanager:" in response["Error"]["Message"], response


@pytest.mark.parametrize("by", ["name", "arn"])
def test_secretsmanager_get_secret_value_on_the_granted_secret_is_allowed_by_name_or_arn(accounts, by):
    client = _client_as("secretsmanager", accounts["url"], accounts["secret_reader"])
    secret_id = "link-keys" if by == "name" else accounts["link_keys_arn"]
    assert client.get_secret_value(SecretId=secret_id)["SecretString"] == '{"current": "k1"}'


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_secret_value(SecretId="other-secret"),
        lambda c: c.get_secret_value(SecretId="no-such-secret"),
        lambda c: c.put_secret_value(SecretId="link-keys", SecretString="{}"),
        lambda c: c.describe_secret(SecretId="link-keys"),
    ],
    ids=["another secret", "a missing secret", "PutSecretValue", "DescribeSecret"],
)
def test_secretsmanager_actions_or_secrets_not_granted_are_denied(accounts, call):
    client = _client_as("secretsmanager", accounts["url"], accounts["secret_reader"])
    _secrets_denied(lambda: call(client))


# Patch 3 (patch_dynamodb_resources): DynamoDB is authorized against the table's ARN.


def _table_reader(accounts: dict):
    return _client_as("dynamodb", accounts["url"], accounts["table_reader"])


def _dynamodb_denied(call) -> None:
    """DynamoDB's refusal: 400 AccessDeniedException, naming the action and the resource."""
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    assert response["Error"]["Code"] == "AccessDeniedException", response
    assert "is not authorized to perform: dynamodb:" in response["Error"]["Message"], response
    assert " on resource: arn:aws:dynamodb:" in response["Error"]["Message"], response


KEY = {"pk": {"S": "a"}}


def test_dynamodb_get_item_and_query_on_the_granted_table_are_allowed(accounts):
    dynamodb = _table_reader(accounts)
    assert dynamodb.get_item(TableName=TABLE, Key=KEY)["Item"]["pk"] == {"S": "a"}
    query = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "a"}}
    )
    assert query["Count"] == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.put_item(TableName=TABLE, Item={"pk": {"S": "b"}}),
        lambda d: d.update_item(
            TableName=TABLE, Key=KEY, UpdateExpression="SET x = :x", ExpressionAttributeValues={":x": {"S": "1"}}
        ),
        lambda d: d.delete_item(TableName=TABLE, Key=KEY),
        lambda d: d.scan(TableName=TABLE),
        lambda d: d.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": {"pk": {"S": "c"}}}}]),
    ],
    ids=["PutItem", "UpdateItem", "DeleteItem", "Scan", "TransactWriteItems"],
)
def test_dynamodb_actions_not_granted_on_the_table_are_denied(accounts, call):
    dynamodb = _table_reader(accounts)
    _dynamodb_denied(lambda: call(dynamodb))


def test_dynamodb_get_item_on_another_table_is_denied(accounts):
    dynamodb = _table_reader(accounts)
    _dynamodb_denied(lambda: dynamodb.get_item(TableName=OTHER_TABLE, Key=KEY))


def test_dynamodb_query_on_an_index_is_authorized_against_the_index(accounts):
    dynamodb = _table_reader(accounts)

    def query(index: str):
        return dynamodb.query(
            TableName=TABLE,
            IndexName=index,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": "o"}},
        )

    assert query("allowed-index")["Count"] == 1
    _dynamodb_denied(lambda: query("other-index"))


def test_dynamodb_transaction_items_are_authorized_per_table(accounts):
    """AWS authorizes TransactGetItems' items as GetItem, on each item's table."""
    dynamodb = _table_reader(accounts)
    get = lambda table: {"Get": {"TableName": table, "Key": KEY}}  # noqa: E731
    assert dynamodb.transact_get_items(TransactItems=[get(TABLE)])["Responses"][0]["Item"]["pk"] == {"S": "a"}
    _dynamodb_denied(lambda: dynamodb.transact_get_items(TransactItems=[get(TABLE), get(OTHER_TABLE)]))


ARN = "arn:aws:dynamodb:us-east-1:123456789012"


@pytest.mark.parametrize(
    ("operation", "body", "expected"),
    [
        ("GetItem", {"TableName": "T", "Key": {}}, [("GetItem", f"{ARN}:table/T")]),
        ("GetItem", {"TableName": f"{ARN}:table/T"}, [("GetItem", f"{ARN}:table/T")]),
        ("Query", {"TableName": "T", "IndexName": "I"}, [("Query", f"{ARN}:table/T/index/I")]),
        ("Scan", {"TableName": "T", "IndexName": "I"}, [("Scan", f"{ARN}:table/T/index/I")]),
        ("Query", {"TableName": "T"}, [("Query", f"{ARN}:table/T")]),
        (
            "BatchGetItem",
            {"RequestItems": {"A": {}, "B": {}}},
            [("BatchGetItem", f"{ARN}:table/A"), ("BatchGetItem", f"{ARN}:table/B")],
        ),
        ("BatchWriteItem", {"RequestItems": {"A": []}}, [("BatchWriteItem", f"{ARN}:table/A")]),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": "A"}},
                    {"ConditionCheck": {"TableName": "A"}},
                    {"Delete": {"TableName": "B"}},
                    {"Update": {"TableName": "B"}},
                    {"Put": {"TableName": "A"}},
                ]
            },
            [
                ("PutItem", f"{ARN}:table/A"),
                ("ConditionCheckItem", f"{ARN}:table/A"),
                ("DeleteItem", f"{ARN}:table/B"),
                ("UpdateItem", f"{ARN}:table/B"),
            ],
        ),
        ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "A"}}]}, [("GetItem", f"{ARN}:table/A")]),
        ("ListTables", {}, []),
    ],
)
def test_dynamodb_authorizations(operation, body, expected):
    assert _launcher_module().dynamodb_authorizations(operation, body, ARN) == expected


# Patch 4 (patch_s3_kms_decrypt): GetObject of an SSE-KMS object needs kms:Decrypt on its key.


def _customer_s3(accounts: dict, role: str):
    """S3 as a session of the customer's role `role` (one of accounts["kms"]["roles"])."""
    creds = _assume_as(accounts["url"], accounts["platform_user"], accounts["kms"]["roles"][role], EXTERNAL_ID)
    return _client_as("s3", accounts["url"], creds)


def _read(s3, accounts: dict, name: str, **kwargs) -> bytes:
    return s3.get_object(Bucket=KMS_BUCKET, Key=accounts["kms"]["objects"][name], **kwargs)["Body"].read()


def _kms_denied(call, key_arn: str) -> str:
    """S3's refusal for want of kms:Decrypt: 403 AccessDenied naming the action and the key."""
    with pytest.raises(ClientError) as err:
        call()
    _assert_access_denied(err)
    message = err.value.response["Error"]["Message"]
    assert "is not authorized to perform: kms:Decrypt on resource: " + key_arn in message, message
    return message


def test_head_object_of_an_sse_kms_object_needs_no_kms_decrypt_and_names_the_key_arn(accounts):
    s3 = _customer_s3(accounts, "no_decrypt")
    head = s3.head_object(Bucket=KMS_BUCKET, Key=accounts["kms"]["objects"]["kms"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == accounts["kms"]["key_arn"], "the full key ARN, not the bare key id it was put with"


def test_get_object_of_an_sse_kms_object_without_kms_decrypt_is_denied_as_aws_words_it(accounts):
    s3 = _customer_s3(accounts, "no_decrypt")
    key_arn = accounts["kms"]["key_arn"]
    message = _kms_denied(lambda: _read(s3, accounts, "kms"), key_arn)
    session = f"arn:aws:sts::{CUSTOMER_ACCOUNT}:assumed-role/customer-kms-no-decrypt/launcher-test"
    assert message == (
        f"User: {session} is not authorized to perform: kms:Decrypt on resource: {key_arn} "
        "because no identity-based policy allows the kms:Decrypt action"
    )


# Every way of reading the object's bytes: whole, a byte range, a version (s3:GetObjectVersion).
READS = ["whole", "range", "version"]


def _read_as(s3, accounts: dict, how: str) -> bytes:
    kwargs = {"range": {"Range": "bytes=0-3"}, "version": {"VersionId": accounts["kms"]["versions"]["kms"]}}
    return _read(s3, accounts, "kms", **kwargs.get(how, {}))


@pytest.mark.parametrize("how", READS)
def test_get_object_with_kms_decrypt_via_s3_in_the_bucket_region_returns_the_bytes(accounts, how):
    body = accounts["kms"]["objects"]["kms"].encode()
    expected = body[:4] if how == "range" else body
    assert _read_as(_customer_s3(accounts, "decrypt"), accounts, how) == expected


@pytest.mark.parametrize("how", READS)
def test_get_object_without_kms_decrypt_is_denied_whole_by_range_and_by_version(accounts, how):
    s3 = _customer_s3(accounts, "no_decrypt")
    _kms_denied(lambda: _read_as(s3, accounts, how), accounts["kms"]["key_arn"])


@pytest.mark.parametrize("role", ["decrypt_other_key", "decrypt_via_other_region"])
def test_kms_decrypt_on_another_key_or_via_another_region_is_still_denied(accounts, role):
    s3 = _customer_s3(accounts, role)
    _kms_denied(lambda: _read(s3, accounts, "kms"), accounts["kms"]["key_arn"])


def test_an_explicit_kms_decrypt_deny_wins_and_is_worded_as_aws_does(accounts):
    s3 = _customer_s3(accounts, "decrypt_denied")
    message = _kms_denied(lambda: _read(s3, accounts, "kms"), accounts["kms"]["key_arn"])
    assert message.endswith("with an explicit deny in an identity-based policy"), message


def test_an_sse_kms_object_put_under_an_alias_is_reported_and_decrypted_as_its_key(accounts):
    s3 = _customer_s3(accounts, "decrypt")
    head = s3.head_object(Bucket=KMS_BUCKET, Key=accounts["kms"]["objects"]["kms_alias"])
    assert head["SSEKMSKeyId"] == accounts["kms"]["key_arn"]
    assert _read(s3, accounts, "kms_alias") == accounts["kms"]["objects"]["kms_alias"].encode()


def test_an_object_put_with_sse_kms_and_no_key_is_under_the_aws_s3_managed_key(accounts):
    """AWS uses the account's aws/s3 key; a kms:Decrypt on the customer's key does not cover it."""
    s3 = _customer_s3(accounts, "decrypt")
    key_arn = s3.head_object(Bucket=KMS_BUCKET, Key=accounts["kms"]["objects"]["kms_default"])["SSEKMSKeyId"]
    assert key_arn == accounts["kms"]["aws_s3_key_arn"]
    assert key_arn.startswith(f"arn:aws:kms:{REGION}:{CUSTOMER_ACCOUNT}:key/"), key_arn
    _kms_denied(lambda: _read(s3, accounts, "kms_default"), key_arn)


@pytest.mark.parametrize("name", ["plain", "sse_s3"])
def test_an_object_without_sse_kms_needs_no_kms_decrypt(accounts, name):
    s3 = _customer_s3(accounts, "no_decrypt")
    assert _read(s3, accounts, name) == accounts["kms"]["objects"][name].encode()


KMS_ARN = f"arn:aws:kms:{REGION}:{CUSTOMER_ACCOUNT}"


@pytest.mark.parametrize(
    ("key_id", "expected"),
    [
        (f"{KMS_ARN}:key/k-1", f"{KMS_ARN}:key/k-1"),
        ("arn:aws:kms:eu-west-1:123456789012:key/k-1", "arn:aws:kms:eu-west-1:123456789012:key/k-1"),
        ("k-unknown", f"{KMS_ARN}:key/k-unknown"),
        ("alias/unknown", "alias/unknown"),
        (f"{KMS_ARN}:alias/unknown", f"{KMS_ARN}:alias/unknown"),
    ],
)
def test_kms_key_arn_of_keys_moto_does_not_know(key_id, expected):
    """Keys moto's KMS does not hold: an ARN stays, a bare id becomes the bucket account's key ARN."""
    assert _launcher_module().kms_key_arn(key_id, CUSTOMER_ACCOUNT, REGION) == expected


def test_kms_key_arn_resolves_aliases_and_the_aws_s3_default_through_moto():
    from moto.kms.models import kms_backends

    launcher = _launcher_module()
    account = "333333333333"  # this process's own moto, an account no other test uses
    kms = kms_backends[account][REGION]
    key = kms.create_key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "", None)
    kms.create_alias(key.id, "alias/data")
    assert launcher.kms_key_arn(key.id, account, REGION) == key.arn
    assert launcher.kms_key_arn("alias/data", account, REGION) == key.arn
    assert launcher.kms_key_arn(f"arn:aws:kms:{REGION}:{account}:alias/data", "210987654321", "eu-west-1") == key.arn
    aws_s3 = launcher.kms_key_arn(None, account, REGION)
    assert aws_s3 == kms.describe_key("alias/aws/s3").arn != key.arn


# Patch 5 (patch_kms_key_resources): Encrypt/Decrypt authorized on the key ARN with the context.


def _sealer(accounts: dict):
    return _client_as("kms", accounts["url"], accounts["secrets"]["sealer"])


def _opener(accounts: dict):
    """KMS as a session of the role with the template's Decrypt statement."""
    creds = _assume_as(accounts["url"], accounts["platform_user"], accounts["secrets"]["opener_role"])
    return _client_as("kms", accounts["url"], creds)


def _kms_api_denied(call, action: str, key_arn: str) -> str:
    """KMS's refusal: 400 AccessDeniedException naming the action and the key ARN, as AWS words it."""
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    assert response["Error"]["Code"] == "AccessDeniedException", response
    message = response["Error"]["Message"]
    assert f" is not authorized to perform: {action} on resource: {key_arn} " in message, message
    assert message.endswith(f"because no identity-based policy allows the {action} action"), message
    return message


@pytest.mark.parametrize("key", ["arn", "alias"])
def test_kms_encrypt_with_the_purpose_context_is_allowed_on_the_key(accounts, key):
    secrets = accounts["secrets"]
    key_id = secrets["key_arn"] if key == "arn" else "alias/secrets"
    out = _sealer(accounts).encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext=SECRETS_CONTEXT)
    assert out["KeyId"] == secrets["key_arn"]
    opened = _opener(accounts).decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=SECRETS_CONTEXT)
    assert opened["Plaintext"] == b"secret"


@pytest.mark.parametrize(
    ("key", "context"),
    [
        ("key_arn", None),
        ("key_arn", {"purpose": "other", "org_id": "org-1"}),
        ("key_arn", {"org_id": "org-1"}),
        ("other_key_arn", SECRETS_CONTEXT),
    ],
    ids=["no-context", "other-purpose", "no-purpose", "other-key"],
)
def test_kms_encrypt_without_the_purpose_or_on_another_key_is_denied(accounts, key, context):
    secrets = accounts["secrets"]
    extra = {"EncryptionContext": context} if context is not None else {}
    call = lambda: _sealer(accounts).encrypt(KeyId=secrets[key], Plaintext=b"secret", **extra)  # noqa: E731
    message = _kms_api_denied(call, "kms:Encrypt", secrets[key])
    assert message.startswith(f"User: {secrets['sealer']['Arn']} "), message


def test_kms_encrypt_statement_does_not_decrypt(accounts):
    secrets = accounts["secrets"]
    call = lambda: _sealer(accounts).decrypt(  # noqa: E731
        CiphertextBlob=secrets["sealed"]["right"], EncryptionContext=SECRETS_CONTEXT
    )
    _kms_api_denied(call, "kms:Decrypt", secrets["key_arn"])


@pytest.mark.parametrize("with_key_id", [False, True])
def test_kms_decrypt_with_the_purpose_context_is_allowed(accounts, with_key_id):
    secrets = accounts["secrets"]
    extra = {"KeyId": secrets["key_arn"]} if with_key_id else {}
    opener = _opener(accounts)
    out = opener.decrypt(CiphertextBlob=secrets["sealed"]["right"], EncryptionContext=SECRETS_CONTEXT, **extra)
    assert out["Plaintext"] == b"secret"
    assert out["KeyId"] == secrets["key_arn"]


@pytest.mark.parametrize(
    ("sealed", "context", "key_id", "resource"),
    [
        ("no_context", None, None, "key_arn"),
        ("other_purpose", {"purpose": "other", "org_id": "org-1"}, None, "key_arn"),
        ("other_key", SECRETS_CONTEXT, None, "other_key_arn"),
        ("right", SECRETS_CONTEXT, "other_key_arn", "other_key_arn"),
    ],
    ids=["no-context", "other-purpose", "key-named-by-the-ciphertext", "key-named-by-KeyId"],
)
def test_kms_decrypt_without_the_purpose_or_of_another_key_is_denied(accounts, sealed, context, key_id, resource):
    """Decrypt is authorized on the KeyId's key when given, otherwise on the ciphertext's."""
    secrets = accounts["secrets"]
    extra = {"EncryptionContext": context} if context is not None else {}
    if key_id is not None:
        extra["KeyId"] = secrets[key_id]
    opener = _opener(accounts)
    message = _kms_api_denied(
        lambda: opener.decrypt(CiphertextBlob=secrets["sealed"][sealed], **extra), "kms:Decrypt", secrets[resource]
    )
    assert message.startswith("User: arn:aws:sts::123456789012:assumed-role/secrets-opener/launcher-test "), message


def test_kms_decrypt_statement_does_not_encrypt(accounts):
    secrets = accounts["secrets"]
    call = lambda: _opener(accounts).encrypt(  # noqa: E731
        KeyId=secrets["key_arn"], Plaintext=b"secret", EncryptionContext=SECRETS_CONTEXT
    )
    _kms_api_denied(call, "kms:Encrypt", secrets["key_arn"])


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (None, {"kms:CallerAccount": "123456789012"}),
        ({}, {"kms:CallerAccount": "123456789012"}),
        (
            {"purpose": "p", "org_id": "o"},
            {
                "kms:CallerAccount": "123456789012",
                "kms:EncryptionContext:purpose": "p",
                "kms:EncryptionContext:org_id": "o",
                "kms:EncryptionContextKeys": ["purpose", "org_id"],
            },
        ),
    ],
)
def test_kms_condition_values_of_a_direct_call(context, expected):
    assert _launcher_module().kms_condition_values(context, "123456789012") == expected


def test_kms_statements_apply_only_when_their_conditions_hold():
    """An Allow or a Deny whose condition fails does not apply (moto made both an explicit deny);
    set operators compare every value of kms:EncryptionContextKeys."""
    launcher = _launcher_module()
    launcher.patch_condition_evaluation()
    launcher.patch_kms_key_resources()
    from moto.iam.access_control import PermissionResult

    key = "arn:aws:kms:us-east-1:123456789012:key/k"
    purpose = {"StringEquals": {"kms:EncryptionContext:purpose": "p"}}

    def outcome(effect: str, condition: dict, context: dict | None, resource: str = key):
        statement = {"Effect": effect, "Action": "kms:Decrypt", "Resource": key, "Condition": condition}
        values = launcher.kms_condition_values(context, "123456789012")
        return launcher.statement_outcome(statement, "kms:Decrypt", resource, values)

    assert outcome("Allow", purpose, {"purpose": "p"}) == PermissionResult.PERMITTED
    assert outcome("Allow", purpose, {"purpose": "q"}) == PermissionResult.NEUTRAL
    assert outcome("Allow", purpose, None) == PermissionResult.NEUTRAL
    assert outcome("Deny", purpose, {"purpose": "p"}) == PermissionResult.DENIED
    assert outcome("Deny", purpose, {"purpose": "q"}) == PermissionResult.NEUTRAL
    assert outcome("Deny", purpose, {"purpose": "p"}, key + "-other") == PermissionResult.NEUTRAL
    all_in = {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["purpose", "org_id"]}}
    any_in = {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "org_id"}}
    assert outcome("Allow", all_in, {"purpose": "p", "org_id": "o"}) == PermissionResult.PERMITTED
    assert outcome("Allow", all_in, {"purpose": "p", "extra": "x"}) == PermissionResult.NEUTRAL
    assert outcome("Allow", all_in, None) == PermissionResult.PERMITTED, "ForAllValues holds when the key is absent"
    assert outcome("Allow", any_in, {"purpose": "p", "org_id": "o"}) == PermissionResult.PERMITTED
    assert outcome("Allow", any_in, {"purpose": "p"}) == PermissionResult.NEUTRAL
    assert outcome("Allow", any_in, None) == PermissionResult.NEUTRAL


# --- without IAM enforcement (patch_assume_role_external_id_unenforced) ---------------------------


@pytest.fixture(scope="module")
def unenforced(tmp_path_factory) -> Iterator[dict[str, str]]:
    proc, log, url = _start_patched(tmp_path_factory.mktemp("unenforced"), initial_no_auth=None)
    try:
        iam = _in_account(_client("iam", url), CUSTOMER_ACCOUNT)
        platform = f"arn:aws:iam::{PLATFORM_ACCOUNT}:user/platform"
        conditioned = iam.create_role(RoleName="customer-read", AssumeRolePolicyDocument=_trust(platform))
        plain = iam.create_role(RoleName="no-condition", AssumeRolePolicyDocument=_trust(platform, None))
        key = _in_account(_client("kms", url), CUSTOMER_ACCOUNT).create_key()["KeyMetadata"]
        s3 = _in_account(_client("s3", url), CUSTOMER_ACCOUNT)
        s3.create_bucket(Bucket=KMS_BUCKET)
        sse_kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key["KeyId"]}
        s3.put_object(Bucket=KMS_BUCKET, Key="kms/report.txt", Body=b"report", **sse_kms)
        yield {
            "url": url,
            "conditioned": conditioned["Role"]["Arn"],
            "plain": plain["Role"]["Arn"],
            "key_arn": key["Arn"],
        }
    finally:
        _stop(proc, log)


ANYONE = {"AccessKeyId": "testing", "SecretAccessKey": "testing"}


def test_unenforced_server_does_not_enforce_iam(unenforced):
    """Guards the setting: an unknown key is accepted, so nothing below is IAM enforcement."""
    identity = _client("sts", unenforced["url"], "AKIAUNKNOWNKEY000000", "nope").get_caller_identity()
    assert identity["Arn"]


def test_unenforced_right_external_id_is_allowed(unenforced):
    creds = _assume_as(unenforced["url"], ANYONE, unenforced["conditioned"], EXTERNAL_ID)
    assert creds["AccessKeyId"] and creds["SessionToken"]


@pytest.mark.parametrize("external_id", ["ext-999", None])
def test_unenforced_wrong_or_missing_external_id_is_denied(unenforced, external_id):
    _denied(lambda: _assume_as(unenforced["url"], ANYONE, unenforced["conditioned"], external_id))


@pytest.mark.parametrize("external_id", ["anything", None])
def test_unenforced_role_without_external_id_condition_keeps_moto_behaviour(unenforced, external_id):
    assert _assume_as(unenforced["url"], ANYONE, unenforced["plain"], external_id)["AccessKeyId"]


def test_unenforced_sse_kms_object_is_read_by_anyone_and_names_its_key_arn(unenforced):
    """Without enforcement nothing is authorized, kms:Decrypt neither; the key id is the full ARN all the same."""
    s3 = _client_as("s3", unenforced["url"], ANYONE)
    assert s3.get_object(Bucket=KMS_BUCKET, Key="kms/report.txt")["Body"].read() == b"report"
    assert s3.head_object(Bucket=KMS_BUCKET, Key="kms/report.txt")["SSEKMSKeyId"] == unenforced["key_arn"]


def test_unenforced_kms_encrypt_and_decrypt_need_no_policy_and_no_context(unenforced):
    """Without enforcement patch_kms_key_resources checks nothing: any caller, any context."""
    kms = _in_account(_client_as("kms", unenforced["url"], ANYONE), CUSTOMER_ACCOUNT)
    sealed = kms.encrypt(KeyId=unenforced["key_arn"], Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"secret"
    sealed = kms.encrypt(KeyId=unenforced["key_arn"], Plaintext=b"secret", EncryptionContext={"purpose": "x"})
    opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"purpose": "x"})
    assert opened["Plaintext"] == b"secret"


@pytest.mark.parametrize(
    ("document", "conditioned"),
    [
        (_trust("arn:aws:iam::123456789012:user/u"), True),
        (_trust("arn:aws:iam::123456789012:user/u", None), False),
        (json.dumps({"Statement": {"Effect": "Allow", "Condition": {"StringLike": {"STS:externalid": "x*"}}}}), True),
        (json.dumps({"Statement": [{"Effect": "Allow", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}), False),
        ("not json", False),
    ],
)
def test_trust_conditions_on_external_id(document, conditioned):
    assert _launcher_module().trust_conditions_on(document, "sts:ExternalId") is conditioned


# --- drift in the moto internals the new patches rely on ------------------------------------------


@pytest.mark.parametrize(
    ("sabotage", "named"),
    [
        (
            "import moto.iam.access_control as m; del m.IAMRequestBase._check_role_trust_relationship",
            "patch_cross_account_trust",
        ),
        ("import moto.iam.access_control as m; del m.IAMPolicyStatement._check_principal", "_check_principal"),
        (
            "import moto.dynamodb.responses as m; m.DynamoHandler._determine_resource = lambda self: '*'",
            "patch_dynamodb_resources",
        ),
        (
            "import moto.secretsmanager.responses as m; m.SecretsManagerResponse._determine_resource = lambda self: '*'",
            "patch_secretsmanager_resources",
        ),
        (
            "import moto.sts.responses as m; del m.TokenResponse._determine_resource",
            "patch_assume_role_external_id_unenforced",
        ),
        ("import moto.s3.responses as m; del m.S3Response.get_object", "patch_s3_kms_decrypt"),
        ("import moto.kms.models as m; del m.KmsBackend.describe_key", "patch_s3_kms_decrypt"),
        (
            "import moto.kms.responses as m; m.KmsResponse._determine_resource = lambda self: '*'",
            "patch_kms_key_resources",
        ),
        ("import moto.kms.utils as m; del m._deserialize_ciphertext_blob", "patch_kms_key_resources"),
        (
            "import moto.iam.policy_conditions as m; "
            "m.CONDITION_OPERATIONS['ForAllValues:StringEquals'] = lambda expected, actual: True",
            "patch_kms_key_resources self-check failed",
        ),
    ],
)
def test_new_patches_fail_loudly_when_moto_drifts(tmp_path, sabotage, named):
    code = (
        "import runpy, sys\n"
        f"{sabotage}\n"
        f"sys.argv = [{str(LAUNCHER)!r}, '--port', '0', '--ready-file', {str(tmp_path / 'ready')!r}]\n"
        f"runpy.run_path({str(LAUNCHER)!r}, run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_server_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result
    assert named in result.stderr
    assert not (tmp_path / "ready").exists()


# --- patch_s3_presigned_urls / patch_s3_presigned_metadata_check: SigV4 presigned URLs ------------

REPORT = "allowed/report.txt"


def _presigner(creds: dict[str, str]):
    """An S3 client presigning SigV4 URLs with `creds` (a role session of the customer's)."""
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        region_name=REGION,
    ).client("s3", endpoint_url=_presigner.url, config=Config(signature_version="s3v4", retries={"max_attempts": 1}))


def _presign(accounts: dict, operation: str = "get_object", key: str = REPORT, **params) -> str:
    creds = _assume_as(accounts["url"], accounts["platform_user"], accounts["roles"]["read"], EXTERNAL_ID)
    _presigner.url = accounts["url"]
    return _presigner(creds).generate_presigned_url(
        operation, Params={"Bucket": BUCKET, "Key": key, **params}, ExpiresIn=300
    )


def _fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of a plain HTTP request: no signing of its own."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def _s3_error_code(body: bytes) -> str:
    import re

    match = re.search(rb"<Code>([^<]+)</Code>", body)
    return match.group(1).decode() if match else ""


DISPOSITION = "attachment; filename=\"r_sum_ _final_; v2.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B%20v2.pdf"


def test_a_presigned_get_is_served_while_iam_is_enforced_with_the_response_headers_it_signed(accounts):
    """moto 5.2.5 answered every presigned request with 500 once it enforced IAM (KeyError on the
    Authorization header in IAMRequestBase.__init__)."""
    url = _presign(accounts, ResponseContentDisposition=DISPOSITION, ResponseContentType="application/pdf")
    status, headers, body = _fetch(url)
    assert (status, body) == (200, b"report"), body
    assert headers["content-disposition"] == DISPOSITION
    assert headers["content-type"] == "application/pdf"


def test_a_presigned_get_serves_a_range_with_206(accounts):
    status, headers, body = _fetch(_presign(accounts), headers={"Range": "bytes=1-3"})
    assert (status, body) == (206, b"epo")
    assert headers["content-range"] == "bytes 1-3/6"


def test_a_url_presigned_for_head_answers_head_and_is_refused_for_get(accounts):
    url = _presign(accounts, "head_object")
    status, headers, _ = _fetch(url, "HEAD")
    assert (status, headers["content-length"]) == (200, "6")
    status, _, body = _fetch(url)
    assert (status, _s3_error_code(body)) == (403, "SignatureDoesNotMatch")


def test_a_url_presigned_for_get_is_refused_for_head(accounts):
    status, _, body = _fetch(_presign(accounts), "HEAD")
    assert (status, body) == (403, b"")


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda url: url.replace("filename%3D%22r_sum_", "filename%3D%22evil_"), (403, "SignatureDoesNotMatch")),
        (lambda url: url + "&response-content-type=text%2Fhtml", (403, "SignatureDoesNotMatch")),
        (lambda url: url.replace(REPORT, "allowed/other.txt"), (403, "SignatureDoesNotMatch")),
        (lambda url: url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x"), (400, "InvalidToken")),
        (lambda url: url.replace("X-Amz-Credential=ASIA", "X-Amz-Credential=ASIB"), (403, "InvalidAccessKeyId")),
    ],
    ids=["changed-disposition", "added-content-type", "other-key", "other-token", "unknown-key"],
)
def test_a_tampered_presigned_url_is_refused(accounts, tamper, expected):
    url = _presign(accounts, ResponseContentDisposition=DISPOSITION)
    assert _fetch(url)[0] == 200
    status, _, body = _fetch(tamper(url))
    assert (status, _s3_error_code(body)) == expected, body


def test_an_expired_presigned_url_is_refused(accounts):
    """The same URL, validly re-signed as of ten minutes ago for 300 s, has expired."""
    import datetime
    from urllib.parse import urlsplit

    launcher = _launcher_module()
    creds = _assume_as(accounts["url"], accounts["platform_user"], accounts["roles"]["read"], EXTERNAL_ID)
    _presigner.url = accounts["url"]
    url = _presigner(creds).generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": REPORT}, ExpiresIn=300)
    then = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=600)).strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    params = [p for p in parts.query.split("&") if not p.startswith(("X-Amz-Date=", "X-Amz-Signature="))]
    query = "&".join(params + [f"X-Amz-Date={then}"])
    scope = f"{then[:8]}/{REGION}/s3/aws4_request"
    query = query.replace("%2F" + parts.query.split("X-Amz-Credential=")[1].split("%2F")[1] + "%2F", "%2F" + then[:8] + "%2F")
    canonical = launcher.presigned_canonical_request("GET", parts.path, query, {"Host": parts.netloc}, ["host"])
    signature = launcher.presigned_signature(creds["SecretAccessKey"], then, scope, canonical)
    status, _, body = _fetch(f"{parts.scheme}://{parts.netloc}{parts.path}?{query}&X-Amz-Signature={signature}")
    assert (status, _s3_error_code(body)) == (403, "AccessDenied"), body
    assert b"Request has expired" in body
    # The same re-signing as of now is served: the refusal is the expiry, not the re-signing.
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    fresh = query.replace(f"X-Amz-Date={then}", f"X-Amz-Date={now}").replace(then[:8], now[:8])
    canonical = launcher.presigned_canonical_request("GET", parts.path, fresh, {"Host": parts.netloc}, ["host"])
    signature = launcher.presigned_signature(creds["SecretAccessKey"], now, f"{now[:8]}/{REGION}/s3/aws4_request", canonical)
    assert _fetch(f"{parts.scheme}://{parts.netloc}{parts.path}?{fresh}&X-Amz-Signature={signature}")[:3:2] == (200, b"report")


def test_without_enforcement_a_presigned_url_is_served_until_it_expires_and_refused_after(unenforced):
    """S3 refuses a presigned URL past X-Amz-Date + X-Amz-Expires whoever signed it; moto served it."""
    s3 = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION).client(
        "s3", endpoint_url=unenforced["url"], config=Config(signature_version="s3v4", retries={"max_attempts": 1})
    )
    bucket = "expiry-check"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=REPORT, Body=b"report")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": REPORT}, ExpiresIn=1)
    assert _fetch(url)[::2] == (200, b"report")
    time.sleep(2.2)
    status, _, body = _fetch(url)
    assert (status, _s3_error_code(body)) == (403, "AccessDenied"), body
    assert b"Request has expired" in body
    fresh = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": REPORT}, ExpiresIn=60)
    assert _fetch(fresh)[::2] == (200, b"report")


def test_a_presigned_url_is_authorized_as_its_signer(accounts):
    """The role may read allowed/* only: a valid presigned URL for another key is AccessDenied."""
    status, _, body = _fetch(_presign(accounts, key="secret/keys.txt"))
    assert (status, _s3_error_code(body)) == (403, "AccessDenied")


def test_a_presigned_get_of_a_missing_key_with_response_headers_is_no_such_key(accounts):
    url = _presign(accounts, key="allowed/missing.txt", ResponseContentDisposition=DISPOSITION)
    status, _, body = _fetch(url)
    assert (status, _s3_error_code(body)) == (404, "NoSuchKey"), body


def test_moto_took_response_content_disposition_for_content_disposition():
    """The bug patch_s3_presigned_metadata_check fixes, in moto as shipped."""
    from moto.s3.responses import S3Response

    url = "http://x/b/k?response-content-disposition=attachment&X-Amz-Signature=0"
    assert S3Response._invalid_headers(S3Response(), url, {}) is True
    patched = _launcher_module()
    patched.patch_s3_presigned_metadata_check()
    try:
        assert S3Response._invalid_headers(S3Response(), url, {}) is False
        assert S3Response._invalid_headers(S3Response(), "http://x/b/k?content-type=a%2Fb", {}) is True
        assert S3Response._invalid_headers(S3Response(), "http://x/b/k?content-type=a%2Fb", {"Content-Type": "a/b"}) is False
    finally:
        S3Response._invalid_headers = S3Response._invalid_headers.__wrapped__


def test_the_presigned_canonical_request_is_sigv4s():
    """AWS's documented example (GET /test.txt presigned for 86400 s, sigv4-query-string-auth)."""
    launcher = _launcher_module()
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    )
    canonical = launcher.presigned_canonical_request(
        "GET", "/test.txt", query, {"Host": "examplebucket.s3.amazonaws.com"}, ["host"]
    )
    signature = launcher.presigned_signature(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", canonical
    )
    assert signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
