#!/usr/bin/env python3
"""The project's moto launcher: moto's server with AWS's missing-key rule for IAM conditions.

Usage:
    python scripts/moto_server.py [--host 127.0.0.1] [--port PORT] [--ready-file PATH]

`--port 0` lets the OS pick a free port; the URL actually bound is printed on stdout and, with
`--ready-file`, written (atomically) to PATH once the socket accepts connections.

Why a launcher
--------------
moto 5.2 evaluates a trust policy's `Condition` in `moto.iam.policy_conditions.TrustCondition
.verify_condition`. Its caller (`moto.iam.access_control.IAMPolicyStatement._check_conditions`)
passes only the values of the condition keys that the request carries, so when a key is missing
the list is short (usually empty) and the condition passes. AWS does the opposite: a positive
operator (StringEquals, StringLike, ArnEquals, ArnLike, NumericEquals, Bool, ...) on a key that is
absent from the request context evaluates to false. With moto as shipped, `sts:AssumeRole`
WITHOUT an external ID passes a trust policy that requires `StringEquals sts:ExternalId`, so the
confused-deputy check cannot be tested.

The patch wraps `TrustCondition.verify_condition`: when the operator is positive and fewer values
than condition keys arrived (a key is missing), the condition fails. Everything else is left to
moto. Not treated as positive, as in AWS:
  * negated operators (StringNotEquals, StringNotLike, ArnNotEquals, ArnNotLike, NumericNotEquals,
    DateNotEquals, NotIpAddress, ...: every operator with "Not" in its name) - true when absent;
  * `...IfExists` operators - true when absent;
  * `Null` - it tests presence itself;
  * `ForAllValues:` set operators - true when the key is absent.

Caveats (moto's, not changed here): moto only fills in `sts:ExternalId` from the request, so a
positive condition on any other key (e.g. aws:SourceArn) now always fails under this launcher -
stricter than AWS, never looser. Condition key names are matched case-sensitively by moto. Of the
operators, moto compares values only for `StringEquals` (and, with this launcher, `StringLike`);
others pass when the key is present.

S3 requests (patch_s3_condition_keys): moto passes no condition values for identity policies, so
the launcher supplies `s3:prefix` on ListBucket from the request's `prefix` parameter, as AWS
does; a prefix-scoped access policy then lists its prefix and nothing else. A refused HeadBucket
carries `x-amz-bucket-region` as in AWS (patch_head_bucket_region), so the region check works for
roles that may list a prefix only. AssumeRole of a role that does not exist is denied
(patch_assume_missing_role; moto handed out credentials for it). Global CORS headers are off (MOTO_DISABLE_GLOBAL_CORS), so a
preflight is answered from the bucket's CORS configuration alone, as S3 does.

The patch is checked at start-up through moto's own policy evaluation (IAMPolicyStatement). If the
function is gone or the check does not come out as expected (moto version drift), the launcher
exits with status 3 and says why. Its end-to-end proof is scripts/test_moto_launcher.py.

INITIAL_NO_AUTH_ACTION_COUNT
----------------------------
moto reads it from the environment once, when `moto.settings` is imported (module level), and
counts authenticated-action requests against it at request time. The launcher does not touch it:
set it in the launcher's environment. At run time it can be changed through moto's own
`POST /moto-api/reset-auth` with the new count as the body (this also resets the request count).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import signal
import sys
import tempfile
from typing import Any

EXIT_PATCH_FAILED = 3

_MARKER = "_project_missing_key_fails_positive_operators"


def _fail(message: str) -> None:
    print(f"moto_server.py: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_PATCH_FAILED)


def is_positive_operator(operator: str) -> bool:
    """Whether AWS evaluates `operator` to false when the condition key is absent."""
    if operator.startswith("ForAllValues:"):
        return False
    if operator.startswith("ForAnyValue:"):
        operator = operator[len("ForAnyValue:") :]
    if operator.endswith("IfExists") or operator == "Null":
        return False
    return "Not" not in operator


def patch_condition_evaluation() -> None:
    """Make a positive operator fail when the request lacks the condition key (as AWS does)."""
    try:
        from moto.iam import policy_conditions
    except ImportError as err:
        _fail(f"cannot import moto.iam.policy_conditions ({err}); is moto[server] 5.2.x installed?")

    cls = getattr(policy_conditions, "TrustCondition", None)
    original = getattr(cls, "verify_condition", None) if cls is not None else None
    if cls is None or not callable(original) or not isinstance(getattr(cls, "context_keys", None), property):
        _fail(
            "moto.iam.policy_conditions.TrustCondition.verify_condition / .context_keys not found: "
            "moto changed how it evaluates IAM conditions; update the patch in scripts/moto_server.py"
        )
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def verify_condition(self: Any, actual_values: list[Any]) -> bool:
        operator = getattr(self, "_condition", None)
        if not isinstance(operator, str):
            raise RuntimeError("moto TrustCondition has no `_condition` operator string (moto drift)")
        if is_positive_operator(operator) and len(actual_values) < len(self.context_keys):
            return False
        return original(self, actual_values)

    setattr(verify_condition, _MARKER, True)
    cls.verify_condition = verify_condition


def _evaluate(condition: dict[str, Any], context: dict[str, str]) -> Any:
    """Run one trust statement through moto's own evaluation path."""
    from moto.iam.access_control import IAMPolicyStatement

    principal = "arn:aws:iam::123456789012:user/self-check"
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
        "Condition": condition,
    }
    return IAMPolicyStatement(statement).is_action_permitted(
        "sts:AssumeRole", "arn:aws:iam::123456789012:role/self-check", principal, context
    )


