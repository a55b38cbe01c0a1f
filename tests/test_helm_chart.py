"""The Helm chart: lint, render, Kubernetes schemas, and the config it hands the daemon.

helm is the pinned build of deploy/local/tools.sh. Built-in kinds are validated against the
Kubernetes JSON schemas bundled by kubernetes-validate (strict: unknown fields fail) at both
ends of the chart's supported range; the custom resources (ServiceMonitor, PrometheusRule,
ScaledObject) have no bundled schema, so the fields their operators rely on are checked here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from baselines.build import build_baseline
from monitor.app import load_baselines
from monitor.config import load_settings
from tests.support.builders import training

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm/driftwarden"
RELEASE = "dw"
FULLNAME = "dw-driftwarden"
# The chart's floor (Chart.yaml kubeVersion) and the Kubernetes version helm renders for.
KUBERNETES_VERSIONS = ("1.27.0", "1.36.0")
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject"}

# Every toggle on, every optional input given (KEDA stands for autoscaling; the HPA is separate).
ALL_TOGGLES: dict[str, Any] = {
    "config": {
        "models": [{"name": "car-loan", "baseline": "../baselines/car-loan.json"}],
        "segments": {"fields": ["platform", "region"]},
        "kafka": {
            "bootstrap_servers": ["kafka-0.kafka:9093", "kafka-1.kafka:9093"],
            "prediction_topics": ["predictions"],
            "label_topics": ["labels"],
            "alerts_topic": "driftwarden-alerts",
            "dead_letter_topic": "predictions-dead",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "driftwarden",
        },
        "daemon": {"report_path": "/var/lib/driftwarden/report.jsonl"},
        "alertmanager": {"url": "http://alertmanager:9093"},
    },
    "baselines": {"files": {"car-loan.json": '{"format": "placeholder"}'}},
    "kafkaCredentials": {
        "saslPassword": {"secretName": "kafka-user", "key": "password"},
        "sslKeyPassword": {"secretName": "kafka-client", "key": "key-password"},
    },
    "kafkaTls": {
        "secretName": "kafka-client",
        "caKey": "ca.crt",
        "certKey": "tls.crt",
        "keyKey": "tls.key",
    },
    "extraEnv": [{"name": "DRIFTWARDEN_WINDOWS__SIZE", "value": "30m"}],
    "imagePullSecrets": [{"name": "registry"}],
    "serviceAccount": {"annotations": {"team": "ml-platform"}},
    "podAnnotations": {"team": "ml-platform"},
    "podLabels": {"team": "ml-platform"},
    "service": {"annotations": {"team": "ml-platform"}},
    "serviceMonitor": {"enabled": True, "additionalLabels": {"release": "kube-prometheus-stack"}},
    "prometheusRule": {"enabled": True, "additionalLabels": {"release": "kube-prometheus-stack"}},
    "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "ML"}},
    "podDisruptionBudget": {"enabled": True},
    "keda": {"enabled": True, "triggerAuthenticationName": "kafka-user"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "ml", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "driftwarden"}},
                    },
                }
            ]
        }
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "driftwarden"}},
        }
    ],
    "priorityClassName": "ml-monitoring",
}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "all-toggles": ALL_TOGGLES,
    "hpa": {"autoscaling": {"enabled": True}},
    "emptydir": {"persistence": {"enabled": False}},
    "replicas": {"replicaCount": 3},
}
Manifests = list[dict[str, Any]]


@pytest.fixture(scope="session")
def helm() -> Path:
    """The pinned helm binary, built once by deploy/local/tools.sh (a no-op when cached)."""
    script = ROOT / "deploy/local/tools.sh"
    subprocess.run(["bash", str(script), "install"], check=True, timeout=900)
    folder = subprocess.run(
        ["bash", str(script), "bin"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Path(folder) / "helm"


@pytest.fixture(scope="module")
def values_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each variant's values written to a file, by variant name."""
    folder = tmp_path_factory.mktemp("values")
    files = {}
    for name, values in VARIANTS.items():
        files[name] = folder / f"{name}.yaml"
        files[name].write_text(yaml.safe_dump(values), encoding="utf-8")
    return files


def helm_run(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run helm with the chart's folder as the working directory."""
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, cwd=CHART, timeout=120
    )


