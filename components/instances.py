"""The one definition of how an EC2 instance of this stack is hardened (bastion and nodes)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

# IMDSv2 only, hop limit 1: a pod's packets to 169.254.169.254 cross one more hop (its network
# namespace) and are dropped, so a compromised pod cannot take the node's IAM credentials.
# The one exception: nodes that write backups from a pod get 2 and their own narrow role
# (components/backup.py explains the trade-off).
IMDS_HOP_LIMIT = 1
IMDS_HOP_LIMIT_BACKUP_WRITER = 2


# What lets SSM Session Manager reach an instance (the nodes and the backup writers).
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
# The trust policy of every instance role: EC2 may assume it (nodes, backup writers).
EC2_ASSUME_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def hardened_instance_args(
    *,
    ami_id: pulumi.Input[str],
    instance_type: str,
    subnet_id: pulumi.Input[str],
    security_group_ids: Sequence[pulumi.Input[str]],
    key_name: pulumi.Input[str],
    root_volume_gb: int,
    public_ip: bool,
    tags: Mapping[str, str],
    iam_instance_profile: pulumi.Input[str] | None = None,
    imds_hop_limit: int = IMDS_HOP_LIMIT,
) -> dict[str, Any]:
    """Keyword arguments for aws.ec2.Instance: IMDSv2 required, encrypted gp3 root volume."""
    return {
        "ami": ami_id,
        "instance_type": instance_type,
        "subnet_id": subnet_id,
        "vpc_security_group_ids": list(security_group_ids),
        "key_name": key_name,
        "iam_instance_profile": iam_instance_profile,
        "associate_public_ip_address": public_ip,
        "metadata_options": aws.ec2.InstanceMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=imds_hop_limit,
            instance_metadata_tags="disabled",
        ),
        "root_block_device": aws.ec2.InstanceRootBlockDeviceArgs(
            volume_type="gp3",
            volume_size=root_volume_gb,
            encrypted=True,
            delete_on_termination=True,
            tags=dict(tags),
        ),
        "tags": dict(tags),
        "volume_tags": None,
    }
