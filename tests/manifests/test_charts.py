"""Every chart this stack deploys, rendered for real at its pin with the values we pass.

The sources are found, not listed: the argo-cd release of components/argocd.py (`helm_values`) and
every Helm-sourced Application under manifests/argocd/apps/ (its `valuesObject`/`values`), so a
chart a new Application adds is covered by these tests without touching them. Each is rendered
from ../shared/charts with the pinned helm (tools/charts.py; a missing chart names the directory
and what it holds), as ArgoCD renders it: with the custom API versions the cluster serves by the
Application's wave (`served_before`). Checks:

- the pin: every chart key of versions.yaml and every Application's targetRevision is a chart that
  ../shared/charts holds at exactly that version (and the two agree);
- every values key we set exists in the chart (or the subchart it belongs to); a chart whose values
  hold maps of free keys (argo-cd's `configs.cm`) lists them in OPEN_MAPS, and what we put there
  is checked where it lands;
- every rendered object validates strictly: core kinds with kubernetes-validate's strict schemas,
  custom resources with the openAPIV3Schema of the CRDs the rendered charts ship (closed the way
  the API server's strict field validation is);
- what ArgoCD and the monitoring stack read lands where they read it (argocd-secret, argocd-cm,
  the Prometheus and Alertmanager resources), and the stack scrapes nothing the kubeadm bind
  addresses and the security groups make unreachable.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from components.argocd import APPLICATION_HEALTH_LUA, NAMESPACE, POD_COMPONENTS, argocd_secret_data
from components.security import RULES
from tests.support.charts import (
    FAKE_DOMAIN,
    KUBEADM_CONFIG,
    SOURCES,
    VERSIONS,
    VOLUME_SNAPSHOT_CLASS_V1,
    Doc,
    Source,
    archive,
    argocd_values,
    kube_version,
    rendered,
    served_before,
)
from tests.support.manifests import strict_schema, validate_core
from tests.support.paths import ROOT
from tests.support.prereqs import require, require_helm
from tools.charts import CHARTS_DIR, ChartError, chart_archive, render, unknown_value_keys

ARGOCD_MONITOR = ROOT / "manifests" / "infrastructure" / "service-monitors" / "argocd" / "servicemonitor.yaml"

FAKE_BCRYPT = "$2a$10$abcdefghijklmnopqrstuuQ1x0xW9l0L5y4m7bqG2kq7H8kzOa9rS"
FAKE_MTIME = "2026-11-30T12:00:00Z"


def chart_name(versions_key: str) -> str:
    """argoCdChart -> argo-cd (the inverse of tests/manifests/test_manifests.py's chart -> key rule)."""
    return re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), versions_key.removesuffix("Chart"))


def chart_keys() -> list[str]:
    return sorted(k for k in VERSIONS if k.endswith("Chart") and f"{k}Repo" in VERSIONS)


# --------------------------------------------------------------------------------------------
# The sources: the argo-cd release and every Helm-sourced Application