def self_check() -> None:
    """Prove the patch through moto's evaluation; exit loudly if moto no longer behaves as expected."""
    try:
        from moto.iam.access_control import PermissionResult

        allow, deny = PermissionResult.PERMITTED, PermissionResult.DENIED
        equals = {"StringEquals": {"sts:ExternalId": "ext-1"}}
        cases = [
            ("StringEquals, key missing", equals, {}, deny),
            ("StringEquals, right value", equals, {"sts:ExternalId": "ext-1"}, allow),
            ("StringEquals, wrong value", equals, {"sts:ExternalId": "ext-2"}, deny),
            ("StringLike, key missing", {"StringLike": {"sts:ExternalId": "ext-*"}}, {}, deny),
            ("StringNotEquals, key missing", {"StringNotEquals": {"sts:ExternalId": "x"}}, {}, allow),
            ("StringEqualsIfExists, key missing", {"StringEqualsIfExists": {"sts:ExternalId": "x"}}, {}, allow),
        ]
        for name, condition, context, expected in cases:
            got = _evaluate(condition, context)
            if got != expected:
                _fail(
                    f"self-check failed for {name}: moto returned {got}, expected {expected}; "
                    "moto's condition evaluation changed, update scripts/moto_server.py"
                )
    except SystemExit:
        raise
    except Exception as err:  # noqa: BLE001 - any drift in moto's internals must stop the launcher
        _fail(f"self-check raised {type(err).__name__}: {err}; update scripts/moto_server.py")


def patch_s3_action_names() -> None:
    """Authorize two S3 requests with the IAM actions AWS uses.

    moto 5.2 checks HeadBucket against `s3:HeadBucket` (not an IAM action; AWS uses
    `s3:ListBucket`, so a correct access policy got 403 and no `x-amz-bucket-region`) and
    HeadObject with `versionId` against `s3:GetObject` (AWS: `s3:GetObjectVersion`).
    """
    import moto.s3.responses as responses

    actions = responses.ACTION_MAP
    if actions["BUCKET"]["HEAD"].get("DEFAULT") != "HeadBucket" or actions["KEY"]["HEAD"] != {"DEFAULT": "GetObject"}:
        _fail(
            "moto's S3 ACTION_MAP is not what patch_s3_action_names expects "
            f"({actions['BUCKET']['HEAD']}, {actions['KEY']['HEAD']}); review scripts/moto_server.py"
        )
    actions["BUCKET"]["HEAD"]["DEFAULT"] = "ListBucket"
    actions["KEY"]["HEAD"]["versionId"] = "GetObjectVersion"


def string_like(expected: list[str] | str, actual: str) -> bool:
    """IAM's StringLike: case-sensitive, `*` matches any run of characters (`/` too), `?` one."""
    patterns = [expected] if isinstance(expected, str) else expected
    for pattern in patterns:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        if re.fullmatch(regex, actual, flags=re.DOTALL):
            return True
    return False


def patch_assume_missing_role() -> None:
    """AssumeRole of a role that does not exist is denied, as in AWS. moto checks the trust policy
    only of a role it finds, so with an identity policy allowing sts:AssumeRole on `*` (the
    platform's) a mistyped role ARN came back with credentials, and validation passed it."""
    from moto.iam import access_control

    cls = access_control.IAMRequest
    original = cls.check_action_permitted
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def check_action_permitted(self: Any, resource: str) -> None:
        if self._action == "sts:AssumeRole" and ":role/" in resource:
            try:
                self.backend.get_role_by_arn(resource)
            except Exception:  # noqa: BLE001 - moto's NotFoundException: no such role
                self._raise_access_denied()
        original(self, resource)

    setattr(check_action_permitted, _MARKER, True)
    cls.check_action_permitted = check_action_permitted


