#!/usr/bin/env python3
"""Sums the CloudWatch EMF documents in a log into one line (README, Deploy, "Metrics and alarms").

    scripts/emf_summary.py LOG

scripts/run.sh runs it on the dev server's log when it stops. A metrics document is a line that is
a JSON object with an `_aws` member (shared/src/api/metrics.rs writes them bare, one per line).
Counts are summed per function and route; counts by error code go in parentheses after their
route; other units (RunDuration, BudgetLeft) show the last value. Standard library only.
"""

import json
import sys
from collections import OrderedDict


def documents(path):
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            start = line.find('{"_aws"')
            if start < 0:
                continue
            try:
                doc = json.loads(line[start:])
            except ValueError:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("_aws"), dict):
                yield doc


def summarize(docs):
    groups = OrderedDict()  # (function, route) -> {"counts": {name: sum}, "codes": {code: sum}, "last": {}}
    seen = 0
    for doc in docs:
        seen += 1
        for directive in doc["_aws"].get("CloudWatchMetrics", []):
            dims = [name for names in directive.get("Dimensions", []) for name in names]
            group = groups.setdefault(
                (doc.get("Function", "?"), doc.get("Route") if "Route" in dims else None),
                {"counts": OrderedDict(), "codes": OrderedDict(), "last": OrderedDict()},
            )
            for metric in directive.get("Metrics", []):
                name, value = metric.get("Name"), doc.get(metric.get("Name"))
                if not isinstance(value, (int, float)):
                    continue
                if "Code" in dims:
                    code = doc.get("Code", "?")
                    group["codes"][code] = group["codes"].get(code, 0) + value
                elif metric.get("Unit", "Count") == "Count":
                    group["counts"][name] = group["counts"].get(name, 0) + value
                else:
                    unit = {"Seconds": "s", "Milliseconds": "ms"}.get(metric.get("Unit"), "")
                    group["last"][name] = f"{value:.3g}{unit}"
    parts = []
    for (function, route), group in groups.items():
        fields = [f"{n}={v:g}" for n, v in group["counts"].items() if v]
        fields += [f"{n}={v}" for n, v in group["last"].items()]
        if group["codes"]:
            fields.append("(" + " ".join(f"{c}={v:g}" for c, v in group["codes"].items()) + ")")
        if fields:
            parts.append(f"{function}{f' [{route}]' if route else ''} " + " ".join(fields))
    if not parts:
        return f"metrics: {seen} documents, all counters 0 (nothing presigned, linked or validated)"
    return "metrics: " + "; ".join(parts)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        print(summarize(documents(argv[1])))
    except OSError as err:
        print(f"metrics: cannot read {argv[1]}: {err.strerror}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
