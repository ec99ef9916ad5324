"""The faults of issue 8, in the node simulator: each ends in a clear message, and the runs after it
complete the cluster.

One simulated cluster for the module (a control plane and a worker of the dev table: the smallest
cluster the faults need; see tests/simulator/test_node_simulator.py for what a simulated cluster
is), taken through the faults in the order a bootstrap meets them, each run starting where the one
before it stopped, as a real re-run would:

1. the worker never answers: the full run, then a `--tags preflight` run, each with a 5 s bound;
2. the worker answers again; `kubeadm init` times out after writing admin.conf (`init-timeout`);
3. the next run resets and re-runs the init, and the bastion is lost as soon as the API is up;
4. the next run (bastion back) applies Calico in the order of Calico < 3.30 (tigera-operator.yaml
   only), which leaves the Installation CRD missing;
5. the next run applies the released order, and the worker's `kubeadm join` fails (`join-fails`);
6. the next run completes: the cluster is what the stack describes (`assert_cluster_built`).

The first three runs are site.yml (the third prepares the nodes and stops at the init). The runs after
it are the component's cluster command (ansible/cluster.yml) alone, because that is what the next
`pulumi up` runs: the prepare command was created, its triggers are unchanged, and only the failed
cluster command is run again (components/bootstrap.py). Preparing both nodes again in each of those
runs cost about 100 module runs per run that no real re-run makes.

The scenario runs once (the `faults` fixture) and the tests read its record, so the module costs one
cluster and seven runs where one cluster per fault cost six clusters and ten runs. The module is in
ONE_WORKER_MODULES (tests/conftest.py): xdist runs all its tests on the worker that built it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from components.playbooks import CLUSTER_PLAYBOOK
from components.settings.model import NodeRole, StackSettings
from tests.support.node_simulator import FAST
from tests.support.simulator.checks import CRDS, assert_cluster_built, dev_settings, simulate, table_subset
from tests.support.simulator.cluster import Run, SimCluster

pytestmark = pytest.mark.simulator

SECRET_TOKEN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")
UNANSWERED = {**FAST, "wait_for_nodes_ssh_timeout": 5}
OLD_CALICO_ORDER = {**FAST, "calico_crd_timeout": "5s", "calico_operator_manifests": ["tigera-operator"]}


@dataclass
class Faults:
    sim: SimCluster
    settings: StackSettings
    control_plane: str
    worker: str
    unanswered: Run
    unanswered_state: dict[str, Any]
    unanswered_admin_conf: bool
    unanswered_preflight: Run
    init_timed_out: Run
    init_timed_out_admin_conf: bool
    bastion_lost: Run
    bastion_lost_after_api: bool
    bastion_lost_state: dict[str, Any]
    old_calico_order: Run
    old_calico_order_state: dict[str, Any]
    join_failed: Run
    join_failed_state: dict[str, Any]
    completed: Run


def lose_the_bastion_once_the_api_is_up(sim: SimCluster) -> tuple[Run, bool]:
    """Run the cluster command and kill the bastion as soon as the API server is up; (the run, whether
    it was still running then)."""
    proc = sim.run_spec(sim.playbook_spec(FAST, playbook=CLUSTER_PLAYBOOK), stdin=sim.secret_stdin())
    deadline = time.monotonic() + 600
    while not sim.cluster_state().get("apiServerUp") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    mid_run = proc.poll() is None and bool(sim.cluster_state().get("apiServerUp"))
    sim.stop("bastion")
    out, _ = proc.communicate(timeout=600)
    return Run.parse(proc.returncode, out), mid_run


@pytest.fixture(scope="module")
def faults(world) -> Iterator[Faults]:
    settings = dev_settings()
    nodes = table_subset(settings, (NodeRole.CONTROL_PLANE, NodeRole.WORKER))
    cp, worker = nodes[0].name, nodes[1].name
    for sim in simulate(world, settings, nodes):
        admin_conf = sim.hosts[cp].path("/etc/kubernetes/admin.conf")

        sim.stop(worker)
        unanswered = sim.playbook(UNANSWERED)
        unanswered_state, unanswered_admin_conf = sim.cluster_state(), admin_conf.exists()
        unanswered_preflight = sim.playbook(UNANSWERED, ["--tags", "preflight"])
        sim.start(worker)

        sim.set_fault(cp, "init-timeout")
        init_timed_out = sim.playbook(FAST)
        init_timed_out_admin_conf = admin_conf.exists()

        bastion_lost, after_api = lose_the_bastion_once_the_api_is_up(sim)
        bastion_lost_state = sim.cluster_state()
        sim.start("bastion")

        old_calico_order = sim.playbook(OLD_CALICO_ORDER, playbook=CLUSTER_PLAYBOOK)
        old_calico_order_state = sim.cluster_state()

        sim.set_fault(worker, "join-fails")
        join_failed = sim.playbook(FAST, playbook=CLUSTER_PLAYBOOK)
        join_failed_state = sim.cluster_state()

        completed = sim.playbook(FAST, playbook=CLUSTER_PLAYBOOK)
        yield Faults(
            sim,
            settings,
            cp,
            worker,
            unanswered,
            unanswered_state,
            unanswered_admin_conf,
            unanswered_preflight,
            init_timed_out,
            init_timed_out_admin_conf,
            bastion_lost,
            after_api,
            bastion_lost_state,
            old_calico_order,
            old_calico_order_state,
            join_failed,
            join_failed_state,
            completed,
        )


# --- the tests ---------------------------------------------------------------------------------------


def test_a_node_that_never_answers_stops_the_run_before_any_kubeadm_step(faults):
    run = faults.unanswered
    assert run.returncode != 0
    assert faults.worker in run.task("Wait until the node answers over SSH through the bastion")
    assert "TASK [control_plane" not in run.output and "kubeadm" not in run.output.split("PLAY RECAP")[0]
    assert faults.unanswered_state == {}, "a kubeadm step ran although a node never answered"
    assert not faults.unanswered_admin_conf


def test_a_node_that_never_answers_is_named(faults):
    """`--tags preflight` (the wait and the checks alone): the unreachable node is named, within the wait's bound."""
    run = faults.unanswered_preflight
    assert run.returncode != 0
    block = run.task("Wait until the node answers over SSH through the bastion")
    assert f"fatal: [{faults.worker}]" in block and "timed out waiting for ping module test" in block, block
    assert run.recap[faults.worker]["failed"] == 1 and run.recap[faults.control_plane]["failed"] == 0


