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
(patch_assume_missing_role; moto handed out credentials for it). Global CORS headers are off
(MOTO_DISABLE_GLOBAL_CORS), so a preflight is answered from the bucket's CORS configuration alone,
as S3 does.

Cross-account roles, role sessions, DynamoDB resources, external IDs without enforcement:
  * patch_cross_account_trust: moto looked up the role of an AssumeRole in the caller's account,
    so the trust policy of a role in another account (the customer's, 210987654321, created with
    the `x-moto-account-id` header) was never evaluated and the caller's identity policy alone
    granted it. Roles are now looked up in the account their ARN names, for the trust check and
    for patch_assume_missing_role.
  * patch_role_principal_sessions: a trust policy whose principal is a role ARN admits that role's
    sessions (arn:...:sts::<account>:assumed-role/<name>/<session>), as in AWS; moto compared
    strings only. The match is on partition, account and role name (a role's path does not
    appear in its sessions' ARNs).
  * patch_dynamodb_resources: moto authorized every DynamoDB request against `*`, so a policy
    granting an action on a table's ARN never matched. Requests are authorized against the table
    ARN, a Query/Scan with IndexName against the index ARN; batches against every table they
    name; transactions item by item as GetItem/PutItem/UpdateItem/DeleteItem/ConditionCheckItem
    (AWS has no TransactWriteItems permission). A refusal is DynamoDB's 400 AccessDeniedException.
  * patch_secretsmanager_resources: moto authorized every Secrets Manager request against `*`, so
    a policy granting GetSecretValue on one secret's ARN never matched. Requests naming a SecretId
    are authorized against that secret's ARN; a refusal is 400 AccessDeniedException.
  * patch_assume_role_external_id_unenforced: before IAM enforcement starts moto answered every
    AssumeRole; a role whose trust policy has a condition on sts:ExternalId is now evaluated
    against the request's ExternalId (moto's evaluation, principal not checked: the caller's
    identity is not established without enforcement) and refused with AccessDenied when it fails.
    Other roles keep moto's behaviour.

SSE-KMS objects (patch_s3_kms_decrypt): moto served an object encrypted with SSE-KMS to anyone
allowed s3:GetObject. As on AWS, when IAM is enforced a GetObject (with versionId, Range or
partNumber too) of an `aws:kms` object is also authorized, by moto's own policy evaluation, as
`kms:Decrypt` on the object's key ARN for the caller that signed the request (a role session: its
role's policies), with `kms:ViaService` = s3.<bucket region>.amazonaws.com, `kms:CallerAccount`
and `kms:EncryptionContext:aws:s3:arn` in the request context. Refused, it is S3's 403
AccessDenied "User: <caller ARN> is not authorized to perform: kms:Decrypt on resource: <key ARN>
because no identity-based policy allows the kms:Decrypt action" (an explicit Deny: "... with an
explicit deny in an identity-based policy"). HeadObject needs no kms:Decrypt (it decrypts
nothing); the key policy is not evaluated; without enforcement nothing is checked. The key id moto
stores (and echoes in x-amz-server-side-encryption-aws-kms-key-id) is the key's full ARN, resolved
at PutObject/CopyObject/CompleteMultipartUpload in moto's KMS of the bucket's account and region
(an alias: its target key); SSE-KMS with no key id is the account's AWS managed key `aws/s3`,
created in moto's KMS on first use. Not covered: presigned (query-string) GETs, which moto answers
with 500 while it enforces IAM; CopyObject from an SSE-KMS source (AWS also needs kms:Decrypt).

KMS Encrypt/Decrypt (patch_kms_key_resources): moto authorized every KMS request against `*`
with no condition values, so a policy granting kms:Encrypt or kms:Decrypt on a key's ARN never
matched and a `StringEquals kms:EncryptionContext:purpose` condition failed on every call. As on
AWS, Encrypt is authorized against the ARN of the key its KeyId names (an alias: its target key),
Decrypt against its KeyId's key when given, otherwise the key the ciphertext names, with
kms:CallerAccount, kms:EncryptionContext:<key> for every pair of the request's EncryptionContext
and the multi-valued kms:EncryptionContextKeys in the request context (no kms:ViaService: a direct
call); ForAnyValue:/ForAllValues: StringEquals and StringLike compare each value. A refusal is
KMS's 400 AccessDeniedException worded as AWS words it. Other KMS operations keep moto's `*`;
the key policy is not evaluated. Identity policies of the S3 and KMS patches are evaluated
statement by statement (statement_outcome): moto made an Allow whose condition fails an explicit
deny; on AWS such a statement does not apply.

Presigned URLs (patch_s3_presigned_urls): moto answered every SigV4 presigned (query-string) S3
request with 500 while enforcing IAM (its authorizer reads the Authorization header), and checked
no query signature at all without enforcement. While IAM is enforced, the launcher now verifies
them as S3 does (expiry; the signature over method, path, every query parameter and the signed
headers: a URL signed for GET is refused for HEAD, a changed response-content-disposition is
refused) and authorizes them as a header-signed request by the URL's signer; the caller's account
comes from X-Amz-Credential. A presigned GET of a missing key that asks for response headers is
404 NoSuchKey (patch_s3_presigned_metadata_check; moto took `response-content-disposition=` for
`content-disposition=` and answered SignatureDoesNotMatch). Without enforcement presigned URLs are
still served unchecked.

The condition patch and the KMS statement evaluation are checked at start-up through moto's own
policy evaluation (IAMPolicyStatement). If a patched function is gone or the check does not come
out as expected (moto version drift), the launcher exits with status 3 and says why. The
end-to-end proofs are in scripts/test_moto_launcher.py.

