"""Proves scripts/moto_server.py's IAM condition patch against a real moto server.

Run: .tools/venv/bin/pytest -q scripts/test_moto_launcher.py

Each server is started with INITIAL_NO_AUTH_ACTION_COUNT=SETUP_REQUESTS: moto counts every request
that goes through its IAM authorizer (one per boto3 call; retries are disabled below so a call is
exactly one request) and enforces IAM from the next request on. The setup makes exactly that many
calls, unauthenticated; every AssumeRole after it is signed with the new user's keys and evaluated
against the role's trust policy (`StringEquals sts:ExternalId`) and the user's identity policy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
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


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_REQUESTS)
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


def _start_patched(tmp: Path) -> tuple[subprocess.Popen, Path, str]:
    ready_file = tmp / "ready"
    log = tmp / "launcher.log"
    cmd = [sys.executable, str(LAUNCHER), "--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready_file)]
    proc = subprocess.Popen(cmd, env=_server_env(), stdout=log.open("w"), stderr=subprocess.STDOUT)
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
