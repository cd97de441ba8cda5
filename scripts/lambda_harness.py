"""Fake Lambda Runtime API + fake STS for measuring the Lambda binaries on this host.

Used by scripts/measure_presign.sh (subcommands seed, init, invoke: presign on 1,000-locator
batches) and scripts/measure_functions.sh (seed --profile functions, init, call: every binary on
one sample event of events/). Python stdlib only, except boto3 for seeding DynamoDB.
"""

import argparse
import http.server
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

RUNTIME = "/2018-06-01/runtime"
ORG_WITH_INTEGRATIONS = "acme"
# The same integrations, each with the proof validation records (the role refused a random
# external ID an hour ago): presign then needs no probe of its own.
ORG_PROVEN = "acme-proven"
ORG_WITHOUT = "acme-empty"
# measure_functions.sh's org: the integration the sample events of events/ name, and its external ID.
FUNCTIONS_ORG = "acme"
FUNCTIONS_INTEGRATION = (
    "01JDZ8W6Q4V3S2R1P0N9M8K7J6", "Production images", "arn:aws:iam::210987654321:role/platform-read",
    "us-east-1", {"type": "default", "buckets": ["bucket-a", "bucket-b"]},
)
EXTERNAL_ID = "5f0c2b9e4d7a1836c0e2f4a9b1d3e5c7a9b0d2f4"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Processes under test still running: killed when this driver ends, however it ends.
LIVE = set()


class Rng:
    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        x = self.x
        x ^= x >> 12
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 27
        self.x = x
        return ((x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) % n


def locators(count):
    """Locators like the platform's: spaces, +, %, #, unicode; one in five versioned."""
    rng = Rng(0x0BAD5EED20260042)
    names = ["jöhn.doe", "maría", "zoë", "李雷", "o'brien", "team+ml"]
    out = []
    for i in range(count):
        kind = rng.below(10)
        if kind <= 4:
            suffix = [" copy (2)", "", "_thumb", " final"][rng.below(4)]
            base = f"s3://acme-ml-datasets/datasets/2026/batch-{rng.below(100):04}/images/img_{i:06}{suffix}.jpg"
        elif kind <= 6:
            base = f"s3://acme-user-photos/users/{names[rng.below(6)]}/Photos/Été 2025/IMG_{rng.below(10000):04}.HEIC"
        elif kind == 7:
            base = f"s3://acme-reports/reports/Q{1 + rng.below(4)} 2026/résumé – final (v{rng.below(9)}) #{i}.pdf"
        elif kind == 8:
            base = f"s3://acme-archive/models/checkpoint-{i:05}/weights+bias 100%.safetensors"
        else:
            base = f"s3://acme-raw-ingest/日本/写真/{i:06} 🌸.png"
        if rng.below(5) == 0:
            alphabet = B64[:62] + "._"
            base += "?versionId=" + "".join(alphabet[rng.below(64)] for _ in range(32))
        out.append(base)
    return out


def make_event(template_path, org, count):
    with open(template_path, encoding="utf-8") as f:
        event = json.load(f)
    event["requestContext"]["authorizer"]["jwt"]["claims"]["org_id"] = org
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    event["body"] = json.dumps({"locators": locators(count), "expires_in": 900}, ensure_ascii=False)
    return json.dumps(event, ensure_ascii=False).encode()


INTEGRATIONS = [
    ("01JHZ8K4Q6W2M9T7R3N5DEFA01", "acme default", "arn:aws:iam::210987654321:role/platform-read",
     "us-east-1", {"type": "default", "buckets": ["acme-archive", "acme-ml-datasets", "acme-raw-ingest", "acme-reports"]}),
    ("01JHZ8K4Q6W2M9T7R3N5PHOT02", "user photos (EU)", "arn:aws:iam::210987654321:role/platform-read-photos",
     "eu-west-1", {"type": "bucket", "bucket": "acme-user-photos"}),
    ("01JHZ8K4Q6W2M9T7R3N5BTCH03", "2026 batches 40-49", "arn:aws:iam::210987654321:role/platform-read-batches",
     "us-east-1", {"type": "bucket", "bucket": "acme-ml-datasets", "prefix": "datasets/2026/batch-004"}),
]


def scope_key(scope):
    if scope["type"] == "default":
        return "s3://"
    return f"s3://{scope['bucket']}/{scope.get('prefix', '')}"


def seed(endpoint, table, profile="presign"):
    """The table as the template defines it; integrations + external ID for one org only.

    profile "presign": acme (3 integrations) and acme-proven (the same, with proofs);
    profile "functions": acme with the one integration the sample events name.
    """
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="measure", aws_secret_access_key="measure")
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    proven_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    if profile == "functions":
        orgs, integrations = (FUNCTIONS_ORG,), [FUNCTIONS_INTEGRATION]
    else:
        orgs, integrations = (ORG_WITH_INTEGRATIONS, ORG_PROVEN), INTEGRATIONS
    for org in orgs:
        pk = {"S": f"ORG#{org}"}
        status = json.dumps({"state": "unverified", "checked_at": None, "checks": []})
        for ident, name, role, region, scope in integrations:
            item = {
                "pk": pk, "sk": {"S": f"INT#{ident}"}, "kind": {"S": "integration"}, "id": {"S": ident},
                "name": {"S": name}, "role_arn": {"S": role}, "region": {"S": region},
                "scope": {"S": json.dumps(scope)}, "scope_key": {"S": scope_key(scope)},
                "versioning": {"BOOL": True}, "version": {"N": "1"},
                "created_at": {"S": "2026-01-12T09:30:00Z"}, "updated_at": {"S": "2026-01-12T09:30:00Z"},
                "status": {"S": status},
            }
            if org == ORG_PROVEN:
                proof = {"role_arn": role, "enforced": True, "checked_at": proven_at}
                item["external_id_proof"] = {"S": json.dumps(proof)}
            client.put_item(TableName=table, Item=item)
            client.put_item(TableName=table, Item={
                "pk": pk, "sk": {"S": f"SCOPE#{scope_key(scope)}"}, "kind": {"S": "scope"},
                "integration_id": {"S": ident}, "integration_name": {"S": name},
            })
        client.put_item(TableName=table, Item={
            "pk": pk, "sk": {"S": "EXTERNAL_ID"}, "kind": {"S": "external_id"},
            "external_id": {"S": EXTERNAL_ID}, "created_at": {"S": "2026-01-12T09:29:00Z"},
        })


