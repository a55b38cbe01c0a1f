"""The alert rules, their promtool unit tests, the Alertmanager example and the runbook agree.

promtool, amtool and Alertmanager are Debian's, unpacked by ``deploy/local/prometheus.sh
install`` (no network once cached).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.sinks.alertmanager import DRIFT_CHECKS, runbook_anchor
from tests.support.ports import free_loopback_ports
from tests.support.prometheus import Service, http_get, install_binaries, start_alertmanager
from tests.support.promql import aggregated_over_pods, process_series

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "helm" / "driftwarden" / "files" / "prometheus-rules.yaml"
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yaml"))
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/driftwarden/driftwarden/blob/main/docs/runbook.md#"

CATALOGUE = {
    "DriftwardenFeatureDrift": {"warning", "critical"},
    "DriftwardenPredictionDrift": {"warning", "critical"},
    "DriftwardenPerformanceDrop": {"warning", "critical"},
    "DriftwardenConceptDrift": {"warning", "critical"},
    "DriftwardenCriticalFeatureMissing": {"critical"},
    "DriftwardenMissingValues": {"warning"},
    "DriftwardenDataQuality": {"warning", "critical"},
    "DriftwardenCanaryDrift": {"warning", "critical"},
    "DriftwardenDataStale": {"warning", "critical"},
    "DriftwardenRejectedEvents": {"warning", "critical"},
    "DriftwardenConsumerLag": {"warning", "critical"},
    "DriftwardenDown": {"critical"},
}
"""Every alert name and the severities it fires at (critical = intervention = pages)."""


@pytest.fixture(scope="module")
def binaries() -> Path:
    """Folder of promtool, amtool and prometheus-alertmanager."""
    return install_binaries()


def run_tool(binaries: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run one of the unpacked binaries from the repository root."""
    return subprocess.run(
        [str(binaries / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of the rules file."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def kebab(name: str) -> str:
    """``DriftwardenFeatureDrift`` → ``driftwarden-feature-drift``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_anchors() -> set[str]:
    """Anchors of docs/runbook.md: its headings (outside code blocks) and explicit ids."""
    text = RUNBOOK.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    headings = re.findall(r"^#{1,6} (.+)$", prose, flags=re.M)
    return {github_anchor(h) for h in headings} | set(re.findall(r'<a id="([^"]+)"></a>', text))


def expected_alerts() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(alertname, expected alerts) of every alert_rule_test in the promtool test files."""
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test", []):
                yield case["alertname"], case.get("exp_alerts") or []


def test_rules_file_passes_promtool_check(binaries: Path) -> None:
    """promtool check rules accepts the chart's rules file, lint included."""
    done = run_tool(binaries, "promtool", "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("rule_test", RULE_TESTS, ids=lambda path: path.stem)
def test_promtool_unit_tests_pass(binaries: Path, rule_test: Path) -> None:
    """Each promtool unit test file of deploy/prometheus/tests passes against the rules."""
    done = run_tool(binaries, "promtool", "test", "rules", str(rule_test))
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_config_loads_the_chart_rules(binaries: Path) -> None:
    """deploy/prometheus/prometheus.yml is valid and loads the chart's rules file."""
    done = run_tool(binaries, "promtool", "check", "config", str(PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    loaded = [(PROMETHEUS_CONFIG.parent / path).resolve() for path in config["rule_files"]]
    assert loaded == [RULES]


def test_alertmanager_config_passes_amtool_check(binaries: Path) -> None:
    """amtool check-config accepts deploy/alertmanager/alertmanager.yml."""
    done = run_tool(binaries, "amtool", "check-config", str(ALERTMANAGER_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("severity", "receiver"), [("critical", "pager"), ("warning", "chat")])
def test_alertmanager_routes_by_severity(binaries: Path, severity: str, receiver: str) -> None:
    """Critical alerts go to the pager receiver and warnings to the chat receiver."""
    done = run_tool(
        binaries,
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        "alertname=DriftwardenFeatureDrift",
        "model=car-loan",
        f"severity={severity}",
    )
    assert done.stdout.strip() == receiver


def test_rules_reading_process_series_aggregate_them_over_pods() -> None:
    """Every rule reading a process series (each pod exports its own) aggregates it over pod and
    instance, so N replicas fire once with the group's totals (promtool: replicas.yaml)."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    exprs = [rule["expr"] for group in groups for rule in group["rules"]]
    read = [(expr, name) for expr in exprs for name in sorted(process_series(expr))]
    assert len({name for _, name in read}) >= 4
    assert [(e, name) for e, name in read if not aggregated_over_pods(e, name)] == []


def test_every_catalogue_alert_has_exactly_its_tiers() -> None:
    """The rules define each catalogue alert at exactly its severities, and no other alert."""
    tiers: dict[str, set[str]] = {}
    for rule in alert_rules():
        tiers.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert tiers == CATALOGUE


def test_every_alert_has_its_labels_and_annotations() -> None:
    """Every rule sets severity and carries summary, description and runbook_url."""
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]


def test_every_firing_alert_in_the_unit_tests_carries_model_and_subject() -> None:
    """Every alert the promtool tests expect carries severity, model and subject labels."""
    for alertname, alerts in expected_alerts():
        for alert in alerts:
            assert {"severity", "model", "subject"} <= set(alert["exp_labels"]), alertname


def test_unit_tests_cover_every_alert_firing_at_each_tier_and_staying_quiet() -> None:
    """Each (alert, severity) fires in some promtool test, and each alert is quiet in one."""
    fired: dict[str, set[str]] = {}
    quiet: set[str] = set()
    for alertname, alerts in expected_alerts():
        if not alerts:
            quiet.add(alertname)
        for alert in alerts:
            fired.setdefault(alertname, set()).add(alert["exp_labels"]["severity"])
    assert fired == CATALOGUE
    assert quiet == set(CATALOGUE)


def test_every_runbook_url_points_to_its_alert_section() -> None:
    """Each runbook_url is the runbook's address plus the kebab-case alert name, a real anchor."""
    anchors = runbook_anchors()
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        assert url == RUNBOOK_URL + kebab(rule["alert"])
        assert kebab(rule["alert"]) in anchors


@pytest.mark.parametrize("subject", ["car_value", "prediction", "performance"])
@pytest.mark.parametrize(
    "check",
    [*sorted(DRIFT_CHECKS), "missing_rate", "unseen_rate", "out_of_range_rate", "roc_auc", "mae"],
)
def test_daemon_runbook_anchors_exist(subject: str, check: str) -> None:
    """Every anchor the daemon's own Alertmanager sink links to is a section of the runbook."""
    assert runbook_anchor(subject, check) in runbook_anchors()


def test_runbook_links_within_the_page_resolve() -> None:
    """Every #link inside docs/runbook.md leads to an anchor of the page."""
    links = set(re.findall(r"\]\(#([^)]+)\)", RUNBOOK.read_text(encoding="utf-8")))
    assert links - runbook_anchors() == set()


def post_alerts(url: str, alerts: list[tuple[str, str, str, str]]) -> None:
    """Fire (alertname, severity, model, subject) alerts through Alertmanager's v2 API."""
    names = ("alertname", "severity", "model", "subject")
    body = json.dumps([{"labels": dict(zip(names, alert, strict=True))} for alert in alerts])
    request = urllib.request.Request(
        url + "/api/v2/alerts", body.encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def inhibited_alerts(url: str, expected: int, timeout_s: float = 20.0) -> set[tuple[str, str, str]]:
    """(alertname, model, subject) of the inhibited alerts once ``expected`` alerts are known."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = http_get(url + "/api/v2/alerts")
        alerts = json.loads(body) if status == 200 else []
        inhibited = {
            (a["labels"]["alertname"], a["labels"]["model"], a["labels"]["subject"])
            for a in alerts
            if a["status"]["inhibitedBy"]
        }
        if (len(alerts) == expected and inhibited) or time.monotonic() > deadline:
            return inhibited
        time.sleep(0.2)


@pytest.fixture
def alertmanager(binaries: Path, tmp_path: Path) -> Iterator[Service]:
    """Alertmanager running the example config as is."""
    port = free_loopback_ports(1)[0]
    config = ALERTMANAGER_CONFIG.read_text(encoding="utf-8")
    service = start_alertmanager(binaries, tmp_path / "alertmanager", config, port)
    yield service
    service.stop()


def test_a_critical_alert_inhibits_warnings_of_the_same_model_and_subject(
    alertmanager: Service,
) -> None:
    """A critical alert mutes warnings of its model and subject, whatever their alertname."""
    post_alerts(
        alertmanager.url,
        [
            ("DriftwardenCriticalFeatureMissing", "critical", "car-loan", "car_value"),
            ("DriftwardenMissingValues", "warning", "car-loan", "car_value"),
            ("DriftwardenFeatureDrift", "warning", "car-loan", "car_value"),
            ("DriftwardenFeatureDrift", "warning", "car-loan", "loan_length"),
            ("DriftwardenMissingValues", "warning", "churn", "car_value"),
        ],
    )
    assert inhibited_alerts(alertmanager.url, expected=5) == {
        ("DriftwardenMissingValues", "car-loan", "car_value"),
        ("DriftwardenFeatureDrift", "car-loan", "car_value"),
    }
