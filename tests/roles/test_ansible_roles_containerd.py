"""The containerd role writes a 2.x configuration the kubelet can use, read back as TOML.

The role's own tasks/config.yml runs under the real ansible-playbook with a stand-in `containerd`
that prints containerd 2.x's default configuration (tests/fixtures/containerd); the written file
is parsed with tomllib and checked where the kubelet and kubeadm look: the systemd cgroup driver
in runc's options under io.containerd.cri.v1.runtime, and the pinned sandbox image kubeadm
expects under io.containerd.cri.v1.images.pinned_images. A 1.x-format default is refused.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from components.playbooks import render_extra_vars
from components.settings.keys import default_versions
from tests.support.local_play import run_play
from tests.support.paths import FIXTURES

# Runs ansible-playbook for real: `make test` and CI run it, `make test-fast` leaves it out.
pytestmark = pytest.mark.ansible

FIXTURE = FIXTURES / "containerd" / "config-default-v2.toml"

# `meta: end_play` ends the play before the role's handler would restart this machine's containerd.
PLAY = """
- name: Configure containerd from its default configuration
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    containerd_config_path: "{config}"
  tasks:
    - name: Run the role's configuration tasks
      ansible.builtin.include_role:
        name: containerd
        tasks_from: config
    - name: Stop before the restart handler
      ansible.builtin.meta: end_play
"""


def run_role(tmp_path: Path, default_config: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "default.toml").write_text(default_config)
    standin = bin_dir / "containerd"
    standin.write_text(f'#!/bin/sh\n[ "$1 $2" = "config default" ] || exit 2\ncat {tmp_path / "default.toml"}\n')
    standin.chmod(0o755)
    config = tmp_path / "config.toml"
    (tmp_path / "play.yml").write_text(PLAY.format(config=config))
    (tmp_path / "vars.json").write_text(render_extra_vars(default_versions()))
    result = run_play(
        [
            *("-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}"),
            *("-e", f"@{tmp_path / 'vars.json'}", str(tmp_path / "play.yml")),
        ],
        path=bin_dir,
    )
    return result, config


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result, config = run_role(tmp_path_factory.mktemp("containerd"), FIXTURE.read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    return tomllib.loads(config.read_text())


def test_runc_uses_the_systemd_cgroup_driver_like_the_kubelet(written):
    assert written["version"] == 3
    runc = written["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["SystemdCgroup"] is True


def test_the_sandbox_image_is_the_pause_image_kubeadm_expects(written):
    images = written["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == f"registry.k8s.io/pause:{default_versions()['kubernetesPause']}"
    # Everything else stays containerd's default (here: the snapshotter and the CNI paths).
    assert images["snapshotter"] == "overlayfs"
    assert written["plugins"]["io.containerd.cri.v1.runtime"]["cni"]["bin_dirs"] == ["/opt/cni/bin"]
    assert "disabled_plugins" in written and written["disabled_plugins"] == []


def test_a_containerd_1x_default_configuration_is_refused(tmp_path):
    # containerd 1.7 prints format version 2 with the CRI plugin at io.containerd.grpc.v1.cri.
    old = (
        "version = 2\n"
        '[plugins."io.containerd.grpc.v1.cri"]\n'
        '  sandbox_image = "registry.k8s.io/pause:3.8"\n'
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "  SystemdCgroup = false\n"
    )
    result, config = run_role(tmp_path, old)
    assert result.returncode != 0
    assert "prints a default configuration without `version = 3`" in result.stdout
    assert "update ansible/roles/containerd for its format" in result.stdout
    assert not config.exists()
