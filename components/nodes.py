"""The cluster's EC2 instances, one per row of the node table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.instances import EC2_ASSUME_ROLE_POLICY, hardened_instance_args
from components.node_iam import SESSION_MANAGER_POLICY, role_excess
from components.settings.model import NodeRole, NodeSpec
from components.user_data import render_user_data

TYPE_TOKEN = "gitops-cluster:nodes:ClusterNodes"  # noqa: S105 (a Pulumi type token)

# Instance inputs that only shape a node when it is created (see docs/bootstrap.md).
NODE_CREATION_ONLY = pulumi.ResourceOptions(ignore_changes=["ami", "userData", "userDataBase64", "keyName"])


@dataclass(frozen=True)
class ClusterNode:
    """A node of the table together with the instance that runs it."""

    spec: NodeSpec
    instance: aws.ec2.Instance
    availability_zone: str


@dataclass(frozen=True)
class ClusterNodesArgs:
    cluster_name: str
    nodes: Sequence[NodeSpec]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    availability_zones: Sequence[str]
    # Node name -> its zone, from components/placement.py (never from the node's row position).
    zones_by_node: Mapping[str, str]
    ami_id: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]
    control_plane_security_group_id: pulumi.Input[str]
    # The versions table: pinned packages and images the user data prepares at first boot.
    versions: Mapping[str, str]


class ClusterNodes(pulumi.ComponentResource):
    """Every node of the table, each in the private subnet of its own zone (`zones_by_node`).

    Creates: no SSH key (the kit pushes a key per run with EC2 Instance Connect,
    components/bastion_commands.py); one IAM role for every node, allowed Session Manager and nothing
    else (components/node_iam.py), and its instance profile; one instance per node with IMDSv2
    required and hop limit 1, an encrypted gp3 root
    volume of the table's size, no public IP, the `cluster` security group (plus `control-plane`
    for control-plane nodes), tags naming cluster, node and role, and cloud-init user data that
    prepares the node at first boot (components/user_data.py); user data and AMI are ignored
    after creation, so a version bump never stops, starts or replaces a running node, and so is
    the key name of an instance created when the stack still registered a key pair.
    """

    nodes: list[ClusterNode]

    def __init__(self, name: str, args: ClusterNodesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        profile = self._create_instance_profile(name)
        self.nodes = []
        subnet_of_zone = dict(zip(args.availability_zones, args.private_subnet_ids, strict=True))
        for spec in args.nodes:
            groups = [args.cluster_security_group_id]
            if spec.role is NodeRole.CONTROL_PLANE:
                groups.append(args.control_plane_security_group_id)
            zone = args.zones_by_node[spec.name]
            instance = aws.ec2.Instance(
                f"{name}-{spec.name}",
                **hardened_instance_args(
                    ami_id=args.ami_id,
                    instance_type=spec.instance_type,
                    subnet_id=subnet_of_zone[zone],
                    security_group_ids=groups,
                    root_volume_gb=spec.root_volume_gb,
                    public_ip=False,
                    iam_instance_profile=profile.name,
                    tags=node_tags(args.cluster_name, spec),
                ),
                user_data=render_user_data(args.versions, spec.role),
                user_data_replace_on_change=False,
                # User data and the AMI act at creation only: a later version bump or AMI pin must
                # never stop, start or replace a running node; the playbook converges existing
                # nodes, new ones boot the new pins.
                opts=pulumi.ResourceOptions.merge(child, NODE_CREATION_ONLY),
            )
            self.nodes.append(ClusterNode(spec, instance, zone))

        self.register_outputs(
            {
                "nodes": [{"name": n.spec.name, "private_ip": n.instance.private_ip} for n in self.nodes],
            }
        )

    def _create_instance_profile(self, name: str) -> aws.iam.InstanceProfile:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-node",
            assume_role_policy=EC2_ASSUME_ROLE_POLICY,
            opts=child,
        )
        # What the role carries, exported as `nodeRole` for the status tool (components/node_iam.py).
        self.node_role: dict[str, Any] = {"inlinePolicies": [SESSION_MANAGER_POLICY], "managedPolicyArns": []}
        # A node role that grants S3, EBS or every parameter lends them to whatever runs on the host.
        for excess in role_excess(self.node_role):
            pulumi.log.warn(f"node role {name}-node grants {excess}; nodes must lend nothing (components/node_iam.py)")
        aws.iam.RolePolicy(
            f"{name}-node-session-manager",
            role=role.id,
            policy=json.dumps(self.node_role["inlinePolicies"][0]),
            opts=child,
        )
        return aws.iam.InstanceProfile(f"{name}-node", role=role.name, opts=child)


def node_tags(cluster_name: str, spec: NodeSpec) -> Mapping[str, str]:
    return {
        "Name": f"{cluster_name}-{spec.name}",
        "cluster": cluster_name,
        "node": spec.name,
        "role": spec.role.value,
        f"kubernetes.io/cluster/{cluster_name}": "owned",
    }
