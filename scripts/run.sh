#!/usr/bin/env bash
# The whole API and the web app locally (README "Quick start"): installs the tools, builds the dev
# server and the web app (web/dist, served at /), starts the emulators, starts the dev server, seeds
# a demo org through the public API (scripts/seed_demo.py), creates the new admin's bucket, switches
# IAM enforcement on and prints the URL, sign-in links for the web app, an admin and a member token
# and ready-to-paste curl lines. Ctrl-C stops everything it started.
#
# Emulators (README, Local emulators):
#   - moto "aws" (scripts/start_moto.sh): IAM, STS and the S3 the validator checks. It enforces IAM
#     once seeding is done (POST /moto-api/reset-auth 0), so trust policies (external ID included)
#     and access policies are really evaluated. Its S3 action names for HeadBucket and
#     HeadObject?versionId are corrected to AWS's first (as tests/api/moto.rs does).
#   - moto "objects", no enforcement: moto answers 500 on presigned (query-string) requests while
#     it enforces IAM, so presigned URLs and CORS preflights go here (S3_ENDPOINT_URL); it holds
#     the same bucket and images.
#   - dynoxide (scripts/start_dynamo.sh): DynamoDB.
#   - s3s-fs (.tools/bin/s3s-fs): an S3-compatible store (as MinIO or Cloudflare R2 would be) for the
#     wizard's "S3-compatible store" kind: a directory served over the S3 API on 127.0.0.1 with fixed
#     demo keys (S3_COMPATIBLE_ACCESS_KEY / S3_COMPATIBLE_SECRET), holding the bucket store-photos
#     with photos/kitten.png. It has no CORS or versioning API (501), so those checks do not pass.
# Accounts (as on AWS, customer roles and buckets are never in the platform's account): the platform
# principal (IAM user platform) is in moto's default account 123456789012; the customer side (the
# demo role and bucket, the new admin's bucket, the roles scripts/aws_console.py creates, and the IAM
# user demo-admin who plays the customer's console) is in the second account 210987654321
# (CUSTOMER_ACCOUNT in scripts/seed_demo.py). The plain moto serves presigned URLs from its default
# account (it does not know the assumed-role keys they are signed with): its buckets are there.
# While it runs, .run/run.env holds URL, ADMIN, MEMBER, ID, the emulator URLs and the S3-compatible
# store's URL, keys and bucket (S3_COMPATIBLE_URL, _ACCESS_KEY, _SECRET, _BUCKET), and
# .run/demo-admin.env the keys of the customer account's IAM user demo-admin (every action allowed),
# with which scripts/demo_trust.py break|fix changes the demo role's trust policy.
#
#   scripts/run.sh            run until Ctrl-C
#   scripts/run.sh --check    the same, then call the API as the banner says (presign and fetch the
#                             demo images, validate, break and fix the trust policy and validate
#                             again), check the answers and exit (smoke test; also RUN_CHECK=1)
#   scripts/run.sh --browser-tests
#                             the same, then run the web app's end-to-end tests (web/e2e) in headless
#                             Chromium against it and exit with their status (screenshots in
#                             web/e2e/artifacts); with --check, after the checks
#   scripts/run.sh --schemathesis
#                             the same, then run Schemathesis from openapi.yaml against it, with the
#                             admin token and again with the member token (checks: no 5xx, every
#                             status documented, every response body of its schema), print the
#                             number of generated cases and which documented statuses they
#                             reached (scripts/status_tally.py) and exit with its status; with --check,
#                             after the checks; not with --browser-tests (it rotates the demo org's
#                             external ID and writes what it generates)
#
# Environment (all optional):
#   LISTEN_ADDR                 where the dev server listens (default 127.0.0.1:3000; port 0 = any)
#   APP_ORIGINS                 the app's origins for CORS (default: the dev server's own, as
#                               http://127.0.0.1:PORT and http://localhost:PORT)
#   DEV_JWT_SECRET              the HS256 secret of the dev tokens (default: random per run)
#   TABLE_NAME                  the DynamoDB table (default integrations)
#   AWS_ENDPOINT_URL_DYNAMODB   a DynamoDB to use instead of starting dynoxide, passed through
#   RUST_LOG                    the dev server's log level (default info)
#   LINK_URL_SECONDS            the life of the presigned URL a stable link (GET /l/{token}) redirects
#                               to, passed to the dev server (its default 900; with --browser-tests
#                               4, so that a browser test outlives it)
#   SCHEMATHESIS_MAX_EXAMPLES   --schemathesis: examples per operation and phase (default 100)
#   SCHEMATHESIS_SEED           --schemathesis: the seed to replay a run with (default: random; printed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="$ROOT/.tools/venv/bin/python"
RUN_DIR_BASE="$ROOT/.run"
CREDENTIALS_FILE="$RUN_DIR_BASE/platform-credentials.env"
RUN_ENV_FILE="$RUN_DIR_BASE/run.env"
ADMIN_ENV_FILE="$RUN_DIR_BASE/demo-admin.env"
DEVSERVER="$ROOT/target/debug/devserver"
READY_TIMEOUT=60

