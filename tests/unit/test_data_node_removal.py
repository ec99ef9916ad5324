"""Removing a node row: drain and delete the Node before the instance is terminated (issue 11, item 6).

Under the mock runtime: every node but the first control plane has a `-remove` command that depends
on its instance, so Pulumi's delete order (dependents first) runs the drain before terminating
the instance; removing a row from Pulumi.dev.yaml's table removes exactly that node's step and
instance. The remote script itself runs here against a stand-in `kubectl` (a small program with
state that answers like kubectl and records its calls): drain then delete, refusal of the last
control plane and of a quorum loss, a drain that times out stops with the node's name.
"""

from __future__ import annotations

import copy
import getpass
import json
import os
import stat
import subprocess
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import node_removal
from tests.support.paths import ROOT
from tests.support.prereqs import require_tool
from tests.support.sshd import LOOPBACK_BASTION, LOOPBACK_INSTANCES, sshd  # noqa: F401 (sshd: a fixture)

COMMAND = "command:local:Command"
INSTANCE = "aws:ec2/instance:Instance"
STACK_NODES: list[dict[str, Any]] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"][
    "gitops-cluster:nodes"
]


def removal_steps(rec):
    return {r.name: r for r in rec.of_type(COMMAND) if r.name.endswith("-remove")}


def deletion_order(rec, urns: Sequence[str]) -> list[str]:
    """The order Pulumi deletes `urns` in: a resource only after everything that depends on it."""
    index = {r.urn: r for r in rec.resources}
    remaining = set(urns)
    order = []
    while remaining:
        ready = sorted(u for u in remaining if not any(u in index[o].dependencies for o in remaining if o != u))
        assert ready, "dependency cycle"
        order.extend(ready)
        remaining -= set(ready)
    return order


def test_every_node_but_a_single_control_plane_has_a_removal_step(dev):
    steps = removal_steps(dev)
    names = [n["name"] for n in STACK_NODES]
    assert set(steps) == {f"gitops-dev-{n}-remove" for n in names[1:]}
    for name, step in steps.items():
        node = name.removeprefix("gitops-dev-").removesuffix("-remove")
        instance = dev.one(INSTANCE, f"gitops-dev-{node}")
        assert instance.urn in step.dependencies, f"{name} must be deleted before its instance"
        bastion = dev.one(INSTANCE, "gitops-dev-bastion")
        assert bastion.urn in step.dependencies, f"{name} runs through the bastion"
        playbook = dev.one(COMMAND, "gitops-dev-playbook")
        assert playbook.urn in step.dependencies, f"{name} needs the cluster"
        assert step.inputs["create"] == "true" and step.inputs["update"] == "true"
        assert step.inputs["delete"] == node_removal.removal_script()
        # No trigger: a replacement would run the delete step on a node that stays.
        assert not step.inputs.get("triggers")
        env = step.inputs["environment"]
        assert env["GC_NODE"] == node and env["GC_DRAIN_TIMEOUT"] == str(node_removal.DRAIN_TIMEOUT_SECONDS)
        assert "PRIVATE KEY" not in json.dumps(env)
        # No key on stdin: the step pushes its run's own key to the bastion and the runner.
        assert "stdin" not in step.inputs
        runner = env["GC_TARGET_HOST_KEY_ALIAS"]
        pushed = env["GC_EIC_INSTANCES"].split()
        assert len(pushed) == 2 and pushed[1] == runner and pushed[0] != runner and env["GC_EIC_REGION"]


def test_with_three_control_planes_each_runs_on_another(dev, run_stack):
    nodes = copy.deepcopy(STACK_NODES)
    nodes[1:1] = [
        {"name": "cp-2", "role": "control-plane", "instanceType": "t3.large", "rootVolumeGb": 80},
        {"name": "cp-3", "role": "control-plane", "instanceType": "t3.large", "rootVolumeGb": 80},
    ]
    rec = run_stack({"nodes": nodes})
    steps = removal_steps(rec)
    target = {name: step.inputs["environment"]["GC_TARGET_HOST"] for name, step in steps.items()}
    master = steps["gitops-dev-master-remove"]
    # Everything runs on master, except master's own step, which runs on cp-2.
    on_master = target["gitops-dev-worker-ai-remove"]
    assert target["gitops-dev-cp-2-remove"] == target["gitops-dev-cp-3-remove"] == on_master
    assert target["gitops-dev-master-remove"] != on_master
    assert master.inputs["environment"]["GC_TARGET_HOST_KEY_ALIAS"] == "gitops-dev-cp-2-id"
    # The runner is deleted after the step, like the node itself.
    assert rec.one(INSTANCE, "gitops-dev-cp-2").urn in master.dependencies
    assert master.inputs["environment"]["GC_NODE_ROLE"] == "control-plane"


def test_the_drain_is_deleted_before_the_instance(dev):
    step = dev.one(COMMAND, "gitops-dev-worker-ai-remove")
    instance = dev.one(INSTANCE, "gitops-dev-worker-ai")
    order = deletion_order(dev, [instance.urn, step.urn])
    assert order == [step.urn, instance.urn]