def patch_head_bucket_region() -> None:
    """A refused HeadBucket still names the bucket's region (x-amz-bucket-region), as in AWS:
    clients find a bucket's region that way even when they may not list it (validation's
    BUCKET_REGION check does). moto answers a bare 403."""
    from moto.s3.responses import S3Response

    original = S3Response.bucket_response
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def bucket_response(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        response = original(self, request, full_url, headers)
        if getattr(request, "method", "") != "HEAD" or not isinstance(response, tuple) or response[0] != 403:
            return response
        status, response_headers, body = response
        try:
            bucket = self.backend.get_bucket(self.parse_bucket_name_from_url(request, full_url))
        except Exception:  # noqa: BLE001 - no such bucket: moto's answer as it is
            return response
        return status, {**response_headers, "x-amz-bucket-region": bucket.region_name}, body

    setattr(bucket_response, _MARKER, True)
    S3Response.bucket_response = bucket_response


def patch_s3_condition_keys() -> None:
    """Give S3 requests the condition key AWS evaluates for ListBucket: `s3:prefix`.

    moto evaluates an identity policy's conditions with no request values at all, so (with the
    missing-key rule above, as in AWS) a prefix-scoped access policy's
    `"StringLike": {"s3:prefix": "photos/*"}` denied every list. AWS sets `s3:prefix` from the
    ListObjects `prefix` parameter and leaves it out when there is none (HeadBucket, or a list of
    the whole bucket), which is what this passes on.
    """
    from urllib.parse import parse_qs, urlparse

    from moto.iam import access_control, policy_conditions

    operations = getattr(policy_conditions, "CONDITION_OPERATIONS", None)
    if not isinstance(operations, dict) or "StringEquals" not in operations:
        _fail("moto.iam.policy_conditions.CONDITION_OPERATIONS changed; review patch_s3_condition_keys")
    # moto compares values for StringEquals only; any other operator passed whatever the value.
    operations.setdefault("StringLike", string_like)

    cls = access_control.S3IAMRequest
    if getattr(cls.check_action_permitted, _MARKER, False):
        return
    needed = ("_access_key", "_action", "_path", "_raise_access_denied")
    if "check_action_permitted" in cls.__dict__ or not all(
        hasattr(access_control, name) for name in ("IAMPolicy", "PermissionResult")
    ):
        _fail("moto.iam.access_control.S3IAMRequest changed; review patch_s3_condition_keys in scripts/moto_server.py")

    def check_action_permitted(self: Any, resource: str) -> None:
        for name in needed:
            if not hasattr(self, name):
                raise RuntimeError(f"moto S3IAMRequest has no {name} (moto drift)")
        values: dict[str, str] = {}
        if self._action == "s3:ListBucket":
            query = parse_qs(urlparse(self._path).query, keep_blank_values=True)
            if "prefix" in query:
                values["s3:prefix"] = query["prefix"][0]
        result = access_control.PermissionResult
        permitted = False
        for policy in self._access_key.collect_policies():
            outcome = access_control.IAMPolicy(policy).is_action_permitted(self._action, resource, None, values)
            if outcome == result.DENIED:
                self._raise_access_denied()
            elif outcome == result.PERMITTED:
                permitted = True
        if not permitted:
            self._raise_access_denied()

    setattr(check_action_permitted, _MARKER, True)
    cls.check_action_permitted = check_action_permitted


def _write_ready_file(path: str, url: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".moto-ready-", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(url + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, default=5000, help="port to bind; 0 = any free port")
    parser.add_argument("--ready-file", help="write the server URL here once it accepts connections")
    args = parser.parse_args(argv)

    # moto's server answers every request with permissive CORS headers (flask-cors), so a bucket
    # without a CORS configuration passed a browser's preflight. S3 answers a preflight from the
    # bucket's own rules only; so does the launcher (before moto.settings is first imported).
    os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")
    patch_condition_evaluation()
    patch_s3_action_names()
    patch_s3_condition_keys()
    patch_head_bucket_region()
    patch_assume_missing_role()
    self_check()

    import moto
    from moto import settings
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    # SIGTERM/SIGINT end the server at once, status 0: the emulator's state lives in memory only.
    def _exit_now(*_: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, _exit_now)
    signal.signal(signal.SIGINT, _exit_now)

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    host, port = server.server_address[:2]
    # moto builds some URLs from MOTO_PORT (its own CLI sets it the same way).
    os.environ.setdefault("MOTO_PORT", str(port))
    url = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"

    auth = settings.INITIAL_NO_AUTH_ACTION_COUNT
    auth_note = "off" if auth == float("inf") else f"after the first {int(auth)} requests"
    print(
        f"moto {moto.__version__} listening on {url} (IAM enforcement: {auth_note}; "
        "missing condition keys fail positive operators)",
        flush=True,
    )
    if args.ready_file:
        _write_ready_file(args.ready_file, url)
    server.serve_forever()


if __name__ == "__main__":
    main()
