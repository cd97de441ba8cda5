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
operators, moto compares values only for `StringEquals`; others pass when the key is present.

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

    patch_condition_evaluation()
    patch_s3_action_names()
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