def template(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart as release dw in namespace ml."""
    return helm_run(helm, "template", RELEASE, str(CHART), "--namespace", "ml", *args)


@pytest.fixture(scope="module")
def rendered(helm: Path, values_files: dict[str, Path]) -> dict[str, Manifests]:
    """Every variant's manifests, by variant name."""
    return {
        name: manifests_of(template(helm, "-f", str(path))) for name, path in values_files.items()
    }


def manifests_of(result: subprocess.CompletedProcess[str]) -> Manifests:
    """The manifests a successful `helm template` printed."""
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def refusal(helm: Path, *args: str) -> str:
    """The one line a render stopped by the chart's own checks prints, without helm's prefix."""
    result = template(helm, *args)
    assert result.returncode != 0
    [line] = [x for x in result.stderr.splitlines() if x.startswith("Error: execution error")]
    return line.split("): ", 1)[1]


def one(manifests: Manifests, kind: str, name: str | None = None) -> dict[str, Any]:
    """The only manifest of a kind (and name, when given)."""
    found = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(found) == 1, [m["metadata"]["name"] for m in found]
    return found[0]


def container(manifests: Manifests) -> dict[str, Any]:
    """The driftwarden container of the StatefulSet."""
    spec = one(manifests, "StatefulSet")["spec"]["template"]["spec"]
    result: dict[str, Any] = spec["containers"][0]
    return result


def rendered_config(manifests: Manifests) -> str:
    """driftwarden.yaml as the config ConfigMap holds it."""
    config: str = one(manifests, "ConfigMap", FULLNAME)["data"]["driftwarden.yaml"]
    return config


def pod_environment(manifests: Manifests) -> dict[str, str]:
    """The container's environment as the kubelet would set it, with made-up secret values."""
    env: dict[str, str] = {}
    for item in container(manifests)["env"]:
        if "value" in item:
            value = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], item["value"])
        elif "fieldRef" in item["valueFrom"]:
            value = f"{FULLNAME}-0"
        elif "resourceFieldRef" in item["valueFrom"]:
            value = "2"  # a CPU limit in whole cores, as the divisor "1" gives it
        else:
            value = "not-a-real-secret"
        env[item["name"]] = value
    return env


@pytest.mark.parametrize("variant", ["defaults", "all-toggles"])
def test_helm_lint_strict_passes(helm: Path, values_files: dict[str, Path], variant: str) -> None:
    """helm lint --strict finds no warning with the defaults and with every toggle on."""
    result = helm_run(helm, "lint", "--strict", str(CHART), "-f", str(values_files[variant]))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_built_in_kinds_match_the_kubernetes_schemas(
    rendered: dict[str, Manifests], variant: str, version: str
) -> None:
    """Every rendered built-in object validates strictly against the Kubernetes schema."""
    checked = []
    for manifest in rendered[variant]:
        if manifest["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(manifest, version, strict=True)
            checked.append(manifest["kind"])
    assert {"StatefulSet", "Service", "ConfigMap"} <= set(checked)


def test_chart_floor_is_the_oldest_version_validated() -> None:
    """Chart.yaml's kubeVersion floor is the oldest Kubernetes version validated against."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}-0"


def test_schema_validation_catches_an_unknown_field(rendered: dict[str, Manifests]) -> None:
    """The strict schemas reject a misspelt field, so the validation above can fail."""
    statefulset = json.loads(json.dumps(one(rendered["defaults"], "StatefulSet")))
    statefulset["spec"]["replicaz"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSIONS[-1], strict=True)


def test_defaults_render_no_optional_object(rendered: dict[str, Manifests]) -> None:
    """With the defaults only the workload and its companions render, no CRD objects."""
    kinds = sorted(m["kind"] for m in rendered["defaults"])
    expected = ["ConfigMap", "PodDisruptionBudget", "Service", "ServiceAccount", "StatefulSet"]
    assert kinds == expected


def test_every_object_carries_the_recommended_labels(rendered: dict[str, Manifests]) -> None:
    """Every object has the app.kubernetes.io name/instance/version/managed-by labels."""
    for manifest in rendered["all-toggles"]:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "driftwarden"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"


def test_service_monitor_scrapes_the_service_port(rendered: dict[str, Manifests]) -> None:
    """The ServiceMonitor selects the Service by its labels and scrapes its http port's /metrics."""
    manifests = rendered["all-toggles"]
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("http", "/metrics")]
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


def test_scrape_job_is_named_driftwarden(rendered: dict[str, Manifests]) -> None:
    """The job label is app.kubernetes.io/name, so the rules' job=~".*driftwarden.*" matches."""
    manifests = rendered["all-toggles"]
    job_label = one(manifests, "ServiceMonitor")["spec"]["jobLabel"]
    assert one(manifests, "Service")["metadata"]["labels"][job_label] == "driftwarden"