def one(objects: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, rendered {[o['metadata']['name'] for o in found]}"
    return found[0]


# --------------------------------------------------------------------------------------------
# Pins


def test_applications_render_with_the_crds_of_earlier_waves_served() -> None:
    assert served_before(SOURCES["release:argocd"]) == []
    crds_wave = served_before(SOURCES["app:monitoring-crds"])
    assert "argoproj.io/v1alpha1/Application" in crds_wave
    assert "monitoring.coreos.com/v1" not in crds_wave
    assert "monitoring.coreos.com/v1/ServiceMonitor" in served_before(SOURCES["app:monitoring-stack"])


def test_every_helm_application_and_the_release_are_covered() -> None:
    ids = set(SOURCES)
    assert {"release:argocd", "app:monitoring-crds", "app:monitoring-stack"} <= ids
    charts_used = {s.chart for s in SOURCES.values()}
    assert {chart_name(k) for k in chart_keys()} <= charts_used, "a chart pinned in versions.yaml that nothing deploys"


@pytest.mark.parametrize("key", chart_keys())
def test_versions_yaml_pins_a_chart_that_shared_charts_holds(key: str) -> None:
    require(CHARTS_DIR.is_dir(), f"the packaged charts are not at {CHARTS_DIR} (shared/charts beside the checkout)")
    chart_archive(chart_name(key), str(VERSIONS[key]))  # raises ChartError naming what is there


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_every_source_is_at_its_versions_yaml_pin_and_packaged(source_id: str) -> None:
    source = SOURCES[source_id]
    key = re.sub(r"-(\w)", lambda m: m.group(1).upper(), source.chart) + "Chart"
    assert str(VERSIONS.get(key)) == source.version, f"{source_id}: {source.chart} {source.version} vs versions.yaml"
    archive(source)


def test_a_drifted_pin_fails_with_what_is_there() -> None:
    require(CHARTS_DIR.is_dir(), f"the packaged charts are not at {CHARTS_DIR} (shared/charts beside the checkout)")
    with pytest.raises(ChartError, match=r"kube-prometheus-stack 88\.5\.4 is not packaged .*88\.5\.3\.tgz"):
        chart_archive("kube-prometheus-stack", "88.5.4")


def test_no_object_is_rendered_by_two_sources() -> None:
    """Two owners of one object fight (ArgoCD's SharedResourceWarning, each sync undoing the other)."""
    owners: dict[str, list[str]] = {}
    for source_id in SOURCES:
        for o in rendered(source_id):
            key = f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
            owners.setdefault(key, []).append(source_id)
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert not shared, shared


# --------------------------------------------------------------------------------------------
# Values keys


# Maps whose keys are data, not chart settings: argo-cd copies configs.cm/params/rbac verbatim into
# argocd-cm / argocd-cmd-params-cm / argocd-rbac-cm; what we put there is checked where it lands.
OPEN_MAPS = {
    "argo-cd": ("configs.cm.", "configs.params.", "configs.rbac."),
    # The chart copies controller.affinity verbatim into the pod spec (toYaml): a Kubernetes
    # Affinity, validated where it lands (the rendered Deployment against the core schema).
    "aws-ebs-csi-driver": ("controller.affinity.",),
}


def unknown_keys(source: Source, values: Mapping[str, Any]) -> list[str]:
    open_prefixes = OPEN_MAPS.get(source.chart, ())
    return [k for k in unknown_value_keys(archive(source), values) if not k.startswith(open_prefixes)]


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_every_values_key_exists_in_the_chart(source_id: str) -> None:
    source = SOURCES[source_id]
    assert unknown_keys(source, source.values) == [], f"{source_id} sets keys {source.chart} does not have"


@pytest.mark.parametrize(
    ("source_id", "path"),
    [
        ("release:argocd", ("controller", "resourcez")),
        ("release:argocd", ("configs", "secret", "createSecrett")),
        ("app:monitoring-stack", ("prometheus", "prometheusSpec", "retentionSzie")),
        ("app:monitoring-stack", ("alertmanager", "alertmanagerSpec", "storag")),
    ],
)
def test_a_misspelled_values_key_fails(source_id: str, path: tuple[str, ...]) -> None:
    source = SOURCES[source_id]
    values = copy.deepcopy(dict(source.values))
    node = values
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "x"
    assert unknown_keys(source, values) == [".".join(path)]


# --------------------------------------------------------------------------------------------
# Strict schemas


def crd_validators(objects: list[Doc]) -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> a strict validator of that version's openAPIV3Schema."""
    from jsonschema import Draft7Validator

    validators = {}
    for crd in objects:
        if crd["kind"] != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict_schema(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            validators[(f"{group}/{version['name']}", kind)] = Draft7Validator(schema)
    return validators


@functools.cache
def all_crd_validators() -> dict[tuple[str, str], Any]:
    """The CRDs every rendered source ships: a chart's custom resources may need another's CRDs."""
    from jsonschema import Draft7Validator

    validators = {
        ("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"): Draft7Validator(
            strict_schema(copy.deepcopy(VOLUME_SNAPSHOT_CLASS_V1))
        )
    }
    for source_id in SOURCES:
        validators.update(crd_validators(rendered(source_id)))
    return validators


def schema_errors(doc: Doc, validators: Mapping[tuple[str, str], Any]) -> list[str]:
    api_version, kind = doc["apiVersion"], doc["kind"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    validator = validators.get((api_version, kind))
    if validator is None:
        if "." in group and group != "rbac.authorization.k8s.io" and not group.endswith(".k8s.io"):
            return [f"no CRD among the rendered charts defines {api_version} {kind}"]
        return validate_core(doc, kube_version())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_every_rendered_object_validates_strictly(source_id: str) -> None:
    objects = rendered(source_id)
    assert objects, f"{source_id} renders nothing"
    validators = all_crd_validators()
    failures = {
        f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": errors
        for o in objects
        if (errors := schema_errors(o, validators))
    }
    assert not failures, json.dumps(failures, indent=2)


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [
        ("Prometheus", lambda d: d["spec"].update(retentionSzie="1GB"), "retentionSzie"),
        ("Alertmanager", lambda d: d["spec"]["storage"]["volumeClaimTemplate"].update(spc={}), "spc"),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(prot="x"), "prot"),
        ("Deployment", lambda d: d["spec"]["template"]["spec"].update(nodeSelektor={}), "nodeSelektor"),
    ],
)
def test_strict_validation_rejects_what_the_api_server_would(kind: str, mutate: Any, expected: str) -> None:
    doc = next(o for o in rendered("app:monitoring-stack") if o["kind"] == kind)
    validators = all_crd_validators()
    assert schema_errors(doc, validators) == []
    mutate(doc)
    assert expected in " ".join(schema_errors(doc, validators))


def test_a_custom_resource_without_a_crd_fails() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    expected = ["no CRD among the rendered charts defines example.com/v1 Widget"]
    assert schema_errors(doc, all_crd_validators()) == expected


# --------------------------------------------------------------------------------------------
# ArgoCD: what it reads lands where it reads it


def test_argocd_secret_is_pulumis_and_holds_the_keys_argocd_reads() -> None:
    # Pulumi creates argocd-secret (components/argocd.py) so the Helm values stay free of secrets;
    # the chart must not render one over it.
    assert not [
        o for o in rendered("release:argocd") if o["kind"] == "Secret" and o["metadata"]["name"] == "argocd-secret"
    ]
    data = argocd_secret_data(FAKE_BCRYPT, FAKE_MTIME)
    assert data == {"admin.password": FAKE_BCRYPT, "admin.passwordMtime": FAKE_MTIME}


def test_argocd_cm_holds_every_setting_we_pass() -> None:
    objects = rendered("release:argocd")
    values = argocd_values()["configs"]
    for name, ours in (("argocd-cm", values["cm"]), ("argocd-cmd-params-cm", values["params"])):
        data = one(objects, "ConfigMap", name)["data"]
        for key, value in ours.items():
            expected = str(value).lower() if isinstance(value, bool) else str(value)
            assert data.get(key) == expected, f"{name}: {key} dropped or changed"
    cm = one(objects, "ConfigMap", "argocd-cm")["data"]
    assert cm["resource.customizations.health.argoproj.io_Application"] == APPLICATION_HEALTH_LUA
    assert cm["url"] == f"https://{FAKE_DOMAIN}"
    # Argo CD 3.x: annotation tracking is the default; we rely on it and set no label key override.
    assert "application.resourceTrackingMethod" not in cm


def test_argocd_pods_are_placed_and_bounded_as_set() -> None:
    objects = rendered("release:argocd")
    values = argocd_values()
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert {o["metadata"]["name"] for o in workloads} >= {
        "argocd-application-controller",
        "argocd-server",
        "argocd-repo-server",
        "argocd-applicationset-controller",
        "argocd-redis",
        "argocd-redis-secret-init",
    }
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        assert pod["affinity"]["nodeAffinity"] == values["controller"]["affinity"]["nodeAffinity"], name
        assert pod["tolerations"] == values["global"]["tolerations"], name
    assert len(POD_COMPONENTS) == len({o["metadata"]["name"] for o in workloads})
    for component, workload in {
        "controller": "argocd-application-controller",
        "server": "argocd-server",
        "repoServer": "argocd-repo-server",
        "applicationSet": "argocd-applicationset-controller",
        "redis": "argocd-redis",
    }.items():
        (pod,) = [o["spec"]["template"]["spec"] for o in workloads if o["metadata"]["name"] == workload]
        assert pod["containers"][0]["resources"] == values[component]["resources"], workload


def test_every_monitoring_pod_lands_on_the_monitoring_node() -> None:
    """The placement in the values reaches every pod the chart and the operator create."""
    objects = rendered("app:monitoring-stack")
    pods = {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }
    pods |= {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]
        for o in objects
        if o["kind"] in ("Prometheus", "Alertmanager")
    }
    assert len(pods) >= 7, sorted(pods)
    toleration = {"key": "node-role.kubernetes.io/infrastructure", "operator": "Equal", "value": "true"}
    for name, pod in pods.items():
        assert pod.get("nodeSelector", {}).get("workload") == "monitoring", name
        assert any(toleration.items() <= t.items() for t in pod.get("tolerations", [])), name


