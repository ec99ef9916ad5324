"""The rolling Kubernetes upgrade (ansible/upgrade.yml) executes in the node simulator.

One simulated cluster for the module (three control planes from the dev table's control-plane row,
its first worker and first infrastructure node), bootstrapped by the component's two commands
(`SimCluster.up`: the prepare command with its fingerprint, then the cluster command) at the pin of
versions.yaml, then driven through ansible/upgrade.yml by the very invocation the component's
upgrade step runs (`playbook_command(..., playbook="upgrade.yml")`), with the pin moved as a user
would move it. The simulator's repositories also offer the next minor release (one pkgs.k8s.io
repository per minor); kubeadm's stand-in keeps the cluster's version in the kubeadm-config
ConfigMap, enforces kubeadm's version policy and records every `kubeadm upgrade`, drain, uncordon
and kubelet restart in order (tests/support/simulator/standins.py).

Last, `bootstrap_after`: the two commands again, as `pulumi up` runs them when their triggers change
later (an edited role, a new row), with the Kubernetes pins the engine kept from creation. Two nodes
(the second control plane and the worker) have their preparation marker removed first, so the
prepare command prepares them again as it prepares every node after an edited prepare role: the
prepare roles re-run on an upgraded node must leave its packages at the cluster's version (the
pin is older) and change nothing but the marker; the three nodes still marked are left out (preparing
all five again cost about 250 module runs for no more coverage).

What is asserted: the bootstrap builds the cluster the stack describes, its two further control
planes joining one at a time before the other nodes, each with the uploaded certificate key (the
three-control-plane case, checked right after the bootstrap, before the upgrade moves the packages
on); a run at the cluster's own version does nothing (a new cluster runs no
upgrade); a skip of two minors and a downgrade are refused before anything changes, naming both
versions; a drain that times out (a PodDisruptionBudget that allows no eviction) stops the run
naming the node, with the nodes after it untouched; the next run finishes in the kubeadm order
(apply on the first control plane, `upgrade node` on the others, then each worker drained, upgraded
and uncordoned, never two nodes drained at once); a second run changes nothing, and neither do
the bootstrap's commands afterwards, with the pins the engine keeps for them.

The scenario runs once (the `upgrade` fixture) and the tests read its record, so the module costs
one cluster: the module is in ONE_WORKER_MODULES (tests/conftest.py), so xdist runs every test of
it on the worker that built the scenario.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.playbooks import KUBERNETES_KEYS, playbook_command
from components.settings.model import NodeRole, StackSettings
from components.settings.parse import parse_settings
from tests.support.node_simulator import FAST, assert_recap, dpkg_status, stack_values
from tests.support.paths import ROOT
from tests.support.simulator.checks import assert_cluster_built, bumped, failure_of
from tests.support.simulator.cluster import Run, SimCluster, Up
from tests.support.simulator.standins import _key

pytestmark = pytest.mark.simulator
# The upgrade's waits need not be long either: the stand-ins answer at once.
DRAIN_TIMEOUT = 90
# Where a prepared node keeps its marker (ansible/roles/prepare_marker/defaults/main.yml).
PREPARE_MARKER = yaml.safe_load((ROOT / "ansible/roles/prepare_marker/defaults/main.yml").read_text())[
    "prepare_marker_path"
]


def upgrade_settings() -> StackSettings:
    """The dev table's control-plane row three times (etcd wants an odd count), its first worker and infra node."""
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["gitops-cluster:nodes"]
    cp = next(r for r in raw if r["role"] == "control-plane")
    worker = next(r for r in raw if r["role"] == "worker")
    infra = next(r for r in raw if r["role"] == "infrastructure")
    rows = [cp, {**cp, "name": f"{cp['name']}-2"}, {**cp, "name": f"{cp['name']}-3"}, worker, infra]
    return parse_settings(stack_values(rows))


def upgrade_run(sim: SimCluster, versions: Mapping[str, str], *, timeout: float = 900) -> Run:
    """ansible/upgrade.yml as the component's upgrade step runs it, with `versions` as the table."""
    vars_file = sim.dir / f"upgrade-vars-{len(list(sim.dir.glob('upgrade-vars-*')))}.json"
    vars_file.write_text(json.dumps({"kubernetes_upgrade_drain_timeout": DRAIN_TIMEOUT}))
    spec = playbook_command(
        sim.cluster_vars,
        sim.inventory_hosts(),
        sim.jump(),
        versions,
        str(sim.known_hosts),
        playbook="upgrade.yml",
        extra_args=["-e", f"@{vars_file}"],
        inventory=sim.inventory(),
    )
    return sim.run_playbook(spec, timeout=timeout, log_name=vars_file.stem)