def session_token(seed):
    rng = Rng(seed)
    token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+"
    while len(token) < 898:
        token += B64[rng.below(64)]
    return token + "=="


class Harness:
    """One process under test, its fake Runtime API (and STS), and a counter of other AWS calls."""

    def __init__(self, event=None, function="presign", sts="probe", deadline_s=10):
        """sts: "probe" grants AssumeRole with the org's external ID only; "deny" denies every call."""
        self.event = event
        self.function = function
        self.sts_mode = sts
        self.deadline_s = deadline_s
        self.lock = threading.Lock()
        self.next_calls = 0
        self.ready_at = None
        self.ready = threading.Event()
        self.done = threading.Event()  # the response (or an error) is in, and it polls again
        self.release = threading.Event()
        self.response = None
        self.error = None
        self.sts_calls = []
        self.aws_connections = 0
        harness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def body(self):
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def reply(self, status, payload=b"", content_type="application/json", headers=None):
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                if self.path != f"{RUNTIME}/invocation/next":
                    return self.reply(404, b'{"errorMessage":"unknown path"}')
                with harness.lock:
                    n = harness.next_calls
                    harness.next_calls += 1
                    if n == 0:
                        harness.ready_at = time.perf_counter()
                if n == 0:
                    harness.ready.set()
                if n == 0 and harness.event is not None:
                    return self.reply(200, harness.event, headers={
                        "lambda-runtime-aws-request-id": "measure-0001",
                        "lambda-runtime-deadline-ms": str(int((time.time() + harness.deadline_s) * 1000)),
                        "lambda-runtime-invoked-function-arn":
                            f"arn:aws:lambda:us-east-1:123456789012:function:{harness.function}",
                        "lambda-runtime-trace-id": "Root=1-00000000-000000000000000000000000",
                    })
                # Long poll, as the real API does between events, until the process is stopped.
                harness.done.set()
                harness.release.wait(120)

            def do_POST(self):
                payload = self.body()
                if self.path == f"{RUNTIME}/invocation/measure-0001/response":
                    harness.response = payload
                    return self.reply(202, b'{"status":"OK"}')
                if self.path.startswith(f"{RUNTIME}/"):  # invocation error, init error
                    harness.error = (self.path, payload.decode("utf-8", "replace"))
                    harness.done.set()
                    return self.reply(202, b'{"status":"OK"}')
                form = urllib.parse.parse_qs(payload.decode())
                if self.path == "/" and form.get("Action") == ["AssumeRole"]:
                    return self.assume_role(form)
                self.reply(400, b"unexpected request", "text/plain")

            def assume_role(self, form):
                n = len(harness.sts_calls)
                harness.sts_calls.append(form.get("RoleArn", ["?"])[0])
                if harness.sts_mode == "deny" or form.get("ExternalId", [""])[0] != EXTERNAL_ID:
                    # A role that demands the org's external ID denies the platform's probe.
                    xml = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c8</RequestId>