def test_argocd_metrics_are_served_and_selected_by_the_git_service_monitor() -> None:
    objects = rendered("release:argocd")
    services = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"].endswith("-metrics")]
    monitor = yaml.safe_load((ARGOCD_MONITOR).read_text())
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
    selector = monitor["spec"]["selector"]
    selected = [s["metadata"]["name"] for s in services if selects(selector, s["metadata"]["labels"])]
    assert sorted(selected) == [
        "argocd-application-controller-metrics",
        "argocd-applicationset-controller-metrics",
        "argocd-repo-server-metrics",
        "argocd-server-metrics",
    ]
    port = monitor["spec"]["endpoints"][0]["port"]
    for service in services:
        if service["metadata"]["name"] in selected:
            assert port in [p["name"] for p in service["spec"]["ports"]], service["metadata"]["name"]
    # The chart's NetworkPolicies let Prometheus (another namespace) reach the metrics ports.
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        component = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        if component in ("argocd-application-controller", "argocd-repo-server", "argocd-applicationset-controller"):
            rules = policy["spec"]["ingress"]
            assert any(
                {"namespaceSelector": {}} in r.get("from", []) and {"port": "metrics"} in r.get("ports", [])
                for r in rules
            ), component


def test_the_charts_own_service_monitor_switch_would_be_dropped_on_first_install() -> None:
    """Why argocd's ServiceMonitor is in Git: the chart renders it only when the CRD already exists."""
    source = SOURCES["release:argocd"]
    values = copy.deepcopy(argocd_values())
    values["controller"]["metrics"]["serviceMonitor"] = {"enabled": True}
    kwargs: dict[str, Any] = {
        "release": "argocd",
        "namespace": NAMESPACE,
        "values": values,
        "kube_version": kube_version(),
        "helm": require_helm(),
    }
    fresh_cluster = render(archive(source), **kwargs)
    with_crds = render(archive(source), api_versions=["monitoring.coreos.com/v1"], **kwargs)
    assert not [o for o in fresh_cluster if o["kind"] == "ServiceMonitor"]
    assert [o for o in with_crds if o["kind"] == "ServiceMonitor"]


