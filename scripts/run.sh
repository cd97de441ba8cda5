#!/usr/bin/env bash
# The whole API locally (README "Two commands"): installs the tools, builds the dev server, starts
# the AWS emulator (moto, through scripts/start_moto.sh), seeds a demo org through the public API
# (scripts/seed_demo.py), starts the dev server and prints its URL, an admin and a member token and
# ready-to-paste curl lines. Ctrl-C stops everything it started.
#
#   scripts/run.sh            run until Ctrl-C
#   scripts/run.sh --check    the same, then call the API, check the answers and exit (smoke test;
#                             also RUN_CHECK=1)
#
# Environment (all optional):
#   LISTEN_ADDR                 where the dev server listens (default 127.0.0.1:3000; port 0 = any)
#   APP_ORIGINS                 the app's origins for CORS (default http://localhost:3000)
#   DEV_JWT_SECRET              the HS256 secret of the dev tokens (default: random per run)
#   TABLE_NAME                  the DynamoDB table (default integrations)
#   AWS_ENDPOINT_URL_DYNAMODB   a DynamoDB to use instead of moto's (e.g. dynoxide), passed through
#   RUST_LOG                    the dev server's log level (default info)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="$ROOT/.tools/venv/bin/python"
RUN_DIR_BASE="$ROOT/.run"
CREDENTIALS_FILE="$RUN_DIR_BASE/platform-credentials.env"
DEVSERVER="$ROOT/target/debug/devserver"
READY_TIMEOUT=60

CHECK="${RUN_CHECK:-0}"
[[ "$CHECK" == 1 || "$CHECK" == true || "$CHECK" == yes ]] && CHECK=1 || CHECK=0
for arg in "$@"; do
    case "$arg" in
        --check) CHECK=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *)
            printf 'run: unknown argument %q; use --check or --help\n' "$arg" >&2
            exit 2
            ;;
    esac
done

say() { printf 'run: %s\n' "$*" >&2; }
die() {
    printf 'run: ERROR: %s\n' "$*" >&2
    exit 1
}

# ---- cleanup: everything started here stops on exit, Ctrl-C or kill ---------------------------------
DEV_PID=""
DEV_DIR=""
# shellcheck disable=SC2317 # invoked by the trap (shellcheck 0.9 thinks it unreachable)
cleanup() {
    local status=$? i
    trap - EXIT INT TERM
    if [[ -n "$DEV_PID" ]]; then
        if kill -0 "$DEV_PID" 2>/dev/null; then
            kill -TERM "$DEV_PID" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                kill -0 "$DEV_PID" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$DEV_PID" 2>/dev/null || true
        fi
        wait "$DEV_PID" 2>/dev/null || true
    fi
    if declare -F stop_moto >/dev/null; then stop_moto >/dev/null 2>&1 || true; fi
    if [[ -n "$DEV_DIR" && -d "$DEV_DIR" ]]; then
        if [[ "$status" == 0 || "$status" == 130 || "$status" == 143 ]]; then
            rm -rf "$DEV_DIR"
        else
            say "the dev server's log is kept in ${DEV_DIR#"$ROOT"/}/devserver.log"
        fi
    fi
    if ((CHECK == 0)) && [[ "$status" == 130 || "$status" == 143 ]]; then
        say "stopped the dev server and the emulator"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$SECONDS
command -v curl >/dev/null 2>&1 || die "curl not found: it is needed to talk to the dev server"

# ---- 1. tools and the dev server binary ---------------------------------------------------------------
bash "$ROOT/scripts/bootstrap.sh"
say "building the dev server: cargo build -p devserver (the first build takes a few minutes)"
build_started=$SECONDS
# On a terminal cargo shows its progress bar; in logs (CI) only warnings and errors.
if [[ -t 2 ]]; then cargo build -p devserver; else cargo build --quiet -p devserver; fi
say "dev server built in $((SECONDS - build_started)) s"
[[ -x "$DEVSERVER" ]] || die "$DEVSERVER was not built"

# ---- where the dev server will listen: fail now, not after the emulator started -----------------------
LISTEN_ADDR="${LISTEN_ADDR:-127.0.0.1:3000}"
port_problem="$("$PYTHON" - "$LISTEN_ADDR" <<'PY'
import socket, sys
addr = sys.argv[1]
host, sep, port = addr.rpartition(":")
host = host.strip("[]")
if not sep or not port.isdigit() or not host:
    print(f"LISTEN_ADDR={addr!r} is not an address such as 127.0.0.1:3000"); sys.exit()
family = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as tokio's listener does
try:
    s.bind((host, int(port)))
except OSError as err:
    print(f"cannot listen on {addr}: {err.strerror}"
          + (" (another process uses the port; set LISTEN_ADDR=127.0.0.1:PORT to pick another)"
             if err.errno in (98, 48) else ""))
finally:
    s.close()
PY
)"
[[ -z "$port_problem" ]] || die "$port_problem"