def events(sim: SimCluster) -> list[dict[str, str]]:
    return list(sim.cluster_state().get("events", []))


def k8s_packages(sim: SimCluster) -> dict[str, dict[str, str]]:
    """node -> package -> 'version status' for kubeadm, kubelet, kubectl."""
    out = {}
    for node in sim.nodes:
        status = dpkg_status(sim, node.name)
        out[node.name] = {p: f"{status[p]['Version']} {status[p]['Status']}" for p in ("kubeadm", "kubelet", "kubectl")}
    return out


@dataclass
class Scenario:
    sim: SimCluster
    settings: StackSettings
    target: dict[str, str]
    bootstrap: Up
    bootstrap_state: dict[str, Any]
    built_at_pin: str | None
    same_version: Run
    same_version_events: list[dict[str, str]]
    refusals: dict[str, tuple[Run, list[dict[str, str]], dict[str, Any], str]]
    blocked_node: str
    blocked: Run
    blocked_events: list[dict[str, str]]
    resumed: Run
    upgrade_events: list[dict[str, str]]
    second: Run
    second_events: list[dict[str, str]]
    bootstrap_after: Up
    bootstrap_after_events: list[dict[str, str]]
    prepared_again: list[str]


@pytest.fixture(scope="module")
def upgrade(world) -> Iterator[Scenario]:
    settings = upgrade_settings()
    target = bumped(settings.versions)
    sim = SimCluster(
        world, settings.nodes, settings.versions, settings.cluster_name, settings.pod_cidr, settings.service_cidr
    )
    try:
        bootstrap = sim.up(FAST)
        bootstrap_state = sim.cluster_state()
        # Checked now: the upgrade below moves the packages on.
        built_at_pin = failure_of(lambda: assert_cluster_built(sim, settings, bootstrap, bootstrap_state))
        assert bootstrap.returncode == 0, bootstrap.output[-6000:]
        # The first `pulumi up`: the upgrade step runs with the pin the cluster was just built at.
        same_version = upgrade_run(sim, settings.versions)
        same_version_events = events(sim)

        refusals = {}
        for case, versions in (
            ("skip", bumped(settings.versions, minors=2)),
            ("downgrade", bumped(settings.versions, minors=-1, patch=3)),
        ):
            before = (k8s_packages(sim), sim.cluster_state()["objects"])
            run = upgrade_run(sim, versions)
            refusals[case] = (
                run,
                events(sim),
                {"before": before, "after": (k8s_packages(sim), sim.cluster_state()["objects"])},
                versions["kubernetes"],
            )

        first_worker = next(n.name for n in settings.nodes if n.role is not NodeRole.CONTROL_PLANE)
        control_plane, control_plane_2 = settings.nodes[0].name, settings.nodes[1].name
        mark = len(events(sim))
        sim.set_fault(control_plane, "drain-blocked", first_worker)
        blocked = upgrade_run(sim, target)
        blocked_events = events(sim)[mark:]
        resumed = upgrade_run(sim, target)
        upgrade_events = events(sim)[mark:]
        mark = len(events(sim))
        second = upgrade_run(sim, target)
        second_events = events(sim)[mark:]
        # What the engine runs when the bootstrap's commands re-run later (an edited role, a new row):
        # the Kubernetes pins it kept from creation (ignore_changes), the rest of the table as it is
        # now. Two nodes unmarked: prepared again, as after an edited prepare role.
        prepared_again = [control_plane_2, first_worker]
        for name in prepared_again:
            sim.hosts[name].path(PREPARE_MARKER).unlink()
        bootstrap_after = sim.up(FAST)
        bootstrap_after_events = events(sim)[mark:]
        yield Scenario(
            sim,
            settings,
            target,
            bootstrap,
            bootstrap_state,
            built_at_pin,
            same_version,
            same_version_events,
            refusals,
            first_worker,
            blocked,
            blocked_events,
            resumed,
            upgrade_events,
            second,
            second_events,
            bootstrap_after,
            bootstrap_after_events,
            prepared_again,
        )
    finally:
        sim.close()
        assert not Path(f"/run/netns/{sim.netns}").exists(), f"namespace {sim.netns} was left behind"


