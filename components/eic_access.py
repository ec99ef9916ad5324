"""Who may push SSH keys to the stack's instances: the apply role's EC2 Instance Connect statement.

Every command of the bastion kit pushes its run's key with `ec2-instance-connect:SendSSHPublicKey`
(components/bastion_commands.py, tools/eic_push.py). The role that runs `pulumi up` (CI's *apply*
role, or the person running `make up`) needs this statement; the *preview* role must not have it,
so a pull request's preview can reach no node (docs/gitops-practices.md, "Who may push SSH keys").

The resource is any instance, narrowed by the `cluster` tag every node and the bastion carry
(components/nodes.py, components/access.py) and by the OS user: the condition keys
`aws:ResourceTag/<key>` and `ec2:osuser` of the EC2 User Guide, "Grant IAM permissions for EC2
Instance Connect" (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-connect-configure-IAM-role.html).
"""

from __future__ import annotations

from typing import Any

from components.bastion_commands import SSH_USER

ACTION = "ec2-instance-connect:SendSSHPublicKey"


def push_keys_statement(cluster_name: str, user: str = SSH_USER) -> dict[str, Any]:
    """The IAM statement that lets a role push SSH keys to `cluster_name`'s instances as `user` only."""
    return {
        "Sid": "PushRunKeysToTheStacksInstances",
        "Effect": "Allow",
        "Action": ACTION,
        "Resource": "arn:aws:ec2:*:*:instance/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/cluster": cluster_name, "ec2:osuser": user}},
    }
