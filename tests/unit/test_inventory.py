"""The rendered inventory and ssh_config against golden files, and as Ansible itself reads them.

Golden files live in tests/golden/ and are reviewed like code. After an intended change, rewrite
them with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_inventory.py` and review the diff.

The settings it pins (tests/support/settings.py) are shared with the bootstrap and role tests.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.inventory import (
    CLUSTER_GROUP,
    ROLE_GROUPS,
    ClusterVars,
    InventoryHost,
    render_inventory,
    render_ssh_config,
)
from components.settings.model import NodeRole, NodeSpec
from tests.support.paths import GOLDEN, ROOT
from tests.support.settings import FIXED_JUMP, dev_settings, fixed_cluster, fixed_hosts, three_control_plane_settings

ANSIBLE_BIN = Path(sys.executable).parent
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; create it with UPDATE_GOLDEN=1 and review it"
    assert path.read_bytes() == text.encode("utf-8"), (
        f"rendering differs from {path.relative_to(ROOT)}; if the change is intended, rerun with "
        "UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize(
    ("golden", "settings_factory", "control_planes"),
    [
        ("inventory-1cp.yml", dev_settings, 1),
        ("inventory-3cp.yml", three_control_plane_settings, 3),
    ],
)
def test_inventory_matches_golden_file(golden, settings_factory, control_planes):
    settings = settings_factory()
    assert len(settings.control_plane) == control_planes
    text = render_inventory(fixed_cluster(settings), fixed_hosts(settings.nodes), FIXED_JUMP)
    check_golden(golden, text)
    # The same inputs render the same bytes (the command's trigger hashes rely on it).
    assert render_inventory(fixed_cluster(settings), fixed_hosts(settings.nodes), FIXED_JUMP) == text


def test_ssh_config_matches_golden_file():
    check_golden("ssh_config", render_ssh_config(FIXED_JUMP))


def ansible_inventory_list(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [str(ANSIBLE_BIN / "ansible-inventory"), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible" / "ansible.cfg")},
    )
    return dict(json.loads(out.stdout))


def test_ansible_reads_groups_host_vars_and_the_jump(tmp_path):
    settings = three_control_plane_settings()
    inv = tmp_path / "inventory.yml"
    inv.write_text(render_inventory(fixed_cluster(settings), fixed_hosts(settings.nodes), FIXED_JUMP))
    listed = ansible_inventory_list(inv)

    cluster_children = set(listed[CLUSTER_GROUP]["children"])
    assert cluster_children == set(ROLE_GROUPS.values())
    for node in settings.nodes:
        group = ROLE_GROUPS[node.role]
        assert node.name in listed[group]["hosts"], f"{node.name} is not in group {group}"
    assert listed["control_plane"]["hosts"] == ["master-1", "master-2", "master-3"]

    hostvars = listed["_meta"]["hostvars"]
    redis = hostvars["redis"]
    assert redis["node_role"] == "infrastructure"
    assert redis["node_labels"] == {"node-role.kubernetes.io/infrastructure": "redis", "workload": "cache"}
    assert redis["node_taints"] == [
        {"key": "node-role.kubernetes.io/infrastructure", "value": "true", "effect": "NoSchedule"}
    ]
    assert hostvars["api-auth"]["node_labels"]["domain"] == "auth"
    assert hostvars["api-auth"]["ansible_ssh_extra_args"].startswith("-o HostKeyAlias=i-0")
    # Every node is reached through the bastion with the stack's ssh_config.
    common = hostvars["master-1"]["ansible_ssh_common_args"]
    assert "-o ProxyJump=gitops-dev-bastion" in common
    assert common.startswith("-F ")
    assert hostvars["master-1"]["cluster_pod_cidr"] == str(settings.pod_cidr)


def test_ssh_config_checks_host_keys_in_the_stack_file_only():
    text = render_ssh_config(FIXED_JUMP)
    assert "StrictHostKeyChecking accept-new" in text
    assert "UserKnownHostsFile ${GC_KNOWN_HOSTS_FILE}" in text
    assert "GlobalKnownHostsFile /dev/null" in text
    assert "StrictHostKeyChecking no" not in text
    assert "UserKnownHostsFile /dev/null" not in text
    assert "IdentityFile ${GC_SSH_KEY_FILE}" in text


def test_render_rejects_tables_kubeadm_cannot_bootstrap():
    worker = NodeSpec("w", NodeRole.WORKER, "t3.small", 20)
    cluster = ClusterVars("c", "api", ipaddress.IPv4Network("192.168.0.0/16"), ipaddress.IPv4Network("10.96.0.0/12"))
    with pytest.raises(ValueError, match="at least one control-plane node"):
        render_inventory(cluster, [InventoryHost(worker, "10.0.0.1")], FIXED_JUMP)
    cp = NodeSpec("cp", NodeRole.CONTROL_PLANE, "t3.large", 80)
    with pytest.raises(ValueError, match=r"duplicate node names.*'cp'"):
        render_inventory(cluster, [InventoryHost(cp, "10.0.0.1"), InventoryHost(cp, "10.0.0.2")], FIXED_JUMP)


def test_golden_files_are_valid_yaml_with_the_header():
    for name in ("inventory-1cp.yml", "inventory-3cp.yml"):
        text = (GOLDEN / name).read_text()
        assert text.startswith("# Rendered by components/inventory.py")
        assert set(yaml.safe_load(text)) == {"all"}