def test_removing_a_row_removes_exactly_that_node_and_its_step(dev, run_stack):
    nodes = [n for n in copy.deepcopy(STACK_NODES) if n["name"] != "worker-ai"]
    rec = run_stack({"nodes": nodes})
    gone = {r.urn for r in dev.resources} - {r.urn for r in rec.resources}
    names = {u.rsplit("::", 1)[1] for u in gone}
    # worker-ai is a Gateway node (Pulumi.dev.yaml): its public load balancer attachments go too.
    web = {f"gitops-dev-web-{entry}-worker-ai" for entry in ("api", "argocd", "grafana")}
    assert names == {"gitops-dev-worker-ai", "gitops-dev-worker-ai-remove", *web}, names
    # In the old state the step depends on the instance: deleting both runs the drain first.
    assert deletion_order(dev, sorted(gone))[0].endswith("gitops-dev-worker-ai-remove")


def test_environment_is_plain_and_bounded():
    from components.inventory import SshJump
    from components.settings.model import NodeRole, NodeSpec

    spec = NodeSpec("w", NodeRole.WORKER, "t3.small", 20)
    env = node_removal.removal_environment(spec, "10.0.16.9", SshJump("b", "198.51.100.1"), "~/.ssh/kh")
    assert env["GC_NODE_ROLE"] == "worker" and env["GC_REMOTE_SCRIPT"] == node_removal.REMOTE_SCRIPT
    with pytest.raises(ValueError, match="at least one second"):
        node_removal.removal_environment(spec, "10.0.16.9", SshJump("b", "x"), "kh", timeout_seconds=0)


