#!/usr/bin/env bash
# Measures every Lambda binary of the project (integrations, policies, presign, validate,
# validate-schedule): its size, its init time to ready and its peak memory after one sample event,
# and prints one table.
#
#   bash scripts/measure_functions.sh
#
# (a) size: `cargo build --release -p <crate>` for the host, one crate at a time (as each is
#     deployed: no feature unification across crates); the release profile strips symbols (a
#     binary that is not stripped is measured after `strip`). MB = 10^6 bytes. The arm64
#     cargo-lambda build is not done here (measure_presign.sh does it for presign).
# (b) init to ready: each binary runs against a fake Lambda Runtime API (Python stdlib
#     http.server on loopback, AWS_LAMBDA_RUNTIME_API); the time from process start to its first
#     GET /runtime/invocation/next. Every AWS endpoint points at a loopback listener that counts
#     connections: init must not call AWS (the script fails if one does). INIT_RUNS cold starts;
#     median, min and max.
# (c) peak RSS (VmHWM from /proc/<pid>/status, read when the function polls for its next event)
#     after one invocation with a sample event of events/:
#       integrations       integrations-list.json        (GET /integrations?limit=20)
#       policies           policies-for-integration.json (GET /integrations/{id}/policies)
#       presign            presign.json                  (POST /presign, 4 locators)
#       validate           integrations-validate.json    (POST /integrations/{id}/validate)
#       validate-schedule  validate-scheduled.json       (EventBridge scheduled event)
#     DynamoDB is dynoxide on loopback, the table created with boto3 (pk/sk string keys) and the
#     org `acme` seeded with the one integration the events name (01JDZ8W6Q4V3S2R1P0N9M8K7J6) and
#     its external ID. STS: presign gets a fake that grants AssumeRole with that external ID only
#     (its probe with another ID is denied); validate and validate-schedule get a fake that denies
#     every AssumeRole (403 AccessDenied), so validation finishes fast and deterministically;
#     integrations and policies get none (a call would be counted). The invocation must not be an
#     error of the runtime: status < 500 for the HTTP functions, a run summary for the schedule.
#     Each function gets its environment as template.yaml sets it (TABLE_NAME, APP_ORIGINS,
#     ORG_CLAIM, ROLE_CLAIM, RUST_LOG, PLATFORM_PRINCIPAL_ARN, its own variables and memory size).
#
# The fake Runtime API, fake STS and seeding are scripts/lambda_harness.py (shared with
# scripts/measure_presign.sh).
# Needs .tools (scripts/bootstrap.sh): the venv's python with boto3, and .tools/bin/dynoxide.
# Works offline. Everything started here is stopped on exit; scratch files live in
# .run/measure-functions.*.
# Env: INIT_RUNS (default 5) cold starts per binary for (b).
MEASURE_NAME=measure_functions
INIT_RUNS="${INIT_RUNS:-5}"
# shellcheck source=scripts/measure_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/measure_common.sh"
TABLE=s3-integrations

# ---- the binaries and how each is deployed (template.yaml) --------------------------------------
BINARIES=(integrations policies presign validate validate-schedule)

crate_of() {
    case "$1" in
        validate | validate-schedule) echo validate ;;
        *) echo "$1" ;;
    esac
}

# event file, response kind (http|summary), fake STS (none|probe|deny), Lambda timeout (s)
case_of() {
    case "$1" in
        integrations) echo "integrations-list.json http none 10" ;;
        policies) echo "policies-for-integration.json http none 10" ;;
        presign) echo "presign.json http probe 10" ;;
        validate) echo "integrations-validate.json http deny 30" ;;
        validate-schedule) echo "validate-scheduled.json summary deny 900" ;;
        *) die "no case for $1" ;;
    esac
}

# presign's allocator tunables, as template.yaml sets them (none if the template drops them).
GLIBC_TUNABLES_VALUE="$(sed -n 's/^[[:space:]]*GLIBC_TUNABLES:[[:space:]]*//p' template.yaml | head -n 1 | tr -d '"')"

# The function's environment, one --env NAME=VALUE per variable, into the array ENV_ARGS.
function_env() {
    local name="$1" memory=256
    ENV_ARGS=(
        --env "TABLE_NAME=$TABLE"
        --env "APP_ORIGINS=https://app.example.com"
        --env "ORG_CLAIM=org_id"
        --env "ROLE_CLAIM=role"
        --env "RUST_LOG=info"
        --env "PLATFORM_PRINCIPAL_ARN=arn:aws:iam::123456789012:role/s3-integrations-platform"
    )
    case "$name" in
        presign)
            memory=512
            ENV_ARGS+=(
                --env "PRESIGN_DEFAULT_EXPIRES_IN=900"
                --env "PRESIGN_MAX_EXPIRES_IN=3000"
                --env "INTEGRATION_CACHE_SECONDS=30"
                --env "ASSUME_FAILURE_CACHE_SECONDS=30"
            )
            if [[ -n "$GLIBC_TUNABLES_VALUE" ]]; then
                ENV_ARGS+=(--env "GLIBC_TUNABLES=$GLIBC_TUNABLES_VALUE")
            fi
            ;;
        validate) memory=512 ;;
        validate-schedule)
            memory=512
            ENV_ARGS+=(--env "VALIDATION_CONCURRENCY=16" --env "VALIDATION_PAGE_SIZE=100")
            ;;
    esac
    ENV_ARGS+=(--env "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=$memory")
}

