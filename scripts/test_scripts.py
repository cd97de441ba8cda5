"""The reporting scripts run.sh uses: emf_summary.py (the metrics line printed on Ctrl-C) and
status_tally.py (which documented statuses a Schemathesis run reached). scripts/test.sh runs these
with pytest, beside test_moto_launcher.py.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


emf_summary = load("emf_summary")
status_tally = load("status_tally")


def emf(function: str, route: str | None, metrics: dict, units: dict | None = None, code: str | None = None) -> str:
    """One EMF document as shared/src/api/metrics.rs writes it."""
    dims = ["Function"] + (["Route"] if route else []) + (["Code"] if code else [])
    doc = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "S3Integrations",
                    "Dimensions": [dims],
                    "Metrics": [{"Name": n, "Unit": (units or {}).get(n, "Count")} for n in metrics],
                }
            ],
        },
        "Function": function,
        **({"Route": route} if route else {}),
        **({"Code": code} if code else {}),
        **metrics,
    }
    return json.dumps(doc)


def test_the_metrics_line_sums_counts_per_route_and_shows_error_codes_in_parentheses(tmp_path):
    log = tmp_path / "dev.log"
    log.write_text(
        "\n".join(
            [
                "2026-12-06T12:00:00Z INFO presigned batch",
                emf("presign", "POST /presign", {"Locators": 3, "Urls": 2, "LocatorErrors": 1}),
                emf("presign", "POST /presign", {"Locators": 4, "Urls": 4, "LocatorErrors": 0}),
                emf("presign", "POST /presign", {"LocatorErrors": 1}, code="ASSUME_ROLE_DENIED"),
                "not json {\"_aws\": broken",
                emf("validate", None, {"IntegrationsChecked": 2, "BudgetLeft": 41.5}, units={"BudgetLeft": "Seconds"}),
            ]
        )
        + "\n"
    )
    line = emf_summary.summarize(emf_summary.documents(log))
    assert line == (
        "metrics: presign [POST /presign] Locators=7 Urls=6 LocatorErrors=1 (ASSUME_ROLE_DENIED=1); "
        "validate IntegrationsChecked=2 BudgetLeft=41.5s"
    )


def test_a_log_without_metrics_says_so(tmp_path):
    log = tmp_path / "dev.log"
    log.write_text(emf("presign", "POST /presign", {"Locators": 0}) + "\nplain line\n")
    assert emf_summary.summarize(emf_summary.documents(log)) == (
        "metrics: 1 documents, all counters 0 (nothing presigned, linked or validated)"
    )


def test_an_unreadable_log_is_named_not_a_traceback(tmp_path, capsys):
    assert emf_summary.main(["emf_summary.py", str(tmp_path / "missing.log")]) == 1
    assert "cannot read" in capsys.readouterr().out


DOCUMENT = {
    "paths": {
        "/integrations": {"get": {"responses": {"200": {}, "401": {}, "503": {}}}},
        "/integrations/{id}": {
            "get": {"responses": {"200": {}, "404": {}}},
            "delete": {"responses": {"204": {}, "412": {}}},
        },
    }
}


def har(tmp_path: Path, name: str, answers: list[tuple[str, str, int]]) -> Path:
    path = tmp_path / name
    entries = [
        {"request": {"method": m, "url": f"http://127.0.0.1:3000{p}"}, "response": {"status": s}}
        for m, p, s in answers
    ]
    path.write_text(json.dumps({"log": {"entries": entries}}))
    return path


def test_the_tally_matches_requests_to_their_operation_and_names_what_was_not_reached(tmp_path, capsys):
    import yaml

    doc = tmp_path / "openapi.yaml"
    doc.write_text(yaml.safe_dump(DOCUMENT, sort_keys=False))
    admin = har(
        tmp_path,
        "admin.har",
        [("GET", "/integrations?limit=5", 200), ("GET", "/integrations/01ABC", 404), ("DELETE", "/integrations/x", 204)],
    )
    member = har(tmp_path, "member.har", [("GET", "/integrations", 401), ("GET", "/integrations/01ABC", 200)])
    assert status_tally.main(["status_tally.py", str(doc), str(admin), str(member)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "  GET /integrations: 200 401 503; not reached: 503",
        "  GET /integrations/{id}: 200 404",
        "  DELETE /integrations/{id}: 204 412; not reached: 412",
        "schemathesis reached 5 of the 7 documented statuses; tests/api/statuses.rs makes every one of them occur",
    ]


def test_the_tally_without_reports_is_a_usage_error(capsys):
    assert status_tally.main(["status_tally.py"]) == 2


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
