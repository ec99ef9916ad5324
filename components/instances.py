"""The one definition of how an EC2 instance of this stack is hardened (bastion and nodes)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

# IMDSv2 only, hop limit 1 on every instance: a pod's packets to 169.254.169.254 cross one more hop
# (its network namespace) and are dropped, so a pod cannot take the node's IAM credentials. Pods
# that need AWS get their own role by service-account token instead (components/identity.py).
IMDS_HOP_LIMIT = 1

# The trust policy of the nodes' instance role: EC2 may assume it.
EC2_ASSUME_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


# The bastion's inputs that only shape it when it is created. keyName: instances created while the
# stack still registered an EC2 key pair keep its name (replace-on-change); the key pair itself is
# deleted by the upgrade and the prepare command empties the key from authorized_keys
# (docs/bootstrap.md, "The SSH path"), so the name left in state opens nothing. userData: a bastion
# created before it had user data keeps none (a change stops and starts it, and its public IP
# changes). The nodes' own list is components/nodes.py's NODE_CREATION_ONLY.
BASTION_CREATION_ONLY = pulumi.ResourceOptions(ignore_changes=["keyName", "userData", "userDataBase64"])


def hardened_instance_args(
    *,
    ami_id: pulumi.Input[str],
    instance_type: str,
    subnet_id: pulumi.Input[str],
    security_group_ids: Sequence[pulumi.Input[str]],
    root_volume_gb: int,
    public_ip: bool,
    tags: Mapping[str, str],
    iam_instance_profile: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for aws.ec2.Instance: IMDSv2 required (hop limit 1), encrypted gp3 root volume."""
    return {
        "ami": ami_id,
        "instance_type": instance_type,
        "subnet_id": subnet_id,
        "vpc_security_group_ids": list(security_group_ids),
        # No EC2 key pair: each run of the kit pushes its own key with EC2 Instance Connect
        # (components/bastion_commands.py). BASTION_CREATION_ONLY and NODE_CREATION_ONLY keep an
        # older instance's key name.
        "iam_instance_profile": iam_instance_profile,
        "associate_public_ip_address": public_ip,
        "metadata_options": aws.ec2.InstanceMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=IMDS_HOP_LIMIT,
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
