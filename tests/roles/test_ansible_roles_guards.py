"""kubeadm init and join run until they have really finished, and an unfinished one recovers.

The control_plane init tasks and the node_join role run under the real ansible-playbook on this
machine (connection local, three hosts: a first control plane, a second one and a worker), with
kubeadm and kubectl replaced by the stand-in of tests/fixtures/kubeadm/standin.py, which keeps
the cluster's state between runs, writes each host's files under its own root and refuses what
the real tools refuse (a second init over existing manifests, a join over a leftover
kubelet.conf, a wrong token, CA hash or certificate key). Every path the roles touch is pointed
under the test's temporary directory. The node simulator (tests/support/simulator) runs the whole
site.yml over SSH; these tests pin down the guards themselves and run in seconds.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.playbooks import render_extra_vars
from components.settings.keys import default_versions
from tests.support.local_play import ansible_playbook, run_play
from tests.support.paths import FIXTURES

# Runs ansible-playbook for real: `make test` and CI run it, `make test-fast` leaves it out.
pytestmark = pytest.mark.ansible

STANDIN = FIXTURES / "kubeadm" / "standin.py"

INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: {python}
    cluster_name: guards
    cluster_api_endpoint: api.example.internal
    cluster_api_port: 6443
    cluster_pod_cidr: 192.168.0.0/16
    cluster_service_cidr: 10.96.0.0/12
  children:
    k8s_cluster:
      children:
        control_plane:
          hosts:
            master: {{ansible_host: 127.0.0.1, node_taints: []}}
            master-2: {{ansible_host: 127.0.0.2, node_taints: []}}
        workers:
          hosts:
            worker: {{ansible_host: 127.0.0.3, node_taints: []}}
"""

# The plays of site.yml that init and join, with every path under the host's own root.
PLAYBOOK = """
- name: Initialise the control plane on the first control-plane node
  hosts: control_plane[0]
  gather_facts: false
  tags: [init]
  environment: {{STANDIN_HOST: "{{{{ inventory_hostname }}}}"}}
  vars:
    node_root: "{root}/{{{{ inventory_hostname }}}}"
    control_plane_kubeadm_config: "{{{{ node_root }}}}/etc/kubernetes/kubeadm-config.yaml"
    control_plane_admin_conf: "{{{{ node_root }}}}/etc/kubernetes/admin.conf"
    control_plane_kubelet_config: "{{{{ node_root }}}}/var/lib/kubelet/config.yaml"
    control_plane_init_marker: "{{{{ node_root }}}}/var/lib/gitops-cluster/kubeadm-init.done"
  tasks:
    - name: Create the host's /etc/kubernetes
      ansible.builtin.file:
        path: "{{{{ node_root }}}}/etc/kubernetes"
        state: directory
        mode: "0755"
    - name: Run the role's init tasks
      ansible.builtin.include_role:
        name: control_plane
        tasks_from: init

- name: Join the other control-plane nodes one at a time
  hosts: control_plane[1:]
  gather_facts: false
  serial: 1
  tags: [join]
  environment: {{STANDIN_HOST: "{{{{ inventory_hostname }}}}"}}
  vars: &join_vars
    node_root: "{root}/{{{{ inventory_hostname }}}}"
    node_join_kubectl: kubectl
    node_join_config: "{{{{ node_root }}}}/etc/kubernetes/kubeadm-join.yaml"
    node_join_kubelet_conf: "{{{{ node_root }}}}/etc/kubernetes/kubelet.conf"
    node_join_kubelet_config: "{{{{ node_root }}}}/var/lib/kubelet/config.yaml"
    node_join_leftover_files:
      - "{{{{ node_join_kubelet_conf }}}}"
      - "{{{{ node_root }}}}/etc/kubernetes/pki/ca.crt"
  pre_tasks:
    - name: Create the host's /etc/kubernetes
      ansible.builtin.file:
        path: "{{{{ node_root }}}}/etc/kubernetes"
        state: directory
        mode: "0755"
  roles:
    - role: node_join
      node_join_control_plane: true

- name: Join the other nodes in parallel
  hosts: k8s_cluster:!control_plane
  gather_facts: false
  tags: [join]
  environment: {{STANDIN_HOST: "{{{{ inventory_hostname }}}}"}}
  vars: *join_vars
  pre_tasks:
    - name: Create the host's /etc/kubernetes
      ansible.builtin.file:
        path: "{{{{ node_root }}}}/etc/kubernetes"
        state: directory
        mode: "0755"
  roles:
    - role: node_join
      node_join_control_plane: false
"""