def changed_tasks(run: Run) -> list[str]:
    """`TASK [...] host` for every task that reported a change."""
    found, task = [], ""
    for line in run.output.splitlines():
        if line.startswith("TASK ["):
            task = line.split("]")[0] + "]"
        elif line.startswith("changed: ["):
            found.append(f"{task} {line}")
    return found


def names(sim: SimCluster) -> list[str]:
    return [n.name for n in sim.nodes]


# --- the tests ---------------------------------------------------------------------------------------


def test_three_control_planes_join_one_at_a_time_with_the_certificate_key(upgrade):
    """The bootstrap of the scenario's table (three control-plane rows, a worker, an infrastructure node)."""
    assert upgrade.built_at_pin is None, upgrade.built_at_pin
    order = [j["node"] for j in upgrade.bootstrap_state["joins"]]
    control_planes = [n.name for n in upgrade.settings.nodes if n.role is NodeRole.CONTROL_PLANE]
    assert len(control_planes) == 3
    assert order[:2] == control_planes[1:3], "control planes joined before workers, in order"


def test_a_cluster_at_the_pin_runs_no_upgrade(upgrade):
    run = upgrade.same_version
    assert run.returncode == 0, run.output[-6000:]
    assert_recap(run, names(upgrade.sim), changed=0, failed=0, unreachable=0)
    assert [e for e in upgrade.same_version_events if e["call"] != "kubelet-restart"] == []


@pytest.mark.parametrize("case", ["skip", "downgrade"])
def test_a_skipped_minor_or_a_downgrade_is_refused_before_anything_changes(upgrade, case):
    run, after_events, state, pinned = upgrade.refusals[case]
    current = upgrade.settings.versions["kubernetes"]
    assert run.returncode != 0, run.output[-6000:]
    assert f"pins kubernetes {pinned} but the cluster runs v{current}" in run.output, run.output[-4000:]
    fix = "one minor version at a time" if case == "skip" else "kubeadm cannot downgrade"
    assert fix in run.output, run.output[-4000:]
    assert state["before"] == state["after"], "a refused upgrade changed packages or cluster objects"
    assert after_events == upgrade.same_version_events, "a refused upgrade ran kubeadm, kubectl drain or a restart"
    for host, recap in run.recap.items():
        assert recap["changed"] == 0, f"{host} changed during a refused upgrade"


def test_a_drain_that_times_out_stops_the_run_naming_the_node(upgrade):
    run, node = upgrade.blocked, upgrade.blocked_node
    assert run.returncode != 0
    assert f"Draining {node} did not finish within {DRAIN_TIMEOUT} s" in run.output, run.output[-6000:]
    assert "PodDisruptionBudget" in run.output and "global timeout reached: 1m30s" in run.output
    touched = {e["node"] for e in upgrade.blocked_events}
    control_planes = {n.name for n in upgrade.sim.nodes if n.role is NodeRole.CONTROL_PLANE}
    later = [n.name for n in upgrade.sim.nodes if n.name not in control_planes and n.name != node]
    assert touched == control_planes | {node}, f"nodes after {node} were touched: {touched}"
    assert [e["call"] for e in upgrade.blocked_events if e["node"] == node] == [
        "upgrade-node",
        "drain",
        "drain-timeout",
    ]
    assert later, "the scenario needs a node after the blocked one"


def test_the_upgrade_follows_the_kubeadm_order_one_node_at_a_time(upgrade):
    target = "v" + upgrade.target["kubernetes"]
    evs = upgrade.upgrade_events
    control_planes = [n.name for n in upgrade.sim.nodes if n.role is NodeRole.CONTROL_PLANE]
    others = [n.name for n in upgrade.sim.nodes if n.role is not NodeRole.CONTROL_PLANE]

    # Nodes in table order, each one's calls together: control planes (the first) before the rest.
    visited: list[str] = []
    for e in evs:
        if not visited or visited[-1] != e["node"]:
            visited.append(e["node"])
    assert visited == control_planes + others, visited
    assert evs[0] == {"call": "upgrade-apply", "node": control_planes[0], "version": target}

    # Never two nodes drained (cordoned and not yet uncordoned) at once.
    drained: set[str] = set()
    for e in evs:
        if e["call"] == "drain":
            drained.add(e["node"])
            assert len(drained) == 1, f"{sorted(drained)} drained at once"
        elif e["call"] == "uncordon":
            drained.discard(e["node"])
    assert drained == set(), f"{sorted(drained)} left cordoned"

    def calls(node: str) -> list[tuple[str, str]]:
        return [(e["call"], e["version"]) for e in evs if e["node"] == node]

    finish = [("drain", ""), ("kubelet-restart", target), ("uncordon", "")]
    assert calls(control_planes[0]) == [("upgrade-apply", target), *finish]
    for node in control_planes[1:]:
        assert calls(node) == [("upgrade-node", target), *finish], node
    for node in others:
        expected = [("upgrade-node", target), *finish]
        if node == upgrade.blocked_node:  # the stopped run's part, then the resumed run's
            expected = [("upgrade-node", target), ("drain", ""), ("drain-timeout", ""), *expected]
        assert calls(node) == expected, node


