"""The prepare_marker role: which nodes the prepare plays leave out, and what they record.

Adding a row must prepare the new node only (docs/bootstrap.md, "Adding a node"): the prepare
command passes a fingerprint of the prepare playbook's files and the versions table, a prepared
node holds it with its name and role, and the prepare plays run on `k8s_cluster:!prepare_done`.
This runs the role's own tasks (ansible/roles/prepare_marker) under the real ansible-playbook on
local hosts, each with a marker file of its own, then the host pattern prepare.yml's plays use
(read from prepare.yml), and the role's write tasks there. The whole prepare playbook on
simulated hosts is the node simulator's and benchmarks/bootstrap_simulated.py's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from components.playbooks import ANSIBLE_DIR
from tests.support.local_play import run_play
from tests.support.prereqs import require_root

pytestmark = pytest.mark.ansible

FINGERPRINT = "f" * 64

PLAY = """
- name: Sort the nodes as prepare.yml's first play does
  hosts: k8s_cluster
  gather_facts: false
  roles:
    - role: prepare_marker

- name: The prepare plays' hosts
  hosts: "{pattern}"
  gather_facts: false
  tasks:
    - name: Say which nodes the prepare plays run on
      ansible.builtin.copy:
        content: "{{{{ inventory_hostname }}}}"
        dest: "{out}/ran-{{{{ inventory_hostname }}}}"
        mode: "0644"
    - name: Mark the node as prepare.yml's last task does
      ansible.builtin.import_role:
        name: prepare_marker
        tasks_from: write
"""

# host: (its marker's content before the run, or None; its role)
HOSTS = {
    "fresh": (None, "worker"),
    "prepared": (f"{FINGERPRINT} prepared worker\n", "worker"),
    "stale": (f"{'e' * 64} stale worker\n", "worker"),
    "role-changed": (f"{FINGERPRINT} role-changed worker\n", "api"),
    "other-name": (f"{FINGERPRINT} somebody-else infrastructure\n", "infrastructure"),
}


def run(tmp: Path, fingerprint: str) -> tuple[set[str], dict[str, str | None]]:
    require_root("the marker is written owned by root, as on a node")
    markers = tmp / "markers"
    markers.mkdir(parents=True)
    for host, (content, _) in HOSTS.items():
        if content is not None:
            (markers / host).write_text(content)
    pattern = yaml.safe_load((ANSIBLE_DIR / "prepare.yml").read_text())[2]["hosts"]
    (tmp / "play.yml").write_text(PLAY.format(pattern=pattern, out=tmp))
    inventory = {
        "all": {
            "children": {
                "k8s_cluster": {
                    "hosts": {
                        host: {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "node_role": role,
                            "prepare_marker_path": str(markers / host),
                        }
                        for host, (_, role) in HOSTS.items()
                    }
                }
            }
        }
    }
    (tmp / "inventory.json").write_text(json.dumps(inventory))
    (tmp / "vars.json").write_text(json.dumps({"prepare_marker_fingerprint": fingerprint}))
    result = run_play(["-i", str(tmp / "inventory.json"), "-e", f"@{tmp / 'vars.json'}", str(tmp / "play.yml")])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    ran = {p.name.removeprefix("ran-") for p in tmp.glob("ran-*")}
    after = {h: (markers / h).read_text() if (markers / h).exists() else None for h in HOSTS}
    return ran, after


def test_only_nodes_not_prepared_for_this_fingerprint_name_and_role_are_prepared(tmp_path):
    ran, after = run(tmp_path, FINGERPRINT)
    # The node prepared for this run is left out; a new node, an edited prepare file or version
    # (another fingerprint), a changed role and a marker copied from another node are not.
    assert ran == {"fresh", "stale", "role-changed", "other-name"}
    for host, (_, role) in HOSTS.items():
        assert after[host] == f"{FINGERPRINT} {host} {role}\n", host
    assert (tmp_path / "markers" / "fresh").stat().st_mode & 0o777 == 0o644


def test_without_a_fingerprint_every_node_is_prepared_and_nothing_is_recorded(tmp_path):
    """site.yml without the command's fingerprint (the node simulator, a manual run) prepares all."""
    ran, after = run(tmp_path, "")
    assert ran == set(HOSTS)
    assert after == {h: content for h, (content, _) in HOSTS.items()}
