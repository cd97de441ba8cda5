"""Every sample event of events/ through its function's real binary, under AWS's own Lambda Runtime
Interface Emulator (README, "Running the real binaries locally").

    .tools/venv/bin/python scripts/invoke_events.py            build (debug), run, check
    .tools/venv/bin/python scripts/invoke_events.py --release  the release profile's binaries
    .tools/venv/bin/python scripts/invoke_events.py --no-build the binaries already in target/

What it does:
  1. builds the function binaries for this host (`cargo build -p integrations -p policies -p presign
     -p validate --bins`; debug by default, see README for why);
  2. starts its own emulators (scripts/start_moto.sh: STS, KMS, Secrets Manager, IAM without
     enforcement; scripts/start_dynamo.sh: DynamoDB) and creates what the events need: the table,
     the KMS key that seals store secrets, the Secrets Manager secret with the link-signing keys and
     the platform role;
  3. runs each AWS::Serverless::Function of template.yaml as its binary under
     samcli/local/rapid/aws-lambda-rie-<arch> (the emulator `sam local invoke` runs in its
     container; here without Docker, on 127.0.0.1), with the environment the template gives it
     (Globals and its own Variables, intrinsics resolved to the emulators' resources), plus the
     emulators' endpoints (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB) and fake credentials;
  4. POSTs every events/*.json to the function whose template event matches its route key (the
     EventBridge event to the function with the Schedule event), in the order of EVENTS below, and
     checks the status and error code each event is expected to give;
  5. starts presign without TABLE_NAME and checks that the process exits at start-up with a message
     naming TABLE_NAME.

Prints one line per event and a summary; exits 1 on any mismatch (the function's log is printed).
The emulators and every process started here are stopped on exit. Logs: .run/invoke-events/.
"""

import argparse
import json
import os
import pathlib
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
LOG_DIR = ROOT / ".run" / "invoke-events"
SAMPLE_ID = "01JDZ8W6Q4V3S2R1P0N9M8K7J6"
PACKAGES = ["integrations", "policies", "presign", "validate"]
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "s3-integrations"
TABLE = "integrations"
# What the template's parameters are set to here (their names in template.yaml).
PARAMETERS = {
    "AppOrigins": "https://app.example.com",
    "OrgClaim": "org_id",
    "RoleClaim": "role",
    "LogLevel": "info",
}
INVOKE_PATH = "/2015-03-31/functions/function/invocations"

# Every event, in the order it runs, and what it must answer. Each HTTP event runs as an admin (or,
# for /l/{token}, with no caller) of the org `acme`; `{id}` in an event is the integration that
# integrations-create made (the sample id is replaced, as tests/api/events.rs does).
#   status: the HTTP status of the API Gateway v2 answer; code: the error code in its body
#   ({"error": {"code": ...}}) or None for a success; check: a further check of the body, or None.
EVENTS = [
    # event file               status code               what it shows
    ("integrations-create",    201, None,                "creates the integration the other events name"),
    ("integrations-list",      200, None,                "lists it"),
    ("integrations-get",       200, None,                "reads it"),
    ("integrations-replace",   200, None,                "replaces it (version 2)"),
    ("policies-trust",         200, None,                "creates the org's external ID, renders the trust policy"),
    ("policies-access",        200, None,                "renders an access policy"),
    ("policies-cors",          200, None,                "renders the bucket CORS rules"),
    ("policies-for-integration", 200, None,              "renders the integration's three documents"),
    ("presign",                200, None,                "presigns (per-locator results, the proof recorded first)"),
    ("links-create",           200, None,                "makes stable links (signed with the Secrets Manager keys)"),
    ("links-follow",           403, "LINK_INVALID",      "the sample's token was not signed by this service"),
    ("locators-explain",       200, None,                "explains locators"),
    ("integrations-validate",  200, None,                "validates now (the role accepts any external ID here)"),
    ("validate-scheduled",     None, None,               "the scheduled run validates every integration"),
    ("audit",                  200, None,                "the org's audit log"),
    ("policies-rotate",        200, None,                "starts an external-ID rotation"),
    # Completing is refused until every integration has been validated against the new ID with the
    # old one refused; the emulator enforces no trust policy, so it never is here.
    ("policies-rotate-complete", 409, "ROTATION_NOT_READY", "refused: no integration proven on the new ID"),
    # If-Match set to the version integrations-replace returned (the sample's 1 is stale by then).
    ("integrations-delete",    204, None,                "deletes it"),
]


