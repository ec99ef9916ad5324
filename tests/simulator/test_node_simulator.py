"""The bootstrap executes before AWS does: ansible/site.yml, unmodified, against simulated hosts.

The first-run scenario. One simulated cluster for the module (tests/support/simulator/cluster.py):
a bastion and a control plane, a worker and a tainted infrastructure node of the dev stack's node
table, each with its own root, sshd and process namespace, inside a network namespace where nodes
answer only through the bastion. The playbook runs through `playbook_command` (the component's own
script, inventory, ssh_config, ansible.cfg; the key on stdin), and the admin kubeconfig comes back
through `kubeconfig_command` and `rewrite_kubeconfig_server`. Stand-ins play kubeadm, kubectl,
kubelet, containerd and the node's system tools; apt and dpkg are real.

**Reading the scenario** (new assertions go here as test functions taking `first_run`; never
build another cluster for them). The `first_run` fixture runs, once for the module:

1. `first_run.first`: site.yml on the fresh hosts (must succeed);
2. `first_run.second`: site.yml again (must change nothing);
3. `first_run.restored`: `--tags node_config` after the labels and taints were removed by hand.

`first_run.sim` is the cluster, still running: `sim.hosts[name].read(path)` reads a node's file
as it is now (runs 2 and 3 change no host file), `sim.cluster_state()` the cluster's state (the
API objects, joins, tokens, kubectl calls) as it is now; `first_run.state` is that state as it
was right after run 1. `first_run.settings` is the stack as parsed from Pulumi.dev.yaml;
`first_run.nodes` the node table's rows simulated, in table order.

What is asserted comes from the stack file (Pulumi.dev.yaml through `parse_settings`) and
versions.yaml, never from copies: after the first run, every host's containerd config, swap (now
and in fstab), modules, sysctls, pinned and held packages, the kubeadm config as rendered, every
join's token / CA hash / certificate key, the table's labels and taints applied through kubectl,
Calico's Installation and local-path objects, and the kubeconfig's server; the second run changes
nothing (PLAY RECAP). The faults of issue 8 are tests/simulator/test_node_simulator_faults.py,
three control planes and the upgrade tests/simulator/test_node_simulator_upgrade.py.

Needs root (namespaces, mounts), sshd, sudo, iproute2, util-linux, gpg, openssl, dpkg-dev and
python3-apt: `.ci/run` installs them; under CI=true a missing one fails (tests/support/prereqs.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.settings.model import NodeRole, NodeSpec, StackSettings
from tests.support.node_simulator import FAST, assert_recap
from tests.support.simulator.checks import (
    assert_cluster_built,
    assert_labels_and_taints,
    dev_settings,
    simulate,
    table_subset,
)
from tests.support.simulator.cluster import Run, SimCluster
from tests.support.simulator.world import ubuntu_release

pytestmark = pytest.mark.simulator


@dataclass
class FirstRun:
    sim: SimCluster
    settings: StackSettings
    nodes: list[NodeSpec]
    first: Run
    state: dict[str, Any]
    second: Run
    restored: Run


@pytest.fixture(scope="module")
def first_run(world) -> Iterator[FirstRun]:
    """A control plane, a worker and a tainted infrastructure node of the dev table, taken through
    the first run, a second run, and a run of `--tags node_config` after labels were removed by hand."""
    settings = dev_settings()
    nodes = table_subset(settings, (NodeRole.CONTROL_PLANE, NodeRole.WORKER, NodeRole.INFRASTRUCTURE))
    for sim in simulate(world, settings, nodes):
        first = sim.playbook(FAST)
        state = sim.cluster_state()
        second = sim.playbook(FAST)

        # Labels and taints removed by hand, and the record of kubectl calls emptied.
        changed = sim.cluster_state()
        for node in nodes:
            live = changed["nodes"][node.name]
            for key in node.labels:
                live["metadata"]["labels"].pop(key)
            live.get("spec", {}).pop("taints", None)
        changed["kubectl"] = []
        (sim.dir / "cluster-state" / "cluster.json").write_text(json.dumps(changed))
        restored = sim.playbook(FAST, ["--tags", "node_config"])
        yield FirstRun(sim, settings, nodes, first, state, second, restored)


# --- the tests ---------------------------------------------------------------------------------------


def test_the_first_run_builds_the_cluster(first_run):
    assert_cluster_built(first_run.sim, first_run.settings, first_run.first, first_run.state)


def test_apt_ran_on_the_nodes_against_the_simulated_repositories_over_https(first_run):
    sim = first_run.sim
    assert first_run.first.returncode == 0, first_run.first.output[-6000:]
    sources = sim.hosts[sim.nodes[1].name].read("/etc/apt/sources.list.d/kubernetes.list")
    assert "https://pkgs.k8s.io/core:/stable:/v" in sources
    served = (sim.dir / "https.log").read_text()
    codename = ubuntu_release(first_run.settings.versions)[1]
    assert f"GET /linux/ubuntu/dists/{codename}/InRelease" in served and "/deb/InRelease" in served


def test_the_second_run_changes_nothing(first_run):
    second = first_run.second
    assert second.returncode == 0, second.output[-6000:]
    assert_recap(second, [n.name for n in first_run.nodes], changed=0, failed=0, unreachable=0)


def test_labels_and_taints_removed_by_hand_come_back_through_kubectl(first_run):
    restored, sim = first_run.restored, first_run.sim
    assert restored.returncode == 0, restored.output[-6000:]
    assert_labels_and_taints(sim, sim.cluster_state())
    tainted = [c for c in sim.cluster_state()["kubectl"] if "taint" in c]
    assert sorted(c[c.index("taint") + 2] for c in tainted) == sorted(n.name for n in first_run.nodes if n.taints)


def test_the_simulator_leaves_nothing_behind(world):
    settings = dev_settings()
    sim = SimCluster(
        world,
        table_subset(settings, (NodeRole.CONTROL_PLANE,)),
        settings.versions,
        settings.cluster_name,
        settings.pod_cidr,
        settings.service_cidr,
    )
    pids = [h.process.pid for h in (sim.bastion, *sim.hosts.values()) if h.process is not None]
    netns, directory, veth = sim.netns, sim.dir, sim.veth
    sim.close()
    assert not Path(f"/run/netns/{netns}").exists()
    assert not directory.exists()
    assert not any(
        Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text() for pid in pids
    )
    assert subprocess.run(["ip", "link", "show", f"{veth}h"], capture_output=True).returncode != 0
    assert shutil.which("ip")
