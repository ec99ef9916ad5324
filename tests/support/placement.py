"""The dev node table and the zone each node lands in."""

from __future__ import annotations

from typing import Any

import yaml

from tests.support.paths import ROOT
from tools.mockrun import Recording

DEV_NODES: list[dict[str, Any]] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"][
    "gitops-cluster:nodes"
]


def node_zones(rec: Recording) -> dict[str, str]:
    """Node name -> the AZ of the subnet its instance was placed in."""
    subnets = {f"{r.name}-id": r.inputs["availabilityZone"] for r in rec.of_type(SUBNET)}
    return {
        r.inputs["tags"]["node"]: subnets[r.inputs["subnetId"]]
        for r in rec.of_type(INSTANCE)
        if r.inputs["tags"]["role"] != "bastion"
    }


INSTANCE = "aws:ec2/instance:Instance"


SUBNET = "aws:ec2/subnet:Subnet"
