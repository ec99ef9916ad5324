"""Every platform pod is kept off the API nodes, and no node of the table is overcommitted.

The pods are the rendered ones (the argo-cd release and every child, tests/children.py), plus the
pods operators create from rendered resources (a CloudNativePG Cluster's instances, Prometheus and
Alertmanager), with their nodeSelector, required node affinity and tolerations. The nodes are the
dev stack's table (Pulumi.dev.yaml) with kubeadm's control-plane label and taint
(tests/dev_stack.py). A node's allocatable memory is its instance size (EC2 T3 specifications:
t3.micro 1 GiB, t3.small 2 GiB, t3.medium 4 GiB, t3.large 8 GiB; 2 vCPUs each) less the kubelet's
default hard eviction threshold (`memory.available<100Mi`, KubeletConfiguration v1beta1 defaults;
the kubeadm configuration here reserves nothing else). DaemonSet pods count on every node they
may run on; every other pod is placed, largest first, on its candidate with the most room left,
as a spreading scheduler would. The domain APIs and the data tier's own pods are the tenants of
their nodes; everything else is platform and must not be able to land on an API node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from components.argocd import NAMESPACE as ARGOCD_NAMESPACE
from components.argocd import helm_values
from components.settings.model import NodeRole
from tests.support import children
from tests.support.dev_stack import dev_settings, node_labels_and_taints
from tests.support.manifests import pod_spec, workloads
from tests.support.netpol import labels_match

MEMORY_GIB = {"t3.micro": 1, "t3.small": 2, "t3.medium": 4, "t3.large": 8}
EVICTION_HARD_MIB = 100
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
# Namespaces whose pods are a node's tenant, not the platform.
TENANT_NAMESPACES = {"auth", "my", "character", "location", "info", "scan", "chat", "data", "messaging"}


# Platform pods of children other issues own that do not yet say where they run (reported, kept
# visible here so the list only shrinks).
NOT_PLACED_YET: dict[str, str] = {}


def mebibytes(quantity: str | int | None) -> float:
    if quantity is None:
        return 0.0
    text = str(quantity)
    for suffix, factor in (("Gi", 1024), ("Mi", 1), ("Ki", 1 / 1024), ("G", 1e9 / 2**20), ("M", 1e6 / 2**20)):
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text) / 2**20


def nodes() -> dict[str, dict[str, Any]]:
    table = node_labels_and_taints()
    out = {}
    for spec in dev_settings().nodes:
        labels, taints = table[spec.name]
        # The kubelet's well-known labels (kubernetes.io/os, arch, hostname), and kubeadm's role label.
        labels = {
            **labels,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": spec.name,
        }
        if spec.role is NodeRole.CONTROL_PLANE:
            labels = {**labels, CONTROL_PLANE_LABEL: ""}
        out[spec.name] = {
            "labels": labels,
            "taints": taints,
            "role": spec.role,
            "allocatable": MEMORY_GIB[spec.instance_type] * 1024 - EVICTION_HARD_MIB,
        }
    return out


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A nodeSelectorTerm's matchExpressions (In, NotIn, Exists, DoesNotExist: a label selector's)."""
    return labels_match({"matchExpressions": term.get("matchExpressions", [])}, labels)


