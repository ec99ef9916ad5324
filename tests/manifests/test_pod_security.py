"""Every namespace fenced: Pod Security labels at the strictest level its pods pass, and default-deny.

The pods are the ones that really run: every chart this stack deploys rendered with the pinned
helm and our values (tests/manifests/test_charts.py's sources: the argo-cd release and every Helm-sourced
Application), every workload of the Git children (tests/manifests/test_manifests.py), and the
local-path-provisioner the bootstrap's storage role installs in its own namespace (its
kustomization rendered by Ansible and built by kustomize, tests/roles/test_ansible_playbook.py, plus the
helper pod as the provisioner creates it). Each pod spec is evaluated against the Pod Security
Standards (tests/support/psa.py), and each namespace's `enforce` label must admit all its pods and be the
strictest level that does. Pods an operator creates from a
custom resource (Prometheus, Alertmanager, CloudNativePG instances) are not rendered here; their
operators set restricted-compliant security contexts (docs/app-of-apps.md).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.argocd import NAMESPACE as ARGOCD_NAMESPACE
from components.argocd import NAMESPACE_LABELS as ARGOCD_NAMESPACE_LABELS
from components.playbooks import ANSIBLE_DIR
from components.settings.keys import default_versions
from tests.support.apiserver import render
from tests.support.charts import SOURCES, rendered
from tests.support.manifests import app_objects, apps, cluster_objects, pod_spec, pod_template  # noqa: F401 (fixtures)
from tests.support.netpol import container_ports, labels_match
from tests.support.platform_pods import (
    ARGOCD_PODS,
    CERT_MANAGER_PODS,
    CNPG_PODS,
    EBS_CSI_PODS,
    ENVOY_GATEWAY_PODS,
    MONITORING_PODS,
    PROBE_PORTS,
)
from tests.support.playbook import extra_vars, helper_pod_as_created, storage  # noqa: F401 (fixtures)
from tests.support.psa import LEVELS, strictest, violations
from tests.support.simulator.upstream import release_file

OPERATOR = "manifests/tigera-operator.yaml"

Doc = dict[str, Any]
ENFORCE = "pod-security.kubernetes.io/enforce"


def chart_pods() -> list[tuple[str, str, Doc]]:
    """(namespace, name, pod spec) of every pod template the charts render."""
    pods = []
    for source_id, source in SOURCES.items():
        for obj in rendered(source_id):
            spec = pod_spec(obj)
            if spec is not None:
                ns = obj["metadata"].get("namespace") or source.namespace
                pods.append((ns, f"{source_id}:{obj['kind']}/{obj['metadata']['name']}", spec))
    return pods


def storage_pods(objects: list[Doc]) -> list[tuple[str, str, Doc]]:
    """The provisioner's pod and the helper pods it creates, in the storage role's namespace."""
    found = [
        (o["metadata"]["namespace"], f"ansible:storage:{o['kind']}/{o['metadata']['name']}", spec)
        for o in objects
        if (spec := pod_spec(o)) is not None
    ]
    helper = helper_pod_as_created(objects)
    return [*found, (helper["metadata"]["namespace"], "ansible:storage:Pod/helper-pod", helper["spec"])]


# calico-system is the operator's: it creates and reconciles it with these labels
# (tigera/operator pkg/render/namespaces.go, CreateNamespace with PSSPrivileged) and would undo an
# edit, so the stack leaves it as the operator makes it (docs/gitops-practices.md, "Pod Security").
CALICO_SYSTEM_LABELS = {
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
# The namespaces kubeadm and tigera-operator.yaml create, which the bootstrap labels.
BOOTSTRAP_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease", "tigera-operator"}
CALICO_DEFAULTS = yaml.safe_load((ANSIBLE_DIR / "roles/calico/defaults/main.yml").read_text())


def tigera_operator_objects() -> list[Doc]:
    """tigera-operator.yaml as released, with the labels the calico role's kustomization adds to its
    namespace (calico_namespace_labels; its one Jinja value, the Pod Security version, put in as the
    role renders it; tests/simulator/test_node_simulator.py checks the applied result)."""
    docs = [d for d in yaml.safe_load_all(release_file("calico", default_versions(), OPERATOR).read_text()) if d]
    minor = "v" + ".".join(default_versions()["kubernetes"].split(".")[:2])
    for name, labels in CALICO_DEFAULTS["calico_namespace_labels"].items():
        (namespace,) = [d for d in docs if d["kind"] == "Namespace" and d["metadata"]["name"] == name]
        for key, value in labels.items():
            namespace["metadata"]["labels"][key] = value.replace("{{ calico_pod_security_version }}", minor)
    return docs


@pytest.fixture(scope="module")
def kubeadm_namespaces(tmp_path_factory) -> list[Doc]:
    """The namespaces kubeadm creates, as the control_plane role labels them (namespaces.yaml.j2)."""
    return render(Path(tmp_path_factory.mktemp("cp")), default_versions()["kubernetes"])["namespaces"]


@pytest.fixture(scope="module")
def namespaces(
    app_objects: dict[str, list[Doc]],  # noqa: F811
    storage: dict[str, Any],  # noqa: F811
    kubeadm_namespaces: list[Doc],
) -> dict[str, dict[str, str]]:
    found = {d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in app_objects["namespaces"]}
    found[ARGOCD_NAMESPACE] = dict(ARGOCD_NAMESPACE_LABELS)
    # Created by the bootstrap's roles (Ansible), not by a Git child: the storage role's namespace,
    # tigera-operator.yaml's (patched by the calico role) and kubeadm's (labelled by control_plane).
    for d in [*storage["default"], *tigera_operator_objects(), *kubeadm_namespaces]:
        if d["kind"] == "Namespace":
            found[d["metadata"]["name"]] = d["metadata"].get("labels", {})
    return found


@pytest.fixture(scope="module")
def pods(cluster_objects: list[Doc], storage: dict[str, Any]) -> list[tuple[str, str, Doc]]:  # noqa: F811
    git = [
        (o["metadata"]["namespace"], f"git:{o['kind']}/{o['metadata']['name']}", spec)
        for o in cluster_objects
        if (spec := pod_spec(o)) is not None
    ]
    operator = [
        (o["metadata"]["namespace"], f"calico:{o['kind']}/{o['metadata']['name']}", spec)
        for o in tigera_operator_objects()
        if (spec := pod_spec(o)) is not None
    ]
    return chart_pods() + git + storage_pods(storage["default"]) + operator


# --- the evaluator itself ---------------------------------------------------------------------

HARDENED: Doc = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def with_(spec: Doc, **pod: Any) -> Doc:
    return {**spec, **pod}


def with_container(spec: Doc, **sc: Any) -> Doc:
    container = {**spec["containers"][0], "securityContext": {**spec["containers"][0]["securityContext"], **sc}}
    return {**spec, "containers": [container]}


@pytest.mark.parametrize(
    ("spec", "level"),
    [
        (HARDENED, "restricted"),
        (with_(HARDENED, securityContext={"seccompProfile": {"type": "RuntimeDefault"}}), "baseline"),
        (with_container(HARDENED, allowPrivilegeEscalation=True), "baseline"),
        (with_container(HARDENED, capabilities={"drop": ["NET_RAW"]}), "baseline"),
        (with_container(HARDENED, capabilities={"drop": ["ALL"], "add": ["CHOWN"]}), "baseline"),
        (with_container(HARDENED, runAsUser=0), "baseline"),
        (with_(HARDENED, volumes=[{"name": "d", "nfs": {"server": "x", "path": "/"}}]), "baseline"),
        (with_(HARDENED, hostNetwork=True), "privileged"),
        (with_(HARDENED, hostPID=True), "privileged"),
        (with_(HARDENED, volumes=[{"name": "proc", "hostPath": {"path": "/proc"}}]), "privileged"),
        (with_container(HARDENED, privileged=True), "privileged"),
        (with_container(HARDENED, capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}), "privileged"),
        (with_container(HARDENED, seccompProfile={"type": "Unconfined"}), "privileged"),
    ],
)
def test_the_evaluator_places_each_rule_at_its_level(spec: Doc, level: str) -> None:
    assert strictest(spec) == level, violations(spec, "restricted")


# --- the namespaces -----------------------------------------------------------------------------


@pytest.mark.ansible  # the control_plane role's namespaces are rendered by ansible-playbook
def test_every_namespace_enforces_the_strictest_level_its_pods_pass(
    namespaces: dict[str, dict[str, str]], pods: list[tuple[str, str, Doc]]
) -> None:
    by_ns: dict[str, list[tuple[str, Doc]]] = defaultdict(list)
    for ns, name, spec in pods:
        by_ns[ns].append((name, spec))
    for ns, labels in namespaces.items():
        enforce = labels.get(ENFORCE)
        assert enforce in LEVELS, f"namespace {ns} has no Pod Security enforce label"
        assert labels.get(f"{ENFORCE}-version"), f"namespace {ns}: pin enforce-version"
        for name, spec in by_ns.get(ns, []):
            assert not violations(spec, enforce), f"{ns}: {name} breaks {enforce}: {violations(spec, enforce)}"
        levels = [strictest(spec) for _, spec in by_ns.get(ns, [])] or ["restricted"]
        needed = max(levels, key=LEVELS.index)
        assert enforce == needed, f"namespace {ns} enforces {enforce}, but its pods all pass {needed}"
        if enforce != "restricted":
            # What cannot be enforced is still reported for every other pod.
            assert labels.get("pod-security.kubernetes.io/warn") == "restricted", ns
            assert labels.get("pod-security.kubernetes.io/audit") == "restricted", ns
    assert set(by_ns) <= set(namespaces), "pods in a namespace the stack does not label"


@pytest.mark.ansible  # the control_plane role's namespaces are rendered by ansible-playbook
def test_every_namespace_that_exists_on_the_cluster_is_labelled(namespaces: dict[str, dict[str, str]]) -> None:
    """kubeadm's four, tigera-operator, and calico-system, which the operator labels itself."""
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "tigera-operator"} <= set(namespaces)
    assert "calico-system" not in namespaces, "calico-system is the operator's; see CALICO_SYSTEM_LABELS"
    assert CALICO_SYSTEM_LABELS["pod-security.kubernetes.io/enforce"] in LEVELS
    # No other calico-* namespace: the calico role creates only the Installation (no APIServer,
    # Goldmane or Whisker resource, whose namespaces the operator would create).
    installation = (ANSIBLE_DIR / "roles/calico/templates/installation.yaml.j2").read_text()
    assert installation.count("kind:") == 1 and "kind: Installation" in installation