# --------------------------------------------------------------------------------------------
# Monitoring: storage, retention, receivers, selectors


def test_monitoring_crds_app_ships_only_the_crds_and_the_stack_none() -> None:
    crds = rendered("app:monitoring-crds")
    assert crds and {o["kind"] for o in crds} == {"CustomResourceDefinition"}
    assert {o["spec"]["group"] for o in crds} == {"monitoring.coreos.com"}
    stack = rendered("app:monitoring-stack")
    assert not [o for o in stack if o["kind"] == "CustomResourceDefinition"], "two Applications would own the CRDs"
    # Every custom resource the stack creates has its CRD in monitoring-crds.
    kinds = {(o["apiVersion"], o["kind"]) for o in stack if o["apiVersion"].startswith("monitoring.coreos.com/")}
    assert kinds <= set(crd_validators(crds))


def test_prometheus_keeps_its_data_on_a_pvc_with_retention_by_size() -> None:
    prometheus = one(rendered("app:monitoring-stack"), "Prometheus")["spec"]
    claim = prometheus["storage"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3"
    requested = int(re.fullmatch(r"(\d+)Gi", claim["resources"]["requests"]["storage"]).group(1))  # type: ignore[union-attr]
    size = int(re.fullmatch(r"(\d+)GB", prometheus["retentionSize"]).group(1))  # type: ignore[union-attr]
    # Size-based retention below the volume (GB < GiB), so the disk never fills.
    assert 0 < size < requested
    assert prometheus["nodeSelector"]["workload"] == "monitoring"


def test_prometheus_selects_monitors_and_rules_with_the_agreed_label_everywhere() -> None:
    prometheus = one(rendered("app:monitoring-stack"), "Prometheus")["spec"]
    for kind in ("serviceMonitor", "podMonitor", "probe", "rule"):
        assert prometheus[f"{kind}Selector"] == {"matchLabels": {"release": "kube-prometheus-stack"}}, kind
        assert prometheus[f"{kind}NamespaceSelector"] == {}, kind
    # The chart's own monitors and rules carry that label, so the stack monitors itself too.
    for doc in rendered("app:monitoring-stack"):
        if doc["kind"] in ("ServiceMonitor", "PrometheusRule", "PodMonitor"):
            assert doc["metadata"]["labels"]["release"] == "kube-prometheus-stack", doc["metadata"]["name"]


def alertmanager_config() -> Doc:
    secret = one(rendered("app:monitoring-stack"), "Secret", "alertmanager-kube-prometheus-stack-alertmanager")
    raw = (
        secret.get("stringData", {}).get("alertmanager.yaml")
        or base64.b64decode(secret["data"]["alertmanager.yaml"]).decode()
    )
    config: Doc = yaml.safe_load(raw)
    return config


def route_for(config: Doc, labels: Mapping[str, str]) -> str:
    """The receiver Alertmanager's routing tree picks for an alert (first matching child route)."""
    route = config["route"]
    for child in route.get("routes", []):
        matchers = [re.fullmatch(r'\s*(\w+)\s*=\s*"?([^"]*)"?\s*', m) for m in child.get("matchers", [])]
        if all(m and labels.get(m.group(1)) == m.group(2) for m in matchers):
            return str(child["receiver"])
    return str(route["receiver"])


def test_alertmanager_has_a_real_receiver_and_routes_the_watchdog_to_a_heartbeat() -> None:
    config = alertmanager_config()
    receivers = {r["name"]: r for r in config["receivers"]}
    integrations = ("slack_configs", "webhook_configs")
    default = route_for(config, {"alertname": "KubePodCrashLooping", "severity": "warning"})
    watchdog = route_for(config, {"alertname": "Watchdog", "severity": "none"})
    assert any(receivers[default].get(i) for i in integrations), f"alerts go to {default}, which sends nowhere"
    assert any(receivers[watchdog].get(i) for i in integrations), f"the Watchdog goes to {watchdog}, nowhere"
    assert watchdog != default, "the always-firing Watchdog would page people every repeat_interval"
    assert route_for(config, {"alertname": "InfoInhibitor"}) == "null"


def test_receiver_urls_come_from_an_optional_secret_mounted_into_alertmanager() -> None:
    spec = one(rendered("app:monitoring-stack"), "Alertmanager")["spec"]
    assert spec["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3"
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}
    files = [
        c.get("api_url_file") or c.get("url_file")
        for r in alertmanager_config()["receivers"]
        for i in ("slack_configs", "webhook_configs")
        for c in r.get(i, [])
    ]
    assert files and all(files)
    for path in files:
        directory = str(Path(path).parent)
        assert directory in mounts, f"{path} is not on a mounted volume"
        secret = volumes[mounts[directory]]["secret"]
        # Optional: Alertmanager starts (and keeps its routing) before anyone creates the Secret.
        assert secret == {"secretName": "alertmanager-receivers", "optional": True}
    assert not re.search(r"https?://", json.dumps(alertmanager_config())), "no receiver URL in Git"


# --------------------------------------------------------------------------------------------
# Monitoring: every host-network target is bound where Prometheus is and open to it


@functools.cache
def kubeadm_documents() -> dict[str, Doc]:
    # YAML, not HTML: escaping would corrupt it; the template is ours.
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined, autoescape=False)  # noqa: S701
    text = env.from_string(KUBEADM_CONFIG.read_text()).render(
        groups={"control_plane": []}, hostvars={}, versions=VERSIONS, control_plane_tls_cipher_suites=[]
    )
    return {d["kind"]: d for d in yaml.safe_load_all(text) if d}