def candidates(spec: Mapping[str, Any], table: Mapping[str, Mapping[str, Any]]) -> set[str]:
    selector = spec.get("nodeSelector") or {}
    tolerations = spec.get("tolerations") or []
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        or {}
    ).get("nodeSelectorTerms")

    def tolerated(taint: Mapping[str, str]) -> bool:
        return any(
            (t.get("key") == taint["key"] or (t.get("operator") == "Exists" and not t.get("key")))
            and t.get("effect", taint["effect"]) in (taint["effect"], "")
            and (t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", ""))
            for t in tolerations
        )

    return {
        name
        for name, node in table.items()
        if all(node["labels"].get(k) == v for k, v in selector.items())
        and (not required or any(_term_matches(t, node["labels"]) for t in required))
        and all(tolerated(t) for t in node["taints"] if t["effect"] in ("NoSchedule", "NoExecute"))
    }


def requests_of(spec: Mapping[str, Any]) -> float:
    return sum(mebibytes(((c.get("resources") or {}).get("requests") or {}).get("memory")) for c in spec["containers"])


def rendered() -> list[Doc]:
    docs = [
        {**d, "metadata": {"namespace": ARGOCD_NAMESPACE, **d["metadata"]}}
        for d in children._helm(
            "argo-cd",
            str(children.VERSIONS["argoCdChart"]),
            "argocd",
            ARGOCD_NAMESPACE,
            yaml.safe_dump(helm_values("argocd.example.com"), sort_keys=True),
        )
    ]
    for app in children.applications().values():
        docs += children.render_child(app)
    return docs


Doc = dict[str, Any]


def pods(objects: Iterable[Doc]) -> list[tuple[str, str, Doc, int, bool]]:
    """(name, namespace, pod spec, replicas, daemon) of every long-running pod."""
    out = []
    for doc in objects:
        kind, meta = doc.get("kind"), doc["metadata"]
        api = str(doc.get("apiVersion", ""))
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            spec = pod_spec(doc)
            assert spec is not None
            out.append(
                (f"{kind}/{meta['name']}", meta["namespace"], spec, doc["spec"].get("replicas", 1), kind == "DaemonSet")
            )
        elif kind == "Cluster" and api.startswith("postgresql.cnpg.io/"):
            s = doc["spec"]
            affinity = s.get("affinity") or {}
            spec = {
                "nodeSelector": affinity.get("nodeSelector"),
                "tolerations": affinity.get("tolerations"),
                "containers": [{"resources": s.get("resources") or {}}],
            }
            out.append((f"Cluster/{meta['name']}", meta["namespace"], spec, s.get("instances", 1), False))
        elif kind in ("Prometheus", "Alertmanager") and api.startswith("monitoring.coreos.com/"):
            s = doc["spec"]
            spec = {
                "nodeSelector": s.get("nodeSelector"),
                "tolerations": s.get("tolerations"),
                "affinity": s.get("affinity"),
                "containers": [{"resources": s.get("resources") or {}}],
            }
            out.append((f"{kind}/{meta['name']}", meta["namespace"], spec, s.get("replicas", 1), False))
    assert not [w for w in workloads(objects) if w["kind"] == "ReplicaSet"]
    return out


def placement(objects: list[Doc]) -> tuple[dict[str, float], list[str]]:
    """(requested MiB per node, problems)."""
    table = nodes()
    used = dict.fromkeys(table, 0.0)
    problems = []
    single = []
    for name, namespace, spec, replicas, daemon in pods(objects):
        where = candidates(spec, table)
        memory = requests_of(spec)
        what = f"{namespace}/{name}"
        if not where:
            if (spec.get("nodeSelector") or {}).get("kubernetes.io/os") == "windows" or "windows" in name:
                continue  # Windows variants of a chart (no Windows node here)
            problems.append(f"{what} fits no node of the table")
            continue
        api_nodes = sorted(n for n in where if table[n]["role"] is NodeRole.API)
        if namespace not in TENANT_NAMESPACES and api_nodes and not daemon and what not in NOT_PLACED_YET:
            problems.append(f"{what} (platform) may land on API nodes {api_nodes}")
        if daemon:
            for n in where:
                used[n] += memory
        else:
            single += [(memory, what, where)] * int(replicas)
    for memory, _what, where in sorted(single, key=lambda x: -x[0]):
        best = max(sorted(where), key=lambda n: table[n]["allocatable"] - used[n])
        used[best] += memory
    for n, mib in used.items():
        if mib > table[n]["allocatable"]:
            problems.append(
                f"{n} is overcommitted: {mib:.0f} MiB requested of {table[n]['allocatable']} MiB allocatable"
            )
    return used, problems


def test_no_platform_pod_on_an_api_node_and_no_node_overcommitted():
    _, problems = placement(rendered())
    assert not problems, "\n".join(problems)


def test_every_platform_container_requests_memory():
    missing = sorted(
        f"{ns}/{name}"
        for name, ns, spec, _, _ in pods(rendered())
        if ns not in TENANT_NAMESPACES and ns != "kube-system" and requests_of(spec) == 0
    )
    assert not missing, f"no memory request: {missing}"
