#!/usr/bin/env bash
# Starts the project's moto launcher (scripts/moto_server.py) in the background on 127.0.0.1.
#
# Sourced (test.sh, run.sh):   [INITIAL_NO_AUTH_ACTION_COUNT=N] source scripts/start_moto.sh
#   exports AWS_ENDPOINT_URL, MOTO_PID, MOTO_PID_FILE, MOTO_LOG, MOTO_RUN_DIR and defines
#   `stop_moto` (kills the server, removes its run dir). The caller traps EXIT to call it.
# Run:                         eval "$(scripts/start_moto.sh [COUNT])"
#   prints the same variables as `export NAME=value` lines; stop with kill "$(cat "$MOTO_PID_FILE")".
#
# The port is free by construction: the launcher binds port 0 and reports the port the OS gave it
# (no window between picking a port and binding it). MOTO_LISTEN_PORT=N asks for a fixed port.
# IAM enforcement: INITIAL_NO_AUTH_ACTION_COUNT (argument or environment) = N makes moto enforce IAM
# after the first N requests; unset = never. MOTO_PYTHON picks the interpreter (default
# .tools/venv/bin/python), MOTO_START_TIMEOUT the seconds to wait (default 30).

_start_moto_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Alive = signalable and not a zombie (the double-forked server is reaped by PID 1, which may be slow).
_moto_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [[ "$state" != Z ]]
}

stop_moto() {
    local pid_file="${1:-${MOTO_PID_FILE:-}}" pid i
    [[ -n "$pid_file" && -f "$pid_file" ]] || return 0
    pid="$(cat "$pid_file" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && _moto_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            _moto_alive "$pid" || break
            sleep 0.1
        done
        if _moto_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$pid_file"
    local dir
    dir="$(dirname "$pid_file")"
    if [[ "${MOTO_KEEP_LOG:-0}" != 1 && "$(basename "$dir")" == moto.* ]]; then
        rm -rf "$dir"
    fi
}

start_moto() {
    local count="${1:-${INITIAL_NO_AUTH_ACTION_COUNT:-}}"
    local python="${MOTO_PYTHON:-$_start_moto_root/.tools/venv/bin/python}"
    local launcher="$_start_moto_root/scripts/moto_server.py"
    local timeout="${MOTO_START_TIMEOUT:-30}"
    local run_dir pid_file log ready pid deadline

    if [[ ! -x "$python" ]]; then
        echo "start_moto: $python not found: run scripts/bootstrap.sh first" >&2
        return 1
    fi
    if [[ -n "$count" && ! "$count" =~ ^[0-9]+$ ]]; then
        echo "start_moto: INITIAL_NO_AUTH_ACTION_COUNT must be a non-negative integer, got '$count'" >&2
        return 1
    fi
    mkdir -p "$_start_moto_root/.run"
    run_dir="$(mktemp -d "$_start_moto_root/.run/moto.XXXXXX")"
    pid_file="$run_dir/moto.pid"
    log="$run_dir/moto.log"
    ready="$run_dir/url"

    # Double fork: the server is not a job of the caller's shell (no "Terminated" notices when it
    # is stopped) and outlives this script when it is run rather than sourced.
    # shellcheck disable=SC2030 # the count is meant for the server's environment only
    (
        unset MOTO_PORT INITIAL_NO_AUTH_ACTION_COUNT
        if [[ -n "$count" ]]; then export INITIAL_NO_AUTH_ACTION_COUNT="$count"; fi
        exec </dev/null >"$log" 2>&1
        "$python" "$launcher" --host 127.0.0.1 --port "${MOTO_LISTEN_PORT:-0}" --ready-file "$ready" &
        echo $! >"$pid_file"
    )
    pid="$(cat "$pid_file")"

    deadline=$((SECONDS + timeout))
    until [[ -s "$ready" ]]; do
        if ! _moto_alive "$pid"; then
            echo "start_moto: the moto launcher exited during start-up; its log ($log):" >&2
            tail -n 30 "$log" >&2
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "start_moto: moto did not accept connections within ${timeout} s; its log ($log):" >&2
            tail -n 30 "$log" >&2
            stop_moto "$pid_file"
            return 1
        fi
        sleep 0.1
    done

    export AWS_ENDPOINT_URL
    AWS_ENDPOINT_URL="$(head -n 1 "$ready")"
    export MOTO_PID="$pid" MOTO_PID_FILE="$pid_file" MOTO_LOG="$log" MOTO_RUN_DIR="$run_dir"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    # Run as a program: start, then print the variables for `eval`.
    set -euo pipefail
    start_moto "$@"
    for _name in AWS_ENDPOINT_URL MOTO_PID MOTO_PID_FILE MOTO_LOG MOTO_RUN_DIR; do
        printf 'export %s=%q\n' "$_name" "${!_name}"
    done
else
    # Sourced: `source` without arguments would hand over the caller's own "$@", so the count
    # comes from the environment only: INITIAL_NO_AUTH_ACTION_COUNT=N source scripts/start_moto.sh
    # shellcheck disable=SC2031
    start_moto "${INITIAL_NO_AUTH_ACTION_COUNT:-}"
fi