def test_destroy_skips_the_drain_without_touching_ssh(tmp_path: Path):
    bash = require_tool("bash", "bash")
    env = {"PATH": "/usr/bin:/bin", node_removal.SKIP_VARIABLE: "1", "GC_NODE": "worker-ai"}
    result = subprocess.run(
        [bash, "-c", node_removal.removal_script()], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0 and "not draining worker-ai" in result.stdout


# --- the remote script against a stand-in kubectl -----------------------------------------------

STANDIN = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    # A stand-in for kubectl with state (state.json beside it): answers the calls remove-node makes
    # the way kubectl prints them, and appends every call to calls.log beside it.
    import json, os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    state = json.load(open(os.path.join(here, "state.json")))
    args = [a for a in sys.argv[1:] if not a.startswith("--kubeconfig")]
    with open(os.path.join(here, "calls.log"), "a") as log:
        log.write(" ".join(args) + "\\n")
    nodes = state["nodes"]
    if args[:2] == ["get", "node"]:
        sys.exit(0 if args[2] in nodes else 1)
    if args[:2] == ["get", "nodes"]:
        for name, n in nodes.items():
            if n["role"] == "control-plane":
                print(name, "True" if n["ready"] else "False")
        sys.exit(0)
    if args[0] == "drain":
        sys.exit(0 if state.get("drain_ok", True) else 1)
    if args[:3] == ["-n", "kube-system", "get"]:
        for name, n in nodes.items():
            if n["role"] == "control-plane":
                print(f"etcd-{name}", name)
        sys.exit(0)
    if args[:3] == ["-n", "kube-system", "exec"]:
        if "list" in args:
            for i, name in enumerate(nodes):
                if nodes[name]["role"] == "control-plane":
                    print(f"{i:x}a1, started, {name}, https://10.0.0.{i}:2380, https://10.0.0.{i}:2379, false")
        sys.exit(0)
    if args[:2] == ["delete", "node"]:
        sys.exit(0)
    print("unexpected kubectl call:", args, file=sys.stderr)
    sys.exit(99)
    """
)


def standin(tmp_path: Path, nodes: dict[str, dict[str, Any]], drain_ok: bool = True) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(STANDIN)
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (bin_dir / "state.json").write_text(json.dumps({"nodes": nodes, "drain_ok": drain_ok}))
    (bin_dir / "calls.log").write_text("")
    return kubectl


def calls_of(kubectl: Path) -> list[list[str]]:
    return [line.split() for line in (kubectl.parent / "calls.log").read_text().splitlines()]


def run_remote(tmp_path: Path, nodes: dict[str, dict[str, Any]], node: str, role: str, drain_ok: bool = True):
    bash = require_tool("bash", "bash")
    kubectl = standin(tmp_path, nodes, drain_ok)
    result = subprocess.run(
        [bash, "-s", "--", node, role, "7", str(kubectl)],
        input=node_removal.REMOTE_SCRIPT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, calls_of(kubectl)


CP = {"role": "control-plane", "ready": True}
WORKER = {"role": "worker", "ready": True}


def verbs(calls):
    return [c[0] if c[0] != "-n" else c[2] for c in calls]


def test_a_worker_is_drained_then_deleted(tmp_path: Path):
    result, calls = run_remote(tmp_path, {"master": CP, "worker-ai": WORKER}, "worker-ai", "worker")
    assert result.returncode == 0, result.stderr
    assert verbs(calls) == ["get", "drain", "delete"]
    drain = calls[1]
    assert drain[1] == "worker-ai" and "--ignore-daemonsets" in drain and "--timeout=7s" in drain
    assert calls[2][:3] == ["delete", "node", "worker-ai"]


def test_a_blocked_drain_stops_with_the_node_name_and_deletes_nothing(tmp_path: Path):
    nodes = {"master": CP, "postgresql": WORKER}
    result, calls = run_remote(tmp_path, nodes, "postgresql", "infrastructure", drain_ok=False)
    assert result.returncode == 5
    assert "draining postgresql did not finish within 7s" in result.stderr and "NOT terminated" in result.stderr
    assert "delete" not in verbs(calls)


def test_an_unregistered_node_needs_nothing(tmp_path: Path):
    result, calls = run_remote(tmp_path, {"master": CP}, "worker-ai", "worker")
    assert result.returncode == 0 and verbs(calls) == ["get"]


def test_the_last_control_plane_is_never_removed(tmp_path: Path):
    result, calls = run_remote(tmp_path, {"master": CP, "worker-ai": WORKER}, "master", "control-plane")
    assert result.returncode == 6 and "it is the last control plane" in result.stderr
    assert "drain" not in verbs(calls)


def test_a_removal_that_would_break_etcd_quorum_is_refused(tmp_path: Path):
    nodes = {"cp-1": CP, "cp-2": {"role": "control-plane", "ready": False}, "cp-3": CP}
    result, calls = run_remote(tmp_path, nodes, "cp-3", "control-plane")
    assert result.returncode == 6 and "etcd would lose its majority" in result.stderr
    assert "drain" not in verbs(calls)


def test_a_control_plane_leaves_etcd_before_its_node_is_deleted(tmp_path: Path):
    nodes = {"cp-1": CP, "cp-2": CP, "cp-3": CP}
    result, calls = run_remote(tmp_path, nodes, "cp-3", "control-plane")
    assert result.returncode == 0, result.stderr
    assert verbs(calls) == ["get", "get", "drain", "get", "exec", "exec", "delete"]
    # etcdctl runs in another control plane's etcd pod and removes cp-3's member id.
    exec_remove = calls[5]
    assert exec_remove[2:4] == ["exec", "etcd-cp-1"] and exec_remove[-3:] == ["member", "remove", "2a1"]


@pytest.mark.parametrize("script", ["local", "remote"])
def test_scripts_pass_shellcheck(tmp_path: Path, script: str):
    shellcheck = require_tool("shellcheck", "apt-get install shellcheck; .ci/run installs it")
    text = node_removal.removal_script() if script == "local" else node_removal.REMOTE_SCRIPT
    path = tmp_path / f"{script}.sh"
    path.write_text("#!/bin/bash\n" + text)
    result = subprocess.run([shellcheck, "-s", "bash", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# --- the whole delete step: through a "bastion" to a "control plane", both an sshd on loopback ---


def test_the_delete_step_drains_through_the_bastion(sshd, tmp_path: Path):  # noqa: F811 (the imported fixture)
    from components.inventory import SshJump
    from components.settings.model import NodeRole, NodeSpec

    kubectl = standin(tmp_path, {"cp-1": CP, "worker-ai": WORKER})
    jump = SshJump("test-bastion", "127.0.0.1", sshd.port, host_key_alias=LOOPBACK_BASTION, user=getpass.getuser())
    known_hosts = tmp_path / "known_hosts.d" / "loopback"
    env = node_removal.removal_environment(
        NodeSpec("worker-ai", NodeRole.WORKER, "t3.small", 40),
        "127.0.0.1",
        jump,
        str(known_hosts),
        target_port=sshd.port,
        target_host_key_alias=LOOPBACK_INSTANCES[1],
        timeout_seconds=9,
    )
    result = subprocess.run(
        ["/bin/bash", "-c", node_removal.removal_script()],
        input="",
        env={**os.environ, **env, **sshd.environment(), "GC_KUBECTL": str(kubectl)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "worker-ai drained and deleted" in result.stdout
    assert verbs(calls_of(kubectl)) == ["get", "drain", "delete"]
    assert "--timeout=9s" in calls_of(kubectl)[1]
    assert "PRIVATE KEY" not in result.stdout + result.stderr


def test_the_component_keeps_its_previous_type_token_as_an_alias(dev):
    """The token names its module now (it said `nodes`); a stack created under the old token must
    keep its removal steps: replacing a step would run its delete, the drain, on a node that stays."""
    component = dev.one(node_removal.TYPE_TOKEN)
    assert node_removal.TYPE_TOKEN == "gitops-cluster:node_removal:NodeRemoval"
    assert [a.get("spec", {}).get("type") for a in component.aliases] == [node_removal.PREVIOUS_TYPE_TOKEN]
    # The steps inherit the alias through their parent (the SDK derives the children's old URNs).
    assert all(r.parent == component.urn for r in removal_steps(dev).values())