class Cluster:
    """One temporary cluster: the stand-in's state, the hosts' roots, and a way to run the plays."""

    def __init__(self, base: Path) -> None:
        ansible_playbook()  # stops the test here when it is missing
        self.state, self.root, bin_dir = base / "state", base / "hosts", base / "bin"
        for d in (self.state, self.root, bin_dir):
            d.mkdir()
        for tool in ("kubeadm", "kubectl"):
            wrapper = bin_dir / tool
            wrapper.write_text(f'#!/bin/sh\nSTANDIN_TOOL={tool} exec {sys.executable} {STANDIN} "$@"\n')
            wrapper.chmod(0o755)
        (base / "site.yml").write_text(PLAYBOOK.format(root=self.root))
        (base / "inventory.yml").write_text(INVENTORY.format(python=sys.executable))
        (base / "extra-vars.json").write_text(render_extra_vars(default_versions()))
        self.base, self.bin = base, bin_dir
        self.runs: list[subprocess.CompletedProcess[str]] = []

    def fault(self, line: str) -> None:
        with (self.state / "faults").open("a") as f:
            f.write(line + "\n")

    def cluster(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads((self.state / "cluster.json").read_text())
        return state

    def set_cluster(self, **changes: Any) -> None:
        state = self.cluster()
        state.update(changes)
        (self.state / "cluster.json").write_text(json.dumps(state))

    def calls(self) -> list[str]:
        path = self.state / "calls.log"
        return path.read_text().splitlines() if path.exists() else []

    def run(self, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        """Run the plays; returns the result and the kubeadm/kubectl calls this run made."""
        before = len(self.calls())
        result = run_play(
            [
                *("-i", str(self.base / "inventory.yml")),
                *("-e", f"@{self.base / 'extra-vars.json'}", *extra, str(self.base / "site.yml")),
            ],
            path=self.bin,
            env={
                "STANDIN_STATE": str(self.state),
                "STANDIN_ROOT": str(self.root),
                "STANDIN_ENDPOINT": "api.example.internal:6443",
            },
        )
        self.runs.append(result)
        return result, self.calls()[before:]

    def file(self, host: str, path: str) -> Path:
        return self.root / host / path.lstrip("/")


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path)


def recap(output: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}
    return out


def invoked(calls: list[str], host: str, *words: str) -> bool:
    prefix = " ".join((host, *words))
    return any(c.startswith(prefix) for c in calls)


MARKER = "var/lib/gitops-cluster/kubeadm-init.done"


def test_first_run_initialises_and_joins_and_later_runs_leave_the_cluster_alone(cluster):
    first, first_calls = cluster.run()
    assert first.returncode == 0, first.stdout + first.stderr
    nodes = cluster.cluster()["nodes"]
    assert set(nodes) == {"master", "master-2", "worker"}
    assert "node-role.kubernetes.io/control-plane" in nodes["master-2"]["labels"]
    assert cluster.file("master", MARKER).exists()

    second, calls = cluster.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert {host: counts["changed"] for host, counts in recap(second.stdout).items()} == {
        "master": 0,
        "master-2": 0,
        "worker": 0,
    }, second.stdout
    assert not [c for c in calls if re.search(r"kubeadm (init|join|reset|token)", c)], calls
    # The kubeadm configuration is validated before the init, not again while it is unchanged.
    assert invoked(first_calls, "master", "kubeadm", "config", "validate"), first_calls
    assert not invoked(calls, "master", "kubeadm", "config", "validate"), calls

    # An initialised control plane is never reset, even when its API server does not answer
    # (e.g. right after a reboot): a reset would delete etcd.
    cluster.set_cluster(api_up=False)
    third, calls = cluster.run("--tags", "init")
    assert third.returncode == 0, third.stdout + third.stderr
    assert not invoked(calls, "master", "kubeadm", "reset") and not invoked(calls, "master", "kubeadm", "init")

    # A cluster initialised before the marker existed is recognised through its API server.
    cluster.set_cluster(api_up=True)
    cluster.file("master", MARKER).unlink()
    fourth, calls = cluster.run("--tags", "init")
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert invoked(calls, "master", "kubectl") and not invoked(calls, "master", "kubeadm", "reset")
    assert cluster.file("master", MARKER).exists()

    # An edited configuration on an initialised cluster is validated again (and warned about).
    config = cluster.file("master", "etc/kubernetes/kubeadm-config.yaml")
    config.write_text(config.read_text() + "# edited\n")
    fifth, calls = cluster.run("--tags", "init")
    assert fifth.returncode == 0, fifth.stdout + fifth.stderr
    assert invoked(calls, "master", "kubeadm", "config", "validate"), calls
    assert "does not reconfigure a running cluster" in fifth.stdout


def test_an_init_that_timed_out_after_writing_admin_conf_is_reset_and_run_again(cluster):
    cluster.fault("init-timeout master")
    first, _ = cluster.run("--tags", "init")
    assert first.returncode != 0
    assert "kubeadm init failed on master" in first.stdout
    assert "the next `pulumi up` resets the unfinished init" in first.stdout
    assert cluster.file("master", "/etc/kubernetes/admin.conf").exists(), "the stand-in writes it before waiting"
    assert not cluster.file("master", MARKER).exists()

    second, calls = cluster.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "master has" in second.stdout and "running `kubeadm reset -f` and initialising again" in second.stdout
    reset = calls.index("master kubeadm reset -f")
    init = next(i for i, c in enumerate(calls) if c.startswith("master kubeadm init --config"))
    assert reset < init, calls
    assert cluster.file("master", MARKER).exists()
    assert set(cluster.cluster()["nodes"]) == {"master", "master-2", "worker"}


def test_a_failed_join_names_the_node_and_the_next_run_resets_and_joins_it(cluster):
    # A failed control-plane join stops the run (its play joins one node at a time), so the worker's
    # fault comes into play on the second run.
    cluster.fault("join-timeout master-2")
    cluster.fault("join-timeout worker")
    for run, (failed, recovered) in enumerate((("master-2", None), ("worker", "master-2"), (None, "worker"))):
        result, calls = cluster.run()
        output = result.stdout + result.stderr
        if failed:
            assert result.returncode != 0, f"run {run}: {output}"
            assert f"Joining {failed} failed" in result.stdout
            assert "timed out waiting for the condition" in result.stdout
            assert cluster.file(failed, "/etc/kubernetes/kubelet.conf").exists(), "written before the failure"
            assert failed not in cluster.cluster()["nodes"]
        else:
            assert result.returncode == 0, output
        # No token or key in what the operator sees.
        state = cluster.cluster()
        assert not any(t in output for t in state["tokens"]) and state["certificate_key"] not in output
        if recovered:
            assert f"{recovered} has" in result.stdout and "joining it again" in result.stdout
            reset = calls.index(f"{recovered} kubeadm reset -f")
            join = next(i for i, c in enumerate(calls) if c.startswith(f"{recovered} kubeadm join"))
            assert reset < join, calls
            assert recovered in state["nodes"]
    nodes = cluster.cluster()["nodes"]
    assert set(nodes) == {"master", "master-2", "worker"}
    assert "node-role.kubernetes.io/control-plane" in nodes["master-2"]["labels"]
