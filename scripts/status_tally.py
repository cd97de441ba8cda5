#!/usr/bin/env python3
"""Which documented statuses a Schemathesis run reached (scripts/run.sh --schemathesis).

    status_tally.py openapi.yaml RUN.har [RUN.har ...]

Reads the HAR files Schemathesis wrote (`--report har`), matches each request to its operation in
openapi.yaml, and prints one line per operation: the statuses documented, and of them the ones the
run never answered; then the totals. It informs and never fails: fuzzing from the document alone
cannot make a store fail (500, 503), a validation overlap (429) or a conflict with stored state
(409, 412). tests/api/statuses.rs is what makes every documented status occur; an undocumented
status fails Schemathesis's own status_code_conformance check.
"""

import json
import re
import sys
from collections import defaultdict
from urllib.parse import urlsplit

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations(document):
    """[(method, path template, compiled pattern, documented statuses)] in the document's order."""
    found = []
    for path, item in document.get("paths", {}).items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method, operation in item.items():
            if method in METHODS:
                statuses = sorted(int(s) for s in operation.get("responses", {}) if s.isdigit())
                found.append((method.upper(), path, pattern, statuses))
    return found


def reached(har_paths, known):
    """{(METHOD, path template): {status}} over every entry of the HAR files."""
    answered = defaultdict(set)
    for har_path in har_paths:
        with open(har_path, encoding="utf-8") as f:
            har = json.load(f)
        for entry in har.get("log", {}).get("entries", []):
            method = entry["request"]["method"].upper()
            path = urlsplit(entry["request"]["url"]).path
            for op_method, template, pattern, _ in known:
                if op_method == method and pattern.match(path):
                    answered[(method, template)].add(int(entry["response"]["status"]))
                    break
    return answered


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        known = operations(yaml.safe_load(f))
    answered = reached(argv[2:], known)
    documented_total = reached_total = 0
    for method, template, _, statuses in known:
        seen = answered.get((method, template), set())
        missing = [s for s in statuses if s not in seen]
        documented_total += len(statuses)
        reached_total += len(statuses) - len(missing)
        tail = f"; not reached: {' '.join(map(str, missing))}" if missing else ""
        print(f"  {method} {template}: {' '.join(map(str, statuses))}{tail}")
    print(
        f"schemathesis reached {reached_total} of the {documented_total} documented statuses; "
        "tests/api/statuses.rs makes every one of them occur"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
