"""The dev stack as tests read it: Pulumi.dev.yaml is the one node table, never a copy.

Tests that need the node table, its labels and taints, or settings built from it take them from
here, so editing the stack file is the only way to change what they check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.settings.keys import with_defaults
from components.settings.model import NodeRole, StackSettings
from components.settings.parse import parse_settings
from tools.mockrun import stack_config

PROJECT = "gitops-cluster"
# kubeadm taints every control-plane node unless told otherwise (kubeadm's InitConfiguration default).
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "value": "", "effect": "NoSchedule"}


def dev_values(**changes: Any) -> dict[str, Any]:
    """The dev stack's config as parse_settings takes it: bare keys, Pulumi.yaml's defaults applied."""
    raw = stack_config("dev")
    values: dict[str, Any] = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith(f"{PROJECT}:")}
    values["awsRegion"] = raw.get("aws:region")
    values.update(changes)
    return with_defaults(values)


def dev_node_rows() -> list[dict[str, Any]]:
    """The rows of `gitops-cluster:nodes` as written in Pulumi.dev.yaml (a fresh copy each call)."""
    rows = stack_config("dev")[f"{PROJECT}:nodes"]
    return [dict(row) for row in rows]


def dev_settings(**changes: Any) -> StackSettings:
    return parse_settings(dev_values(**changes), stack="dev")


def node_labels_and_taints(
    settings: StackSettings | None = None,
) -> Mapping[str, tuple[dict[str, str], list[dict[str, str]]]]:
    """Each node's labels and taints as the cluster will carry them (the table's, plus kubeadm's
    control-plane taint), by node name."""
    settings = settings or dev_settings()
    table = {}
    for node in settings.nodes:
        taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.taints]
        if node.role is NodeRole.CONTROL_PLANE:
            taints.append(dict(CONTROL_PLANE_TAINT))
        table[node.name] = (dict(node.labels), taints)
    return table