INITIAL_NO_AUTH_ACTION_COUNT
----------------------------
moto reads it from the environment once, when `moto.settings` is imported (module level), and
counts authenticated-action requests against it at request time. The launcher does not touch it:
set it in the launcher's environment. At run time it can be changed through moto's own
`POST /moto-api/reset-auth` with the new count as the body, `content-type: text/plain` (this also
resets the request count).
"""

from __future__ import annotations

import argparse
import functools
import json
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


# arn:<partition>:iam::<account>:role/<path/><name> and arn:<partition>:sts::<account>:assumed-role/
# <name>/<session>: the parts a trust policy's role principal and a role session have in common.
_ROLE_ARN = re.compile(r"arn:([a-z-]+):iam::(\d{12}):role/(?:[^:]*/)?([^/:]+)")
_SESSION_ARN = re.compile(r"arn:([a-z-]+):sts::(\d{12}):assumed-role/([^/:]+)/[^/:]+")


def role_in_its_account(role_arn: str) -> Any | None:
    """The IAM role `role_arn` names, looked up in the account and partition of the ARN (None if
    there is none). moto looks roles up in the *caller's* account, where a customer's role is not."""
    from moto.iam.models import iam_backends
    from moto.utilities.utils import PARTITION_NAMES

    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None or match.group(1) not in PARTITION_NAMES:
        return None
    partition, account = match.group(1), match.group(2)
    try:
        return iam_backends[account][partition].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto's NotFoundException: no such role
        return None


def _iam_enforced() -> bool:
    """Whether moto authorizes the next request (its own test, moto.core.authorization)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def patch_assume_missing_role() -> None:
    """AssumeRole of a role that does not exist is denied, as in AWS. moto checks the trust policy
    only of a role it finds, so with an identity policy allowing sts:AssumeRole on `*` (the
    platform's) a mistyped role ARN came back with credentials, and validation passed it. The role
    is looked for in the account its ARN names (a customer's role is in the customer's account)."""
    from moto.iam import access_control

    cls = access_control.IAMRequest
    original = cls.check_action_permitted
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def check_action_permitted(self: Any, resource: str) -> None:
        if self._action == "sts:AssumeRole" and ":role/" in resource and role_in_its_account(resource) is None:
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