def say(line):
    print(line, flush=True)


class Failure(Exception):
    pass


# ---- processes ---------------------------------------------------------------------------------

LIVE = []  # (Popen, description): stopped on exit


def stop_all():
    for proc, _ in reversed(LIVE):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.time() + 5
    for proc, _ in LIVE:
        try:
            proc.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    LIVE.clear()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Failure(f"{what} exited during start-up (status {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise Failure(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


class Emulators:
    """moto and dynoxide, started by the project's own scripts (as scripts/test.sh does)."""

    def __init__(self):
        self.pid_files = []
        self.env = {}

    def start(self):
        script = (
            'set -e; unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB INITIAL_NO_AUTH_ACTION_COUNT; '
            'source scripts/start_moto.sh; source scripts/start_dynamo.sh; '
            'printf "%s\\n" "$AWS_ENDPOINT_URL" "$MOTO_PID_FILE" "$AWS_ENDPOINT_URL_DYNAMODB" "$DYNAMO_PID_FILE"'
        )
        out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
        lines = out.stdout.split()
        if len(lines) >= 2:
            self.pid_files.append(pathlib.Path(lines[1]))
        if len(lines) >= 4:
            self.pid_files.append(pathlib.Path(lines[3]))
        if out.returncode != 0 or len(lines) != 4:
            raise Failure(f"the emulators did not start:\n{out.stderr.strip()}")
        self.env = {"AWS_ENDPOINT_URL": lines[0], "AWS_ENDPOINT_URL_DYNAMODB": lines[2]}

    def stop(self):
        for pid_file in self.pid_files:
            try:
                pid = int(pid_file.read_text().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                pass
            # Their run dirs (.run/moto.*, .run/dynamo.*) hold only the pid file and the log.
            shutil.rmtree(pid_file.parent, ignore_errors=True)
        self.pid_files.clear()


# ---- the template ------------------------------------------------------------------------------


def load_template():
    from samcli.yamlhelper import yaml_parse

    return yaml_parse((ROOT / "template.yaml").read_text())


def functions_of(template):
    """{logical id: {"binary", "env" (unresolved), "routes" {route key}, "schedule" bool}}."""
    resources = template.get("Resources") or {}
    globals_env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get(
        "Variables"
    ) or {}
    out = {}
    for name, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties") or {}
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if not binary:
            raise Failure(f"template.yaml: {name} has no Metadata.BuildProperties.Binary")
        env = dict(globals_env)
        env.update(((props.get("Environment") or {}).get("Variables")) or {})
        routes, schedule = set(), False
        for event in (props.get("Events") or {}).values():
            p = event.get("Properties") or {}
            if event.get("Type") == "HttpApi":
                routes.add(f"{p['Method'].upper()} {p['Path']}")
            elif event.get("Type") == "Schedule":
                schedule = True
        out[name] = {"binary": binary, "env": env, "routes": routes, "schedule": schedule}
    return out


def resolve(value, refs, where):
    """A template value with the intrinsics these environments use (Ref, GetAtt) resolved."""
    if isinstance(value, (str, int, float, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref" and arg in refs:
            return refs[arg]
        if fn == "Fn::GetAtt":
            key = arg if isinstance(arg, str) else ".".join(arg)
            if key in refs:
                return refs[key]
    raise Failure(f"template.yaml: {where}: cannot resolve {value!r} here; add it to the script's refs")


# ---- the emulators' resources ------------------------------------------------------------------


def provision(endpoints):
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    dynamodb = session.client("dynamodb", endpoint_url=endpoints["AWS_ENDPOINT_URL_DYNAMODB"])
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    moto = endpoints["AWS_ENDPOINT_URL"]
    key_arn = session.client("kms", endpoint_url=moto).create_key(Description="secrets key")["KeyMetadata"]["Arn"]
    link_keys = {"current": "k1", "k1": secrets.token_urlsafe(48)}
    secret_arn = session.client("secretsmanager", endpoint_url=moto).create_secret(
        Name=f"{STACK}-link-signing-keys", SecretString=json.dumps(link_keys)
    )["ARN"]
    iam = session.client("iam", endpoint_url=moto)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    platform_arn = iam.create_role(RoleName=f"{STACK}-platform", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    refs = dict(PARAMETERS)
    refs.update(
        {
            "IntegrationsTable": TABLE,
            "PlatformRole.Arn": platform_arn,
            "SecretsKey.Arn": key_arn,
            "SecretsKey": key_arn,
            "LinkSigningKeys": secret_arn,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
        }
    )
    return session, refs


def record_proof(session, endpoints, org, integration_id, role_arn):
    """What a validation against AWS records when the role refuses a random external ID (the
    emulator enforces no trust policy, so presign's own probe would refuse the integration); the
    same item attribute tests/api/events.rs writes through the store's record_report."""
    checked_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    proof = {"role_arn": role_arn, "enforced": True, "checked_at": checked_at}
    session.client("dynamodb", endpoint_url=endpoints["AWS_ENDPOINT_URL_DYNAMODB"]).update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"ORG#{org}"}, "sk": {"S": f"INT#{integration_id}"}},
        UpdateExpression="SET external_id_proof = :p",
        ExpressionAttributeValues={":p": {"S": json.dumps(proof)}},
        ConditionExpression="attribute_exists(pk)",
    )


# ---- RIE ---------------------------------------------------------------------------------------


def rie_path():
    override = os.environ.get("RIE")
    if override:
        return pathlib.Path(override)
    import samcli

    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
    return pathlib.Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{arch}"


class Function:
    """One function's binary running under RIE on 127.0.0.1."""

    def __init__(self, name, binary, env, log_path):
        self.name, self.binary, self.env, self.log_path = name, binary, env, log_path
        self.proc = None
        self.port = None

    def start(self):
        self.port = free_port()
        api_port = free_port()
        log = open(self.log_path, "wb")
        cmd = [
            str(rie_path()),
            "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
            "--runtime-api-address", f"127.0.0.1:{api_port}",
            "--log-level", "error",
            str(self.binary),
        ]
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        LIVE.append((self.proc, self.name))
        wait_for_port(self.port, self.proc, f"RIE for {self.name}")

    def invoke(self, payload, timeout=120):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}",
            data=payload.encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


# ---- the run -----------------------------------------------------------------------------------


def build(release):
    cmd = ["cargo", "build", "--quiet"] + (["--release"] if release else [])
    for package in PACKAGES:
        cmd += ["-p", package]
    cmd.append("--bins")
    say(f"invoke-events: {' '.join(cmd)}")
    started = time.time()
    subprocess.run(cmd, cwd=ROOT, check=True)
    say(f"invoke-events: built in {time.time() - started:.0f} s")


def target_dir(release):
    base = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not base.is_absolute():
        base = ROOT / base
    return base / ("release" if release else "debug")


def base_env(endpoints):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(endpoints)
    return env


def load_event(name, substitutions):
    text = (EVENTS_DIR / f"{name}.json").read_text()
    for old, new in substitutions.items():
        text = text.replace(old, new)
    return text


def outcome(answer_text):
    """(status, error code, body) of an API Gateway v2 answer."""
    answer = json.loads(answer_text)
    if not isinstance(answer, dict) or "statusCode" not in answer:
        raise Failure(f"not an API Gateway answer: {answer_text[:400]}")
    body_text = answer.get("body") or ""
    try:
        body = json.loads(body_text) if body_text else None
    except ValueError:
        body = body_text
    code = body.get("error", {}).get("code") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    return answer["statusCode"], code, body


def run(args):
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for old in LOG_DIR.glob("*.log"):
        old.unlink()
    if not args.no_build:
        build(args.release)
    bin_dir = target_dir(args.release)
    template = load_template()
    functions = functions_of(template)
    for spec in functions.values():
        path = bin_dir / spec["binary"]
        if not path.is_file():
            raise Failure(f"{path} is missing: build it (drop --no-build)")
        spec["path"] = path

    # Which function serves each event.
    by_route = {route: name for name, spec in functions.items() for route in spec["routes"]}
    scheduled = [name for name, spec in functions.items() if spec["schedule"]]
    files = sorted(p.stem for p in EVENTS_DIR.glob("*.json"))
    listed = [e[0] for e in EVENTS]
    if sorted(listed) != files:
        raise Failure(
            f"events/ and the script's EVENTS differ: only in events/: {sorted(set(files) - set(listed))}, "
            f"only in EVENTS: {sorted(set(listed) - set(files))}"
        )
    target = {}
    for name in listed:
        event = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        if "routeKey" in event:
            if event["routeKey"] not in by_route:
                raise Failure(f"events/{name}.json: no function of template.yaml serves {event['routeKey']}")
            target[name] = by_route[event["routeKey"]]
        elif event.get("source") == "aws.events" and len(scheduled) == 1:
            target[name] = scheduled[0]
        else:
            raise Failure(f"events/{name}.json: neither an HTTP API event nor the one schedule's")

    emulators = Emulators()
    try:
        emulators.start()
        say(f"invoke-events: moto {emulators.env['AWS_ENDPOINT_URL']}, dynoxide "
            f"{emulators.env['AWS_ENDPOINT_URL_DYNAMODB']}, RIE {rie_path().name}, binaries {bin_dir}")
        session, refs = provision(emulators.env)
        env0 = base_env(emulators.env)
        running = {}
        for name, spec in functions.items():
            env = dict(env0)
            for var, value in spec["env"].items():
                env[var] = resolve(value, refs, f"{name}.Environment.Variables.{var}")
            spec["resolved_env"] = env
            fn = Function(name, spec["path"], env, LOG_DIR / f"{name}.log")
            fn.start()
            running[name] = fn

        substitutions = {}
        results = []
        role_arn = None
        for name, status, code, _why in EVENTS:
            fn = running[target[name]]
            if name == "presign":
                record_proof(session, emulators.env, "acme", substitutions[SAMPLE_ID], role_arn)
            subs = dict(substitutions)
            if name == "integrations-delete":
                subs['"if-match": "1"'] = f'"if-match": "{substitutions["version"]}"'
            payload = load_event(name, {k: v for k, v in subs.items() if k != "version"})
            started = time.time()
            http, text = fn.invoke(payload)
            ms = (time.time() - started) * 1000
            problem, got = None, ""
            try:
                if http != 200:
                    raise Failure(f"RIE answered {http}: {text[:400]}")
                if status is None:
                    # The schedule's answer is the run's summary, not an HTTP answer.
                    summary = json.loads(text)
                    if not isinstance(summary, dict) or "errorType" in summary:
                        raise Failure(f"not a run summary: {text[:400]}")
                    got = "summary " + json.dumps(summary, separators=(",", ":"))[:160]
                    if summary.get("finished") is not True or not summary.get("validated"):
                        raise Failure(f"the run did not finish or validated nothing: {text[:400]}")
                else:
                    got_status, got_code, body = outcome(text)
                    got = f"{got_status}" + (f" {got_code}" if got_code else "")
                    if (got_status, got_code) != (status, code):
                        raise Failure(f"expected {status}{' ' + code if code else ''}, got {got}: {json.dumps(body)[:600]}")
                    if name == "integrations-create":
                        substitutions[SAMPLE_ID] = body["id"]
                        role_arn = body["role_arn"]
                    if name == "integrations-replace":
                        substitutions["version"] = str(body["version"])
                    if name == "presign" and not any("url" in r for r in body.get("results", [])):
                        raise Failure(f"no URL among the results: {json.dumps(body)[:600]}")
                    if name == "links-create" and not any("link" in r for r in body.get("results", [])):
                        raise Failure(f"no link among the results: {json.dumps(body)[:600]}")
            except (Failure, ValueError, KeyError, TypeError) as e:
                problem = str(e)
            expected = "run summary" if status is None else f"{status}" + (f" {code}" if code else "")
            mark = "ok  " if problem is None else "FAIL"
            say(f"{mark} {name:<26} -> {target[name]:<27} expected {expected:<24} got {got or '-':<24} {ms:6.0f} ms")
            results.append((name, problem))
            if problem:
                say(f"     {problem}")
                say(f"     last lines of {fn.log_path.relative_to(ROOT)}:")
                for line in fn.log_tail().splitlines():
                    say(f"       {line}")

        # A bad environment fails start-up, naming the variable.
        startup = startup_check(functions, running)
        results.append(("startup without TABLE_NAME", startup))
        failed = [r for r in results if r[1]]
        say(f"invoke-events: {len(results) - len(failed)} passed, {len(failed)} failed "
            f"({len(EVENTS)} events through {len(running)} functions' real binaries under RIE, "
            f"1 start-up check)")
        return 1 if failed else 0
    finally:
        stop_all()
        emulators.stop()


def startup_check(functions, running):
    name = next(n for n, s in functions.items() if s["binary"] == "presign")
    env = {k: v for k, v in functions[name]["resolved_env"].items() if k != "TABLE_NAME"}
    fn = Function(f"{name}-without-TABLE_NAME", functions[name]["path"], env, LOG_DIR / f"{name}-no-table.log")
    fn.start()
    problem = None
    try:
        http, text = fn.invoke((EVENTS_DIR / "presign.json").read_text(), timeout=60)
        time.sleep(0.2)
        log = fn.log_path.read_text(errors="replace")
        named = [line for line in log.splitlines() if "TABLE_NAME" in line and "configuration error" in line]
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {}
        exited = [line for line in log.splitlines() if "Runtime exited with error: exit status 2" in line]
        if not named:
            problem = f"no start-up message naming TABLE_NAME; RIE answered {http}: {text[:300]}"
        elif not exited or (isinstance(answer, dict) and "statusCode" in answer):
            problem = f"the function did not exit at start-up (exit status 2); RIE answered {http}: {text[:300]}"
        got = f"exit status 2, {named[0].strip()[:100]}" if named else "-"
    except (Failure, OSError) as e:
        problem, got = str(e), "-"
    mark = "ok  " if problem is None else "FAIL"
    say(f"{mark} {'presign without TABLE_NAME':<26} -> exits at start-up naming TABLE_NAME: {got}")
    if problem:
        say(f"     {problem}")
        for line in fn.log_tail().splitlines():
            say(f"       {line}")
    return problem


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--release", action="store_true", help="build and run the release profile's binaries")
    parser.add_argument("--no-build", action="store_true", help="run the binaries already built")
    args = parser.parse_args()

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        sys.exit(run(args))
    except Failure as e:
        say(f"invoke-events: {e}")
        sys.exit(1)
    except subprocess.CalledProcessError as e:
        say(f"invoke-events: {' '.join(e.cmd)} failed ({e.returncode})")
        sys.exit(1)


if __name__ == "__main__":
    main()
