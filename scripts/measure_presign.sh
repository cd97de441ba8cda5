#!/usr/bin/env bash
# Measures the presign Lambda as deployed: its binary size, its init time to ready and its peak
# memory on a 1,000-locator batch, and prints a table of the figures against their targets.
#
#   bash scripts/measure_presign.sh
#
# (a) size: `cargo build --release -p presign` for the host (the release profile strips symbols),
#     and, when .tools/venv/bin/cargo-lambda exists, `cargo lambda build --release --arm64` (the
#     deployed artifact; cargo-lambda brings zig). Target ≤ 8 MB.
# (b) init to ready: the host binary runs against a fake Lambda Runtime API (Python stdlib
#     http.server on loopback, AWS_LAMBDA_RUNTIME_API); the time from process start to its first
#     GET /runtime/invocation/next. Every AWS endpoint points at a loopback listener that counts
#     connections: init must not call AWS. Several cold starts; median, min and max.
# (c) peak RSS (VmHWM from /proc/<pid>/status, read when the function polls for its next event):
#     one API Gateway v2 POST /presign event with 1,000 locators, DynamoDB served by dynoxide
#     (table created with boto3), in three cases:
#       - an org with no integrations: 1,000 NO_INTEGRATION results (one DynamoDB query);
#       - an org with 3 integrations and an external ID: 1,000 presigned URLs, after one
#         AssumeRole per integration against a fake STS that returns ~900-character session tokens,
#         plus the external-ID probe per role (the fake STS denies any other external ID);
#       - the same org with the proof validation records on each integration: no probes (the
#         baseline for the probe's cost: STS calls and the time to answer).
#     Target ≤ 32 MB.
#
# Needs .tools (scripts/bootstrap.sh): the venv's python with boto3, and .tools/bin/dynoxide.
# Everything started here is stopped on exit; scratch files live in .run/measure-presign.*.
# Env: INIT_RUNS (default 7) cold starts for (b).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
PYTHON="$TOOLS/venv/bin/python"
DYNOXIDE="$TOOLS/bin/dynoxide"
INIT_RUNS="${INIT_RUNS:-7}"
export PYTHONDONTWRITEBYTECODE=1

step() { printf '==> %s\n' "$*"; }
die() {
    printf 'measure_presign: %s\n' "$*" >&2
    exit 1
}

[[ -x "$PYTHON" ]] || die "$PYTHON not found: run scripts/bootstrap.sh first"
[[ -x "$DYNOXIDE" ]] || die "$DYNOXIDE not found: run scripts/bootstrap.sh first"
[[ "$INIT_RUNS" =~ ^[1-9][0-9]*$ ]] || die "INIT_RUNS must be a positive whole number"

mkdir -p "$ROOT/.run"
RUN_DIR="$(mktemp -d "$ROOT/.run/measure-presign.XXXXXX")"
DYNAMO_PID=""

cleanup() {
    if [[ -n "$DYNAMO_PID" ]]; then
        kill -TERM "$DYNAMO_PID" 2>/dev/null || true
        wait "$DYNAMO_PID" 2>/dev/null || true
    fi
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the Python side: fake Lambda Runtime API, fake STS, event, DynamoDB seeding ----------------
DRIVER="$RUN_DIR/driver.py"
cat >"$DRIVER" <<'PY'
"""Fake Lambda Runtime API + fake STS for measuring the presign binary; see measure_presign.sh."""

import argparse
import http.server
import json
import os
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
EXTERNAL_ID = "5f0c2b9e4d7a1836c0e2f4a9b1d3e5c7a9b0d2f4"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


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


def seed(endpoint, table):
    """The table as the template defines it; integrations + external ID for one org only."""
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
    for org in (ORG_WITH_INTEGRATIONS, ORG_PROVEN):
        pk = {"S": f"ORG#{org}"}
        status = json.dumps({"state": "unverified", "checked_at": None, "checks": []})
        for ident, name, role, region, scope in INTEGRATIONS:
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

    def __init__(self, event=None):
        self.event = event
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
                        "lambda-runtime-deadline-ms": str(int(time.time() * 1000) + 10_000),
                        "lambda-runtime-invoked-function-arn":
                            "arn:aws:lambda:us-east-1:123456789012:function:presign",
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
                if form.get("ExternalId", [""])[0] != EXTERNAL_ID:
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

    def env(self, table, dynamodb=None, sts=False):
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.port}",
            "AWS_LAMBDA_FUNCTION_NAME": "presign",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/presign",
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
        return env

    def run(self, binary, env, log, timeout):
        """Starts the binary; returns (process, seconds from start to first /next) or fails."""
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
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