def test_argocd_runs_restricted_and_monitoring_privileged_only_for_node_exporter(
    pods: list[tuple[str, str, Doc]],
) -> None:
    argocd = [(n, s) for ns, n, s in pods if ns == ARGOCD_NAMESPACE]
    assert argocd and all(strictest(s) == "restricted" for _, s in argocd)
    loose = sorted(n for ns, n, s in pods if ns == "monitoring" and strictest(s) != "restricted")
    assert loose == ["app:monitoring-stack:DaemonSet/kube-prometheus-stack-prometheus-node-exporter"]


def test_local_path_storage_is_privileged_only_for_the_helper_pods_host_path(
    pods: list[tuple[str, str, Doc]],
) -> None:
    mine = {n: s for ns, n, s in pods if ns == "local-path-storage"}
    assert set(mine) == {"ansible:storage:Deployment/local-path-provisioner", "ansible:storage:Pod/helper-pod"}
    assert sorted(n for n, s in mine.items() if strictest(s) == "privileged") == ["ansible:storage:Pod/helper-pod"]
    helper = mine["ansible:storage:Pod/helper-pod"]
    without_host_path = {**helper, "volumes": [v for v in helper["volumes"] if "hostPath" not in v]}
    assert strictest(without_host_path) != "privileged", "the hostPath volume is the one reason for privileged"


