"""Validated settings of the dev layout, with the inventory's inputs fixed, for golden files and commands."""

from __future__ import annotations

from typing import Any

from components.inventory import ClusterVars, InventoryHost, SshJump
from components.settings.keys import with_defaults
from components.settings.model import NodeSpec, StackSettings
from components.settings.parse import parse_settings
from tests.support.dev_stack import dev_node_rows
from tools.mockrun import stack_config

# The node table is Pulumi.dev.yaml's (tests/support/dev_stack.py): one table of truth, so the golden
# files change when the dev layout does, and a review of that change sees both.
NODE_TABLE: list[dict[str, Any]] = dev_node_rows()


def dev_settings(**changes: Any) -> StackSettings:
    """Settings from Pulumi.dev.yaml with the inventory's inputs pinned here (and `changes`)."""
    raw = stack_config("dev")
    values = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("gitops-cluster:")}
    values["awsRegion"] = raw.get("aws:region")
    values.update(clusterName="gitops-dev", podCidr="192.168.0.0/16", serviceCidr="10.96.0.0/12", nodes=NODE_TABLE)
    values.update(changes)
    return parse_settings(with_defaults(values), stack="dev")


def three_control_plane_settings() -> StackSettings:
    """The design layout with a pool of three control-plane nodes instead of one."""
    nodes = [dict(n, count=3) if n["role"] == "control-plane" else n for n in NODE_TABLE]
    return dev_settings(nodes=nodes)


def fixed_hosts(nodes: tuple[NodeSpec, ...], *, port: int = 22) -> list[InventoryHost]:
    """Deterministic addresses and instance ids, in table order."""
    return [InventoryHost(n, f"10.0.{16 + i // 200}.{10 + i % 200}", f"i-0{i:016x}", port) for i, n in enumerate(nodes)]


def fixed_cluster(settings: StackSettings) -> ClusterVars:
    return ClusterVars.from_settings(
        settings,
        "internal-gitops-dev-int-0123456789.elb.ap-northeast-2.amazonaws.com",
        "gitops-dev-api-0123456789.elb.ap-northeast-2.amazonaws.com",
    )


FIXED_JUMP = SshJump("gitops-dev-bastion", "198.51.100.10", host_key_alias="i-0bastion000000000")
