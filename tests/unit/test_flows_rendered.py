"""The flows ArgoCD and monitoring need, derived from what their charts render, against the policies.

tests/manifests/test_manifests.py checks the flow matrix the design lists. This test derives the flows from
the rendered pods instead, so a flow nobody listed still shows:

- every ServiceMonitor endpoint (the argo-cd release, monitoring-stack, service-monitors) resolved
  the way the Prometheus operator resolves it: Service by selector and namespace, Service port by
  name, targetPort to the selected pods' container port -> Prometheus must reach that pod port;
- every admission webhook's Service (ValidatingWebhookConfiguration, MutatingWebhookConfiguration of
  every rendered child) resolved to its pods' port -> the API server, on a node, must reach it;
- with SSO (Dex on: components/argocd.py helm_values with ArgoCdSso) argocd-server -> Dex on 5556
  (HTTP, /api/dex) and 5557 (gRPC), and Dex -> github.com on 443; with SSO off, no Dex pod and
  no Dex flow.

Pods the Prometheus operator creates (Prometheus, Alertmanager) are built from their custom
resources with the labels and ports prometheus-operator v0.93.1 gives them (pkg/prometheus/
statefulset.go and pkg/alertmanager/statefulset.go: `app.kubernetes.io/name`, `<kind>: <name>`,
container ports `web` 9090/9093, Alertmanager `mesh-tcp` 9094, the config-reloader's
`reloader-web` 8080) plus the CR's podMetadata labels.

Then the other way: every flow the policies admit into an argocd or monitoring pod, from any
probe source, must be a derived flow or one of DECLARED below (each with its reason); anything
else is reported as unneeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
import yaml

from components.argocd import NAMESPACE as ARGOCD_NAMESPACE
from components.argocd import NAMESPACE_LABELS as ARGOCD_NAMESPACE_LABELS
from components.argocd import helm_values
from components.settings.model import ArgoCdSso
from tests.support import children
from tests.support.manifests import pod_spec, pod_template, workloads
from tests.support.netpol import Cluster, Endpoint, container_ports, labels_match

Doc = dict[str, Any]
Flow = tuple[str, str, int, str]

SSO = ArgoCdSso("example-org", "platform-admins", "Ov23liEXAMPLE")
PROMETHEUS = "monitoring/prometheus"
NODE = "vpc-host"
INTERNET = "internet"
# Where the probes come from besides the pods: a node (the API server, the kubelet), the internet,
# a pod of an unfenced namespace (kube-system), and the public Gateway's Envoy.
PROBES = [
    Endpoint(NODE, None, ip="10.0.12.7"),
    Endpoint(INTERNET, None, ip="140.82.112.3"),  # github.com
    Endpoint("kube-system/other", "kube-system", {"app": "other"}),
    Endpoint(
        "envoy-gateway-system/envoy",
        "envoy-gateway-system",
        {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy"},
    ),
]

# Flows into argocd and monitoring pods that no ServiceMonitor or webhook implies: the
# components' own traffic (argo-cd 10.1.1 and kube-prometheus-stack 88.5.3 docs), each with why.
DECLARED: dict[tuple[str, str, int], str] = {
    ("argocd/argocd-server", "argocd/argocd-repo-server", 8081): "manifests and app details",
    ("argocd/argocd-application-controller", "argocd/argocd-repo-server", 8081): "manifest generation",
    ("argocd/argocd-applicationset-controller", "argocd/argocd-repo-server", 8081): "generators",
    ("argocd/argocd-server", "argocd/argocd-redis", 6379): "cache",
    ("argocd/argocd-application-controller", "argocd/argocd-redis", 6379): "cache",
    ("argocd/argocd-repo-server", "argocd/argocd-redis", 6379): "cache",
    ("envoy-gateway-system/envoy", "argocd/argocd-server", 8080): "the UI/API through the public Gateway",
    ("envoy-gateway-system/envoy", "monitoring/kube-prometheus-stack-grafana", 3000): "Grafana through the Gateway",
    ("monitoring/kube-prometheus-stack-grafana", PROMETHEUS, 9090): "Grafana queries Prometheus",
    ("monitoring/kube-prometheus-stack-grafana", "monitoring/alertmanager", 9093): "Grafana reads alerts",
    (PROMETHEUS, "monitoring/alertmanager", 9093): "Prometheus sends alerts",
    ("monitoring/alertmanager", "monitoring/alertmanager", 9094): "Alertmanager cluster gossip",
}


# Admitted although no pod needs it, and why it cannot be narrower.
BROADER: dict[tuple[str, str, int], str] = {
    ("kube-system/other", "monitoring/kube-prometheus-stack-operator", 10250): (
        "the API server calls the webhook from a node address, which is per stack, so the rule names the private "
        "ranges; they hold the pod network too, and a pod whose own egress is open (kube-system) reaches it"
    ),
}


def operator_pods(objects: Iterable[Doc]) -> list[Endpoint]:
    """The Prometheus and Alertmanager pods the operator creates from their custom resources."""
    pods = []
    for doc in objects:
        kind, name = doc.get("kind"), doc["metadata"]["name"]
        if kind not in ("Prometheus", "Alertmanager") or not doc.get("apiVersion", "").startswith("monitoring.coreos"):
            continue
        base = "prometheus" if kind == "Prometheus" else "alertmanager"
        labels = {
            "app.kubernetes.io/name": base,
            "app.kubernetes.io/managed-by": "prometheus-operator",
            "app.kubernetes.io/instance": name,
            base: name,
            **({"operator.prometheus.io/name": name} if base == "prometheus" else {}),
            **((doc.get("spec") or {}).get("podMetadata") or {}).get("labels", {}),
        }
        ports = {"web": 9090, "reloader-web": 8080} if base == "prometheus" else {"web": 9093, "mesh-tcp": 9094}
        if base == "alertmanager":
            ports["reloader-web"] = 8080
        pods.append(Endpoint(f"monitoring/{base}", "monitoring", labels, ports=ports))
    return pods


def pods_of(objects: Iterable[Doc]) -> list[Endpoint]:
    objects = list(objects)
    found = operator_pods(objects)
    for doc in workloads(objects):
        if doc["kind"] in ("Job", "CronJob"):
            continue
        template, spec = pod_template(doc), pod_spec(doc)
        assert template is not None and spec is not None
        if spec.get("hostNetwork"):
            # In the node's network namespace (node-exporter): reached at a node address, no policy applies.
            found.append(
                Endpoint(
                    f"{doc['metadata']['namespace']}/{doc['metadata']['name']}",
                    None,
                    ip="10.0.12.8",
                    labels=template["metadata"].get("labels", {}),
                    ports=container_ports(spec),
                )
            )
            continue
        found.append(
            Endpoint(
                f"{doc['metadata']['namespace']}/{doc['metadata']['name']}",
                doc["metadata"]["namespace"],
                template["metadata"].get("labels", {}),
                ports=container_ports(spec),
            )
        )
    return found


def _target(service: Doc, service_port: Mapping[str, Any], pods: list[Endpoint]) -> list[tuple[Endpoint, int]]:
    """The pods a Service port leads to, with the container port number (targetPort by name or number)."""
    selector = service["spec"].get("selector") or {}
    target = service_port.get("targetPort", service_port["port"])
    out = []
    for pod in pods:
        home = pod.name.split("/", 1)[0]
        if home != service["metadata"]["namespace"] or not selector or not labels_match(selector, pod.labels):
            continue
        number = pod.ports.get(target) if isinstance(target, str) else int(target)
        if number is not None:
            out.append((pod, number))
    return out


def required_flows(objects: list[Doc], pods: list[Endpoint]) -> set[Flow]:
    services = [d for d in objects if d.get("kind") == "Service"]
    flows: set[Flow] = set()
    for monitor in (d for d in objects if d.get("kind") == "ServiceMonitor"):
        spec = monitor["spec"]
        ns_selector = spec.get("namespaceSelector") or {}
        namespaces = ns_selector.get("matchNames") or [monitor["metadata"]["namespace"]]
        for service in services:
            in_scope = ns_selector.get("any") or service["metadata"]["namespace"] in namespaces
            if not in_scope or not labels_match(spec.get("selector") or {}, service["metadata"].get("labels", {})):
                continue
            for endpoint in spec.get("endpoints", []):
                for port in service["spec"].get("ports", []):
                    if port.get("name") == endpoint.get("port") or (
                        "targetPort" in endpoint and port.get("targetPort") == endpoint["targetPort"]
                    ):
                        flows |= {(PROMETHEUS, pod.name, n, "TCP") for pod, n in _target(service, port, pods)}
    for config in (d for d in objects if d.get("kind", "").endswith("WebhookConfiguration")):
        for webhook in config.get("webhooks", []):
            ref = webhook["clientConfig"].get("service")
            if not ref:
                continue
            for service in services:
                if (service["metadata"]["namespace"], service["metadata"]["name"]) != (ref["namespace"], ref["name"]):
                    continue
                for port in service["spec"].get("ports", []):
                    if port["port"] == ref.get("port", 443):
                        flows |= {(NODE, pod.name, n, "TCP") for pod, n in _target(service, port, pods)}
    dex = [p for p in pods if p.labels.get("app.kubernetes.io/name") == "argocd-dex-server"]
    for pod in dex:
        flows |= {("argocd/argocd-server", pod.name, pod.ports[p], "TCP") for p in ("http", "grpc")}
        flows.add((pod.name, INTERNET, 443, "TCP"))
    return flows


def render(sso: ArgoCdSso | None) -> tuple[Cluster, list[Doc], list[Endpoint]]:
    apps = children.applications()
    release = children._helm(
        "argo-cd",
        str(children.VERSIONS["argoCdChart"]),
        "argocd",
        ARGOCD_NAMESPACE,
        yaml.safe_dump(helm_values("argocd.example.com", sso), sort_keys=True),
    )
    objects = [
        {**d, "metadata": {"namespace": ARGOCD_NAMESPACE, **d["metadata"]}}
        if d.get("kind") not in children.CLUSTER_SCOPED
        else d
        for d in release
    ]
    for name in sorted(apps):
        if name != "network-policies":
            objects += children.render_child(apps[name])
    namespaces: dict[str, Mapping[str, str]] = {
        d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in objects if d.get("kind") == "Namespace"
    }
    namespaces.update({"kube-system": {}, ARGOCD_NAMESPACE: ARGOCD_NAMESPACE_LABELS})
    policies = children.render_child(apps["network-policies"])
    chart_policies = [d for d in objects if d.get("kind") == "NetworkPolicy"]
    return Cluster(namespaces, policies + chart_policies), objects, pods_of(objects)


@pytest.fixture(scope="module", params=[None, SSO], ids=["sso-off", "sso-on"])
def rendered(request: pytest.FixtureRequest) -> tuple[Cluster, list[Doc], list[Endpoint], ArgoCdSso | None]:
    return (*render(request.param), request.param)


def test_the_argo_cd_chart_renders_no_network_policy_of_its_own(rendered):
    """The Git tree's policies are the only ones (docs/app-of-apps.md): the chart's are turned off."""
    _, objects, _, _ = rendered
    assert not [d["metadata"]["name"] for d in objects if d.get("kind") == "NetworkPolicy"]


def test_dex_runs_exactly_when_sso_is_on(rendered):
    _, _, pods, sso = rendered
    dex = [p for p in pods if p.labels.get("app.kubernetes.io/name") == "argocd-dex-server"]
    assert bool(dex) == (sso is not None)
    if dex:
        assert dex[0].ports["http"] == 5556 and dex[0].ports["grpc"] == 5557


def test_every_flow_the_rendered_pods_need_is_admitted(rendered):
    cluster, objects, pods, _ = rendered
    endpoints = {p.name: p for p in [*pods, *PROBES]}
    required = required_flows(objects, pods)
    # The derivation finds what it must: the Alertmanager reloader and a webhook of each kind.
    assert (PROMETHEUS, "monitoring/alertmanager", 8080, "TCP") in required
    assert (NODE, "cnpg-system/cloudnative-pg", 9443, "TCP") in required
    blocked = sorted(f for f in required if not cluster.allowed(endpoints[f[0]], endpoints[f[1]], f[2], f[3]))
    assert not blocked, f"flows the rendered pods need but the NetworkPolicies deny: {blocked}"


def test_nothing_is_admitted_into_argocd_or_monitoring_that_no_pod_needs(rendered):
    cluster, objects, pods, _ = rendered
    required = {(s, d, p) for s, d, p, _ in required_flows(objects, pods)}
    fenced = [p for p in pods if p.namespace in (ARGOCD_NAMESPACE, "monitoring")]
    sources = [*fenced, *PROBES]
    unneeded = sorted(
        (src.name, dst.name, port)
        for dst in fenced
        for port in sorted(set(dst.ports.values()))
        for src in sources
        if src is not dst or port == 9094
        if cluster.allowed(src, dst, port, "TCP")
        and (src.name, dst.name, port) not in required
        and (src.name, dst.name, port) not in DECLARED
        and (src.name, dst.name, port) not in BROADER
    )
    assert not unneeded, f"admitted, but no rendered pod needs it: {unneeded}"