def extra_arg(component: Mapping[str, Any], name: str) -> str | None:
    return next((a["value"] for a in component.get("extraArgs", []) if a["name"] == name), None)


def loopback(address: str) -> bool:
    host = re.sub(r"^\w+://", "", address).rsplit(":", 1)[0] if ":" in address else address
    return host in ("127.0.0.1", "localhost", "::1", "[::1]")


# How each host-network scrape target binds (kubeadm defaults in comments) and which security
# group its node belongs to. A kube-system Service the stack adds that is not here fails the test.
def _bind_kcm(docs: Mapping[str, Doc]) -> str:
    return extra_arg(docs["ClusterConfiguration"].get("controllerManager", {}), "bind-address") or "127.0.0.1"


def _bind_scheduler(docs: Mapping[str, Doc]) -> str:
    return extra_arg(docs["ClusterConfiguration"].get("scheduler", {}), "bind-address") or "127.0.0.1"


def _bind_etcd(docs: Mapping[str, Doc]) -> str:
    local = docs["ClusterConfiguration"].get("etcd", {}).get("local", {})
    return extra_arg(local, "listen-metrics-urls") or "http://127.0.0.1:2381"


def _bind_kube_proxy(docs: Mapping[str, Doc]) -> str:
    return str(docs.get("KubeProxyConfiguration", {}).get("metricsBindAddress", "127.0.0.1:10249"))