def test_every_node_ends_at_the_pin_held_and_schedulable(upgrade):
    run = upgrade.resumed
    assert run.returncode == 0, run.output[-6000:]
    apt = f"{upgrade.target['kubernetes']}-{upgrade.target['kubernetesPackageRevision']}"
    for node, packages in k8s_packages(upgrade.sim).items():
        for name, value in packages.items():
            assert value == f"{apt} hold ok installed", f"{node}: {name} is {value}"
    state = upgrade.sim.cluster_state()
    config = yaml.safe_load(
        state["objects"][_key("", "ConfigMap", "kube-system", "kubeadm-config")]["data"]["ClusterConfiguration"]
    )
    assert config["kubernetesVersion"] == "v" + upgrade.target["kubernetes"]
    for node in upgrade.sim.nodes:
        live = state["nodes"][node.name]
        assert not live.get("spec", {}).get("unschedulable"), f"{node.name} is still cordoned"
        assert live["status"]["nodeInfo"]["kubeletVersion"] == "v" + upgrade.target["kubernetes"], node.name
        if node.role is NodeRole.CONTROL_PLANE:
            manifest = upgrade.sim.hosts[node.name].read("/etc/kubernetes/manifests/kube-apiserver.yaml")
            assert f"kube-apiserver:v{upgrade.target['kubernetes']}" in manifest, node.name
    repo = upgrade.sim.hosts[upgrade.sim.nodes[-1].name].read("/etc/apt/sources.list.d/kubernetes.list")
    assert f"/v{'.'.join(upgrade.target['kubernetes'].split('.')[:2])}/deb/" in repo


def test_a_second_run_changes_nothing(upgrade):
    run = upgrade.second
    assert run.returncode == 0, run.output[-6000:]
    assert changed_tasks(run) == [], changed_tasks(run)
    assert_recap(run, names(upgrade.sim), changed=0, failed=0, unreachable=0)
    assert upgrade.second_events == []


def test_the_bootstrap_afterwards_keeps_the_upgraded_version(upgrade):
    """The bootstrap's commands with the creation-time pins (as the engine keeps them) neither downgrade
    nor refuse: the nodes prepared again keep the cluster's version and change nothing but their
    marker; the nodes still marked are left out; the cluster command changes nothing."""
    run = upgrade.bootstrap_after
    assert set(KUBERNETES_KEYS) <= set(upgrade.settings.versions)
    assert run.returncode == 0, run.output[-6000:]
    assert run.prepare is not None and run.cluster is not None
    marker_tasks = ("TASK [prepare_marker : Create the directory", "TASK [prepare_marker : Record what the node")
    changed = changed_tasks(run)
    assert [c for c in changed if not c.startswith(marker_tasks)] == [], changed
    recorded = run.prepare.task("Record what the node was prepared for")
    assert sorted(n for n in names(upgrade.sim) if f"changed: [{n}]" in recorded) == sorted(upgrade.prepared_again)
    play = run.prepare.output.split("PLAY [Prepare the nodes (kernel settings")[1].split("\nPLAY [")[0]
    for name in names(upgrade.sim):
        ran = f"[{name}]" in play
        assert ran == (name in upgrade.prepared_again), f"{name}: prepared again: {ran}\n{play[-3000:]}"
    assert_recap(run.cluster, names(upgrade.sim), changed=0, failed=0, unreachable=0)
    assert_recap(run, names(upgrade.sim), failed=0, unreachable=0)
    assert upgrade.bootstrap_after_events == []
    assert "the upgrade step that runs after it" in run.output
    # The packages did not move back to the pin (test_every_node_ends_at_the_pin_held_and_schedulable
    # reads them as they are now, after this run).
