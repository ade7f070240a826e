"""The Kubernetes manifests: each overlay rendered by kustomize and checked object by object.

Every built-in object is validated offline against the Kubernetes OpenAPI schemas of the pinned
version (kubernetes-validate, strict: unknown fields are errors). Custom resources (ServiceMonitor,
External Secrets) have no schema there; they are checked by the assertions below. No cluster runs
here, so nothing is applied.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_support import ROOT, public_get_routes, setting_names

from compliance_shield import __version__
from compliance_shield.settings import Settings

K8S = ROOT / "deploy" / "k8s"
#: the Kubernetes version the manifests are validated against (EKS standard support)
KUBERNETES_VERSION = "1.33.0"
OVERLAYS = ("dev", "prod")
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ExternalSecret", "SecretStore"}
WORKERS = ("relay", "consumer", "oracle", "indexer")
APP_IMAGE = "compliance-shield-api"
Doc = dict[str, Any]


def _render(overlay: str) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is missing (scripts/test installs it when it can)"
    out = subprocess.run(  # noqa: S603 - kubectl from PATH, a fixed argument list
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    return {overlay: _render(overlay) for overlay in OVERLAYS}


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def _app_containers(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for where, spec in _pod_specs(docs):
        for container in spec["containers"]:
            if APP_IMAGE in container["image"]:
                yield where, container


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_matches_the_kubernetes_schemas(rendered: dict[str, list[Doc]], overlay: str) -> None:
    custom = set()
    for doc in rendered[overlay]:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            custom.add(doc["kind"])
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert custom <= CUSTOM_KINDS, f"no schema for {custom - CUSTOM_KINDS}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_guides_names_are_kept(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    namespace = _one(docs, "Namespace", "compliance-shield")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"].get("namespace") == "compliance-shield" for d in docs if d["kind"] != "Namespace")
    _one(docs, "ConfigMap", "compliance-config")
    api = _one(docs, "Deployment", "compliance-api")
    assert [c["name"] for c in api["spec"]["template"]["spec"]["containers"]] == ["api"]
    _one(docs, "HorizontalPodAutoscaler", "compliance-api-hpa")
    _one(docs, "PodDisruptionBudget", "compliance-api")
    _one(docs, "Ingress", "compliance-api")
    _one(docs, "ServiceMonitor", "compliance-api")
    migrate = _one(docs, "Job", "compliance-migrate")
    assert migrate["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    for worker in WORKERS:
        deployment = _one(docs, "Deployment", f"compliance-{worker}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["worker", worker]


def test_the_production_hpa_scales_3_to_10_on_cpu_70_and_memory_80(rendered: dict[str, list[Doc]]) -> None:
    hpa = _one(rendered["prod"], "HorizontalPodAutoscaler", "compliance-api-hpa")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "compliance-api"}


def test_databases_run_in_the_cluster_only_in_dev(rendered: dict[str, list[Doc]]) -> None:
    assert {d["metadata"]["name"] for d in rendered["dev"] if d["kind"] == "StatefulSet"} == {"postgres", "kafka"}
    assert not [d for d in rendered["prod"] if d["kind"] == "StatefulSet"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_name_routes_that_exist_on_a_declared_port(rendered: dict[str, list[Doc]], overlay: str) -> None:
    routes = public_get_routes()
    probed = 0
    for where, container in _app_containers(rendered[overlay]):
        ports = {p["name"] for p in container.get("ports", [])} | {
            p["containerPort"] for p in container.get("ports", [])
        }
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            http = container.get(probe, {}).get("httpGet")
            if http is None:
                continue
            probed += 1
            assert http["path"] in routes, f"{where} {probe}: {http['path']} is not served"
            assert http["port"] in ports, f"{where} {probe}: port {http['port']} is not declared"
    api = _one(rendered[overlay], "Deployment", "compliance-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert "startupProbe" in api
    assert probed >= 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_environment_name_the_service_gets_is_a_setting(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    names: dict[str, set[str]] = {}
    config = _one(docs, "ConfigMap", "compliance-config")
    names["ConfigMap compliance-config"] = set(config["data"])
    for doc in docs:
        if doc["kind"] == "Secret" and doc["metadata"]["name"].startswith("compliance-secrets"):
            names["Secret compliance-secrets"] = set(doc.get("data", {})) | set(doc.get("stringData", {}))
        if doc["kind"] == "ExternalSecret":
            names[f"ExternalSecret {doc['metadata']['name']}"] = set(doc["spec"]["target"]["template"]["data"])
    assert any(k.startswith(("Secret", "ExternalSecret")) for k in names), "the overlay provides no compliance-secrets"
    for where, container in _app_containers(docs):
        names[where] = {e["name"] for e in container.get("env", [])}
        refs = {r.get("configMapRef", r.get("secretRef", {})).get("name", "") for r in container["envFrom"]}
        assert any(r.startswith("compliance-config") for r in refs), where
        assert any(r.startswith("compliance-secrets") for r in refs), where
    for where, listed in names.items():
        assert not listed - setting_names(), f"{overlay} {where}: {sorted(listed - setting_names())} are not settings"
    template = yaml.safe_load((K8S / "secret.template.yaml").read_text())
    assert not set(template["stringData"]) - setting_names()
    assert all(v.startswith("<") and v.endswith(">") for v in template["stringData"].values()), "no real values"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_container_runs_as_root_or_outside_the_restricted_profile(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    for where, spec in _pod_specs(rendered[overlay]):
        pod = spec.get("securityContext", {})
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        for container in spec["containers"] + spec.get("initContainers", []):
            own = container.get("securityContext", {})
            assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
            assert own.get("runAsUser", pod.get("runAsUser", 0)) != 0, where
            assert own["allowPrivilegeEscalation"] is False, where
            assert own["capabilities"]["drop"] == ["ALL"], where
            if APP_IMAGE in container["image"]:
                assert own["readOnlyRootFilesystem"] is True, where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(rendered: dict[str, list[Doc]], overlay: str) -> None:
    for where, spec in _pod_specs(rendered[overlay]):
        for container in spec["containers"]:
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), f"{where}/{container['name']}: {part}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_ingress_and_monitor_reach_the_api_containers_port(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    service = _one(docs, "Service", "compliance-api")["spec"]
    api = _one(docs, "Deployment", "compliance-api")["spec"]["template"]
    assert service["selector"].items() <= api["metadata"]["labels"].items()
    (port,) = service["ports"]
    assert port["port"] == 80
    container_ports = {p["name"]: p["containerPort"] for p in api["spec"]["containers"][0]["ports"]}
    target = container_ports[port["targetPort"]] if isinstance(port["targetPort"], str) else port["targetPort"]
    assert target in container_ports.values()
    config = _one(docs, "ConfigMap", "compliance-config")["data"]
    assert int(config["PORT"]) == target, "the server must listen where the Service sends traffic"
    backend = _one(docs, "Ingress", "compliance-api")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "compliance-api", "port": {"name": port["name"]}}
    monitor = _one(docs, "ServiceMonitor", "compliance-api")["spec"]
    assert (
        monitor["selector"]["matchLabels"].items()
        <= _one(docs, "Service", "compliance-api")["metadata"]["labels"].items()
    )
    assert [(e["port"], e["path"]) for e in monitor["endpoints"]] == [(port["name"], "/metrics")]
    assert "/metrics" in public_get_routes()
    pdb = _one(docs, "PodDisruptionBudget", "compliance-api")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= api["metadata"]["labels"].items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_open_the_data_ports(rendered: dict[str, list[Doc]], overlay: str) -> None:
    policies = [d for d in rendered[overlay] if d["kind"] == "NetworkPolicy"]
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] and "egress" not in p["spec"]
    ]
    assert deny, "no default-deny policy"
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for where, spec in _pod_specs(rendered[overlay]):
        if not any(APP_IMAGE in c["image"] for c in spec["containers"]):
            continue
        labels = next(d for d in rendered[overlay] if f"{d['kind']}/{d['metadata']['name']}" == where)
        pod_labels = labels["spec"]["template"]["metadata"]["labels"]
        egress_ports = {
            port["port"]
            for p in policies
            if p["spec"]["podSelector"].get("matchLabels", {}).items() <= pod_labels.items()
            and not p["spec"]["podSelector"].get("matchExpressions")
            for rule in p["spec"].get("egress", [])
            for port in rule.get("ports", [])
        }
        assert {53, 5432} <= egress_ports, f"{where} cannot reach DNS and PostgreSQL"


def test_images_are_tagged_with_the_release_version(rendered: dict[str, list[Doc]]) -> None:
    for overlay, docs in rendered.items():
        images = {c["image"] for _, c in _app_containers(docs)}
        assert len(images) == 1, f"{overlay}: one image for the API, the migration and the workers: {images}"
        assert images.pop().endswith(f"{APP_IMAGE}:{__version__}"), overlay


def test_the_audit_policy_records_secret_access_without_content() -> None:
    policy = yaml.safe_load((K8S / "audit-policy.yaml").read_text())
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    rules = policy["rules"]
    # the first matching rule decides: secrets must be matched before any RequestResponse rule
    first_secret_rule = next(
        i for i, r in enumerate(rules) if any("secrets" in g.get("resources", []) for g in r.get("resources", []))
    )
    assert rules[first_secret_rule]["level"] == "Metadata"
    assert all(r["level"] != "RequestResponse" for r in rules[:first_secret_rule])
    assert rules[-1]["level"] != "None", "whatever is not matched is still recorded"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_worker_serves_metrics_and_health_on_its_own_port_and_is_scraped(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    defaults = Settings.model_fields
    for worker in WORKERS:
        container = _one(rendered[overlay], "Deployment", f"compliance-{worker}")["spec"]["template"]["spec"][
            "containers"
        ][0]
        metrics = next(p for p in container["ports"] if p["name"] == "metrics")
        assert metrics["containerPort"] == defaults[f"{worker}_metrics_port"].default, worker
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}
    monitor = _one(rendered[overlay], "PodMonitor", "compliance-workers")
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/component": "worker"}
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    scraped = _one(rendered[overlay], "NetworkPolicy", "compliance-workers-metrics")["spec"]["ingress"][0]
    assert scraped["ports"] == [{"protocol": "TCP", "port": "metrics"}]