</ErrorResponse>"""
                    return self.reply(403, xml, "text/xml")
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                session = form.get("RoleSessionName", ["?"])[0]
                xml = f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROAQEXAMPLEROLE{n:04}:{session}</AssumedRoleId>
      <Arn>arn:aws:sts::210987654321:assumed-role/platform-read/{session}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAQEXAMPLEMEASR{n:03}</AccessKeyId>
      <SecretAccessKey>tK3/+Yz9uV2wXa8Bq/EXAMPLE+SECRET/kEyZz{n:02}</SecretAccessKey>
      <SessionToken>{session_token(0x5EED7043E0000002 + n)}</SessionToken>
      <Expiration>{expires}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""
                self.reply(200, xml.encode(), "text/xml")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

        # Anything else the process dials (the default AWS endpoint) lands here and is counted.
        self.aws = socket.socket()
        self.aws.bind(("127.0.0.1", 0))
        self.aws.listen(16)
        self.aws_port = self.aws.getsockname()[1]
        threading.Thread(target=self.count_aws, daemon=True).start()

    def count_aws(self):
        while True:
            try:
                conn, _ = self.aws.accept()
            except OSError:
                return
            self.aws_connections += 1
            conn.close()

    def env(self, table, dynamodb=None, sts=False, extra=None):
        """The function's environment; `extra` (the function's own variables) is applied last."""
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.port}",
            "AWS_LAMBDA_FUNCTION_NAME": self.function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "measure",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "AKIAPLATFORMMEASURE1",
            "AWS_SECRET_ACCESS_KEY": "platform-secret-for-measurement",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.aws_port}",
            "TABLE_NAME": table,
            "PLATFORM_PRINCIPAL_ARN": "arn:aws:iam::123456789012:role/s3-integrations-platform",
            "RUST_LOG": "info",
        }
        if dynamodb:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb
        if sts:
            env["AWS_ENDPOINT_URL_STS"] = f"http://127.0.0.1:{self.port}"
        env.update(extra or {})
        return env

    def run(self, binary, env, log, timeout):
        """Starts the binary; returns (process, seconds from start to first /next) or fails."""
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        LIVE.add(proc)
        deadline = started + timeout
        while not self.ready.wait(0.05):
            if proc.poll() is not None or time.perf_counter() > deadline:
                self.stop(proc)
                raise SystemExit(f"the function never polled for an event (exit {proc.returncode}); see its log")
        return proc, self.ready_at - started

    def stop(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        LIVE.discard(proc)
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.aws.close()


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    raise SystemExit(f"{field} missing from /proc/{pid}/status")


def parse_env(pairs):
    """--env NAME=VALUE flags as a dict."""
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env {pair!r}: expected NAME=VALUE")
        out[name] = value
    return out


def cmd_init(args):
    times, connections = [], 0
    extra = parse_env(args.env)
    for i in range(args.runs):
        harness = Harness(function=args.function)
        with open(f"{args.log}.{i}", "wb") as log:
            proc, ready = harness.run(args.binary, harness.env(args.table, extra=extra), log, 30)
            time.sleep(0.2)  # let anything init might dial show up
            harness.stop(proc)
        times.append(ready * 1000)
        connections += harness.aws_connections
    print(json.dumps({"ms": times, "median_ms": statistics.median(times), "min_ms": min(times),
                      "max_ms": max(times), "aws_connections": connections}))


def cmd_invoke(args):
    org = ORG_PROVEN if args.proven else ORG_WITH_INTEGRATIONS if args.with_integrations else ORG_WITHOUT
    event = make_event(args.template, org, args.count)
    harness = Harness(event)
    with open(args.log, "wb") as log:
        proc, ready = harness.run(args.binary, harness.env(args.table, args.dynamodb, args.with_integrations), log, 30)
        invoked = time.perf_counter()
        finished = harness.done.wait(60)
        elapsed = time.perf_counter() - invoked
        hwm = vm(proc.pid, "VmHWM") if finished and proc.poll() is None else None
        rss = vm(proc.pid, "VmRSS") if hwm is not None else None
        harness.stop(proc)
    if not finished:
        raise SystemExit("the function did not answer within 60 s; see its log")
    if harness.error:
        raise SystemExit(f"the function reported an error: {harness.error}")
    envelope = json.loads(harness.response)
    if envelope.get("statusCode") != 200:
        raise SystemExit(f"status {envelope.get('statusCode')}: {envelope.get('body', '')[:500]}")
    results = json.loads(envelope["body"])["results"]
    if len(results) != args.count:
        raise SystemExit(f"{len(results)} results for {args.count} locators")
    codes = {}
    for r in results:
        code = "URL" if "url" in r else r.get("error", {}).get("code", "?")
        codes[code] = codes.get(code, 0) + 1
    want = "URL" if args.with_integrations else "NO_INTEGRATION"
    if codes.get(want) != args.count:
        raise SystemExit(f"expected {args.count} × {want}, got {codes}")
    print(json.dumps({
        "vm_hwm_kb": hwm, "vm_rss_kb": rss, "ready_ms": ready * 1000, "invoke_ms": elapsed * 1000,
        "event_bytes": len(event), "response_bytes": len(harness.response), "results": codes,
        "sts_calls": len(harness.sts_calls), "other_aws_connections": harness.aws_connections,
    }))


def load_event(path):
    """A sample event of events/, with an API Gateway event's timeEpoch moved to now."""
    with open(path, encoding="utf-8") as f:
        event = json.load(f)
    context = event.get("requestContext")
    if isinstance(context, dict) and "timeEpoch" in context:
        context["timeEpoch"] = int(time.time() * 1000)
    return json.dumps(event, ensure_ascii=False).encode()


