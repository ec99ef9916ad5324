"""What a bootstrapped simulated cluster must look like, and the node tables the scenarios use.

Shared by the scenario modules of tests/simulator/ (the first run, the faults, the upgrade), which
each build one simulated cluster and take it through a sequence of runs. What is asserted comes
from the stack file (Pulumi.dev.yaml through `parse_settings`) and versions.yaml, never from
copies. Registered for pytest's assertion rewriting (tests/conftest.py), so a failed check prints
the values it compared.
"""

from __future__ import annotations

import ipaddress
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from components.cluster_auth import ADMIN_ORGANIZATION
from components.control_plane_reads import PROVIDER_CLIENT_NAME, rewrite_kubeconfig_server
from components.settings.model import NodeRole, NodeSpec, StackSettings
from components.settings.parse import parse_settings
from tests.support.node_simulator import dpkg_status, stack_values
from tests.support.paths import ROOT
from tests.support.simulator.cluster import Run, SimCluster
from tests.support.simulator.upstream import release_file
from tests.support.simulator.world import World

# The kubeconfig the stack exports names the API endpoint people and CI use; the nodes reach the API
# under an in-VPC name here, so a rewrite that does nothing shows.
EXPORTED_ENDPOINT = "api.gitops-dev.example.com"
CRDS = "manifests/operator-crds.yaml"


# --- the stack, read from the stack file ---------------------------------------------------------


def dev_settings() -> StackSettings:
    return parse_settings(stack_values())


def table_subset(settings: StackSettings, roles: Sequence[NodeRole]) -> list[NodeSpec]:
    """The first node of the table for each role asked for, in table order."""
    picked: list[NodeSpec] = []
    for role in roles:
        picked.append(next(n for n in settings.nodes if n.role is role and n not in picked))
    return sorted(picked, key=list(settings.nodes).index)


def simulate(world: World, settings: StackSettings, nodes: Sequence[NodeSpec]) -> Iterator[SimCluster]:
    """A simulated cluster of `nodes` for a fixture to yield; closed, namespace checked gone, after."""
    sim = SimCluster(world, nodes, settings.versions, settings.cluster_name, settings.pod_cidr, settings.service_cidr)
    try:
        yield sim
    finally:
        sim.close()
        assert not Path(f"/run/netns/{sim.netns}").exists(), f"namespace {sim.netns} was left behind"


# --- what a finished cluster looks like ------------------------------------------------------------


