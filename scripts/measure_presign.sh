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
# The fake Runtime API, fake STS and seeding are scripts/lambda_harness.py (also used by
# scripts/measure_functions.sh).
# Needs .tools (scripts/bootstrap.sh): the venv's python with boto3, and .tools/bin/dynoxide.
# Everything started here is stopped on exit; scratch files live in .run/measure-presign.*.
# Env: INIT_RUNS (default 7) cold starts for (b).
MEASURE_NAME=measure_presign
INIT_RUNS="${INIT_RUNS:-7}"
# shellcheck source=scripts/measure_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/measure_common.sh"

# ---- the Python side (fake Lambda Runtime API, fake STS, event, DynamoDB seeding): DRIVER,
# shared with measure_functions.sh

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
start_dynoxide
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