def is_default_deny(policy: Doc, direction: str) -> bool:
    spec = policy["spec"]
    return spec["podSelector"] == {} and direction in spec.get("policyTypes", []) and not spec.get(direction.lower())


@pytest.mark.ansible  # the control_plane role's namespaces are rendered by ansible-playbook
def test_every_namespace_has_a_default_deny_policy(
    namespaces: dict[str, dict[str, str]],
    app_objects: dict[str, list[Doc]],  # noqa: F811
    storage: dict[str, Any],  # noqa: F811
) -> None:
    policies = app_objects["network-policies"] + [d for d in storage["default"] if d["kind"] == "NetworkPolicy"]
    # kubeadm's namespaces and tigera-operator's hold the cluster's own plumbing (hostNetwork pods
    # NetworkPolicy does not select, kube-proxy, CoreDNS, the CSI node plugin); fencing them is
    # not part of this test (docs/gitops-practices.md, "Pod Security").
    for ns in set(namespaces) - BOOTSTRAP_NAMESPACES:
        mine = [p for p in policies if p["metadata"]["namespace"] == ns]
        assert any(is_default_deny(p, "Ingress") for p in mine), f"namespace {ns} has no default-deny ingress"
        # data and messaging keep egress open for their credentials Jobs (docs/app-of-apps.md).
        if ns not in ("data", "messaging"):
            assert any(is_default_deny(p, "Egress") for p in mine), f"namespace {ns} has no default-deny egress"


