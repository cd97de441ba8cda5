#!/usr/bin/env bash
# Starts dynoxide (DynamoDB emulator, in-memory SQLite) in the background on 127.0.0.1.
#
# Sourced (test.sh, run.sh):  source scripts/start_dynamo.sh
#   exports AWS_ENDPOINT_URL_DYNAMODB (the AWS SDKs send DynamoDB there and everything else to
#   AWS_ENDPOINT_URL, i.e. moto) and DYNAMO_PID_FILE, and defines `stop_dynamo`.
#
# Why not moto's DynamoDB: under concurrent requests moto can let two conditional writes with the
# same expected version both succeed (a lost update), which real DynamoDB never does.

_start_dynamo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

stop_dynamo() {
    local pid_file="${DYNAMO_PID_FILE:-}" pid
    [[ -n "$pid_file" && -f "$pid_file" ]] || return 0
    pid="$(cat "$pid_file" 2>/dev/null || true)"
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
    rm -rf "$(dirname "$pid_file")"
}

start_dynamo() {
    local bin="$_start_dynamo_root/.tools/bin/dynoxide"
    local python="$_start_dynamo_root/.tools/venv/bin/python"
    local run_dir port pid deadline
    if [[ ! -x "$bin" ]]; then
        echo "start_dynamo: $bin not found: run scripts/bootstrap.sh first" >&2
        return 1
    fi
    mkdir -p "$_start_dynamo_root/.run"
    run_dir="$(mktemp -d "$_start_dynamo_root/.run/dynamo.XXXXXX")"
    port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    (
        exec </dev/null >"$run_dir/dynamo.log" 2>&1
        "$bin" serve --host 127.0.0.1 --port "$port" --log quiet &
        echo $! >"$run_dir/dynamo.pid"
    )
    pid="$(cat "$run_dir/dynamo.pid")"
    deadline=$((SECONDS + 30))
    until "$python" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "start_dynamo: dynoxide did not start on port $port; its log:" >&2
            tail -n 30 "$run_dir/dynamo.log" >&2
            return 1
        fi
        sleep 0.1
    done
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port" DYNAMO_PID_FILE="$run_dir/dynamo.pid"
}

start_dynamo