def test_service_publishes_pods_that_are_not_ready(rendered: dict[str, Manifests]) -> None:
    """A pod waiting for Kafka stays a scrape target: the headless Service lists unready pods."""
    spec = one(rendered["defaults"], "Service")["spec"]
    assert (spec["clusterIP"], spec["publishNotReadyAddresses"]) == ("None", True)


def test_prometheus_rule_embeds_the_rule_file(rendered: dict[str, Manifests]) -> None:
    """The PrometheusRule's spec is files/prometheus-rules.yaml, with the selection labels."""
    rule = one(rendered["all-toggles"], "PrometheusRule")
    source = (CHART / "files/prometheus-rules.yaml").read_text(encoding="utf-8")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == yaml.safe_load(source)
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert rules and all("expr" in r and ("alert" in r) != ("record" in r) for r in rules)


def test_dashboard_configmap_carries_the_sidecar_label(rendered: dict[str, Manifests]) -> None:
    """The dashboard ConfigMap is labelled grafana_dashboard="1" and holds the dashboard JSON."""
    dashboard = one(rendered["all-toggles"], "ConfigMap", f"{FULLNAME}-dashboard")
    source = (CHART / "files/grafana-dashboard.json").read_text(encoding="utf-8")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "ML"}
    assert json.loads(dashboard["data"]["driftwarden.json"]) == json.loads(source)


def kafka_triggers(manifests: Manifests) -> list[tuple[str, str, str]]:
    """The ScaledObject's Kafka triggers as (consumer group, topic, lag threshold)."""
    triggers = one(manifests, "ScaledObject")["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    return [
        (t["metadata"]["consumerGroup"], t["metadata"]["topic"], t["metadata"]["lagThreshold"])
        for t in triggers
    ]


