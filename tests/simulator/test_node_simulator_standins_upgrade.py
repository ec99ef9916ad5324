"""The stand-ins' `kubeadm upgrade` and `kubectl drain/uncordon` behave and print like the real tools.

Same harness as tests/simulator/test_node_simulator_standins.py (a temporary root per host, the stand-in run
as a program). kubeadm's version policy (phases/upgrade/policy.go): the target may not be above
kubeadm's own version, more than one minor above the cluster, or at/below it; `apply` asks for
confirmation unless --yes. The recorded outputs are under tests/fixtures/standins/.
"""

from __future__ import annotations

import re

import pytest

from tests.support.standins_scenario import FIXTURES, INIT, Node


@pytest.fixture
def cp(tmp_path) -> Node:
    node = Node(tmp_path / "cp")
    result = node.run("kubeadm", "init", "--config", node.write("/etc/kubernetes/kubeadm-config.yaml", INIT))
    assert result.returncode == 0, result.stderr
    return node


def kubeadm_at(node: Node, version: str) -> None:
    """What installing another kubeadm package does to the stand-in (its version file)."""
    node.write("/usr/share/gitops-sim/kubeadm.version", f"{version}-1.1\n")


def cluster_version(node: Node) -> str:
    config = node.cluster()["objects"]["/ConfigMap/kube-system/kubeadm-config"]["data"]["ClusterConfiguration"]
    found = re.search(r'"kubernetesVersion": "([^"]+)"', config)
    assert found, config
    return found.group(1)


@pytest.mark.parametrize(
    ("kubeadm", "target", "message"),
    [
        ("1.31.4", "v1.32.0", 'is higher than the kubeadm version "v1.31.4". Upgrade kubeadm first'),
        ("1.33.1", "v1.33.1", "is too high; kubeadm can upgrade only 1 minor version at a time"),
        ("1.32.0", "v1.30.9", 'is equal to or lower than the cluster version "v1.31.4". Downgrades are not supported'),
    ],
)
def test_apply_enforces_kubeadms_version_policy(cp, kubeadm, target, message):
    kubeadm_at(cp, kubeadm)
    result = cp.run("kubeadm", "upgrade", "apply", target, "--yes")
    assert result.returncode == 1
    assert f'Specified version to upgrade to "{target}" {message}' in result.stderr
    assert "To see the stack trace of this error execute with --v=5 or higher" in result.stderr
    assert cluster_version(cp) == "v1.31.4"
    assert cp.cluster().get("events", []) == []


def test_apply_asks_for_confirmation_then_upgrades_the_cluster(cp):
    kubeadm_at(cp, "1.32.2")
    unconfirmed = cp.run("kubeadm", "upgrade", "apply", "v1.32.2")
    assert unconfirmed.returncode == 1 and "[y/N]" in unconfirmed.stdout
    assert cluster_version(cp) == "v1.31.4"

    plan = cp.run("kubeadm", "upgrade", "plan", "v1.32.2")
    assert plan.returncode == 0, plan.stderr
    assert "[upgrade/versions] Cluster version: v1.31.4" in plan.stdout
    assert "kubeadm upgrade apply v1.32.2" in plan.stdout

    applied = cp.run("kubeadm", "upgrade", "apply", "v1.32.2", "--yes")
    assert applied.returncode == 0, applied.stderr
    recorded = (FIXTURES / "kubeadm-upgrade-apply-tail.txt").read_text().replace("v1.33.6", "v1.32.2")
    assert applied.stdout.endswith(recorded)
    assert cluster_version(cp) == "v1.32.2"
    assert "kube-apiserver:v1.32.2" in (cp.root / "etc/kubernetes/manifests/kube-apiserver.yaml").read_text()
    assert cp.cluster()["events"] == [{"call": "upgrade-apply", "node": "master", "version": "v1.32.2"}]


def test_upgrade_node_follows_the_cluster_version_and_needs_a_new_enough_kubeadm(cp):
    kubeadm_at(cp, "1.32.2")
    assert cp.run("kubeadm", "upgrade", "apply", "v1.32.2", "--yes").returncode == 0
    kubeadm_at(cp, "1.31.4")
    old = cp.run("kubeadm", "upgrade", "node")
    assert old.returncode == 1 and "upgrade kubeadm on this node first" in old.stderr
    kubeadm_at(cp, "1.32.2")
    done = cp.run("kubeadm", "upgrade", "node")
    assert done.returncode == 0, done.stderr
    assert "The control plane instance for this node was successfully upgraded!" in done.stdout
    assert cp.cluster()["events"][-1] == {"call": "upgrade-node", "node": "master", "version": "v1.32.2"}


def test_drain_cordons_evicts_and_times_out_on_a_blocked_budget(cp):
    kubectl = ("kubectl", "--kubeconfig=/etc/kubernetes/admin.conf")
    refused = cp.run(*kubectl, "drain", "master")
    assert refused.returncode == 1 and "use --ignore-daemonsets to ignore" in refused.stderr

    drained = cp.run(*kubectl, "drain", "master", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s")
    assert drained.returncode == 0, drained.stderr
    recorded = (FIXTURES / "kubectl-drain.txt").read_text()
    random_suffix = re.compile(r"-(node01|[a-z]{5})\b")
    assert random_suffix.sub("-X", drained.stdout.replace("master", "node01")) == (random_suffix.sub("-X", recorded))
    assert cp.cluster()["nodes"]["master"]["spec"]["unschedulable"] is True
    assert cp.run(*kubectl, "uncordon", "master").stdout == "node/master uncordoned\n"
    assert cp.run(*kubectl, "uncordon", "master").stdout == "node/master already uncordoned\n"
    assert "unschedulable" not in cp.cluster()["nodes"]["master"]["spec"]

    cp.write("/etc/gitops-sim/faults/drain-blocked", "master")
    blocked = cp.run(*kubectl, "drain", "master", "--ignore-daemonsets", "--timeout=90s")
    assert blocked.returncode == 1
    assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stdout
    assert 'error: unable to drain node "master" due to error: global timeout reached: 1m30s' in blocked.stderr
    assert not (cp.root / "etc/gitops-sim/faults/drain-blocked").exists(), "the condition fires once"
    assert [e["call"] for e in cp.cluster()["events"]] == ["drain", "uncordon", "uncordon", "drain", "drain-timeout"]