BROWSER_TESTS=0
SCHEMATHESIS=0
CHECK="${RUN_CHECK:-0}"
[[ "$CHECK" == 1 || "$CHECK" == true || "$CHECK" == yes ]] && CHECK=1 || CHECK=0
for arg in "$@"; do
    case "$arg" in
        --check) CHECK=1 ;;
        --browser-tests) BROWSER_TESTS=1 ;;
        --schemathesis) SCHEMATHESIS=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *)
            printf 'run: unknown argument %q; use --check, --browser-tests, --schemathesis or --help\n' "$arg" >&2
            exit 2
            ;;
    esac
done
if ((SCHEMATHESIS && BROWSER_TESTS)); then
    printf 'run: --schemathesis and --browser-tests need a stack each (Schemathesis rotates the external ID); run them one after the other\n' >&2
    exit 2
fi

say() { printf 'run: %s\n' "$*" >&2; }
die() {
    printf 'run: ERROR: %s\n' "$*" >&2
    exit 1
}

# ---- cleanup: everything started here stops on exit, Ctrl-C or kill ---------------------------------
DEV_PID=""
DEV_DIR=""
AWS_MOTO_PID_FILE=""
OBJECTS_MOTO_PID_FILE=""
DYNAMO_STARTED=0
STORE_PID=""
# shellcheck disable=SC2317 # invoked by the trap (shellcheck 0.9 thinks it unreachable)
cleanup() {
    local status=$? i failed=0 pid_file
    trap - EXIT INT TERM
    [[ "$status" == 0 || "$status" == 130 || "$status" == 143 ]] || failed=1
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
    # Ctrl-C: the EMF counters the dev server logged, summed into one line (scripts/emf_summary.py).
    if [[ "$status" == 130 || "$status" == 143 ]] && [[ -n "${DEV_LOG:-}" && -s "$DEV_LOG" ]]; then
        say "$("$PYTHON" "$ROOT/scripts/emf_summary.py" "$DEV_LOG" 2>&1 || true)"
    fi
    if declare -F stop_moto >/dev/null; then
        # After a failure the emulators' logs stay (stop_moto removes its run dir otherwise).
        if ((failed)); then export MOTO_KEEP_LOG=1; fi
        for pid_file in "objects:$OBJECTS_MOTO_PID_FILE" "aws:$AWS_MOTO_PID_FILE"; do
            [[ -n "${pid_file#*:}" ]] || continue
            stop_moto "${pid_file#*:}" >/dev/null 2>&1 || true
            if ((failed)); then
                say "moto \"${pid_file%%:*}\"'s log is kept in $(dirname "${pid_file#*:}" | sed "s|^$ROOT/||")/moto.log"
            fi
        done
    fi
    if ((DYNAMO_STARTED)) && declare -F stop_dynamo >/dev/null; then stop_dynamo >/dev/null 2>&1 || true; fi
    if [[ -n "$STORE_PID" ]]; then
        kill -TERM "$STORE_PID" 2>/dev/null || true
        wait "$STORE_PID" 2>/dev/null || true
    fi
    # The state files describe this run only; another run.sh may have written its own since.
    if [[ -f "$RUN_ENV_FILE" ]] && grep -qx "RUN_PID='$$'" "$RUN_ENV_FILE" 2>/dev/null; then
        rm -f "$RUN_ENV_FILE" "$ADMIN_ENV_FILE"
    fi
    if [[ -n "$DEV_DIR" && -d "$DEV_DIR" ]]; then
        if ((failed == 0)); then
            rm -rf "$DEV_DIR"
        else
            say "the dev server's log is kept in ${DEV_DIR#"$ROOT"/}/devserver.log"
        fi
    fi
    if ((CHECK == 0 && BROWSER_TESTS == 0 && SCHEMATHESIS == 0)) && [[ "$status" == 130 || "$status" == 143 ]]; then
        say "stopped the dev server and the emulators"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$SECONDS
command -v curl >/dev/null 2>&1 || die "curl not found: it is needed to talk to the dev server"

# ---- 1. tools and the dev server binary ---------------------------------------------------------------
if ((BROWSER_TESTS)); then bash "$ROOT/scripts/bootstrap.sh" --browser; else bash "$ROOT/scripts/bootstrap.sh"; fi
say "building the dev server: cargo build -p devserver (the first build takes a few minutes)"
build_started=$SECONDS
# On a terminal cargo shows its progress bar; in logs (CI) only warnings and errors.
if [[ -t 2 ]]; then cargo build -p devserver; else cargo build --quiet -p devserver; fi
say "dev server built in $((SECONDS - build_started)) s"
[[ -x "$DEVSERVER" ]] || die "$DEVSERVER was not built"
# The web app (web/, TypeScript): type-checked and built into web/dist, which the dev server serves at /.
node "$ROOT/web/build.mjs" || die "building the web app failed (see above)"

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

# ---- 2. the emulators ------------------------------------------------------------------------------------
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export PYTHONDONTWRITEBYTECODE=1
# Nothing of the caller's AWS setup may send a request to real AWS or elsewhere. A DynamoDB endpoint
# the caller exported on purpose (AWS_ENDPOINT_URL_DYNAMODB) is kept as it is.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_STS \
    AWS_ENDPOINT_URL_IAM AWS_ENDPOINT_URL_KMS INITIAL_NO_AUTH_ACTION_COUNT MOTO_PYTHON MOTO_KEEP_LOG S3_ENDPOINT_URL \
    MOTO_ACCOUNT_ID # moto would put every request in that account, ignoring x-moto-account-id

mkdir -p "$RUN_DIR_BASE"
DEV_DIR="$(mktemp -d "$RUN_DIR_BASE/devserver.XXXXXX")"
emulators_started=$SECONDS

# moto "aws": the project launcher (scripts/moto_server.py) makes moto authorize S3 and STS as AWS does.
say "starting the emulators: moto with IAM enforcement (after seeding), moto for presigned URLs, dynoxide"
# Nothing is enforced until seeding is done; then POST /moto-api/reset-auth 0 (step 6).
export INITIAL_NO_AUTH_ACTION_COUNT=1000000000
# shellcheck source=scripts/start_moto.sh
source "$ROOT/scripts/start_moto.sh"
AWS_MOTO_PID_FILE="$MOTO_PID_FILE"
AWS_URL="$AWS_ENDPOINT_URL"
unset INITIAL_NO_AUTH_ACTION_COUNT

# moto "objects": never enforces (start_moto is defined by the source above).
start_moto ""
OBJECTS_MOTO_PID_FILE="$MOTO_PID_FILE"
OBJECTS_URL="$AWS_ENDPOINT_URL"
export AWS_ENDPOINT_URL="$AWS_URL"

if [[ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then
    dynamo_note="DynamoDB at $AWS_ENDPOINT_URL_DYNAMODB (AWS_ENDPOINT_URL_DYNAMODB, not started here)"
else
    # shellcheck source=scripts/start_dynamo.sh
    source "$ROOT/scripts/start_dynamo.sh"
    DYNAMO_STARTED=1
    dynamo_note="dynoxide (DynamoDB) at $AWS_ENDPOINT_URL_DYNAMODB"
fi
# The S3-compatible store: s3s-fs serving a directory of the dev server's run dir (kept after a
# failure with the rest of it), on a free port, with fixed demo keys.
S3_COMPATIBLE_ACCESS_KEY=demo-store-key
S3_COMPATIBLE_SECRET=demo-store-secret
S3_COMPATIBLE_BUCKET=store-photos
STORE_DIR="$DEV_DIR/s3-compatible"
STORE_BIN="$ROOT/.tools/bin/s3s-fs"
[[ -x "$STORE_BIN" ]] || die "$STORE_BIN not found: run scripts/bootstrap.sh (it installs s3s-fs)"
mkdir -p "$STORE_DIR/$S3_COMPATIBLE_BUCKET/photos"
"$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import seed_demo
open(sys.argv[2], "wb").write(seed_demo.png_gradient(48, (250, 170, 90), (40, 90, 160)))' \
    "$ROOT/scripts" "$STORE_DIR/$S3_COMPATIBLE_BUCKET/photos/kitten.png" \
    || die "could not write the S3-compatible store's demo image"
store_port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$STORE_BIN" --host 127.0.0.1 --port "$store_port" --access-key "$S3_COMPATIBLE_ACCESS_KEY" \
    --secret-key "$S3_COMPATIBLE_SECRET" "$STORE_DIR" </dev/null >"$DEV_DIR/s3s-fs.log" 2>&1 &
STORE_PID=$!
S3_COMPATIBLE_URL="http://127.0.0.1:$store_port"
deadline=$((SECONDS + 20))
until "$PYTHON" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$store_port" 2>/dev/null; do
    if ! kill -0 "$STORE_PID" 2>/dev/null || ((SECONDS >= deadline)); then
        tail -n 20 "$DEV_DIR/s3s-fs.log" >&2 || true
        die "s3s-fs (the S3-compatible store) did not start on port $store_port (log above)"
    fi
    sleep 0.1
done
emulators="moto (IAM/STS/S3, IAM enforced) at $AWS_URL, moto (presigned URL fetches) at $OBJECTS_URL, $dynamo_note, s3s-fs (S3-compatible store) at $S3_COMPATIBLE_URL"
say "emulators up in $((SECONDS - emulators_started)) s: $emulators"

# ---- 3. the platform principal -----------------------------------------------------------------------------
# The customer account (customer roles and buckets), defined once, in scripts/seed_demo.py.
CUSTOMER_ACCOUNT="$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import seed_demo
print(seed_demo.CUSTOMER_ACCOUNT)' "$ROOT/scripts")" || die "could not read CUSTOMER_ACCOUNT from scripts/seed_demo.py"
"$PYTHON" "$ROOT/scripts/seed_demo.py" platform --env-file "$CREDENTIALS_FILE"
set -a
# shellcheck source=/dev/null
source "$CREDENTIALS_FILE"
set +a
: "${PLATFORM_PRINCIPAL_ARN:?} ${PLATFORM_AWS_ACCESS_KEY_ID:?} ${PLATFORM_AWS_SECRET_ACCESS_KEY:?}"

# ---- 4. the dev server ---------------------------------------------------------------------------------------
export LISTEN_ADDR
export TABLE_NAME="${TABLE_NAME:-integrations}"
if [[ -z "${APP_ORIGINS:-}" ]]; then
    # The browser's origin is the dev server's own (the page and the API share it).
    listen_port="${LISTEN_ADDR##*:}"
    if [[ "$listen_port" == 0 ]]; then
        APP_ORIGINS="http://localhost:3000"
    else
        APP_ORIGINS="http://127.0.0.1:$listen_port,http://localhost:$listen_port"
    fi
fi
export APP_ORIGINS
export DEV_JWT_SECRET="${DEV_JWT_SECRET:-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(24))')}"
# Presigned URLs point at the plain moto (moto answers 500 on them while it enforces IAM).
export S3_ENDPOINT_URL="$OBJECTS_URL"
# A stable link's presigned URL: short for the browser tests, which wait past it (web/e2e).
if ((BROWSER_TESTS)) && [[ -z "${LINK_URL_SECONDS:-}" ]]; then LINK_URL_SECONDS=4; fi
if [[ -n "${LINK_URL_SECONDS:-}" ]]; then export LINK_URL_SECONDS; fi

DEV_LOG="$DEV_DIR/devserver.log"
say "starting the dev server on $LISTEN_ADDR (log: ${DEV_LOG#"$ROOT"/})"
: >"$DEV_LOG"
# The dev server seals and opens S3-compatible stores' secrets with moto "aws"'s KMS as the platform
# principal (PLATFORM_AWS_* above), whose policy grants kms:Encrypt and kms:Decrypt for that purpose
# only, as template.yaml grants the functions: enforced like everything else once seeding is done.
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
# An admin of an org with nothing saved yet: the wizard as a new customer meets it.
NEW_ADMIN="$("$DEVSERVER" token --org acme --role admin)"

# ---- 5. the demo org, through the public API ----------------------------------------------------------------
say "seeding the demo org through the API (scripts/seed_demo.py)"
seed_started=$SECONDS
ID="$(ADMIN_TOKEN="$ADMIN" "$PYTHON" "$ROOT/scripts/seed_demo.py" seed --url "$URL" \
    --objects-url "$OBJECTS_URL" --admin-env-file "$ADMIN_ENV_FILE")" \
    || die "seeding the demo org failed (see above)"
say "seeded in $((SECONDS - seed_started)) s"

# ---- 6. IAM enforcement on, from the next request on --------------------------------------------------------
# moto reads the new count from the raw body: it must not be form-encoded (curl -d would be).
enforce_answer="$(curl -s --max-time 10 -X POST -H 'content-type: text/plain' --data-binary 0 \
    "$AWS_URL/moto-api/reset-auth" || true)"
[[ "$enforce_answer" == *'"ok"'* ]] \
    || die "could not switch IAM enforcement on at $AWS_URL (POST /moto-api/reset-auth): ${enforce_answer:-no answer}"
say "IAM enforcement is on at $AWS_URL"

umask_before="$(umask)"
umask 077
{
    echo "# Written by scripts/run.sh (pid $$) for the running local API; removed when it stops."
    for name in URL ADMIN MEMBER NEW_ADMIN ID; do printf "%s='%s'\n" "$name" "${!name}"; done
    printf "AWS_ENDPOINT_URL='%s'\nS3_ENDPOINT_URL='%s'\nAWS_ENDPOINT_URL_DYNAMODB='%s'\nRUN_PID='%s'\n" \
        "$AWS_URL" "$OBJECTS_URL" "$AWS_ENDPOINT_URL_DYNAMODB" "$$"
    for name in S3_COMPATIBLE_URL S3_COMPATIBLE_ACCESS_KEY S3_COMPATIBLE_SECRET S3_COMPATIBLE_BUCKET; do
        printf "%s='%s'\n" "$name" "${!name}"
    done
} >"$RUN_ENV_FILE.tmp"
umask "$umask_before"
mv -f "$RUN_ENV_FILE.tmp" "$RUN_ENV_FILE"

# The new admin's bucket (org acme), in the customer account: it exists with an image, as a
# customer's bucket would; the role, and the CORS configuration, are what the wizard walks them through.
NEW_BUCKET=acme-photos
"$PYTHON" "$ROOT/scripts/aws_console.py" bucket "$NEW_BUCKET" --object photos/kitten.png >&2 \
    || die "creating the bucket $NEW_BUCKET for the new admin's wizard failed (see above)"

# ---- 7. the banner ---------------------------------------------------------------------------------------------
# The curl lines are printed as they are and, with --check, run as they are (eval): what the banner
# shows is what was tested. They refer to $URL, $ADMIN, $MEMBER and $ID.
# shellcheck disable=SC2016
{
    CURL_LIST='curl -s $URL/integrations -H "authorization: Bearer $ADMIN"'
    CURL_POLICIES='curl -s $URL/integrations/$ID/policies -H "authorization: Bearer $ADMIN"'
    CURL_TRUST='curl -s $URL/policies/trust -H "authorization: Bearer $ADMIN"'
    CURL_ACCESS='curl -s -X POST $URL/policies/access -H "authorization: Bearer $ADMIN" -d '"'"'{"scope":{"type":"bucket","bucket":"demo-images","prefix":"samples/"},"versioning":false}'"'"
    CURL_PRESIGN='curl -s -X POST $URL/presign -H "authorization: Bearer $MEMBER" -d '"'"'{"locators":["s3://demo-images/samples/cat.png"]}'"'"
    CURL_FETCH='curl -s -o cat.png "$('"$CURL_PRESIGN"' | python3 -c '"'"'import json,sys; print(json.load(sys.stdin)["results"][0]["url"])'"'"')"'
    CURL_LINKS='curl -s -X POST $URL/links -H "authorization: Bearer $MEMBER" -d '"'"'{"locators":["s3://demo-images/samples/cat.png"]}'"'"
    CURL_LINK_FETCH='curl -sL -o cat-link.png "$('"$CURL_LINKS"' | python3 -c '"'"'import json,sys; print(json.load(sys.stdin)["results"][0]["link"])'"'"')"'
    CURL_VALIDATE='curl -s -X POST $URL/integrations/$ID/validate -H "authorization: Bearer $ADMIN"'
    TRUST_BREAK='scripts/demo_trust.py break'
    TRUST_FIX='scripts/demo_trust.py fix'
}

rule="$(printf '%*s' 78 '' | tr ' ' '=')"
cat <<EOF

$rule
 S3 integrations: local API ready in $((SECONDS - started)) s
   API           $URL
   org           demo (admin and member tokens below, valid 24 h)
   integration   $ID  "Demo images": bucket demo-images, role arn:aws:iam::$CUSTOMER_ACCOUNT:role/demo-platform-read
   platform      $PLATFORM_PRINCIPAL_ARN (keys: ${CREDENTIALS_FILE#"$ROOT"/})
   customer      account $CUSTOMER_ACCOUNT: customer roles and buckets (never the platform's account)
   emulators     $emulators
   IAM admin     demo-admin of account $CUSTOMER_ACCOUNT, every action (keys: ${ADMIN_ENV_FILE#"$ROOT"/}; all of the above: ${RUN_ENV_FILE#"$ROOT"/})
   log           ${DEV_LOG#"$ROOT"/}
$rule
# the web app, in a browser (each link signs in; the token leaves the address bar at once):
#   new admin, org acme (nothing saved yet: the four-step wizard)
#     $URL/#token=$NEW_ADMIN
#   admin, org demo (the demo integration)
#     $URL/#token=$ADMIN
#   member, org demo (no admin controls; try s3://demo-images/samples/cat.png, or
#   s3://demo-images/samples/clip.webm for a video that seeks)
#     $URL/#token=$MEMBER
# the new admin's walk: the bucket $NEW_BUCKET (with photos/kitten.png) is ready in the customer
# account $CUSTOMER_ACCOUNT of the emulators.
#   1-3. "One bucket" $NEW_BUCKET; save step 2's JSON as access.json and step 3's as trust.json, then
#        play the AWS console (from the repository root; creates the role in account $CUSTOMER_ACCOUNT
#        and prints its ARN for step 4, arn:aws:iam::$CUSTOMER_ACCOUNT:role/acme-read):
#          scripts/aws_console.py role acme-read --trust trust.json --access access.json
#   4.   save with that ARN; the CORS check fails: save the CORS JSON as cors.json, then
#          scripts/aws_console.py cors $NEW_BUCKET --file cors.json
#        and choose "Validate again": healthy. "Try a locator": s3://$NEW_BUCKET/photos/kitten.png
# the S3-compatible walk (same new admin link): an s3s-fs store at $S3_COMPATIBLE_URL holds the
# bucket $S3_COMPATIBLE_BUCKET with photos/kitten.png.
#   1.   "S3-compatible store"; endpoint $S3_COMPATIBLE_URL, access key ID $S3_COMPATIBLE_ACCESS_KEY,
#        secret $S3_COMPATIBLE_SECRET, path style; "One bucket" $S3_COMPATIBLE_BUCKET
#   2.   the CORS JSON (s3s-fs has no CORS API: nothing to paste here)
#   3.   save: the report checks the endpoint, listing and reading (CORS and versions do not pass on
#        s3s-fs). "Try a locator": s3://$S3_COMPATIBLE_BUCKET/photos/kitten.png
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
# presigned URLs (member)
$CURL_PRESIGN
# the image through its presigned URL (member), into cat.png
$CURL_FETCH
# a stable link (member): it outlives any presigned URL; following it needs no token
$CURL_LINKS
# the image through its stable link (no token: a 307 to a URL presigned now), into cat-link.png
$CURL_LINK_FETCH
# validate the demo integration now: every check passes, state "healthy" (admin)
$CURL_VALIDATE
# from the repository root: break the demo role's trust policy in the emulator (another external
# ID; validate then reports "failing" and names the fix), and restore it from GET /policies/trust
$TRUST_BREAK
$TRUST_FIX
$rule
EOF

# ---- 8. --check: call the API as the banner says, then stop -----------------------------------------------------
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
    check "list integrations (the demo role in the customer account)" 200 "$CURL_LIST" \
        'any(i.get("id") == sys.argv[2] and i.get("role_arn", "").split(":")[4] == "'"$CUSTOMER_ACCOUNT"'" for i in d["integrations"])'
    check "integration policies" 200 "$CURL_POLICIES" \
        'all(k in d for k in ("access", "trust", "cors")) and "demo-images" in d["access"]["text"]'
    check "trust policy" 200 "$CURL_TRUST" '"sts:ExternalId" in d["text"]'
    check "draft access policy" 200 "$CURL_ACCESS" '"demo-images" in d["text"]'
    # shellcheck disable=SC2016
    check "member may not list integrations" 403 'curl -s $URL/integrations -H "authorization: Bearer $MEMBER"'
    # shellcheck disable=SC2016
    check "no token" 401 'curl -s $URL/integrations'

    # Presign (member) and fetch, as the banner says: the URL serves the seeded image, byte for byte.
    same_image() { # same_image FILE KEY: the file holds exactly the image seed_demo.py stored under KEY
        "$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import seed_demo
sys.exit(0 if open(sys.argv[2], "rb").read() == seed_demo.image_bytes(sys.argv[3]) else 1)' \
            "$ROOT/scripts" "$1" "$2" 2>/dev/null
    }
    check "presign (member)" 200 "$CURL_PRESIGN" \
        'd["results"][0].get("url", "").startswith(__import__("os").environ["S3_ENDPOINT_URL"])'
    if (cd "$DEV_DIR" && eval "${CURL_FETCH/-o cat.png/-o cat.png.check}") && same_image "$DEV_DIR/cat.png.check" samples/cat.png; then
        say "check ok: fetch (banner line): the presigned URL serves samples/cat.png ($(wc -c <"$DEV_DIR/cat.png.check") bytes, as seeded)"
    else
        say "check FAILED: fetch (banner line): the presigned URL did not serve samples/cat.png as seeded: $(head -c 300 "$DEV_DIR/cat.png.check" 2>/dev/null || true)"
        failures=$((failures + 1))
    fi
    check "stable link (member)" 200 "$CURL_LINKS" \
        'd["results"][0].get("link", "").startswith("http") and "/l/" in d["results"][0]["link"]'
    if (cd "$DEV_DIR" && eval "${CURL_LINK_FETCH/-o cat-link.png/-o cat-link.png.check}") && same_image "$DEV_DIR/cat-link.png.check" samples/cat.png; then
        say "check ok: fetch through the stable link (banner line), no token: samples/cat.png as seeded"
    else
        say "check FAILED: fetch through the stable link (banner line) did not serve samples/cat.png: $(head -c 300 "$DEV_DIR/cat-link.png.check" 2>/dev/null || true)"
        failures=$((failures + 1))
    fi
    # Every demo image (the last key has a space and a non-ASCII character), one presign call.
    all_locators="$("$PYTHON" -c 'import json, sys; sys.path.insert(0, sys.argv[1]); import seed_demo
print(json.dumps({"locators": [f"s3://{seed_demo.BUCKET}/{k}" for k in seed_demo.IMAGES]}))' "$ROOT/scripts")"
    all_status="$(curl -s -X POST "$URL/presign" -H "authorization: Bearer $MEMBER" --data-binary "$all_locators" \
        -o "$body" -w '%{http_code}' --max-time 30 || true)"
    if [[ "$all_status" != 200 ]]; then
        say "check FAILED: presign every demo image: HTTP $all_status: $(head -c 400 "$body")"
        failures=$((failures + 1))
    else
        n=0
        while IFS=$'\t' read -r key url; do
            n=$((n + 1))
            got="$(curl -s -o "$DEV_DIR/image.$n" -w '%{http_code}' --max-time 30 "$url" || true)"
            if [[ -n "$url" && "$got" == 200 ]] && same_image "$DEV_DIR/image.$n" "$key"; then
                say "check ok: presigned URL of s3://demo-images/$key: HTTP 200, $(wc -c <"$DEV_DIR/image.$n") bytes as seeded"
            else
                say "check FAILED: presigned URL of s3://demo-images/$key (${url:-no URL}): HTTP $got: $(head -c 300 "$DEV_DIR/image.$n" 2>/dev/null || true)"
                failures=$((failures + 1))
            fi
        done < <("$PYTHON" -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["locator"].split("/", 3)[3] + "\t" + r.get("url", ""))' "$body" 2>/dev/null || true)
        if ((n != 4)); then
            say "check FAILED: presign every demo image: $n results for 4 locators: $(head -c 400 "$body")"
            failures=$((failures + 1))
        fi
    fi

    # Validation (admin). The report is printed check by check.
    show_report() {
        "$PYTHON" - "$body" >&2 2>/dev/null <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
print("run:   state %s, recorded %s" % (d.get("state"), d.get("recorded")))
for c in d.get("checks", []):
    line = "run:   %-4s %-20s %-30s %s" % (c["result"], c["code"], c["target"], c["message"])
    print(line.replace("\n", " "))
PY
    }
    all_codes='{"ASSUME_ROLE", "EXTERNAL_ID_REQUIRED", "BUCKET_REGION", "LIST_ACCESS", "READ_ACCESS", "VERSION_READ", "CORS"}'
    healthy='d["state"] == "healthy" and d["checks"] and all(c["result"] == "pass" for c in d["checks"]) and {c["code"] for c in d["checks"]} == '"$all_codes"
    check "validate (admin): every check passes, state healthy" 200 "$CURL_VALIDATE" "$healthy"
    show_report

    trust_started=$SECONDS
    if eval "$TRUST_BREAK" >&2; then
        check "validate after demo_trust.py break: failing, ASSUME_ROLE fails naming the fix" 200 "$CURL_VALIDATE" \
            'd["state"] == "failing" and any(c["code"] == "ASSUME_ROLE" and c["result"] == "fail" and "GET /policies/trust" in c["message"] and "sts:ExternalId" in c["message"] for c in d["checks"])'
        show_report
    else
        say "check FAILED: $TRUST_BREAK"
        failures=$((failures + 1))
    fi
    if eval "$TRUST_FIX" >&2; then
        check "validate after demo_trust.py fix: healthy again" 200 "$CURL_VALIDATE" "$healthy"
        show_report
    else
        say "check FAILED: $TRUST_FIX"
        failures=$((failures + 1))
    fi
    say "break, validate, fix, validate: $((SECONDS - trust_started)) s"

    # The metrics line Ctrl-C prints, over what these checks did: the dev server's EMF documents
    # must count the URLs presigned, the link followed and the validations run.
    metrics="$("$PYTHON" "$ROOT/scripts/emf_summary.py" "$DEV_LOG" 2>&1 || true)"
    say "$metrics"
    for counter in Urls Redirects Validations; do
        if [[ ! "$metrics" =~ [[:space:]]${counter}=[1-9] ]]; then
            say "check FAILED: the metrics line counts no $counter"
            failures=$((failures + 1))
        fi
    done

    if ((failures > 0)); then
        say "--check: $failures check(s) failed"
        exit 1
    fi
    say "--check passed in $((SECONDS - started)) s"
    if ((BROWSER_TESTS == 0 && SCHEMATHESIS == 0)); then
        say "stopping the dev server and the emulators"
        exit 0
    fi
fi

# ---- --schemathesis: the API against its OpenAPI document, as admin and as member, then stop ---------------
# Phases examples (openapi.yaml's, taken from events/), coverage (boundary and invalid values of
# every parameter and body), fuzzing, and stateful (sequences along the document's links: a created
# integration's id and version into GET, PUT, DELETE, its policies and validate). Checks: no
# 5xx (not_a_server_error), every status documented for its operation (status_code_conformance),
# every body of its status's schema (response_schema_conformance). One worker: Hypothesis's
# generation is not thread-safe, and the dev server's answers are fast.
if ((SCHEMATHESIS == 1)); then
    ST="$ROOT/.tools/venv/bin/st"
    [[ -x "$ST" ]] || die "$ST not found: scripts/bootstrap.sh installs Schemathesis (scripts/requirements.txt)"
    st_started=$SECONDS
    # What the dev server serves at GET /openapi.json is openapi.yaml.
    curl -sf --max-time 10 "$URL/openapi.json" -o "$DEV_DIR/openapi.json" \
        || die "GET $URL/openapi.json failed"
    "$PYTHON" - "$ROOT/openapi.yaml" "$DEV_DIR/openapi.json" <<'PY' || die "GET /openapi.json is not openapi.yaml"
import json, sys, yaml
document = yaml.safe_load(open(sys.argv[1]))
served = json.load(open(sys.argv[2]))
sys.exit(0 if served == document else "the served document differs from openapi.yaml")
PY
    seed="${SCHEMATHESIS_SEED:-$("$PYTHON" -c 'import secrets; print(secrets.randbits(64))')}"
    max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
    say "schemathesis $("$ST" --version | awk '{print $NF}'): openapi.yaml against $URL, $max_examples examples per operation and phase, seed $seed"
    # The seeded integration's id for the routes of one integration, so that they answer as for a
    # real one and not only 404. Operations run in the document's order: DELETE /integrations/{id},
    # which may delete it, comes last of them.
    cat >"$DEV_DIR/schemathesis.toml" <<TOML
[[operations]]
include-path-regex = '^/integrations/[{]id[}]'
parameters = { "path.id" = "$ID" }
TOML
    st_failed=0
    st_cases=0
    for who in admin member; do
        if [[ "$who" == admin ]]; then token="$ADMIN"; else token="$MEMBER"; fi
        st_log="$DEV_DIR/schemathesis-$who.log"
        who_started=$SECONDS
        # In the run dir: Hypothesis writes its .hypothesis there, not in the tree.
        if (cd "$DEV_DIR" && "$ST" --config-file "$DEV_DIR/schemathesis.toml" run "$ROOT/openapi.yaml" --url "$URL" \
            -H "Authorization: Bearer $token" \
            --checks not_a_server_error,status_code_conformance,response_schema_conformance \
            --phases examples,coverage,fuzzing,stateful --max-examples "$max_examples" --workers 1 \
            --seed "$seed" --generation-database none --request-timeout 30 --no-color \
            --output-truncate true --report har --report-har-path "$DEV_DIR/schemathesis-$who.har") \
            >"$st_log" 2>&1; then
            status=ok
        else
            status=FAILED
            st_failed=$((st_failed + 1))
        fi
        # "Test cases:" then "  1181 generated, 1181 passed" (or "..., N found M unique failures").
        cases="$(grep -A1 '^Test cases:' "$st_log" | tail -n 1 | sed 's/^ *//')"
        n="$(grep -oE '^[0-9]+' <<<"$cases" || echo 0)"
        st_cases=$((st_cases + n))
        say "schemathesis as $who: $status: ${cases:-no summary} in $((SECONDS - who_started)) s"
        if [[ "$status" == FAILED ]]; then
            # The failures, each with its curl line to reproduce (long ones cut).
            sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,/^=* SUMMARY =*$/p' "$st_log" | cut -c1-400 | head -n 150 >&2
            say "(whole output: ${st_log#"$ROOT"/}; replay with SCHEMATHESIS_SEED=$seed)"
        fi
    done
    say "schemathesis: $st_cases cases generated in $((SECONDS - st_started)) s, $st_failed of 2 runs failed"
    # Which documented statuses the generated cases reached (informs; tests/api/statuses.rs makes
    # every one occur).
    "$PYTHON" "$ROOT/scripts/status_tally.py" "$ROOT/openapi.yaml" "$DEV_DIR"/schemathesis-*.har \
        || say "(no status tally: scripts/status_tally.py failed)"
    ((st_failed == 0)) || exit 1
    say "schemathesis passed; stopping the dev server and the emulators"
    exit 0
fi

# ---- --browser-tests: the web app end to end in headless Chromium, then stop -----------------------------------
if ((BROWSER_TESTS == 1)); then
    say "browser tests: node --test web/e2e (headless Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'))"
    browser_started=$SECONDS
    if (cd "$ROOT/web" && BASE_URL="$URL" DEV_JWT_SECRET="$DEV_JWT_SECRET" LINK_URL_SECONDS="${LINK_URL_SECONDS:-900}" \
        S3_COMPATIBLE_URL="$S3_COMPATIBLE_URL" S3_COMPATIBLE_ACCESS_KEY="$S3_COMPATIBLE_ACCESS_KEY" \
        S3_COMPATIBLE_SECRET="$S3_COMPATIBLE_SECRET" S3_COMPATIBLE_BUCKET="$S3_COMPATIBLE_BUCKET" \
        ARTIFACTS_DIR="$ROOT/web/e2e/artifacts" node --test --test-concurrency=1 --test-reporter=spec e2e/); then
        say "browser tests passed in $((SECONDS - browser_started)) s (screenshots: web/e2e/artifacts)"
        exit 0
    fi
    say "browser tests FAILED (screenshots so far: web/e2e/artifacts)"
    exit 1
fi

# ---- run until Ctrl-C or until the dev server stops by itself ---------------------------------------------------
say "press Ctrl-C to stop the dev server and the emulators"
wait "$DEV_PID" && code=0 || code=$?
DEV_PID=""
dev_failed "the dev server exited by itself (status $code)"
