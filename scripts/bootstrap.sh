#!/usr/bin/env bash
# Installs what the tests and the local run need into <repo>/.tools (gitignored):
#   .tools/venv      Python venv with the pins in scripts/requirements.txt (moto, cfn-lint,
#                    cargo-lambda, aws-sam-cli, boto3, pytest)
#   .tools/bin       s3s-fs (independent S3 server that verifies presigned URLs) and dynoxide
#                    (DynamoDB emulator on SQLite: atomic conditional writes and transactions,
#                    which moto's DynamoDB does not guarantee under concurrency)
#   web/node_modules TypeScript, playwright-core and axe-core for the web app (npm ci, web/package-lock.json)
# plus the rustfmt and clippy components when rustup lacks them, and with --browser Debian's
# chromium (apt-get, as root; the browser tests drive /usr/bin/chromium).
# Idempotent and quiet: a re-run with nothing to do takes well under a second and prints one line
# (the tool versions). Needs only Rust (cargo), Python >= 3.10, Node.js >= 18 with npm, and the
# package registries.
#
# Environment: PYTHON=/path/to/python3 picks the interpreter for the venv;
#              TOOLS_CACHE=dir keeps a copy of built binaries across clones (default ~/.cache/...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
REQS="$ROOT/scripts/requirements.txt"
STAMP="$VENV/.requirements.sha256"
S3S_FS_VERSION="0.14.1"
DYNOXIDE_VERSION="3.2.0"
TOOLS_CACHE="${TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s3-integrations-tools}"

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

# Run a noisy command with its output in a log; show the log's tail only if it fails.
run_logged() {
    local log="$1"
    shift
    if ! "$@" >"$log" 2>&1; then
        printf 'bootstrap: ERROR: %s failed; last lines of %s:\n' "$*" "$log" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

# Copy a file so that readers never see half of it.
copy_atomic() { cp "$1" "$2.tmp" 2>/dev/null && mv -f "$2.tmp" "$2"; }

BROWSER=0
for arg in "$@"; do
    case "$arg" in
        --browser) BROWSER=1 ;;
        *) die "unknown argument $arg (use --browser)" ;;
    esac
done

mkdir -p "$TOOLS"
# Two bootstraps at once (test.sh and run.sh in two terminals) must not install over each other.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$TOOLS/.bootstrap.lock"
    flock 9
fi

# ---- Rust components ------------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs) first"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "cargo fmt/clippy missing and no rustup to add them"
    say "adding rustup components rustfmt, clippy"
    run_logged "$TOOLS/rustup.log" rustup component add rustfmt clippy
fi

# ---- Python venv ----------------------------------------------------------------------------------
pick_python() {
    local candidates=("${PYTHON:-}" python3.11 python3.12 python3.13 python3.10 python3) c
    for c in "${candidates[@]}"; do
        [[ -n "$c" ]] || continue
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys, venv; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 15)))' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