HOST_TARGETS: dict[tuple[str, str], tuple[str, Any, str | None]] = {
    # selector -> (security group of its nodes, bind address, scheme it serves; None: the URL's)
    ("component", "kube-controller-manager"): ("control-plane", _bind_kcm, "https"),
    ("component", "kube-scheduler"): ("control-plane", _bind_scheduler, "https"),
    ("component", "etcd"): ("control-plane", _bind_etcd, None),
    ("k8s-app", "kube-proxy"): ("cluster", _bind_kube_proxy, "http"),
}
# Pod-network targets (reached over Calico VXLAN, open between nodes) and the kubelet (10250).
POD_NETWORK_TARGETS = {("k8s-app", "kube-dns")}


def opened_to_nodes(group: str, port: int) -> bool:
    return any(
        r.group == group
        and r.direction == "ingress"
        and r.protocol == "tcp"
        and r.peer == "cluster"
        and r.from_port <= port <= r.to_port
        for r in RULES
    )


def host_scrape_targets(objects: list[Doc]) -> Iterator[tuple[str, int, str, str]]:
    """(service, port, group, bind address) of every kube-system Service a ServiceMonitor scrapes."""
    docs = kubeadm_documents()
    for service in (o for o in objects if o["kind"] == "Service" and o["metadata"].get("namespace") == "kube-system"):
        (selector,) = service["spec"]["selector"].items()
        if selector in POD_NETWORK_TARGETS:
            continue
        assert selector in HOST_TARGETS, f"{service['metadata']['name']} scrapes {selector}: say how it binds"
        group, bind, _ = HOST_TARGETS[selector]
        for port in service["spec"]["ports"]:
            yield service["metadata"]["name"], int(port["targetPort"]), group, bind(docs)