# ---- 2. the emulator -------------------------------------------------------------------------------------
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export PYTHONDONTWRITEBYTECODE=1
# Nothing of the caller's AWS setup may send a request to real AWS or elsewhere. A DynamoDB endpoint
# the caller exported on purpose (AWS_ENDPOINT_URL_DYNAMODB) is kept as it is.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_STS \
    AWS_ENDPOINT_URL_IAM INITIAL_NO_AUTH_ACTION_COUNT

say "starting moto (scripts/start_moto.sh)"
# shellcheck source=scripts/start_moto.sh
source "$ROOT/scripts/start_moto.sh"
if [[ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then
    emulators="$AWS_ENDPOINT_URL (moto: IAM, STS, S3); DynamoDB $AWS_ENDPOINT_URL_DYNAMODB"
else
    emulators="$AWS_ENDPOINT_URL (moto: IAM, STS, S3, DynamoDB)"
fi
say "emulator: $emulators"

# ---- 3. the platform principal -----------------------------------------------------------------------------
"$PYTHON" "$ROOT/scripts/seed_demo.py" platform --env-file "$CREDENTIALS_FILE"
set -a
# shellcheck source=/dev/null
source "$CREDENTIALS_FILE"
set +a
: "${PLATFORM_PRINCIPAL_ARN:?} ${PLATFORM_AWS_ACCESS_KEY_ID:?} ${PLATFORM_AWS_SECRET_ACCESS_KEY:?}"

# ---- 4. the dev server ---------------------------------------------------------------------------------------
export LISTEN_ADDR
export TABLE_NAME="${TABLE_NAME:-integrations}"
export APP_ORIGINS="${APP_ORIGINS:-http://localhost:3000}"
export DEV_JWT_SECRET="${DEV_JWT_SECRET:-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(24))')}"
export S3_ENDPOINT_URL="$AWS_ENDPOINT_URL"

mkdir -p "$RUN_DIR_BASE"
DEV_DIR="$(mktemp -d "$RUN_DIR_BASE/devserver.XXXXXX")"
DEV_LOG="$DEV_DIR/devserver.log"
say "starting the dev server on $LISTEN_ADDR (log: ${DEV_LOG#"$ROOT"/})"
: >"$DEV_LOG"
"$DEVSERVER" </dev/null >>"$DEV_LOG" 2>&1 &
DEV_PID=$!

dev_failed() {
    say "$*; last lines of ${DEV_LOG#"$ROOT"/}:"
    tail -n 30 "$DEV_LOG" >&2
    exit 1
}

URL=""
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
    kill -0 "$DEV_PID" 2>/dev/null || {
        wait "$DEV_PID" && code=0 || code=$?
        DEV_PID=""
        if grep -qi 'address already in use' "$DEV_LOG"; then
            dev_failed "the dev server could not listen on $LISTEN_ADDR: the port is in use (set LISTEN_ADDR)"
        fi
        dev_failed "the dev server exited during start-up (status $code)"
    }
    if [[ -z "$URL" ]]; then
        # "dev server listening url=http://HOST:PORT" (the real port, also when LISTEN_ADDR asks for 0)
        URL="$(grep -o 'url=http://[^ ]*' "$DEV_LOG" 2>/dev/null | head -n 1 | cut -d= -f2- || true)"
        URL="${URL/\/\/0.0.0.0:/\/\/127.0.0.1:}"
        URL="${URL/\/\/\[::\]:/\/\/[::1]:}"
    fi
    if [[ -n "$URL" ]] \
        && [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/" 2>/dev/null || true)" != 000 ]]; then
        break
    fi
    ((SECONDS < deadline)) || dev_failed "the dev server did not answer HTTP within ${READY_TIMEOUT} s"
    sleep 0.2
done
say "dev server up at $URL"

ADMIN="$("$DEVSERVER" token --org demo --role admin)"
MEMBER="$("$DEVSERVER" token --org demo --role member)"

# ---- 5. the demo org, through the public API ----------------------------------------------------------------
say "seeding the demo org through the API (scripts/seed_demo.py)"
ID="$(ADMIN_TOKEN="$ADMIN" "$PYTHON" "$ROOT/scripts/seed_demo.py" seed --url "$URL")" \
    || die "seeding the demo org failed (see above)"

# ---- 6. the banner ---------------------------------------------------------------------------------------------
# The curl lines are printed as they are and, with --check, run as they are (eval): what the banner
# shows is what was tested. They refer to $URL, $ADMIN, $MEMBER and $ID.
# shellcheck disable=SC2016
{
    CURL_LIST='curl -s $URL/integrations -H "authorization: Bearer $ADMIN"'
    CURL_POLICIES='curl -s $URL/integrations/$ID/policies -H "authorization: Bearer $ADMIN"'
    CURL_TRUST='curl -s $URL/policies/trust -H "authorization: Bearer $ADMIN"'
    CURL_ACCESS='curl -s -X POST $URL/policies/access -H "authorization: Bearer $ADMIN" -d '"'"'{"scope":{"type":"bucket","bucket":"demo-images","prefix":"samples/"},"versioning":false}'"'"
    CURL_PRESIGN='curl -s -X POST $URL/presign -H "authorization: Bearer $MEMBER" -d '"'"'{"locators":["s3://demo-images/samples/cat.png"]}'"'"
}

rule="$(printf '%*s' 78 '' | tr ' ' '=')"
cat <<EOF

$rule
 S3 integrations: local API ready in $((SECONDS - started)) s
   API           $URL
   org           demo (admin and member tokens below, valid 24 h)
   integration   $ID  "Demo images": bucket demo-images, role demo-platform-read
   platform      $PLATFORM_PRINCIPAL_ARN (keys: ${CREDENTIALS_FILE#"$ROOT"/})
   emulator      $emulators
   log           ${DEV_LOG#"$ROOT"/}
$rule
# paste into a shell:
export URL=$URL
export ADMIN=$ADMIN    # admin token
export MEMBER=$MEMBER    # member token
export ID=$ID    # demo integration id

# list the org's integrations (admin)
$CURL_LIST
# the integration's access, trust and CORS policies (admin)
$CURL_POLICIES
# the org's trust policy, with its external ID (admin)
$CURL_TRUST
# an access policy for a draft scope (admin)
$CURL_ACCESS
# presigned URLs (member) (available once the presign function lands)
$CURL_PRESIGN
$rule
EOF

# ---- 7. --check: call the API as the banner says, then stop -----------------------------------------------------
if ((CHECK == 1)); then
    body="$DEV_DIR/body"
    failures=0
    # check NAME EXPECTED_STATUS CURL_LINE [JSON_CHECK]: runs the line with the body into a file.
    check() {
        local name="$1" want="$2" line="$3" verify="${4:-}" got
        got="$(eval "$line -o \"\$body\" -w '%{http_code}' --max-time 30" || true)"
        if [[ "$got" != "$want" ]]; then
            say "check FAILED: $name: HTTP $got, expected $want: $(head -c 400 "$body" 2>/dev/null || true)"
            failures=$((failures + 1))
            return 0
        fi
        if [[ -n "$verify" ]] && ! "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($verify) else 1)" \
            "$body" "$ID" 2>/dev/null; then
            say "check FAILED: $name: HTTP $got but the body is not as expected ($verify): $(head -c 400 "$body")"
            failures=$((failures + 1))
            return 0
        fi
        say "check ok: $name: HTTP $got"
    }
    check "list integrations" 200 "$CURL_LIST" \
        'any(i.get("id") == sys.argv[2] for i in d["integrations"])'
    check "integration policies" 200 "$CURL_POLICIES" \
        'all(k in d for k in ("access", "trust", "cors")) and "demo-images" in d["access"]["text"]'
    check "trust policy" 200 "$CURL_TRUST" '"sts:ExternalId" in d["text"]'
    check "draft access policy" 200 "$CURL_ACCESS" '"demo-images" in d["text"]'
    # shellcheck disable=SC2016
    check "member may not list integrations" 403 'curl -s $URL/integrations -H "authorization: Bearer $MEMBER"'
    # shellcheck disable=SC2016
    check "no token" 401 'curl -s $URL/integrations'

    # Presign: reported, not required (the function may not have landed yet).
    presign_status="$(eval "$CURL_PRESIGN -o \"\$body\" -w '%{http_code}' --max-time 30" || true)"
    presign_url="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["url"])' \
        "$body" 2>/dev/null || true)"
    if [[ "$presign_status" == 200 && -n "$presign_url" ]]; then
        image_status="$(curl -s -o "$DEV_DIR/cat.png" -w '%{http_code}' --max-time 30 "$presign_url" || true)"
        if [[ "$image_status" == 200 ]] && [[ "$(head -c 8 "$DEV_DIR/cat.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]]; then
            say "check ok: presign: HTTP 200, and the presigned URL serves the PNG ($(wc -c <"$DEV_DIR/cat.png") bytes)"
        else
            say "note: presign answered 200, but fetching its URL gave HTTP $image_status: $(head -c 300 "$DEV_DIR/cat.png" 2>/dev/null || true)"
        fi
    else
        say "note: presign not checked as working: HTTP $presign_status: $(head -c 400 "$body" 2>/dev/null || true)"
    fi

    if ((failures > 0)); then
        say "--check: $failures check(s) failed"
        exit 1
    fi
    say "--check passed in $((SECONDS - started)) s; stopping the dev server and the emulator"
    exit 0
fi

# ---- run until Ctrl-C or until the dev server stops by itself ---------------------------------------------------
say "press Ctrl-C to stop the dev server and the emulator"
wait "$DEV_PID" && code=0 || code=$?
DEV_PID=""
dev_failed "the dev server exited by itself (status $code)"