MATRIX_SOURCES = (
    "release:argocd",
    "app:monitoring-stack",
    "app:cert-manager",
    "app:cloudnative-pg",
    "app:plugin-barman-cloud",
    "app:aws-ebs-csi-driver",
    "app:envoy-gateway",
)


def test_the_flow_matrix_pods_are_the_rendered_ones() -> None:
    """The labels and ports tests/manifests/test_manifests.py gives the pods of the charts it fences: ArgoCD,
    the monitoring stack, cert-manager, the CloudNativePG operator, the Barman Cloud plugin, the EBS CSI
    driver and Envoy Gateway's controller."""
    rendered_pods: list[tuple[str, dict[str, str], dict[str, int]]] = []
    for source_id in MATRIX_SOURCES:
        for obj in rendered(source_id):
            if (spec := pod_spec(obj)) is not None:
                ns = obj["metadata"].get("namespace") or SOURCES[source_id].namespace
                labels = pod_template(obj)["metadata"]["labels"]  # type: ignore[index]
                rendered_pods.append((ns, labels, container_ports(spec)))
    complete = {e.name for e in [*CERT_MANAGER_PODS, *CNPG_PODS]}
    matrix = [*ARGOCD_PODS, *MONITORING_PODS, *CERT_MANAGER_PODS, *CNPG_PODS, *EBS_CSI_PODS, *ENVOY_GATEWAY_PODS]
    for endpoint in matrix:
        if endpoint.name in ("alertmanager", "envoy-gateway-system/envoy"):
            # Created at run time (by the operator from the Alertmanager resource, by Envoy Gateway's
            # controller from the Gateway), not rendered: tests/support/platform_pods.py cites their labels.
            continue
        if endpoint.name == "argocd/dex-server":
            continue  # rendered with SSO only: tests/unit/test_flows_rendered.py checks its ports in that render
        matches = [
            (ns, ports) for ns, labels, ports in rendered_pods if labels_match({"matchLabels": endpoint.labels}, labels)
        ]
        assert len(matches) == 1, f"{endpoint.name}: {endpoint.labels} matches {len(matches)} rendered pods"
        ((ns, ports),) = matches
        assert ns == endpoint.namespace, f"{endpoint.name} runs in {ns}"
        for name, number in endpoint.ports.items():
            assert ports.get(name) == number, f"{endpoint.name}: port {name}"
        if endpoint.name in complete:
            # Every port these pods listen on is an endpoint port the matrix probes, so a port a
            # chart bump adds shows up here before it is left out of the policies' review.
            assert dict(endpoint.ports) == ports, f"{endpoint.name}: the chart renders ports {ports}"
            assert {(n, "TCP") for n in ports.values()} <= set(PROBE_PORTS), f"{endpoint.name}: probe {ports}"


# --- the argocd namespace, created by Pulumi (mock runtime) -------------------------------------


def test_pulumi_creates_the_argocd_namespace_with_its_labels_before_the_release(dev) -> None:
    namespace = dev.one("kubernetes:core/v1:Namespace")
    release = dev.one("kubernetes:helm.sh/v3:Release")
    assert namespace.inputs["metadata"] == {"name": ARGOCD_NAMESPACE, "labels": dict(ARGOCD_NAMESPACE_LABELS)}
    assert namespace.inputs["metadata"]["labels"][ENFORCE] == "restricted"
    assert namespace.provider == release.provider, "the namespace must use the cluster's explicit provider"
    assert namespace.parent == release.parent
    assert release.inputs["namespace"] == ARGOCD_NAMESPACE
    assert release.inputs.get("createNamespace") is not True, "Helm would create it without labels"
    assert dev.depends_on(release, namespace)