def test_scaled_object_scales_the_statefulset(rendered: dict[str, Manifests]) -> None:
    """The ScaledObject targets the StatefulSet, and every trigger reaches the configured
    brokers, authenticates as told and never asks for more pods than its topic's partitions."""
    scaled = one(rendered["all-toggles"], "ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("StatefulSet", FULLNAME)
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["authenticationRef"] == {"name": "kafka-user"}
        assert trigger["metadata"]["bootstrapServers"] == "kafka-0.kafka:9093,kafka-1.kafka:9093"
        assert trigger["metadata"]["allowIdleConsumers"] == "false"


def test_scaled_object_scales_on_the_lag_of_both_stages(rendered: dict[str, Manifests]) -> None:
    """KEDA follows the group's lag on every prediction and label topic (stage 1) and the
    stage-2 group's lag on the exchange, each against its own threshold."""
    assert kafka_triggers(rendered["all-toggles"]) == [
        ("driftwarden", "predictions", "10000"),
        ("driftwarden", "labels", "10000"),
        ("driftwarden-stage2", "driftwarden-exchange", "1000"),
    ]


def test_keda_topic_narrows_stage_one_to_that_topic(helm: Path) -> None:
    """keda.topic replaces the source topics KEDA watches; the exchange stays watched."""
    result = template(
        helm,
        "--set",
        "keda.enabled=true",
        "--set",
        "keda.topic=predictions-eu",
        "--set",
        "config.kafka.group_id=ml",
    )
    assert kafka_triggers(manifests_of(result)) == [
        ("ml", "predictions-eu", "10000"),
        ("ml-stage2", "ml-exchange", "1000"),
    ]


def test_autoscaled_statefulset_leaves_replicas_to_the_autoscaler(
    rendered: dict[str, Manifests],
) -> None:
    """With KEDA or the HPA on, the StatefulSet sets no replica count for them to fight over."""
    for variant in ("all-toggles", "hpa"):
        assert "replicas" not in one(rendered[variant], "StatefulSet")["spec"]
    hpa = one(rendered["hpa"], "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (hpa["kind"], hpa["name"]) == ("StatefulSet", FULLNAME)


def exchange_enabled(manifests: Manifests) -> bool | None:
    """config.exchange.enabled in the rendered driftwarden.yaml; None when it is not set."""
    config = yaml.safe_load(rendered_config(manifests))
    enabled: bool | None = config.get("exchange", {}).get("enabled")
    return enabled


def test_one_pod_joins_the_stages_in_memory(rendered: dict[str, Manifests]) -> None:
    """With one replica and no autoscaling the chart leaves exchange mode unset (off)."""
    assert exchange_enabled(rendered["defaults"]) is None


@pytest.mark.parametrize("variant", ["replicas", "hpa", "all-toggles"])
def test_several_pods_run_in_exchange_mode(rendered: dict[str, Manifests], variant: str) -> None:
    """More than one replica, the HPA or KEDA (all-toggles) turn exchange mode on."""
    assert exchange_enabled(rendered[variant]) is True


def test_one_pod_keeps_exchange_mode_when_the_values_ask_for_it(helm: Path) -> None:
    """config.exchange.enabled: true stays on with a single replica (no switch when scaling)."""
    manifests = manifests_of(template(helm, "--set", "config.exchange.enabled=true"))
    assert exchange_enabled(manifests) is True


def test_exchange_turned_off_with_several_pods_fails_with_one_line(helm: Path) -> None:
    """config.exchange.enabled: false with replicas > 1 stops the render naming both ways out."""
    assert refusal(helm, "--set", "replicaCount=2", "--set", "config.exchange.enabled=false") == (
        "config.exchange.enabled is false, but replicaCount is 2: without the exchange every "
        "pod judges only its own share of the traffic; remove config.exchange.enabled (the "
        "chart turns it on for several pods) or run one pod (replicaCount: 1, autoscaling and "
        "keda off)"
    )


def test_exchange_mode_without_static_membership_fails_with_one_line(helm: Path) -> None:
    """staticMembership: false cannot name the pods' producers, so exchange mode refuses it."""
    assert refusal(
        helm, "--set", "autoscaling.enabled=true", "--set", "staticMembership=false"
    ) == (
        "staticMembership is false, but exchange mode needs each pod's name as its "
        "kafka.group_instance_id (it names the pod's transactional producers); set "
        "staticMembership: true"
    )


def test_claims_outlive_a_scale_down(rendered: dict[str, Manifests]) -> None:
    """A removed pod's claim is kept: its report file holds lines no other pod wrote."""
    statefulset = one(rendered["replicas"], "StatefulSet")
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_keda_and_hpa_together_fail_with_one_line(helm: Path) -> None:
    """keda.enabled with autoscaling.enabled stops the render with one line naming both values."""
    result = template(helm, "--set", "keda.enabled=true", "--set", "autoscaling.enabled=true")
    assert result.returncode != 0
    [line] = [x for x in result.stderr.splitlines() if "keda.enabled" in x]
    assert "autoscaling.enabled" in line and "enable only one" in line


def test_schema_rejects_a_wrong_type_naming_the_field(helm: Path) -> None:
    """A string where values.schema.json wants an integer fails the render naming the field."""
    result = template(helm, "--set", "replicaCount=three")
    assert result.returncode != 0
    assert "replicaCount" in result.stderr and "integer" in result.stderr


def test_schema_rejects_a_short_grace_period(helm: Path) -> None:
    """terminationGracePeriodSeconds below 30 s is refused: the daemon needs it to checkpoint."""
    result = template(helm, "--set", "terminationGracePeriodSeconds=10")
    assert result.returncode != 0 and "terminationGracePeriodSeconds" in result.stderr


def test_schema_rejects_an_unknown_top_level_value(helm: Path) -> None:
    """A misspelt top-level value is refused instead of silently ignored."""
    result = template(helm, "--set", "servicemonitor.enabled=true")
    assert result.returncode != 0 and "servicemonitor" in result.stderr


def test_probes_follow_the_daemon_endpoints(rendered: dict[str, Manifests]) -> None:
    """Startup and liveness probe /healthz, readiness probes /readyz, all on the http port."""
    probes = {
        name: container(rendered["defaults"])[f"{name}Probe"]["httpGet"]
        for name in ("startup", "liveness", "readiness")
    }
    assert probes == {
        "startup": {"path": "/healthz", "port": "http"},
        "liveness": {"path": "/healthz", "port": "http"},
        "readiness": {"path": "/readyz", "port": "http"},
    }


def test_http_port_is_the_configured_daemon_port(helm: Path) -> None:
    """The container and Service ports follow config.daemon.http_port."""
    manifests = manifests_of(template(helm, "--set", "config.daemon.http_port=9100"))
    assert container(manifests)["ports"] == [
        {"name": "http", "containerPort": 9100, "protocol": "TCP"}
    ]
    assert one(manifests, "Service")["spec"]["ports"][0]["port"] == 9100
    assert yaml.safe_load(rendered_config(manifests))["daemon"]["http_port"] == 9100


def test_container_is_locked_down(rendered: dict[str, Manifests]) -> None:
    """The container runs non-root on a read-only root with no capabilities and RuntimeDefault."""
    context = container(rendered["defaults"])["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_pod_security_context_is_restricted(rendered: dict[str, Manifests]) -> None:
    """The pod runs as uid 10001 with fsGroup 10001 (the claim is writable) and RuntimeDefault."""
    pod = one(rendered["defaults"], "StatefulSet")["spec"]["template"]["spec"]
    context = pod["securityContext"]
    assert (context["runAsNonRoot"], context["runAsUser"], context["fsGroup"]) == (
        True,
        10001,
        10001,
    )
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False


def test_checkpoint_lives_on_a_claim_per_replica(rendered: dict[str, Manifests]) -> None:
    """By default the data volume is a volumeClaimTemplate and the checkpoint is written on it."""
    statefulset = one(rendered["defaults"], "StatefulSet")
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container(rendered["defaults"])["volumeMounts"]}
    checkpoint = yaml.safe_load(rendered_config(rendered["defaults"]))["daemon"]["checkpoint_path"]
    assert claim["metadata"]["name"] == "data"
    assert checkpoint == f"{mounts['data']}/checkpoint.json"


def test_without_persistence_the_data_volume_is_an_empty_dir(
    rendered: dict[str, Manifests],
) -> None:
    """persistence.enabled=false puts the data volume on an emptyDir and claims nothing."""
    statefulset = one(rendered["emptydir"], "StatefulSet")
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    assert "volumeClaimTemplates" not in statefulset["spec"]
    assert volumes["data"]["emptyDir"] == {"sizeLimit": "1Gi"}


def test_writable_paths_are_volumes(rendered: dict[str, Manifests]) -> None:
    """The only writable mounts are the data volume and /tmp; config and baselines are read-only."""
    mounts = container(rendered["all-toggles"])["volumeMounts"]
    writable = sorted(m["mountPath"] for m in mounts if not m.get("readOnly"))
    assert writable == ["/tmp", "/var/lib/driftwarden"]


def test_grace_period_covers_the_daemon_shutdown(rendered: dict[str, Manifests]) -> None:
    """Pods get at least 30 s after SIGTERM to checkpoint, commit and exit."""
    pod = one(rendered["defaults"], "StatefulSet")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 30


def test_each_pod_is_a_static_group_member(rendered: dict[str, Manifests]) -> None:
    """Each pod's Kafka group_instance_id is its own pod name."""
    env = pod_environment(rendered["defaults"])
    assert env["DRIFTWARDEN_KAFKA__GROUP_INSTANCE_ID"] == f"{FULLNAME}-0"


def test_json_reader_threads_follow_the_cpu_limit(rendered: dict[str, Manifests]) -> None:
    """decode.threads comes from the container's CPU limit in whole cores (Downward API)."""
    env = {e["name"]: e for e in container(rendered["defaults"])["env"]}
    assert env["DRIFTWARDEN_DECODE__THREADS"]["valueFrom"] == {
        "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}
    }


def test_kafka_secrets_come_from_secret_references(rendered: dict[str, Manifests]) -> None:
    """The SASL and key passwords are secretKeyRefs; no secret value is in the config."""
    env = {e["name"]: e for e in container(rendered["all-toggles"])["env"]}
    assert env["DRIFTWARDEN_KAFKA__SASL_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "kafka-user", "key": "password"}
    }
    assert env["DRIFTWARDEN_KAFKA__SSL_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "kafka-client", "key": "key-password"}
    }
    assert "password" not in rendered_config(rendered["all-toggles"])


def test_tls_files_are_mounted_where_the_config_points(rendered: dict[str, Manifests]) -> None:
    """kafkaTls mounts the Secret and the config's ssl_* paths name its keys under that mount."""
    manifests = rendered["all-toggles"]
    kafka = yaml.safe_load(rendered_config(manifests))["kafka"]
    mounts = {m["name"]: m["mountPath"] for m in container(manifests)["volumeMounts"]}
    volumes = one(manifests, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "kafka-tls", "secret": {"secretName": "kafka-client"}} in volumes
    assert (kafka["ssl_cafile"], kafka["ssl_certfile"], kafka["ssl_keyfile"]) == tuple(
        f"{mounts['kafka-tls']}/{key}" for key in ("ca.crt", "tls.crt", "tls.key")
    )


def test_sasl_password_secret_and_password_file_together_fail(helm: Path) -> None:
    """A SASL password Secret with config.kafka.sasl_password_file is refused in one line."""
    result = template(
        helm,
        "--set",
        "kafkaCredentials.saslPassword.secretName=kafka-user",
        "--set",
        "config.kafka.sasl_password_file=/etc/pw",
    )
    assert result.returncode != 0
    assert "sasl_password_file" in result.stderr and "keep only one" in result.stderr


def test_chart_owned_daemon_fields_are_refused_in_values(helm: Path) -> None:
    """config.daemon.checkpoint_path in the values fails the render: the chart places it."""
    result = template(helm, "--set", "config.daemon.checkpoint_path=/data/checkpoint.json")
    assert result.returncode != 0
    assert "config.daemon.checkpoint_path is set by the chart" in result.stderr


def test_inline_baselines_become_a_mounted_config_map(rendered: dict[str, Manifests]) -> None:
    """baselines.files renders a ConfigMap of them, mounted where the config's paths point."""
    manifests = rendered["all-toggles"]
    files = one(manifests, "ConfigMap", f"{FULLNAME}-baselines")["data"]
    volumes = one(manifests, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
    assert files == {"car-loan.json": '{"format": "placeholder"}\n'}
    assert {"name": "baselines", "configMap": {"name": f"{FULLNAME}-baselines"}} in volumes


def test_config_change_rolls_the_pods(helm: Path, rendered: dict[str, Manifests]) -> None:
    """A different config changes the pod template's checksum annotation."""
    other = template(helm, "--set", "config.windows.size=30m")
    before = one(rendered["defaults"], "StatefulSet")["spec"]["template"]["metadata"]
    after = one([d for d in yaml.safe_load_all(other.stdout) if d], "StatefulSet")
    assert (
        after["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        != before["annotations"]["checksum/config"]
    )


def write_pod_files(manifests: Manifests, root: Path) -> Path:
    """Lay out the config and a baseline of car-loan as the pod mounts them; return the config."""
    (root / "config").mkdir()
    (root / "baselines").mkdir()
    config = root / "config/driftwarden.yaml"
    config.write_text(rendered_config(manifests), encoding="utf-8")
    build_baseline(training(300), model="car-loan", prediction="score").save(
        root / "baselines/car-loan.json"
    )
    return config


def config_check(manifests: Manifests, root: Path) -> dict[str, Any]:
    """The effective config `driftwarden config check` prints for pod 0 of ``manifests``."""
    config = write_pod_files(manifests, root)
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **pod_environment(manifests)},
    )
    assert result.returncode == 0, result.stderr
    effective: dict[str, Any] = json.loads(result.stdout)
    return effective


@pytest.mark.parametrize("variant", ["defaults", "all-toggles"])
def test_rendered_config_passes_config_check(
    rendered: dict[str, Manifests], variant: str, tmp_path: Path
) -> None:
    """`driftwarden config check` accepts the rendered config with the pod's environment."""
    effective = config_check(rendered[variant], tmp_path)
    assert effective["kafka"]["group_instance_id"] == f"{FULLNAME}-0"


def test_daemon_runs_several_pods_in_exchange_mode_named_by_pod(
    rendered: dict[str, Manifests], tmp_path: Path
) -> None:
    """With three replicas the daemon accepts the config and sees exchange mode on, with the
    pod's name as the group_instance_id its transactional producers are named after."""
    effective = config_check(rendered["replicas"], tmp_path)
    assert (effective["exchange"]["enabled"], effective["kafka"]["group_instance_id"]) == (
        True,
        f"{FULLNAME}-0",
    )


def test_rendered_config_finds_its_baselines(
    rendered: dict[str, Manifests], tmp_path: Path
) -> None:
    """The default config's baseline path resolves to the baselines mount and loads."""
    config = write_pod_files(rendered["defaults"], tmp_path)
    assert list(load_baselines(load_settings(config))) == ["car-loan"]


def test_baselines_are_mounted_beside_the_config(rendered: dict[str, Manifests]) -> None:
    """The config and baselines mounts are the folders write_pod_files reproduces."""
    mounts = {m["name"]: m["mountPath"] for m in container(rendered["defaults"])["volumeMounts"]}
    assert (mounts["config"], mounts["baselines"]) == (
        "/etc/driftwarden/config",
        "/etc/driftwarden/baselines",
    )