# ---- (a) build, one crate at a time; sizes ------------------------------------------------------
mkdir -p "$RUN_DIR/bin"
built=" "
for name in "${BINARIES[@]}"; do
    crate="$(crate_of "$name")"
    if [[ "$built" != *" $crate "* ]]; then
        step "cargo build --release -p $crate (host)"
        timeout 1800 cargo build --release -p "$crate"
        built+="$crate "
    fi
    [[ -x "$ROOT/target/release/$name" ]] || die "target/release/$name was not built"
    # A copy: another build in this workspace may replace target/release/* meanwhile.
    cp "$ROOT/target/release/$name" "$RUN_DIR/bin/$name"
done

: >"$RUN_DIR/sizes.tsv"
for name in "${BINARIES[@]}"; do
    bin="$RUN_DIR/bin/$name"
    note="stripped by the release profile"
    if ! command -v file >/dev/null 2>&1; then
        note="stripped state unknown (no file(1))"
    elif file -b "$bin" | grep -q 'not stripped'; then
        if command -v strip >/dev/null 2>&1; then
            cp "$bin" "$bin.stripped"
            strip "$bin.stripped"
            bin="$bin.stripped"
            note="not stripped by the release profile; measured after strip(1)"
        else
            note="NOT stripped (no strip(1) to strip it)"
        fi
    fi
    printf '%s\t%s\t%s\n' "$name" "$(stat -c %s "$bin")" "$note" >>"$RUN_DIR/sizes.tsv"
done

# ---- (b) init time to ready ---------------------------------------------------------------------
for name in "${BINARIES[@]}"; do
    step "$name: init to ready, $INIT_RUNS cold starts against a fake Runtime API"
    function_env "$name"
    timeout 900 "$PYTHON" "$DRIVER" init --binary "$RUN_DIR/bin/$name" --function "$name" --table "$TABLE" \
        --runs "$INIT_RUNS" "${ENV_ARGS[@]}" --log "$RUN_DIR/init-$name.log" >"$RUN_DIR/init-$name.json" \
        || die "$name: init measurement failed; log: $(tail -n 20 "$RUN_DIR/init-$name.log.0" 2>/dev/null)"
done

# ---- (c) peak RSS after one sample event --------------------------------------------------------
step "dynoxide on loopback, table created with boto3, org acme with one integration"
start_dynoxide
timeout 60 "$PYTHON" "$DRIVER" seed --endpoint "$DYNAMO_URL" --table "$TABLE" --profile functions

for name in "${BINARIES[@]}"; do
    read -r event kind sts timeout_s <<<"$(case_of "$name")"
    step "$name: one invocation with events/$event (STS: $sts)"
    function_env "$name"
    timeout 300 "$PYTHON" "$DRIVER" call --binary "$RUN_DIR/bin/$name" --function "$name" --table "$TABLE" \
        --dynamodb "$DYNAMO_URL" --event "$ROOT/events/$event" --kind "$kind" --sts "$sts" \
        --deadline "$timeout_s" --wait 120 "${ENV_ARGS[@]}" --log "$RUN_DIR/call-$name.log" \
        >"$RUN_DIR/call-$name.json" \
        || die "$name: invocation failed; function log: $(tail -n 20 "$RUN_DIR/call-$name.log" 2>/dev/null)"
    printf '%s\t%s\n' "$name" "$event" >>"$RUN_DIR/events.tsv"
done

# ---- the table ------------------------------------------------------------------------------------
M_RUN_DIR="$RUN_DIR" M_BINARIES="${BINARIES[*]}" "$PYTHON" - <<'PY'
import json, os, pathlib, platform, time
run = pathlib.Path(os.environ["M_RUN_DIR"])
names = os.environ["M_BINARIES"].split()
sizes = {n: (int(b), note) for n, b, note in (l.split("\t") for l in (run / "sizes.tsv").read_text().splitlines())}
events = dict(l.split("\t") for l in (run / "events.tsv").read_text().splitlines())
init = {n: json.loads((run / f"init-{n}.json").read_text()) for n in names}
call = {n: json.loads((run / f"call-{n}.json").read_text()) for n in names}

rows = [("binary", "size (MB, stripped)", "init to ready, median (min–max)", "peak RSS", "event", "response")]
for n in names:
    i, c = init[n], call[n]
    rows.append((n, f"{sizes[n][0] / 1e6:.2f}",
                 f"{i['median_ms']:.1f} ms ({i['min_ms']:.1f}–{i['max_ms']:.1f})",
                 f"{c['vm_hwm_kb'] / 1024:.1f} MiB", events[n], c["status"]))
widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
print()
print(f"Lambda binaries, measured {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} on {platform.machine()}, "
      f"{os.cpu_count()} cores; init over {len(init[names[0]]['ms'])} cold starts each (MB = 10^6 bytes; RSS = VmHWM)")
for k, r in enumerate(rows):
    print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    if k == 0:
        print("  ".join("-" * w for w in widths))
print()
for n in names:
    i, c = init[n], call[n]
    print(f"{n}: init AWS connections {i['aws_connections']} (must be 0), each run (ms) "
          f"{', '.join(f'{t:.1f}' for t in i['ms'])}; invocation answered in {c['invoke_ms']:.1f} ms, "
          f"VmRSS after {c['vm_rss_kb']} kB, STS calls {c['sts_calls']}, other AWS connections "
          f"{c['other_aws_connections']}, response {c['response_bytes']} bytes; size: {sizes[n][1]}")
PY

bad=""
for name in "${BINARIES[@]}"; do
    n="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["aws_connections"])' "$RUN_DIR/init-$name.json")"
    [[ "$n" == 0 ]] || bad+=" $name ($n)"
done
[[ -z "$bad" ]] || die "init dialled an AWS endpoint:$bad; it must not"