def scrape_schemes(objects: list[Doc], service: Doc) -> set[str]:
    """The schemes the ServiceMonitors that select `service` scrape it with."""
    schemes = set()
    for monitor in (o for o in objects if o["kind"] == "ServiceMonitor"):
        namespaces = monitor["spec"].get("namespaceSelector", {}).get("matchNames", [monitor["metadata"]["namespace"]])
        if service["metadata"]["namespace"] in namespaces and selects(
            monitor["spec"]["selector"], service["metadata"]["labels"]
        ):
            schemes |= {e.get("scheme", "http") for e in monitor["spec"]["endpoints"]}
    return schemes


def unreachable_targets(objects: list[Doc]) -> list[str]:
    problems = []
    for name, port, group, address in host_scrape_targets(objects):
        if loopback(address):
            problems.append(f"{name}: binds {address}, Prometheus on the monitoring node cannot reach it")
        if not opened_to_nodes(group, port):
            problems.append(f"{name}: port {port} of the {group} group is closed to the nodes")
        service = one(objects, "Service", name)
        (selector,) = service["spec"]["selector"].items()
        served = HOST_TARGETS[selector][2] or address.split("://", 1)[0]
        if scrape_schemes(objects, service) != {served}:
            problems.append(f"{name}: serves {served}, scraped with {sorted(scrape_schemes(objects, service))}")
    return problems


CALICO_INSTALLATION = ROOT / "ansible" / "roles" / "calico" / "templates" / "installation.yaml.j2"


def test_the_stack_scrapes_no_target_that_binds_or_firewalls_it_out() -> None:
    # The rules' peer is the nodes' group because Calico masquerades pod traffic to node addresses
    # (outside its IP pool) as the sending node; without that, Prometheus' pod address would be
    # refused by every one of these rules.
    assert re.search(r"^\s*natOutgoing: Enabled\s*$", CALICO_INSTALLATION.read_text(), re.MULTILINE)
    objects = rendered("app:monitoring-stack")
    targets = list(host_scrape_targets(objects))
    assert {port for _, port, _, _ in targets} == {10257, 10259, 2381, 10249}
    assert unreachable_targets(objects) == []
    # node-exporter (hostNetwork) and the kubelet, scraped on every node.
    exporter = one(objects, "DaemonSet")["spec"]["template"]["spec"]
    assert exporter["hostNetwork"] is True
    for container in exporter["containers"]:
        for port in container.get("ports", []):
            assert opened_to_nodes("cluster", port["containerPort"]), port
    assert opened_to_nodes("cluster", 10250)


def test_exactly_the_metrics_ports_are_opened() -> None:
    """The metrics rules open single ports, from the nodes only, nothing wider."""
    metrics = [r for r in RULES if r.from_port in (10257, 10259, 2381, 10249) and r.peer == "cluster"]
    assert sorted((r.group, r.from_port, r.to_port) for r in metrics) == [
        ("cluster", 10249, 10249),
        ("control-plane", 2381, 2381),
        ("control-plane", 10257, 10257),
        ("control-plane", 10259, 10259),
    ]


def test_a_scheme_mismatch_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = copy.deepcopy(kubeadm_documents())
    docs["ClusterConfiguration"]["etcd"]["local"]["extraArgs"] = [
        {"name": "listen-metrics-urls", "value": "https://0.0.0.0:2381"}
    ]
    monkeypatch.setattr(f"{__name__}.kubeadm_documents", lambda: docs)
    assert unreachable_targets(rendered("app:monitoring-stack")) == [
        "kube-prometheus-stack-kube-etcd: serves https, scraped with ['http']"
    ]


def test_a_loopback_bind_or_a_closed_port_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = rendered("app:monitoring-stack")
    docs = copy.deepcopy(kubeadm_documents())
    docs["ClusterConfiguration"]["scheduler"]["extraArgs"] = []
    monkeypatch.setattr(f"{__name__}.kubeadm_documents", lambda: docs)
    monkeypatch.setattr(f"{__name__}.RULES", tuple(r for r in RULES if r.from_port != 2381))
    assert unreachable_targets(objects) == [
        "kube-prometheus-stack-kube-etcd: port 2381 of the control-plane group is closed to the nodes",
        "kube-prometheus-stack-kube-scheduler: binds 127.0.0.1, Prometheus on the monitoring node cannot reach it",
    ]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value, op = labels.get(expr["key"]), expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True
