# shellcheck shell=bash
# What scripts/measure_presign.sh and scripts/measure_functions.sh share: the tool paths, step/die,
# the scratch directory under .run/, cleanup on exit, and dynoxide on a free loopback port.
# Source it after setting MEASURE_NAME (messages and the scratch prefix) and INIT_RUNS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
PYTHON="$TOOLS/venv/bin/python"
DYNOXIDE="$TOOLS/bin/dynoxide"
DRIVER="$ROOT/scripts/lambda_harness.py"
export PYTHONDONTWRITEBYTECODE=1

step() { printf '==> %s\n' "$*"; }
die() {
    printf '%s: %s\n' "$MEASURE_NAME" "$*" >&2
    exit 1
}

[[ -x "$PYTHON" ]] || die "$PYTHON not found: run scripts/bootstrap.sh first"
[[ -x "$DYNOXIDE" ]] || die "$DYNOXIDE not found: run scripts/bootstrap.sh first"
[[ -f "$DRIVER" ]] || die "$DRIVER not found"
[[ "$INIT_RUNS" =~ ^[1-9][0-9]*$ ]] || die "INIT_RUNS must be a positive whole number"

mkdir -p "$ROOT/.run"
RUN_DIR="$(mktemp -d "$ROOT/.run/${MEASURE_NAME//_/-}.XXXXXX")"
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

# dynoxide on a free loopback port; sets DYNAMO_URL once it accepts connections.
start_dynoxide() {
    local port deadline
    port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$DYNOXIDE" serve --host 127.0.0.1 --port "$port" --log quiet </dev/null >"$RUN_DIR/dynamo.log" 2>&1 &
    DYNAMO_PID=$!
    deadline=$((SECONDS + 30))
    until "$PYTHON" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null; do
        if ! kill -0 "$DYNAMO_PID" 2>/dev/null || ((SECONDS >= deadline)); then
            tail -n 30 "$RUN_DIR/dynamo.log" >&2
            die "dynoxide did not start on port $port"
        fi
        sleep 0.1
    done
    DYNAMO_URL="http://127.0.0.1:$port"
}
