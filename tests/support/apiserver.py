"""The kube-apiserver flags of the rendered kubeadm configuration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from components.playbooks import ANSIBLE_DIR, render_extra_vars
from components.settings.keys import default_versions
from tests.support import local_play
from tests.support.paths import GOLDEN


def render(tmp_path: Path, kubernetes: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    versions = {**default_versions(), "kubernetes": kubernetes}
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "vars.json").write_text(json.dumps({**json.loads(render_extra_vars(versions)), **(extra or {})}))
    play = tmp_path / "render.yml"
    play.write_text(RENDER_PLAY.format(roles=ANSIBLE_DIR / "roles"))
    result = run_play(
        play,
        "-i",
        str(GOLDEN / "inventory-3cp.yml"),
        "-e",
        f"@{tmp_path / 'vars.json'}",
        env={
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree",
            "ANSIBLE_CALLBACK_TREE_DIR": str(tmp_path / "tree"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    msg = json.loads((tmp_path / "tree" / "master-1").read_text())["msg"]
    kubeadm = {d["kind"]: d for d in yaml.safe_load_all(msg["kubeadm"]) if d}
    return {
        "cluster": kubeadm["ClusterConfiguration"],
        "authn": yaml.safe_load(msg["authn"]),
        "admission": yaml.safe_load(msg["admission"]),
        "namespaces": [d for d in yaml.safe_load_all(msg["namespaces"]) if d],
    }


def api_args(cluster: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["value"] for a in cluster["apiServer"]["extraArgs"]}


def run_play(play: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`ansible-playbook -i localhost, <extra> <play>` the way every role test runs it (tests/support/local_play.py)."""
    return local_play.run_play(
        ["-i", "localhost,", *extra, str(play)], env={"ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"), **(env or {})}
    )


RENDER_PLAY = """
- name: Render the control plane's API server templates
  hosts: master-1
  gather_facts: false
  vars_files:
    - {roles}/control_plane/defaults/main.yml
  vars:
    templates: {roles}/control_plane/templates
  tasks:
    - name: Render
      ansible.builtin.debug:
        msg:
          kubeadm: "{{{{ lookup('ansible.builtin.template', templates ~ '/kubeadm-config.yaml.j2') }}}}"
          authn: "{{{{ lookup('ansible.builtin.template', templates ~ '/authentication-config.yaml.j2') }}}}"
          admission: "{{{{ lookup('ansible.builtin.template', templates ~ '/admission-config.yaml.j2') }}}}"
          namespaces: "{{{{ lookup('ansible.builtin.template', templates ~ '/namespaces.yaml.j2') }}}}"
"""