def statement_outcome(statement: dict[str, Any], action: str, resource: str, values: dict[str, Any]) -> Any:
    """One identity-policy statement as AWS reads it, through moto's own matching: PERMITTED or
    DENIED when its action and resource match AND its conditions hold, NEUTRAL otherwise.

    moto's `IAMPolicyStatement.is_action_permitted` returns DENIED as soon as a statement's
    conditions fail, before looking at its Effect or Resource: an *Allow* whose condition does not
    hold (or that is about another key) became an explicit deny, which on AWS it is not (the
    statement just does not apply). The statement is matched by moto without its Condition, then
    the conditions are checked by moto's `_check_conditions` (with the missing-key rule)."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    unconditioned = {name: value for name, value in statement.items() if name != "Condition"}
    outcome = IAMPolicyStatement(unconditioned).is_action_permitted(action, resource, None, values)
    if outcome != PermissionResult.NEUTRAL and not IAMPolicyStatement(statement)._check_conditions(values):
        return PermissionResult.NEUTRAL
    return outcome


def identity_policy_outcome(access_key: Any, action: str, resource: str, values: dict[str, Any]) -> str:
    """What the identity policies of `access_key` (moto's access key of the caller: a user's, or a
    role session's, whose role's inline and attached policies apply) say about `action` on
    `resource` with the condition values `values`, statement by statement (statement_outcome):
    "denied" (an explicit Deny applies), "allowed", or "implicit" (no statement allows it)."""
    from moto.iam import access_control

    result = access_control.PermissionResult
    permitted = False
    for policy in access_key.collect_policies():
        statements = access_control.IAMPolicy(policy)._policy_json.get("Statement") or []
        for statement in [statements] if isinstance(statements, dict) else statements:
            outcome = statement_outcome(statement, action, resource, values)
            if outcome == result.DENIED:
                return "denied"
            permitted = permitted or outcome == result.PERMITTED
    return "allowed" if permitted else "implicit"


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
        if identity_policy_outcome(self._access_key, self._action, resource, values) != "allowed":
            self._raise_access_denied()

    setattr(check_action_permitted, _MARKER, True)
    cls.check_action_permitted = check_action_permitted


# An object put with SSE-KMS and no key id is encrypted, on AWS, under the account's AWS managed key
# for S3, alias aws/s3 (in the bucket's account and region).
_S3_MANAGED_KEY_ALIAS = "alias/aws/s3"
_KMS_ARN = re.compile(r"arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)")


def kms_key_arn(key_id: str | None, account: str, region: str) -> str:
    """The full ARN of the KMS key that `key_id` names, as S3 reports it on AWS.

    `key_id` is what a PutObject sent in x-amz-server-side-encryption-aws-kms-key-id: a key ARN
    (returned as it is), a bare key id, an alias name (alias/x) or an alias ARN; None or "" is the
    AWS managed key aws/s3. Ids and aliases are resolved through moto's KMS backend of `account`
    and `region` (the bucket's; an alias ARN: its own), which creates aws/s3 on first use, as AWS
    does. A bare id moto's KMS does not know becomes arn:...:key/<id> in that account and region; an
    alias it does not know stays as it was sent (AWS would have refused the PutObject).
    """
    from moto.kms.models import kms_backends
    from moto.utilities.utils import get_partition

    name = key_id or _S3_MANAGED_KEY_ALIAS
    match = _KMS_ARN.fullmatch(name)
    if match is not None and match.group(4) == "key":
        return name
    if match is not None:
        region, account = match.group(2), match.group(3)
    try:
        return kms_backends[account][region].describe_key(name).arn
    except Exception:  # noqa: BLE001 - moto's KeyError/NotFound: not a key moto's KMS knows
        if match is None and not name.startswith("alias/"):
            return f"arn:{get_partition(region)}:kms:{region}:{account}:key/{name}"
        return name


def kms_denial(principal: str, action: str, key_arn: str, outcome: str) -> str:
    """AWS's wording when the caller's identity policies do not allow `action` (kms:Decrypt, ...)
    on `key_arn`; `outcome` is identity_policy_outcome's ("denied": an explicit Deny)."""
    reason = (
        "with an explicit deny in an identity-based policy"
        if outcome == "denied"
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal} is not authorized to perform: {action} on resource: {key_arn} {reason}"


def kms_decrypt_denial(principal: str, key_arn: str, outcome: str) -> str:
    """AWS's wording when the caller's identity policies do not let it decrypt with `key_arn`."""
    return kms_denial(principal, "kms:Decrypt", key_arn, outcome)


def patch_s3_kms_decrypt() -> None:
    """GetObject of an SSE-KMS object needs kms:Decrypt on its key, as in AWS; S3 reports the key's ARN.

    moto stores the key id an SSE-KMS PutObject sends and hands the object to anyone allowed
    s3:GetObject. On AWS, S3 decrypts through KMS as the caller: GetObject (with versionId, Range
    or partNumber alike) needs kms:Decrypt on the object's key, with the request context
    kms:ViaService = s3.<bucket region>.amazonaws.com, kms:CallerAccount = the caller's account and
    kms:EncryptionContext:aws:s3:arn = the object's ARN (the bucket's with an S3 Bucket Key).
    HeadObject does not decrypt and needs no kms:Decrypt. When moto enforces IAM, the caller's
    identity policies (moto's access key of the signed request: a user's, or a role session's,
    whose role's policies apply) are evaluated for kms:Decrypt on the key ARN by moto's own
    IAMPolicy; refused, the GetObject is S3's 403 AccessDenied with AWS's message. The key policy
    is not evaluated (moto's KMS does not enforce it either).

    `S3Backend.put_object` (PutObject, CopyObject and CompleteMultipartUpload all store through it)
    replaces the stored key id with the key's full ARN (kms_key_arn), so Head/Get/Put answer
    x-amz-server-side-encryption-aws-kms-key-id as AWS does; SSE-KMS without a key id (or a bucket
    default without KMSMasterKeyID) is the account's aws/s3 key, created in moto's KMS on first use.
    """
    from urllib.parse import urlparse

    from moto.iam import access_control
    from moto.kms.models import KmsBackend
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    methods = ("_key_response_get", "get_object", "_get_key", "_authenticate_and_authorize_s3_action")
    if getattr(S3Response.__dict__.get("get_object"), _MARKER, False):
        return
    if (
        not all(callable(getattr(S3Response, name, None)) for name in methods)
        or not callable(getattr(S3Backend, "put_object", None))
        or not callable(getattr(KmsBackend, "describe_key", None))
        or not hasattr(access_control, "S3IAMRequest")
    ):
        _fail(
            "moto.s3.responses.S3Response._key_response_get / .get_object / ._get_key, S3Backend.put_object "
            "or KmsBackend.describe_key not found; review patch_s3_kms_decrypt in scripts/moto_server.py"
        )
    original_get = S3Response._key_response_get
    original_object = S3Response.get_object
    original_put = S3Backend.put_object

    @functools.wraps(original_put)
    def put_object(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        key = original_put(self, bucket_name, *args, **kwargs)
        if getattr(key, "encryption", None) == "aws:kms":
            bucket = self.get_bucket(bucket_name)
            key.kms_key_id = kms_key_arn(key.kms_key_id, bucket.account_id, bucket.region_name)
        return key

    @functools.wraps(original_get)
    def _key_response_get(self: Any, query: Any, key_name: str) -> Any:
        # Before moto counts this request (the request that reaches the count is not enforced).
        self._project_kms_enforced = _iam_enforced()
        return original_get(self, query, key_name)

    def authorize_decrypt(self: Any) -> None:
        """Called after moto authorized s3:GetObject (or s3:GetObjectVersion) for this request."""
        try:
            key, _ = self._get_key()
            bucket = self.backend.get_bucket(self.bucket_name)
        except S3ClientError:
            return  # moto's own answer (NoSuchKey, ...) follows
        if key.encryption != "aws:kms" or "Authorization" not in self.headers:
            return
        key_arn = kms_key_arn(key.kms_key_id, bucket.account_id, bucket.region_name)
        # The caller as moto's authorizer established it (ActionAuthenticatorMixin builds the same).
        query = urlparse(self.uri).query
        request = access_control.S3IAMRequest(
            account_id=self.current_account,
            method=self.method,
            path=self.raw_path + ("?" + query if query else ""),
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        caller = request._access_key
        object_arn = f"arn:{bucket.partition}:s3:::{bucket.name}"
        if str(key.bucket_key_enabled).lower() != "true":
            object_arn += f"/{key.name}"
        values = {
            "kms:ViaService": f"s3.{bucket.region_name}.amazonaws.com",
            "kms:CallerAccount": caller.account_id,
            "kms:EncryptionContext:aws:s3:arn": object_arn,
        }
        outcome = identity_policy_outcome(caller, "kms:Decrypt", key_arn, values)
        if outcome != "allowed":
            raise S3ClientError("AccessDenied", kms_decrypt_denial(caller.arn, key_arn, outcome))

    @functools.wraps(original_object)
    def get_object(self: Any) -> Any:
        if getattr(self, "_project_kms_enforced", False):
            authorize_decrypt(self)
        return original_object(self)

    setattr(get_object, _MARKER, True)
    S3Backend.put_object = put_object
    S3Response._key_response_get = _key_response_get
    S3Response.get_object = get_object


def kms_condition_values(context: Any, caller_account: str) -> dict[str, Any]:
    """The KMS condition keys of a direct Encrypt/Decrypt (no AWS service in between, so no
    kms:ViaService): kms:CallerAccount, one kms:EncryptionContext:<key> per pair of the request's
    encryption context and kms:EncryptionContextKeys (multi-valued: the context's keys), both
    absent when the request has no context."""
    values: dict[str, Any] = {"kms:CallerAccount": caller_account}
    if isinstance(context, dict) and context:
        for name, value in context.items():
            values[f"kms:EncryptionContext:{name}"] = value
        values["kms:EncryptionContextKeys"] = list(context)
    return values


def _for_any_value(operation: Any) -> Any:
    def evaluate(expected: Any, actual: Any) -> bool:
        return any(operation(expected, value) for value in (actual if isinstance(actual, list) else [actual]))

    return evaluate


def _for_all_values(operation: Any) -> Any:
    def evaluate(expected: Any, actual: Any) -> bool:
        return all(operation(expected, value) for value in (actual if isinstance(actual, list) else [actual]))

    return evaluate


# The KMS operations authorized against their key, with the encryption context's condition keys.
_KMS_KEY_OPERATIONS = ("Encrypt", "Decrypt")


def patch_kms_key_resources() -> None:
    """Authorize KMS Encrypt and Decrypt against the key's ARN, with the request's condition keys.

    moto authorizes every KMS request against `*` (KmsResponse has no `_determine_resource`) with
    no condition values, so an identity policy granting kms:Encrypt on a key's ARN never matched,
    and with the missing-key rule a `StringEquals kms:EncryptionContext:purpose` condition failed
    on every call. As on AWS, Encrypt is now authorized against the ARN of the key its KeyId names
    (key id, key ARN, alias name or alias ARN: the alias's target key) and Decrypt against the
    ARN of its KeyId when given, otherwise of the key the ciphertext names; the request context
    holds kms:CallerAccount, kms:EncryptionContext:<key> for every pair of the request's
    EncryptionContext and the multi-valued kms:EncryptionContextKeys (kms_condition_values;
    kms:ViaService is absent: a direct call). The ForAnyValue:/ForAllValues: forms of
    StringEquals and StringLike compare each value (moto passed set operators unevaluated).
    Policies are evaluated statement by statement (statement_outcome, identity_policy_outcome).
    A refusal is KMS's 400 AccessDeniedException with AWS's message ("User: <caller ARN> is not
    authorized to perform: kms:Encrypt on resource: <key ARN> because no identity-based policy
    allows the kms:Encrypt action"; "... with an explicit deny in an identity-based policy").
    The key policy is not evaluated (moto's KMS does not enforce it); a Decrypt whose ciphertext
    moto cannot read is left to moto (InvalidCiphertextException, as AWS answers). Other KMS
    operations (CreateKey, DescribeKey, GenerateDataKey, ...) keep moto's authorization against
    `*`. Without enforcement nothing is checked.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import JsonRESTError
    from moto.iam import access_control, policy_conditions
    from moto.kms import utils as kms_utils
    from moto.kms.responses import KmsResponse

    authorize = KmsResponse.__dict__.get("_authenticate_and_authorize_normal_action")
    if getattr(authorize, _MARKER, False):
        return
    operations = getattr(policy_conditions, "CONDITION_OPERATIONS", None)
    if (
        authorize is not None
        or hasattr(KmsResponse, "_determine_resource")
        or getattr(KmsResponse, "_authenticate_and_authorize_normal_action", None)
        is not ActionAuthenticatorMixin.__dict__.get("_authenticate_and_authorize_normal_action")
        or not callable(getattr(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", None))
        or not all(callable(getattr(KmsResponse, name, None)) for name in ("_get_param", "_get_action"))
        or not callable(getattr(kms_utils, "_deserialize_ciphertext_blob", None))
        or not callable(getattr(access_control.IAMPolicyStatement, "_check_conditions", None))
        or not isinstance(operations, dict)
        or "StringEquals" not in operations
    ):
        _fail(
            "moto.kms.responses.KmsResponse already authorizes by resource, or moto's KMS ciphertext "
            "format / IAM condition evaluation moved; review patch_kms_key_resources in scripts/moto_server.py"
        )
    operations.setdefault("StringLike", string_like)
    for name in ("StringEquals", "StringLike"):
        operations.setdefault(f"ForAnyValue:{name}", _for_any_value(operations[name]))
        operations.setdefault(f"ForAllValues:{name}", _for_all_values(operations[name]))

    def key_arn(self: Any, operation: str) -> str | None:
        """The ARN of the key `operation` uses (None: no KeyId, or a ciphertext moto cannot read)."""
        key_id = self._get_param("KeyId")
        if not key_id and operation == "Decrypt":
            try:
                key_id = kms_utils._deserialize_ciphertext_blob(self._get_param("CiphertextBlob")).key_id
            except Exception:  # noqa: BLE001 - not moto's ciphertext: moto answers InvalidCiphertext
                return None
        if not isinstance(key_id, str) or not key_id:
            return None  # no KeyId: moto's validation answers
        return kms_key_arn(key_id, self.current_account, self.region)

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        operation = self._get_action()
        if operation not in _KMS_KEY_OPERATIONS or not _iam_enforced():
            return ActionAuthenticatorMixin._authenticate_and_authorize_normal_action(self, resource)
        arn = key_arn(self, operation)
        context = self._get_param("EncryptionContext")

        class KmsIAMRequest(access_control.IAMRequest):
            """moto's IAMRequest (signature, caller) with the KMS request context."""

            def check_action_permitted(self, resource: str) -> None:
                if arn is None:
                    return
                caller = self._access_key
                values = kms_condition_values(context, caller.account_id)
                outcome = identity_policy_outcome(caller, self._action, resource, values)
                if outcome != "allowed":
                    message = kms_denial(caller.arn, self._action, resource, outcome)
                    raise JsonRESTError("AccessDeniedException", message)

        # moto's own path: enforcement test, public operations, signature, then the check above.
        self._authenticate_and_authorize_action(KmsIAMRequest, arn or resource)

    setattr(_authenticate_and_authorize_normal_action, _MARKER, True)
    KmsResponse._authenticate_and_authorize_normal_action = _authenticate_and_authorize_normal_action


def kms_self_check() -> None:
    """The project's statement (kms:Encrypt on a key, StringEquals kms:EncryptionContext:purpose)
    through statement_outcome with kms_condition_values; exits 3 if moto no longer agrees. Run
    after patch_condition_evaluation and patch_kms_key_resources (the missing-key rule, set
    operators)."""
    from moto.iam.access_control import PermissionResult

    key = "arn:aws:kms:us-east-1:123456789012:key/self-check"
    statement = {
        "Effect": "Allow",
        "Action": "kms:Encrypt",
        "Resource": key,
        "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "p"}},
    }
    keys_only = {**statement, "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["purpose"]}}}
    allow, neutral = PermissionResult.PERMITTED, PermissionResult.NEUTRAL
    cases = [
        ("right purpose", statement, key, {"purpose": "p", "org_id": "o"}, allow),
        ("no context", statement, key, None, neutral),
        ("other purpose", statement, key, {"purpose": "q"}, neutral),
        ("other key", statement, key + "-other", {"purpose": "p"}, neutral),
        ("ForAllValues, keys in the set", keys_only, key, {"purpose": "p"}, allow),
        ("ForAllValues, a key outside the set", keys_only, key, {"purpose": "p", "org_id": "o"}, neutral),
    ]
    for name, policy_statement, resource, context, expected in cases:
        try:
            values = kms_condition_values(context, "123456789012")
            got = statement_outcome(policy_statement, "kms:Encrypt", resource, values)
        except Exception as err:  # noqa: BLE001 - any drift in moto's internals must stop the launcher
            _fail(
                f"patch_kms_key_resources self-check raised {type(err).__name__}: {err}; "
                "review scripts/moto_server.py"
            )
        if got != expected:
            _fail(
                f"patch_kms_key_resources self-check failed for {name}: {got}, expected {expected}; "
                "moto's policy evaluation changed, review scripts/moto_server.py"
            )


def patch_cross_account_trust() -> None:
    """Evaluate the trust policy of a role in another account, as AWS does.

    AWS decides a cross-account AssumeRole on the caller's identity policy AND the role's trust
    policy. moto's `IAMRequestBase` finds the role with `self.backend.get_role_by_arn`, the
    *caller's* account: a customer's role (arn:aws:iam::210987654321:role/...) is not there, so
    `_is_assuming_role_operation` said no, the trust policy (principal, external ID) was never
    read and the platform's identity policy alone handed out the customer's credentials. Both
    methods now look the role up in the account its ARN names; the evaluation is moto's own.
    """
    from moto.iam import access_control
    from moto.iam import utils as iam_utils

    cls = access_control.IAMRequestBase
    if getattr(cls.__dict__.get("_check_role_trust_relationship"), _MARKER, False):
        return
    methods = ("_is_assuming_role_operation", "_check_role_trust_relationship")
    if (
        not all(callable(cls.__dict__.get(name)) for name in methods)
        or not isinstance(getattr(iam_utils, "REQUIRE_RESOURCE_ACCESS_POLICIES_CHECK", None), list)
        or not callable(getattr(iam_utils, "format_incoming_conditional_values", None))
        or not all(hasattr(access_control, name) for name in ("IAMPolicy", "PermissionResult"))
    ):
        _fail(
            "moto.iam.access_control.IAMRequestBase._is_assuming_role_operation / "
            "._check_role_trust_relationship changed; review patch_cross_account_trust in scripts/moto_server.py"
        )

    def _is_assuming_role_operation(self: Any, resource_arn: str) -> bool:
        return (
            self._action in iam_utils.REQUIRE_RESOURCE_ACCESS_POLICIES_CHECK
            and role_in_its_account(resource_arn) is not None
        )

    def _check_role_trust_relationship(self: Any, role_arn: str) -> bool:
        role = role_in_its_account(role_arn)
        if role is None:
            return False
        outcome = access_control.IAMPolicy(role.assume_role_policy_document).is_action_permitted(
            self._action,
            role_arn,
            self._access_key.arn,
            iam_utils.format_incoming_conditional_values(self._data),
        )
        return outcome == access_control.PermissionResult.PERMITTED

    setattr(_check_role_trust_relationship, _MARKER, True)
    cls._is_assuming_role_operation = _is_assuming_role_operation
    cls._check_role_trust_relationship = _check_role_trust_relationship


def session_of_role(principal: str, expected: str) -> bool:
    """Whether `principal` is a session of the role ARN `expected` (same partition, account and role
    name; a role's path is not part of its sessions' ARNs, so it is not compared)."""
    session, role = _SESSION_ARN.fullmatch(principal), _ROLE_ARN.fullmatch(expected)
    return session is not None and role is not None and session.groups() == role.groups()


def patch_role_principal_sessions() -> None:
    """A trust policy naming a role admits that role's sessions, as in AWS.

    AWS matches `"Principal": {"AWS": "arn:aws:iam::123456789012:role/platform"}` against a caller
    whose identity is a session of that role (arn:aws:sts::123456789012:assumed-role/platform/s),
    which is how a Lambda's execution role or a role chain assumes a customer role. moto's
    `IAMPolicyStatement._check_principal` compares the strings, so it refused every such session.
    The wrapper adds that one match; whatever moto accepted before it still accepts.
    """
    from moto.iam.access_control import IAMPolicyStatement

    original = getattr(IAMPolicyStatement, "_check_principal", None)
    if not callable(original):
        _fail("moto.iam.access_control.IAMPolicyStatement._check_principal not found; review scripts/moto_server.py")
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def _check_principal(self: Any, principal: str) -> bool:
        expected = self._statement.get("Principal")
        aws = expected.get("AWS") if isinstance(expected, dict) else None
        names: list[Any] = [aws] if isinstance(aws, str) else aws if isinstance(aws, list) else []
        if any(isinstance(name, str) and session_of_role(principal, name) for name in names):
            return True
        # Everything else (exact ARNs, "*") as moto decides it.
        return original(self, principal)

    setattr(_check_principal, _MARKER, True)
    IAMPolicyStatement._check_principal = _check_principal


# A transaction's items are authorized as the single-item actions they stand for (AWS: "Permissions
# for Put, Update, Delete, and Get actions are governed by the permissions used for the underlying
# PutItem, UpdateItem, DeleteItem, and GetItem operations"; ConditionCheck by ConditionCheckItem).
# There is no IAM action dynamodb:TransactWriteItems / TransactGetItems for a policy to grant.
_DYNAMODB_TRANSACT_ITEM_ACTIONS = {
    "Get": "GetItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def dynamodb_authorizations(operation: str, body: Any, arn_prefix: str) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs AWS authorizes a DynamoDB request against, without the
    `dynamodb:` prefix on the action. `arn_prefix` is arn:<partition>:dynamodb:<region>:<account>.

    A request naming one table: (operation, its table ARN; Query/Scan with IndexName: the index
    ARN). BatchGetItem/BatchWriteItem: the operation on every table in RequestItems. Transactions:
    each item's single-item action on its table. No table named (ListTables, PartiQL, ...): [].
    """
    if not isinstance(body, dict):
        return []

    def table_arn(name: str) -> str:
        # Every table parameter also takes the table's ARN.
        return name if name.startswith("arn:") else f"{arn_prefix}:table/{name}"

    pairs: list[tuple[str, str]] = []
    if operation in ("TransactGetItems", "TransactWriteItems"):
        for item in body.get("TransactItems") or []:
            for kind, request in item.items() if isinstance(item, dict) else []:
                name = request.get("TableName") if isinstance(request, dict) else None
                if kind in _DYNAMODB_TRANSACT_ITEM_ACTIONS and isinstance(name, str):
                    pairs.append((_DYNAMODB_TRANSACT_ITEM_ACTIONS[kind], table_arn(name)))
    elif operation in ("BatchGetItem", "BatchWriteItem"):
        pairs = [(operation, table_arn(str(name))) for name in body.get("RequestItems") or {}]
    elif isinstance(body.get("TableName"), str):
        arn = table_arn(body["TableName"])
        if operation in ("Query", "Scan") and body.get("IndexName"):
            arn += f"/index/{body['IndexName']}"
        pairs.append((operation, arn))
    return list(dict.fromkeys(pairs))


def patch_dynamodb_resources() -> None:
    """Authorize DynamoDB requests against the tables (and indexes) they touch, as AWS does.

    moto's `call_action` authorizes against `_determine_resource()` when the response class has
    one and against `*` otherwise; `DynamoHandler` has none, so an identity policy granting
    dynamodb:GetItem on `arn:aws:dynamodb:<region>:<account>:table/T` (least privilege, the
    project's) never matched and every call was denied. `_determine_resource` now gives the one
    table's (or index's) ARN. A request that stands for several authorizations (batches over
    several tables; transactions, whose items AWS authorizes as GetItem/PutItem/UpdateItem/
    DeleteItem/ConditionCheckItem) goes through moto's authorizer once per pair: any refusal
    refuses the request. Not enforcing yet: one pass, so moto counts the request once. A refusal
    is DynamoDB's `400 AccessDeniedException` (JSON), not moto's XML 403 that an SDK's DynamoDB
    client cannot parse.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.dynamodb.responses import DynamoHandler

    authorize = DynamoHandler.__dict__.get("_authenticate_and_authorize_normal_action")
    if getattr(authorize, _MARKER, False):
        return
    original = getattr(DynamoHandler, "_authenticate_and_authorize_normal_action", None)
    if (
        authorize is not None
        or hasattr(DynamoHandler, "_determine_resource")
        or original is not ActionAuthenticatorMixin.__dict__.get("_authenticate_and_authorize_normal_action")
        or not callable(getattr(DynamoHandler, "_get_action", None))
    ):
        _fail(
            "moto.dynamodb.responses.DynamoHandler already authorizes by resource, or moto's "
            "_authenticate_and_authorize_normal_action moved; review patch_dynamodb_resources in scripts/moto_server.py"
        )

    def authorizations(self: Any) -> list[tuple[str, str]]:
        # self.body: the parsed request parameters (DynamoHandler.call_action sets it first).
        prefix = f"arn:{self.partition}:dynamodb:{self.region}:{self.current_account}"
        return dynamodb_authorizations(self._get_action(), getattr(self, "body", None), prefix)

    def _determine_resource(self: Any) -> str:
        pairs = authorizations(self)
        if len(pairs) == 1 and pairs[0][0] == self._get_action():
            return pairs[0][1]
        return "*"

    def authorize(self: Any, action: str | None, arn: str) -> None:
        """moto's authorizer, for `action` (None: the request's own) on `arn`."""
        if action is not None:
            # moto takes the IAM action from `_get_action()`; the handler is one object per
            # request, so an instance attribute answers for this check only.
            self._get_action = lambda: action
        try:
            original(self, arn)
        except AccessDeniedError as denied:
            # DynamoDB refuses with 400 AccessDeniedException in its JSON protocol; moto's XML
            # body could not be parsed by an SDK's DynamoDB client.
            raise JsonRESTError("AccessDeniedException", f"{denied.message} on resource: {arn}") from None
        finally:
            if action is not None:
                del self._get_action

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        operation = self._get_action()
        pairs = authorizations(self)
        if not _iam_enforced() or pairs in ([], [(operation, resource)]):
            return authorize(self, None, resource)
        for action, arn in pairs:
            authorize(self, None if action == operation else action, arn)

    setattr(_authenticate_and_authorize_normal_action, _MARKER, True)
    DynamoHandler._determine_resource = _determine_resource
    DynamoHandler._authenticate_and_authorize_normal_action = _authenticate_and_authorize_normal_action


def patch_secretsmanager_resources() -> None:
    """Authorize Secrets Manager requests against the secret they name, as AWS does.

    moto authorizes every Secrets Manager request against `*` (SecretsManagerResponse has no
    `_determine_resource`), so an identity policy granting secretsmanager:GetSecretValue on one
    secret's ARN (least privilege: the presign function's link signing keys) never matched and
    every call was denied. `_determine_resource` now gives the ARN of the secret `SecretId` names
    (a name, a full or a partial ARN); an id that names no secret is authorized against
    `arn:<partition>:secretsmanager:<region>:<account>:secret:<id>`, so a refusal comes before
    moto's ResourceNotFoundException, as on AWS. A refusal is Secrets Manager's JSON
    `400 AccessDeniedException` (moto's XML 403 cannot be parsed by an SDK's client). Requests
    without a SecretId (ListSecrets, CreateSecret) keep moto's authorization against `*`.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.secretsmanager.responses import SecretsManagerResponse

    authorize = SecretsManagerResponse.__dict__.get("_authenticate_and_authorize_normal_action")
    if getattr(authorize, _MARKER, False):
        return
    original = getattr(SecretsManagerResponse, "_authenticate_and_authorize_normal_action", None)
    if (
        authorize is not None
        or hasattr(SecretsManagerResponse, "_determine_resource")
        or original is not ActionAuthenticatorMixin.__dict__.get("_authenticate_and_authorize_normal_action")
        or not callable(getattr(SecretsManagerResponse, "_get_param", None))
    ):
        _fail(
            "moto.secretsmanager.responses.SecretsManagerResponse already authorizes by resource, or moto's "
            "_authenticate_and_authorize_normal_action moved; review patch_secretsmanager_resources in scripts/moto_server.py"
        )

    def _determine_resource(self: Any) -> str:
        secret_id = self._get_param("SecretId")
        if not isinstance(secret_id, str) or not secret_id:
            return "*"
        try:
            secret = self.backend.secrets.get(secret_id)
        except Exception:  # noqa: BLE001 - a malformed id: moto answers it as not found
            secret = None
        if secret is not None:
            return secret.arn
        if secret_id.startswith("arn:"):
            return secret_id
        return f"arn:{self.partition}:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        try:
            original(self, resource)
        except AccessDeniedError as denied:
            raise JsonRESTError("AccessDeniedException", f"{denied.message} on resource: {resource}") from None

    setattr(_authenticate_and_authorize_normal_action, _MARKER, True)
    SecretsManagerResponse._determine_resource = _determine_resource
    SecretsManagerResponse._authenticate_and_authorize_normal_action = _authenticate_and_authorize_normal_action


def trust_conditions_on(document: str, key: str) -> bool:
    """Whether any statement of the policy `document` has a condition on `key` (IAM condition keys
    are case-insensitive)."""
    try:
        statements = json.loads(document).get("Statement") or []
    except (ValueError, AttributeError):
        return False
    for statement in [statements] if isinstance(statements, dict) else statements:
        conditions = statement.get("Condition") if isinstance(statement, dict) else None
        for keys in (conditions or {}).values() if isinstance(conditions, dict) else []:
            if isinstance(keys, dict) and any(name.lower() == key.lower() for name in keys):
                return True
    return False


def patch_assume_role_external_id_unenforced() -> None:
    """AssumeRole checks the role's sts:ExternalId conditions even before IAM enforcement starts.

    AWS always evaluates a role's trust policy. moto does so only once it enforces IAM
    (INITIAL_NO_AUTH_ACTION_COUNT); before that every AssumeRole got credentials, whatever
    external ID it carried, so the confused-deputy check could not be exercised without
    enforcement. When moto is not enforcing and the role's trust policy has a condition on
    sts:ExternalId, the trust policy is evaluated by moto's own code against the request's
    ExternalId, principal not checked (without enforcement the caller's identity is not
    established): refused, the caller gets AccessDenied as under enforcement. Roles without such a
    condition, and missing roles, keep moto's behaviour.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError
    from moto.iam import access_control
    from moto.iam import utils as iam_utils
    from moto.sts.responses import TokenResponse

    authorize = TokenResponse.__dict__.get("_authenticate_and_authorize_normal_action")
    if getattr(authorize, _MARKER, False):
        return
    original = getattr(TokenResponse, "_authenticate_and_authorize_normal_action", None)
    if (
        authorize is not None
        or original is not ActionAuthenticatorMixin.__dict__.get("_authenticate_and_authorize_normal_action")
        or "_determine_resource" not in TokenResponse.__dict__
        or not callable(getattr(iam_utils, "format_incoming_conditional_values", None))
    ):
        _fail(
            "moto.sts.responses.TokenResponse or moto's _authenticate_and_authorize_normal_action changed; "
            "review patch_assume_role_external_id_unenforced in scripts/moto_server.py"
        )

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        enforced = _iam_enforced()  # before moto counts this request
        original(self, resource)
        if enforced or self._get_action() != "AssumeRole":
            return
        # resource: the RoleArn (TokenResponse._determine_resource).
        role = role_in_its_account(resource)
        if role is None or not trust_conditions_on(role.assume_role_policy_document, "sts:ExternalId"):
            return
        outcome = access_control.IAMPolicy(role.assume_role_policy_document).is_action_permitted(
            "sts:AssumeRole", resource, None, iam_utils.format_incoming_conditional_values(self.data)
        )
        if outcome != access_control.PermissionResult.PERMITTED:
            # The caller as moto's GetCallerIdentity names it: the message moto gives when enforcing.
            caller = self.backend.get_caller_identity(self.get_access_key(), self.region)[1]
            raise AccessDeniedError(user_arn=caller, action="sts:AssumeRole")

    setattr(_authenticate_and_authorize_normal_action, _MARKER, True)
    TokenResponse._authenticate_and_authorize_normal_action = _authenticate_and_authorize_normal_action


# SigV4 query-string ("presigned URL") authentication of S3 requests.
_PRESIGN_ALGORITHM = "AWS4-HMAC-SHA256"
_PRESIGN_MAX_EXPIRES = 604800  # seven days, S3's limit for X-Amz-Expires


def _raw_query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, percent-decoded exactly once; `+` stays a plus (S3 reads a
    SigV4 query that way: a space is %20)."""
    from urllib.parse import unquote

    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def _uri_encode(text: str, safe: str = "") -> str:
    """SigV4's UriEncode: every byte of the UTF-8 text except A-Z a-z 0-9 - _ . ~ (and `safe`)."""
    from urllib.parse import quote

    return quote(text, safe="-_.~" + safe)


def presigned_canonical_request(method: str, raw_path: str, raw_query: str, headers: Any, signed: list[str]) -> str:
    """The canonical request of a SigV4 presigned S3 request, as S3 computes it: the path decoded once
    and encoded once (S3 neither normalizes it nor encodes it twice), every query parameter but
    X-Amz-Signature decoded and encoded, sorted by name then value; the signed headers' values with
    runs of spaces folded; the payload UNSIGNED-PAYLOAD."""
    from urllib.parse import unquote

    path = _uri_encode(unquote(raw_path) or "/", safe="/")
    query = sorted(
        (_uri_encode(name), _uri_encode(value))
        for name, value in _raw_query_pairs(raw_query)
        if name != "X-Amz-Signature"
    )
    canonical_query = "&".join(f"{name}={value}" for name, value in query)
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{' '.join(lowered.get(name, '').split())}\n" for name in signed)
    return "\n".join([method, path, canonical_query, canonical_headers, ";".join(signed), "UNSIGNED-PAYLOAD"])


def presigned_signature(secret: str, amz_date: str, scope: str, canonical_request: str) -> str:
    """SigV4: the signature of `canonical_request` under `secret` for the credential scope `scope`
    (date/region/service/aws4_request)."""
    import hashlib
    import hmac

    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = "\n".join([_PRESIGN_ALGORITHM, amz_date, scope, digest])
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def patch_s3_presigned_urls() -> None:
    """S3 requests signed in the query string (SigV4 presigned URLs) are authenticated and
    authorized while moto enforces IAM, as S3 does; moto answered them with 500.

    moto's authorizer (`moto.core.authorization.ActionAuthenticatorMixin
    ._authenticate_and_authorize_action`) builds an `S3IAMRequest`, whose constructor reads the
    `Authorization` header: a presigned request has none, so the KeyError became a 500. Without
    enforcement moto checks no signature at all (any URL, tampered or signed for another method,
    is served). And moto found the caller's account from the `Authorization` header or SigV2's
    `AWSAccessKeyId` only, so a SigV4 presigned request was put in moto's default account, where
    a role session of another account is unknown.

    Now, while IAM is enforced, an S3 request without `Authorization` whose query carries
    `X-Amz-Algorithm=AWS4-HMAC-SHA256`:
      * is refused with 403 AccessDenied "Request has expired" after X-Amz-Date + X-Amz-Expires,
        and with 400 AuthorizationQueryParametersError when a parameter is missing or the expiry
        is beyond seven days;
      * is signed by the key X-Amz-Credential names (a user's, or a role session's with
        X-Amz-Security-Token, looked up by moto as for a header-signed request; an unknown key or
        a wrong token is moto's InvalidAccessKeyId / InvalidToken);
      * must carry the signature of its canonical request (presigned_canonical_request: the
        method, so a URL signed for GET is refused for HEAD and the other way round; every query
        parameter, so a changed response-content-disposition is refused; the signed headers):
        otherwise 403 SignatureDoesNotMatch;
      * is then authorized by moto's own evaluation (with this launcher's patches) as a
        header-signed request by the same caller.
    The caller's account is taken from X-Amz-Credential's key (BaseResponse.get_access_key), as
    moto does for a header. Not covered: SigV2 query signatures (still moto's 500 when enforced),
    kms:Decrypt for a presigned GET of an SSE-KMS object (patch_s3_kms_decrypt checks
    header-signed requests only). Without enforcement only the expiry is checked (403 "Request has
    expired" past X-Amz-Date + X-Amz-Expires, as S3 answers): the signature cannot be, since the
    signer's secret may be another moto's.
    """
    import datetime

    from moto.core import authorization
    from moto.core.responses import BaseResponse
    from moto.iam import access_control
    from moto.s3.exceptions import S3ClientError, S3SignatureDoesNotMatchError

    mixin = authorization.ActionAuthenticatorMixin
    original = mixin._authenticate_and_authorize_action
    original_key = BaseResponse.get_access_key
    if getattr(original, _MARKER, False):
        return
    if not hasattr(access_control, "S3IAMRequest") or not all(
        callable(getattr(cls, name, None))
        for cls, name in ((access_control.IAMRequestBase, "check_action_permitted"), (access_control, "create_access_key"))
    ):
        _fail("moto's S3IAMRequest / create_access_key moved; review patch_s3_presigned_urls in scripts/moto_server.py")

    def presigned(self: Any) -> dict[str, str] | None:
        """The SigV4 query parameters of a request without Authorization, else None."""
        if "Authorization" in self.headers:
            return None
        parsed = getattr(self, "parsed_url", None)
        params = dict(_raw_query_pairs(parsed.query if parsed is not None else ""))
        return params if params.get("X-Amz-Algorithm") == _PRESIGN_ALGORITHM else None

    @functools.wraps(original_key)
    def get_access_key(self: Any) -> str:
        params = presigned(self) if hasattr(self, "headers") else None
        if params and params.get("X-Amz-Credential"):
            return params["X-Amz-Credential"].split("/", 1)[0]
        return original_key(self)

    def refuse(code: str, message: str) -> None:
        raise S3ClientError(code, message)

    def expired_at(params: dict[str, str]) -> datetime.datetime | None:
        """When a well-formed presigned URL expired, if it has; None for one still valid (or one
        whose date or expiry cannot be read: the enforcing path refuses those)."""
        try:
            signed_at = datetime.datetime.strptime(params.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ")
            ends = signed_at.replace(tzinfo=datetime.timezone.utc) + datetime.timedelta(
                seconds=int(params.get("X-Amz-Expires", ""))
            )
        except ValueError:
            return None
        return ends if datetime.datetime.now(datetime.timezone.utc) > ends else None

    @functools.wraps(original)
    def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        params = presigned(self)
        if iam_request_cls is not access_control.S3IAMRequest or params is None:
            return original(self, iam_request_cls, resource)
        if not _iam_enforced():
            # No signature can be checked (the signer's secret may live in another moto), but a
            # URL past its expiry is dead on S3 whoever signed it: a page that outlives its URLs
            # must see that locally too.
            if expired_at(params) is not None:
                refuse("AccessDenied", "Request has expired")
            return original(self, iam_request_cls, resource)
        needed = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
        missing = [name for name in needed if not params.get(name)]
        if missing:
            refuse("AuthorizationQueryParametersError", f"Query-string authentication version 4 requires {', '.join(missing)}.")
        try:
            signed_at = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            refuse("AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed.")
        if not 0 < expires <= _PRESIGN_MAX_EXPIRES:
            refuse("AuthorizationQueryParametersError", "X-Amz-Expires must be between 1 and 604800 seconds.")
        if datetime.datetime.now(datetime.timezone.utc) > signed_at + datetime.timedelta(seconds=expires):
            refuse("AccessDenied", "Request has expired")
        credential = params["X-Amz-Credential"]
        key_id, _, scope = credential.partition("/")
        signed = params["X-Amz-SignedHeaders"].lower().split(";")
        # moto's authorizer reads the credential and the session token from headers: give it the
        # query's, as the header form would carry them.
        headers = {str(name): str(value) for name, value in self.headers.items()}
        headers["Authorization"] = (
            f"{_PRESIGN_ALGORITHM} Credential={credential}, SignedHeaders={params['X-Amz-SignedHeaders']}, "
            f"Signature={params['X-Amz-Signature']}"
        )
        if "X-Amz-Security-Token" in params:
            headers["X-Amz-Security-Token"] = params["X-Amz-Security-Token"]
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=self.raw_path + ("?" + self.parsed_url.query if self.parsed_url.query else ""),
            data=self.data,
            body=self.raw_body,
            headers=headers,
            action=self._get_action(),
        )
        secret = request._access_key.create_credentials().secret_key
        canonical = presigned_canonical_request(self.method, self.raw_path, self.parsed_url.query, self.headers, signed)
        if presigned_signature(secret, params["X-Amz-Date"], scope, canonical) != params["X-Amz-Signature"]:
            raise S3SignatureDoesNotMatchError()
        request.check_action_permitted(resource)

    setattr(_authenticate_and_authorize_action, _MARKER, True)
    mixin._authenticate_and_authorize_action = _authenticate_and_authorize_action
    BaseResponse.get_access_key = get_access_key


def patch_s3_presigned_metadata_check() -> None:
    """A presigned request for a key that does not exist is no longer refused with
    SignatureDoesNotMatch because it asks for response headers.

    Before answering a signed URL for a missing key (`S3Response._key_response`), moto compares
    "metadata in the URL" with the request's headers (`S3Response._invalid_headers`), finding each
    by a regular expression that also matches inside another parameter's name:
    `content-disposition=` inside `response-content-disposition=`, `content-type=` inside
    `response-content-type=`. A GET of a missing key with either response override was answered
    403 SignatureDoesNotMatch (the same URL's HEAD: 404), where S3 answers 404 NoSuchKey. The check
    now reads the query's parameters by their exact names (moto's own comparison otherwise).
    """
    from urllib.parse import unquote, urlparse

    from moto.s3.responses import S3Response

    original = getattr(S3Response, "_invalid_headers", None)
    if not callable(original):
        _fail("moto.s3.responses.S3Response._invalid_headers not found; review patch_s3_presigned_metadata_check")
    if getattr(original, _MARKER, False):
        return
    checked = ("content-disposition", "content-encoding", "content-language", "content-length", "content-md5", "content-type")

    @functools.wraps(original)
    def _invalid_headers(self: Any, url: str, headers: dict[str, str]) -> bool:
        lowered = {name.lower(): value for name, value in headers.items()}
        for part in urlparse(url).query.split("&"):
            name, _, value = part.partition("=")
            if name.lower() in checked and lowered.get(name.lower()) != unquote(value):
                return True
        return False

    setattr(_invalid_headers, _MARKER, True)
    S3Response._invalid_headers = _invalid_headers


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
    patch_s3_kms_decrypt()
    patch_kms_key_resources()
    patch_assume_missing_role()
    patch_cross_account_trust()
    patch_role_principal_sessions()
    patch_dynamodb_resources()
    patch_secretsmanager_resources()
    patch_assume_role_external_id_unenforced()
    patch_s3_presigned_urls()
    patch_s3_presigned_metadata_check()
    self_check()
    kms_self_check()

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