venv_ok() { [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; }

if ! venv_ok; then
    py="$(pick_python)" || die "need Python 3.10-3.14 with the venv module (set PYTHON=/path/to/python3)"
    say "creating $VENV with $("$py" -c 'import platform; print(platform.python_version())')"
    rm -rf "$VENV"
    run_logged "$TOOLS/venv-create.log" "$py" -m venv "$VENV"
fi

want_stamp="$( (cat "$REQS"; "$VENV/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$want_stamp" ]]; then
    say "installing Python tools from scripts/requirements.txt (first run: a few minutes)"
    start=$SECONDS
    run_logged "$TOOLS/pip.log" "$VENV/bin/python" -m pip install --disable-pip-version-check \
        --no-input -r "$REQS"
    echo "$want_stamp" >"$STAMP"
    say "Python tools installed in $((SECONDS - start)) s"
fi

# ---- s3s-fs ---------------------------------------------------------------------------------------
s3s_fs_ok() {
    [[ -x "$TOOLS/bin/s3s-fs" ]] || return 1
    # Installed by cargo into this root: make sure it is the pinned version.
    [[ ! -f "$TOOLS/.crates.toml" ]] || grep -q "\"s3s-fs $S3S_FS_VERSION " "$TOOLS/.crates.toml"
}

cached="$TOOLS_CACHE/s3s-fs-$S3S_FS_VERSION"
if ! s3s_fs_ok; then
    if [[ -x "$cached" ]] && "$cached" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
        mkdir -p "$TOOLS/bin"
        copy_atomic "$cached" "$TOOLS/bin/s3s-fs"
    else
        say "building s3s-fs $S3S_FS_VERSION with cargo install (first run: a few minutes)"
        start=$SECONDS
        run_logged "$TOOLS/s3s-fs-install.log" cargo install "s3s-fs@$S3S_FS_VERSION" \
            --features binary --locked --root "$TOOLS"
        say "s3s-fs built in $((SECONDS - start)) s"
        if mkdir -p "$TOOLS_CACHE" 2>/dev/null; then
            copy_atomic "$TOOLS/bin/s3s-fs" "$cached" || true
        fi
    fi
elif [[ ! -e "$cached" ]] && mkdir -p "$TOOLS_CACHE" 2>/dev/null; then
    # Built by an earlier run or by hand: keep a copy for other clones (CI clones elsewhere).
    copy_atomic "$TOOLS/bin/s3s-fs" "$cached" || true
fi

# ---- dynoxide (DynamoDB emulator) ------------------------------------------------------------------
dynoxide_cached="$TOOLS_CACHE/dynoxide-$DYNOXIDE_VERSION"
# The binary reports its own version (1.x), not the crate's, so a stamp records what was installed.
dynoxide_stamp="$TOOLS/bin/.dynoxide-crate-version"
if [[ ! -x "$TOOLS/bin/dynoxide" || "$(cat "$dynoxide_stamp" 2>/dev/null || true)" != "$DYNOXIDE_VERSION" ]]; then
    if [[ -x "$dynoxide_cached" ]]; then
        mkdir -p "$TOOLS/bin"
        copy_atomic "$dynoxide_cached" "$TOOLS/bin/dynoxide"
    else
        say "building dynoxide $DYNOXIDE_VERSION with cargo install (first run: a few minutes)"
        start=$SECONDS
        run_logged "$TOOLS/dynoxide-install.log" cargo install "dynoxide-rs@$DYNOXIDE_VERSION" \
            --no-default-features --features native-sqlite,http-server,cli --locked --root "$TOOLS"
        say "dynoxide built in $((SECONDS - start)) s"
        if mkdir -p "$TOOLS_CACHE" 2>/dev/null; then
            copy_atomic "$TOOLS/bin/dynoxide" "$dynoxide_cached" || true
        fi
    fi
    echo "$DYNOXIDE_VERSION" >"$dynoxide_stamp"
fi

# ---- the web app's tools (npm) ----------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    die "node and npm not found: install Node.js >= 18 (the web app is built with TypeScript)"
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
    || die "Node.js $(node --version) is too old: the web app needs >= 18"
WEB="$ROOT/web"
web_stamp="$WEB/node_modules/.package-lock.sha256"
want_web="$(sha256sum <"$WEB/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$web_stamp" 2>/dev/null || true)" != "$want_web" ]]; then
    say "installing the web app's tools (npm ci in web/)"
    run_logged "$TOOLS/npm.log" npm --prefix "$WEB" ci --no-audit --no-fund --loglevel=error
    echo "$want_web" >"$web_stamp"
fi

# ---- Chromium for the browser tests (--browser) ----------------------------------------------------
if ((BROWSER)) && ! [[ -x /usr/bin/chromium ]]; then
    command -v apt-get >/dev/null 2>&1 || die "/usr/bin/chromium not found and no apt-get: install Chromium"
    [[ "$(id -u)" == 0 ]] || die "/usr/bin/chromium not found: install it as root (apt-get install chromium)"
    say "installing Debian's chromium for the browser tests (apt-get; a minute or two)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends chromium >"$TOOLS/apt.log" 2>&1; then
        run_logged "$TOOLS/apt-update.log" apt-get update
        run_logged "$TOOLS/apt.log" apt-get install -y --no-install-recommends chromium
    fi
    [[ -x /usr/bin/chromium ]] || die "apt-get installed chromium but /usr/bin/chromium is missing"
fi

# ---- summary --------------------------------------------------------------------------------------
"$VENV/bin/python" - "$("$TOOLS/bin/s3s-fs" --version 2>/dev/null | awk '{print $2}')" \
    "$("$TOOLS/bin/dynoxide" --version 2>/dev/null | awk '{print $2}')" "$(node --version)" \
    "$(if ((BROWSER)); then /usr/bin/chromium --version 2>/dev/null || true; fi)" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError

def v(name):
    try:
        return version(name)
    except PackageNotFoundError:
        sys.exit(f"bootstrap: ERROR: {name} is missing from .tools/venv (delete .tools/venv and re-run)")

print(
    f"tools: python {sys.version.split()[0]}, moto {v('moto')}, cfn-lint {v('cfn-lint')}, "
    f"cargo-lambda {v('cargo-lambda')}, sam {v('aws-sam-cli')}, boto3 {v('boto3')}, "
    f"pytest {v('pytest')}, s3s-fs {sys.argv[1] or '?'}, dynoxide-rs 3.2.0 (binary {sys.argv[2] or '?'}), "
    f"node {sys.argv[3]}{', ' + sys.argv[4] if sys.argv[4] else ''}"
)
PY