def runc_options(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every `...runtimes.runc.options` table, wherever the config format version puts it."""
    found = []

    def walk(table: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                if path[-2:] == ("runtimes", "runc") and key == "options":
                    found.append(value)
                walk(value, (*path, key))

    walk(config, ())
    return found


def sandbox_image(config: dict[str, Any]) -> str | None:
    plugins = config.get("plugins", {})
    if config.get("version") == 3:  # containerd 2.x
        return plugins.get("io.containerd.cri.v1.images", {}).get("pinned_images", {}).get("sandbox")
    return plugins.get("io.containerd.grpc.v1.cri", {}).get("sandbox_image")


def assert_node_prepared(sim: SimCluster, node: str, versions: dict[str, str]) -> None:
    host = sim.hosts[node]
    config = tomllib.loads(host.read("/etc/containerd/config.toml"))
    options = runc_options(config)
    assert options and all(o.get("SystemdCgroup") is True for o in options), f"{node}: SystemdCgroup is not true"
    assert sandbox_image(config) == f"registry.k8s.io/pause:{versions['kubernetesPause']}", node
    units = host.state("systemd.json", {})
    for unit in ("containerd.service", "kubelet.service"):
        assert units.get(unit, {}).get("enabled"), f"{node}: {unit} is not enabled"
    assert units["containerd.service"]["active"] and units["containerd.service"]["restarts"] >= 1, (
        f"{node}: containerd was not restarted after its configuration was written"
    )

    assert host.state("swap.json") == [], f"{node}: swap is still on"
    fstab = host.read("/etc/fstab").splitlines()
    assert not [line for line in fstab if not line.startswith("#") and " swap " in line], f"{node}: swap in fstab"
    assert "# /swap.img none swap sw 0 0" in fstab, f"{node}: the fstab swap line was lost instead of commented"

    common = yaml.safe_load((ROOT / "ansible/roles/common/defaults/main.yml").read_text())
    assert host.read("/etc/modules-load.d/kubernetes.conf").split()[-2:] == common["common_kernel_modules"]
    for module in common["common_kernel_modules"]:
        assert host.path(f"/sys/module/{module}").is_dir(), f"{node}: module {module} is not loaded"
    live = host.state("sysctl.json", {})
    for key, value in common["common_sysctl"].items():
        assert live.get(key) == str(value), f"{node}: sysctl {key} is {live.get(key)!r}, not {value}"
    assert host.state("hostname.json", {}).get("static") == node

    packages = dpkg_status(sim, node)
    k8s = f"{versions['kubernetes']}-{versions['kubernetesPackageRevision']}"
    for name, version in (
        ("containerd.io", versions["containerd"]),
        ("kubeadm", k8s),
        ("kubelet", k8s),
        ("kubectl", k8s),
    ):
        # Docker's containerd.io 2.x builds carry the distribution after "~" (2.3.4-1~ubuntu.24.04~noble).
        installed = packages.get(name, {}).get("Version", "")
        assert installed.split("~")[0] == version, f"{node}: {name} is {installed or 'missing'}, not {version}"
        assert packages[name]["Status"] == "hold ok installed", f"{node}: {name} is not held"


def assert_cluster_built(
    sim: SimCluster, settings: StackSettings, run: Run, state: dict[str, Any] | None = None
) -> None:
    """The run succeeded and left the cluster the stack describes.

    `state`: the simulated cluster's state (`sim.cluster_state()`) as it was right after `run`, for a
    scenario that went on running; by default the state now. The hosts' files are read as they are
    now: the later runs of a scenario must leave them as they were (each asserts so).
    """
    assert run.returncode == 0, run.output[-6000:]
    state = sim.cluster_state() if state is None else state
    first, *others = sim.nodes
    for node in sim.nodes:
        assert_node_prepared(sim, node.name, dict(settings.versions))

    # The kubeadm configuration init read, as rendered from the stack.
    docs = {d["kind"]: d for d in yaml.safe_load_all(state["kubeadmConfig"])}
    assert sim.hosts[first.name].read("/etc/kubernetes/kubeadm-config.yaml") == state["kubeadmConfig"]
    cluster_cfg = docs["ClusterConfiguration"]
    assert cluster_cfg["controlPlaneEndpoint"] == f"{sim.endpoint}:6443"
    assert cluster_cfg["kubernetesVersion"] == f"v{settings.versions['kubernetes']}"
    assert cluster_cfg["clusterName"] == settings.cluster_name
    control_planes = [n for n in sim.nodes if n.role is NodeRole.CONTROL_PLANE]
    assert cluster_cfg["apiServer"]["certSANs"] == [sim.endpoint, *(sim.hosts[n.name].address for n in control_planes)]
    assert ipaddress.ip_network(cluster_cfg["networking"]["podSubnet"]) == settings.pod_cidr
    assert ipaddress.ip_network(cluster_cfg["networking"]["serviceSubnet"]) == settings.service_cidr
    assert docs["InitConfiguration"]["nodeRegistration"]["name"] == first.name
    assert docs["KubeletConfiguration"]["cgroupDriver"] == "systemd"
    assert state["initNode"] == first.name

    # Every other node joined once, with a token the cluster issued, the cluster's CA hash and, for
    # control planes, a certificate key it uploaded; workers registered with the table's taints.
    joins = {j["node"]: j for j in state["joins"]}
    assert sorted(j["node"] for j in state["joins"]) == sorted(n.name for n in others)
    issued = [t["token"] for t in state["tokens"]]
    for node in others:
        join = joins[node.name]
        assert join["token"] in issued and join["caCertHashes"] == [state["caCertHash"]], node.name
        if node.role is NodeRole.CONTROL_PLANE:
            assert join["controlPlane"] and join["certificateKey"] in state["uploadedKeys"], node.name
        else:
            assert not join["controlPlane"] and join["certificateKey"] is None, node.name
            wanted = [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.taints]
            assert join["taints"] == wanted, f"{node.name} registered with {join['taints']}, not {wanted}"
    assert_labels_and_taints(sim, state)

    objects = state["objects"]
    installation = objects["operator.tigera.io/Installation//default"]
    pool = installation["spec"]["calicoNetwork"]["ipPools"][0]
    assert ipaddress.ip_network(pool["cidr"]) == settings.pod_cidr and pool["encapsulation"] == "VXLAN"
    assert "/Namespace//tigera-operator" in objects
    # What the published release files create, and nothing the stand-in made up: Calico's 32 operator
    # CRDs from operator-crds.yaml, the operator Deployment of tigera-operator.yaml with its image.
    crds = [
        d["metadata"]["name"] for d in yaml.safe_load_all(release_file("calico", settings.versions, CRDS).read_text())
    ]
    assert len(crds) == 32 and all(f"apiextensions.k8s.io/CustomResourceDefinition//{c}" in objects for c in crds)
    operator = objects["apps/Deployment/tigera-operator/tigera-operator"]
    assert operator["spec"]["template"]["spec"]["containers"][0]["image"] == settings.versions["calicoOperatorImage"]
    storage_class = objects["storage.k8s.io/StorageClass//local-path"]
    # Not the default: gp3 (EBS) is, once ArgoCD syncs manifests/data/storage (docs/deployment.md).
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "false"
    assert "apps/Deployment/local-path-storage/local-path-provisioner" in objects
    assert "/ConfigMap/local-path-storage/local-path-config" in objects
    # Fenced from its first apply: Pod Security labels and default-deny (tests/manifests/test_pod_security.py).
    storage_ns = objects["/Namespace//local-path-storage"]["metadata"].get("labels", {})
    assert storage_ns["pod-security.kubernetes.io/enforce"] == "privileged"
    assert storage_ns["pod-security.kubernetes.io/warn"] == "restricted"
    assert "networking.k8s.io/NetworkPolicy/local-path-storage/default-deny" in objects
    assert "networking.k8s.io/NetworkPolicy/local-path-storage/allow-provisioner-to-dns-and-api-server" in objects

    # Pod Security labels on the namespaces kubeadm and tigera-operator.yaml create, pinned to the
    # cluster's minor (tests/roles/test_pod_security_admission.py renders them), and the cluster-wide
    # default the API server reads.
    minor = "v" + ".".join(settings.versions["kubernetes"].split(".")[:2])
    for name, level in [
        ("default", "restricted"),
        ("kube-public", "restricted"),
        ("kube-node-lease", "restricted"),
        ("kube-system", "privileged"),
        ("tigera-operator", "privileged"),
    ]:
        labels = objects[f"/Namespace//{name}"]["metadata"].get("labels", {})
        assert labels.get("pod-security.kubernetes.io/enforce") == level, (name, labels)
        assert labels.get("pod-security.kubernetes.io/enforce-version") == minor, (name, labels)
    admission = yaml.safe_load(sim.hosts[first.name].read("/etc/kubernetes/apiserver/admission-config.yaml"))
    assert admission["plugins"][0]["configuration"]["defaults"]["enforce"] == "baseline"

    # The provider's credential: minted for an hour on the first control plane, never admin.conf.
    fetched = sim.kubeconfig()
    assert fetched.returncode == 0, fetched.stderr
    kubeconfig = yaml.safe_load(rewrite_kubeconfig_server(fetched.stdout, EXPORTED_ENDPOINT))
    assert [c["cluster"]["server"] for c in kubeconfig["clusters"]] == [f"https://{EXPORTED_ENDPOINT}:6443"]
    admin = yaml.safe_load(sim.hosts[first.name].read("/etc/kubernetes/admin.conf"))
    assert kubeconfig["users"][0]["user"] != admin["users"][0]["user"], "the stack read admin.conf's key"
    minted = sim.cluster_state()["minted"][-1]
    assert (minted["CN"], minted["O"]) == (PROVIDER_CLIENT_NAME, [ADMIN_ORGANIZATION])
    assert 3500 < minted["notAfter"] - time.time() <= 3600
    ca = sim.cluster_ca()
    assert ca.returncode == 0, ca.stderr
    assert ca.stdout == sim.hosts[first.name].read("/etc/kubernetes/pki/ca.crt")


def assert_labels_and_taints(sim: SimCluster, state: dict[str, Any]) -> None:
    """Each node carries the table's labels and taints, and every label went through `kubectl label`."""
    labelled = {call[call.index("label") + 2]: call for call in state["kubectl"] if "label" in call}
    for node in sim.nodes:
        live = state["nodes"][node.name]
        labels = live["metadata"]["labels"]
        for key, value in node.labels.items():
            assert labels.get(key) == value, f"{node.name}: label {key} is {labels.get(key)!r}, not {value!r}"
            assert f"{key}={value}" in labelled.get(node.name, []), f"{node.name}: {key} was not applied by kubectl"
        taints = {(t["key"], t.get("value", ""), t["effect"]) for t in live.get("spec", {}).get("taints", [])}
        for taint in node.taints:
            assert (taint.key, taint.value, taint.effect) in taints, f"{node.name}: taint {taint} is missing"


def bumped(versions: Mapping[str, str], minors: int = 1, patch: int = 0) -> dict[str, str]:
    """The table with `kubernetes` moved by `minors` minor versions (to patch `patch`)."""
    major, minor, _ = versions["kubernetes"].split(".")
    return {**versions, "kubernetes": f"{major}.{int(minor) + minors}.{patch}"}


def failure_of(check: Callable[[], None]) -> str | None:
    """Run `check` now and return its failure message (None when it passes), for a scenario that
    goes on changing the cluster after the moment the check is about; a test asserts on the result.
    The message keeps pytest's explanation of the comparison that failed (assertion rewriting)."""
    try:
        check()
    except AssertionError as error:
        return str(error) or repr(error)
    return None