def cmd_init(args):
    times, connections = [], 0
    for i in range(args.runs):
        harness = Harness()
        with open(f"{args.log}.{i}", "wb") as log:
            proc, ready = harness.run(args.binary, harness.env(args.table), log, 30)
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


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("seed")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--table", required=True)
    p = sub.add_parser("init")
    p.add_argument("--binary", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--runs", type=int, default=7)
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
    if args.cmd == "seed":
        seed(args.endpoint, args.table)
    elif args.cmd == "init":
        cmd_init(args)
    else:
        cmd_invoke(args)


if __name__ == "__main__":
    sys.exit(main())
PY

elf_machine() {
    "$PYTHON" -c '
import struct, sys
h = open(sys.argv[1], "rb").read(20)
print({62: "x86_64", 183: "aarch64"}.get(struct.unpack("<H", h[18:20])[0], "other") if h[:4] == b"\x7fELF" else "not ELF")
' "$1"
}
is_stripped() {
    if command -v file >/dev/null 2>&1; then
        if file -b "$1" | grep -q 'not stripped'; then echo "not stripped"; else echo "stripped"; fi
    else
        echo "unknown (no file(1))"
    fi
}

# ---- (a) sizes --------------------------------------------------------------------------------
step "cargo build --release -p presign (host)"
timeout 1800 cargo build --release -p presign
HOST_BIN="$ROOT/target/release/presign"
[[ -x "$HOST_BIN" ]] || die "$HOST_BIN was not built"
HOST_BYTES="$(stat -c %s "$HOST_BIN")"
HOST_ARCH="$(elf_machine "$HOST_BIN")"
HOST_STRIPPED="$(is_stripped "$HOST_BIN")"

ARM_BYTES=""
ARM_NOTE="not measured: .tools/venv/bin/cargo-lambda missing"
if [[ -x "$TOOLS/venv/bin/cargo-lambda" ]]; then
    step "cargo lambda build --release --arm64 -p presign (log: cargo-lambda.log)"
    ARM_LOG="$RUN_DIR/cargo-lambda.log"
    if PATH="$TOOLS/venv/bin:$PATH" timeout 2400 cargo lambda build --release --arm64 -p presign >"$ARM_LOG" 2>&1; then
        ARM_BIN="$ROOT/target/lambda/presign/bootstrap"
        if [[ -f "$ARM_BIN" ]]; then
            ARM_BYTES="$(stat -c %s "$ARM_BIN")"
            ARM_NOTE="$(elf_machine "$ARM_BIN"), $(is_stripped "$ARM_BIN"), target/lambda/presign/bootstrap"
        else
            ARM_NOTE="cargo lambda succeeded but $ARM_BIN is missing"
        fi
    else
        ARM_NOTE="cargo lambda build failed; last lines:"
        tail -n 25 "$ARM_LOG" >&2
    fi
fi

# ---- (b) init time to ready ---------------------------------------------------------------------
step "init to ready: $INIT_RUNS cold starts against a fake Runtime API"
timeout 600 "$PYTHON" "$DRIVER" init --binary "$HOST_BIN" --table s3-integrations --runs "$INIT_RUNS" \
    --log "$RUN_DIR/init.log" >"$RUN_DIR/init.json" \
    || die "init measurement failed; log: $(tail -n 20 "$RUN_DIR/init.log.0" 2>/dev/null)"

# ---- (c) peak RSS on a 1,000-locator batch -----------------------------------------------------
step "dynoxide on loopback, table created with boto3"
DYNAMO_PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$DYNOXIDE" serve --host 127.0.0.1 --port "$DYNAMO_PORT" --log quiet </dev/null >"$RUN_DIR/dynamo.log" 2>&1 &
DYNAMO_PID=$!
deadline=$((SECONDS + 30))
until "$PYTHON" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$DYNAMO_PORT" 2>/dev/null; do
    if ! kill -0 "$DYNAMO_PID" 2>/dev/null || ((SECONDS >= deadline)); then
        tail -n 30 "$RUN_DIR/dynamo.log" >&2
        die "dynoxide did not start on port $DYNAMO_PORT"
    fi
    sleep 0.1
done
DYNAMO_URL="http://127.0.0.1:$DYNAMO_PORT"
timeout 60 "$PYTHON" "$DRIVER" seed --endpoint "$DYNAMO_URL" --table s3-integrations

step "one 1,000-locator invocation, org without integrations"
timeout 300 "$PYTHON" "$DRIVER" invoke --binary "$HOST_BIN" --table s3-integrations --dynamodb "$DYNAMO_URL" \
    --template "$ROOT/events/presign.json" --log "$RUN_DIR/invoke-empty.log" >"$RUN_DIR/empty.json" \
    || die "invocation failed; function log: $(tail -n 20 "$RUN_DIR/invoke-empty.log" 2>/dev/null)"

step "one 1,000-locator invocation, org with 3 integrations (fake STS)"
timeout 300 "$PYTHON" "$DRIVER" invoke --binary "$HOST_BIN" --table s3-integrations --dynamodb "$DYNAMO_URL" \
    --template "$ROOT/events/presign.json" --with-integrations --log "$RUN_DIR/invoke-urls.log" \
    >"$RUN_DIR/urls.json" \
    || die "invocation failed; function log: $(tail -n 20 "$RUN_DIR/invoke-urls.log" 2>/dev/null)"

step "the same, for an org whose integrations carry the proof validation records (no probes)"
timeout 300 "$PYTHON" "$DRIVER" invoke --binary "$HOST_BIN" --table s3-integrations --dynamodb "$DYNAMO_URL" \
    --template "$ROOT/events/presign.json" --with-integrations --proven --log "$RUN_DIR/invoke-proven.log" \
    >"$RUN_DIR/proven.json" \
    || die "invocation failed; function log: $(tail -n 20 "$RUN_DIR/invoke-proven.log" 2>/dev/null)"

# ---- the table ------------------------------------------------------------------------------------
M_RUN_DIR="$RUN_DIR" M_HOST_BYTES="$HOST_BYTES" M_ARM_BYTES="${ARM_BYTES:-0}" M_ARM_NOTE="$ARM_NOTE" \
    M_HOST="$HOST_ARCH, $HOST_STRIPPED" "$PYTHON" - <<'PY'
import json, os, pathlib, platform, time
env = os.environ
run = pathlib.Path(env["M_RUN_DIR"])
init = json.loads((run / "init.json").read_text())
cases = {name: json.loads((run / f"{name}.json").read_text()) for name in ("empty", "urls", "proven")}
host_bytes, arm_bytes = int(env["M_HOST_BYTES"]), int(env["M_ARM_BYTES"])

def size(b):
    return f"{b / 1e6:.2f} MB ({b / 2**20:.2f} MiB)"

def verdict(ok):
    return "meets" if ok else "MISSES"

rows = [("figure", "value", "target", "verdict")]
rows.append((f"binary size, host {env['M_HOST']}", size(host_bytes), "≤ 8 MB", verdict(host_bytes <= 8e6)))
if arm_bytes:
    rows.append(("binary size, arm64 (cargo lambda build)", size(arm_bytes), "≤ 8 MB", verdict(arm_bytes <= 8e6)))
rows.append((f"init to ready, median of {len(init['ms'])} cold starts", f"{init['median_ms']:.1f} ms", "-",
             f"min {init['min_ms']:.1f}, max {init['max_ms']:.1f} ms"))
for name, label in (("empty", "1,000 × NO_INTEGRATION"), ("urls", "1,000 URLs, 3 integrations")):
    kb = cases[name]["vm_hwm_kb"]
    rows.append((f"peak RSS (VmHWM), {label}", f"{kb / 1024:.1f} MiB", "≤ 32 MB", verdict(kb <= 32 * 1024)))
# The external-ID probe: one extra AssumeRole per cold role without a recorded proof.
unproven, proven = cases["urls"], cases["proven"]
rows.append(("cold batch, 3 roles, no recorded proof: STS calls, answer",
             f"{unproven['sts_calls']}, {unproven['invoke_ms']:.1f} ms", "≤ 2 per role",
             verdict(unproven["sts_calls"] <= 6)))
rows.append(("cold batch, 3 roles, proof recorded (baseline): STS calls, answer",
             f"{proven['sts_calls']}, {proven['invoke_ms']:.1f} ms", "1 per role", verdict(proven["sts_calls"] == 3)))
widths = [max(len(r[i]) for r in rows) for i in range(4)]
print()
print(f"presign Lambda, measured {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} on "
      f"{platform.machine()}, {os.cpu_count()} cores (MB = 10^6 bytes; RSS in MiB, as Lambda's MB)")
for i, r in enumerate(rows):
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if i == 0:
        print("  ".join("-" * w for w in widths))
print()
print(f"arm64 build: {env['M_ARM_NOTE']}")
print(f"init: connections to AWS endpoints during init: {init['aws_connections']} (must be 0); "
      f"each run (ms): {', '.join(f'{t:.1f}' for t in init['ms'])}")
for name, label in (("empty", "no integrations"), ("urls", "3 integrations"), ("proven", "3 proven integrations")):
    r = cases[name]
    print(f"invoke, {label}: event {r['event_bytes'] / 1024:.0f} KiB, response {r['response_bytes'] / 1024:.0f} KiB, "
          f"results {r['results']}, answered in {r['invoke_ms']:.1f} ms, VmHWM {r['vm_hwm_kb']} kB, "
          f"VmRSS after {r['vm_rss_kb']} kB, STS calls {r['sts_calls']}, "
          f"other AWS connections {r['other_aws_connections']}")
PY
INIT_AWS="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["aws_connections"])' "$RUN_DIR/init.json")"
if [[ "$INIT_AWS" != 0 ]]; then
    die "init dialled an AWS endpoint $INIT_AWS time(s); it must not"
fi
