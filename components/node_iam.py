"""What a node's own IAM role may do: Session Manager, nothing a pod could borrow for data.

Every node and the bastion run with IMDS hop limit 1 (components/instances.py), so pods cannot
reach the instance credentials at all; the role is still kept to what the node itself needs, so
that a process on the host (or a host-network pod) gains nothing from it either:

- Session Manager (`aws ssm start-session`), through the custom policy below instead of
  AmazonSSMManagedInstanceCore: that managed policy also grants `ssm:GetParameter(s)` on every
  parameter of the account, plus State Manager and patching actions this stack does not use. The
  actions here are the minimum the SSM agent needs for sessions (AWS Systems Manager user guide,
  "Create a custom IAM role for Session Manager": ssm:UpdateInstanceInformation and the four
  ssmmessages channel actions). Sessions are not logged to S3 or CloudWatch, so no s3/logs/kms
  action is granted.
- no S3 and no EBS action: backups and volumes are done by pods with their own roles
  (components/identity.py).

`excess_grants` is the check: ClusterNodes warns in the preview when a node role's policy grants
any of FORBIDDEN (tests/unit/test_node_iam.py fails on it). The stack exports what it attaches to
the node role as the plain output `nodeRole` (its inline policy documents and managed-policy
ARNs, no secret in either), and `tools/argocd_status.py --stack-outputs` runs the same check on it
through `role_excess`: the status tool itself only holds a kubeconfig and cannot read IAM.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SESSION_MANAGER_POLICY: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "SessionManagerAgent",
            "Effect": "Allow",
            "Action": [
                "ssm:UpdateInstanceInformation",
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "Resource": "*",
        }
    ],
}

# (action, resource) grants no node role may hold: S3 and EBS actions on any resource at all (None),
# parameter reads on every parameter ("*").
FORBIDDEN: tuple[tuple[str, str | None], ...] = (
    ("s3:GetObject", None),
    ("s3:PutObject", None),
    ("s3:DeleteObject", None),
    ("s3:ListBucket", None),
    ("ec2:CreateVolume", None),
    ("ec2:AttachVolume", None),
    ("ec2:DetachVolume", None),
    ("ec2:DeleteVolume", None),
    ("ec2:ModifyVolume", None),
    ("ec2:CreateSnapshot", None),
    ("ec2:DeleteSnapshot", None),
    ("ssm:GetParameter", "*"),
    ("ssm:GetParameters", "*"),
    ("ssm:GetParametersByPath", "*"),
)

# Managed policies a node role must not carry (each grants something in FORBIDDEN).
FORBIDDEN_MANAGED_POLICIES = frozenset(
    {
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
        "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    }
)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _matches(patterns: Iterable[str], value: str) -> bool:
    # IAM action and resource patterns: `*` and `?` wildcards, actions case-insensitive.
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def allows(policy: Mapping[str, Any], action: str, resource: str | None = None) -> bool:
    """Whether an Allow statement of `policy` grants `action`: on any resource at all (`resource`
    None), or on `resource` ("*": on everything). Conditions are ignored and an explicit Deny is not
    subtracted: both only over-report, which is the safe side for this check."""
    for statement in _list_statements(policy):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            action_ok = not _matches(_list(statement["NotAction"]), action)
        else:
            action_ok = _matches(_list(statement.get("Action")), action)
        if not action_ok:
            continue
        if resource is None or "NotResource" in statement:
            return True
        if _matches(_list(statement.get("Resource")), resource):
            return True
    return False


def _list_statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def excess_grants(policies: Sequence[Mapping[str, Any]], managed_policy_arns: Sequence[str] = ()) -> list[str]:
    """What a node role grants beyond its needs, one line each (empty: the role is clean)."""
    found = [f"managed policy {arn}" for arn in managed_policy_arns if arn in FORBIDDEN_MANAGED_POLICIES]
    for action, resource in FORBIDDEN:
        if any(allows(p, action, resource) for p in policies):
            found.append(f"{action} on {resource or 'any resource'}")
    return found


def role_excess(role: Any) -> list[str]:
    """`excess_grants` of a `nodeRole` document (as the stack output prints it); ValueError names
    the part of the document that is not the documented shape."""
    if not isinstance(role, Mapping):
        raise ValueError(f"nodeRole is not an object: {role!r}")
    policies = role.get("inlinePolicies")
    arns = role.get("managedPolicyArns")
    if not isinstance(policies, list) or not all(isinstance(p, Mapping) for p in policies):
        raise ValueError("nodeRole.inlinePolicies is not a list of policy documents")
    if not isinstance(arns, list) or not all(isinstance(a, str) for a in arns):
        raise ValueError("nodeRole.managedPolicyArns is not a list of ARNs")
    return excess_grants(policies, arns)
