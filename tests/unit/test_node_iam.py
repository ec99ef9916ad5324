"""Nodes lend nothing (components/node_iam.py, components/instances.py): hop limit 1 on every instance,
and no node role that grants S3, EBS or every SSM parameter."""

from __future__ import annotations

import json

import pytest

from components import node_iam

INSTANCE = "aws:ec2/instance:Instance"


def _node_role_policies(dev):
    """The inline policies and managed attachments of every role an instance profile carries."""
    profiles = {r.name: r for r in dev.of_type("aws:iam/instanceProfile:InstanceProfile")}
    roles = {p.inputs["role"] for p in profiles.values()}
    inline = [
        r for r in dev.of_type("aws:iam/rolePolicy:RolePolicy") if any(r.inputs["role"] == f"{n}-id" for n in roles)
    ]
    managed = [r for r in dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if r.inputs["role"] in roles]
    return roles, [json.loads(r.inputs["policy"]) for r in inline], [r.inputs["policyArn"] for r in managed]


def test_no_instance_has_a_hop_limit_above_one(dev):
    instances = dev.of_type(INSTANCE)
    assert len(instances) == 15  # 14 nodes and the bastion
    for inst in instances:
        assert inst.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1, inst.name
        assert inst.inputs["metadataOptions"]["httpTokens"] == "required", inst.name


def test_the_node_role_grants_session_manager_and_nothing_a_pod_could_use(dev):
    roles, inline, managed = _node_role_policies(dev)
    assert roles == {"gitops-dev-node"}
    assert inline == [node_iam.SESSION_MANAGER_POLICY] and managed == []
    assert node_iam.excess_grants(inline, managed) == []


@pytest.mark.parametrize(
    ("statement", "managed", "expected"),
    [
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::backups/*"}, [], "s3:GetObject"),
        ({"Effect": "Allow", "Action": ["ec2:AttachVolume"], "Resource": "*"}, [], "ec2:AttachVolume"),
        ({"Effect": "Allow", "Action": "ssm:GetParameter*", "Resource": "*"}, [], "ssm:GetParameter on *"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, [], "s3:PutObject"),
        (
            {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
            "AmazonSSMManagedInstanceCore",
        ),
    ],
)
def test_a_node_role_that_grants_more_is_flagged(statement, managed, expected):
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    found = node_iam.excess_grants([node_iam.SESSION_MANAGER_POLICY, policy], managed)
    assert any(expected in f for f in found), found


def test_parameter_reads_on_one_prefix_are_not_flagged():
    policy = {
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:*:*:parameter/node/*"}]
    }
    assert node_iam.excess_grants([policy]) == []


def test_the_preview_warns_when_the_node_role_grants_more(monkeypatch, run_stack, caplog):
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    monkeypatch.setattr("components.nodes.SESSION_MANAGER_POLICY", wide)
    run_stack()
    assert any("nodes must lend nothing" in r.getMessage() and "s3:GetObject" in r.getMessage() for r in caplog.records)


def test_the_node_role_output_is_what_the_node_role_carries(dev):
    """The status tool checks the `nodeRole` output (tools/argocd_status.py --stack-outputs): it
    must be the policies the role really has, or the check would pass on a copy."""
    _, inline, managed = _node_role_policies(dev)
    assert dev.stack_outputs["nodeRole"] == {"inlinePolicies": inline, "managedPolicyArns": managed}
    assert node_iam.role_excess(dev.stack_outputs["nodeRole"]) == []