def test_an_init_that_timed_out_after_writing_admin_conf_is_recovered_by_the_next_run(faults):
    failed = faults.init_timed_out
    assert failed.returncode != 0
    assert f"kubeadm init failed on {faults.control_plane}" in failed.output
    assert faults.init_timed_out_admin_conf, "the fault did not leave admin.conf behind"
    assert "PRIVATE KEY" not in failed.output and not SECRET_TOKEN.search(failed.output)
    # The next run reset the half-done init and initialised the cluster (then lost its bastion).
    assert faults.bastion_lost_after_api, faults.bastion_lost.output[-4000:]
    assert faults.bastion_lost_state["initNode"] == faults.control_plane
    assert_cluster_built(faults.sim, faults.settings, faults.completed)


def test_a_bastion_lost_mid_run_is_a_clear_error_and_the_next_run_completes(faults):
    lost = faults.bastion_lost
    assert faults.bastion_lost_after_api, "the run ended before the control plane was up"
    assert lost.returncode != 0
    # Ansible names each node it lost and says SSH could not reach it (the task's own output is
    # no_log, so this is all it shows); the run stops with no step half-reported as done.
    unreachable = re.findall(r"fatal: \[(\S+)\]: UNREACHABLE!", lost.output)
    assert unreachable and set(unreachable) <= {n.name for n in faults.sim.nodes}, lost.output[-4000:]
    assert re.search(r"(can be reached over ssh|Failed to connect to the host via ssh)", lost.output), lost.output[
        -4000:
    ]
    assert sum(r["unreachable"] for r in lost.recap.values()) >= 1
    # The next run, bastion back, got past the init to Calico (where it was made to fail), and the
    # one after it past the joins; the last completed the cluster.
    assert "Name the CRD that is missing" in faults.old_calico_order.output, faults.old_calico_order.output[-4000:]
    assert_cluster_built(faults.sim, faults.settings, faults.completed)


def test_calico_before_3_30s_order_fails_with_the_real_manifests_and_the_released_order_builds(faults):
    """Applying only tigera-operator.yaml (the order of Calico < 3.30) leaves the Installation CRD missing."""
    old_order, versions = faults.old_calico_order, faults.settings.versions
    assert old_order.returncode != 0
    message = old_order.task("Name the CRD that is missing and where it should come from")
    assert "crd/installations.operator.tigera.io is not Established" in message, old_order.output[-4000:]
    assert '(NotFound): customresourcedefinitions.apiextensions.k8s.io "installations.operator.tigera.io"' in message
    assert f"/projectcalico/calico/{versions['calico']}/manifests/operator-crds.yaml" in message
    assert "operator.tigera.io/Installation//default" not in faults.old_calico_order_state["objects"]

    assert_cluster_built(faults.sim, faults.settings, faults.completed)
    served = (faults.sim.dir / "https.log").read_text()
    assert f"GET /projectcalico/calico/{versions['calico']}/{CRDS}" in served


def test_a_failed_join_names_the_node_and_the_next_run_joins_it(faults):
    failed = faults.join_failed
    assert failed.returncode != 0
    assert f"Joining {faults.worker} failed" in failed.output, failed.output[-4000:]
    assert "timed out waiting for the condition" in failed.output
    assert not SECRET_TOKEN.search(failed.output), "a join token reached the output"
    assert faults.worker not in [j["node"] for j in faults.join_failed_state["joins"]]
    assert_cluster_built(faults.sim, faults.settings, faults.completed)


def test_the_runs_after_the_prepare_half_are_the_cluster_command_alone(faults):
    """What the next `pulumi up` runs after the cluster command failed: cluster.yml, no node prepared again."""
    prepare_play = "PLAY [Prepare the nodes"
    assert prepare_play in faults.init_timed_out.output, "run 3 should have prepared the nodes (site.yml)"
    for name in ("bastion_lost", "old_calico_order", "join_failed", "completed"):
        run = getattr(faults, name)
        assert prepare_play not in run.output, f"the {name} run prepared the nodes again"
        assert "PLAY [Initialise the control plane" in run.output, f"the {name} run did not run cluster.yml"