def error_code(body):
    """The `code` of an API error body ({"error": {"code": ...}} or {"code": ...}), if any."""
    try:
        parsed = json.loads(body or "")
    except ValueError:
        return None
    if isinstance(parsed, dict):
        inner = parsed.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("code"), str):
            return inner["code"]
        if isinstance(parsed.get("code"), str):
            return parsed["code"]
    return None


def cmd_call(args):
    """One invocation of any binary with one event file; VmHWM when it polls for the next event.

    Fails unless the runtime got a response (no invocation or init error) that is an API Gateway
    response with status < 500 (--kind http) or a validation run summary (--kind summary).
    """
    event = load_event(args.event)
    harness = Harness(event, function=args.function, sts=args.sts, deadline_s=args.deadline)
    env = harness.env(args.table, args.dynamodb, args.sts != "none", parse_env(args.env))
    with open(args.log, "wb") as log:
        proc, ready = harness.run(args.binary, env, log, 30)
        invoked = time.perf_counter()
        give_up = invoked + args.wait
        while not harness.done.wait(0.05):
            if proc.poll() is not None or time.perf_counter() > give_up:
                break
        finished = harness.done.is_set()
        elapsed = time.perf_counter() - invoked
        hwm = vm(proc.pid, "VmHWM") if finished and proc.poll() is None else None
        rss = vm(proc.pid, "VmRSS") if hwm is not None else None
        exit_code = proc.poll()
        harness.stop(proc)
    if not finished:
        how = f"exited with {exit_code}" if exit_code is not None else f"did not answer within {args.wait} s"
        raise SystemExit(f"the function {how}; see its log")
    if harness.error:
        raise SystemExit(f"the function reported an error of the runtime: {harness.error}")
    if hwm is None:
        raise SystemExit("the function exited after answering; no VmHWM to read")
    try:
        response = json.loads(harness.response)
    except (TypeError, ValueError):
        raise SystemExit(f"the response is not JSON: {harness.response!r:.300}") from None
    if args.kind == "http":
        code = response.get("statusCode") if isinstance(response, dict) else None
        body = (response.get("body") or "") if isinstance(response, dict) else ""
        if not isinstance(code, int) or code >= 500:
            raise SystemExit(f"status {code}: {str(body)[:500]}")
        api_code = error_code(body) if code >= 400 else None
        status = f"{code} {api_code}" if api_code else str(code)
        excerpt = str(body)[:300]
    else:
        counters = ("validated", "healthy", "degraded", "failing", "unverified", "dropped", "errors", "pages")
        if not isinstance(response, dict) or not all(isinstance(response.get(k), int) for k in counters):
            raise SystemExit(f"the response is not a validation run summary: {harness.response!r:.300}")
        if response["validated"] + response["errors"] == 0:
            raise SystemExit(f"the run validated nothing: {response}")
        status = "summary " + " ".join(f"{k}={response[k]}" for k in counters if response[k])
        excerpt = json.dumps(response)
    print(json.dumps({
        "status": status, "vm_hwm_kb": hwm, "vm_rss_kb": rss, "ready_ms": ready * 1000,
        "invoke_ms": elapsed * 1000, "event_bytes": len(event), "response_bytes": len(harness.response),
        "sts_calls": len(harness.sts_calls), "other_aws_connections": harness.aws_connections,
        "body": excerpt,
    }, ensure_ascii=False))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("seed")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--profile", choices=("presign", "functions"), default="presign")
    p = sub.add_parser("init")
    p.add_argument("--binary", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--log", required=True)
    p.add_argument("--function", default="presign", help="AWS_LAMBDA_FUNCTION_NAME")
    p.add_argument("--env", action="append", metavar="NAME=VALUE", help="the function's own variables")
    p = sub.add_parser("call")
    p.add_argument("--binary", required=True)
    p.add_argument("--function", required=True, help="AWS_LAMBDA_FUNCTION_NAME")
    p.add_argument("--table", required=True)
    p.add_argument("--dynamodb", required=True)
    p.add_argument("--event", required=True, help="the event file")
    p.add_argument("--kind", choices=("http", "summary"), default="http")
    p.add_argument("--sts", choices=("none", "probe", "deny"), default="none",
                   help="none: STS is not served (a call counts as another AWS connection)")
    p.add_argument("--deadline", type=int, default=10, help="the invocation's deadline (header), seconds")
    p.add_argument("--wait", type=int, default=60, help="how long to wait for the answer, seconds")
    p.add_argument("--env", action="append", metavar="NAME=VALUE", help="the function's own variables")
    p.add_argument("--log", required=True)
    p = sub.add_parser("invoke")
    p.add_argument("--binary", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--dynamodb", required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--with-integrations", action="store_true")
    p.add_argument("--proven", action="store_true", help="the org whose integrations carry a recorded proof")
    p.add_argument("--log", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        dispatch(args)
    finally:
        for proc in list(LIVE):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def dispatch(args):
    if args.cmd == "seed":
        seed(args.endpoint, args.table, args.profile)
    elif args.cmd == "init":
        cmd_init(args)
    elif args.cmd == "call":
        cmd_call(args)
    else:
        cmd_invoke(args)


if __name__ == "__main__":
    sys.exit(main())
