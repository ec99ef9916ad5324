"""The apply role's EC2 Instance Connect statement, evaluated as IAM would, and as the docs print it."""

from __future__ import annotations

import json

from components.eic_access import ACTION, push_keys_statement
from components.iam_policy import Request, evaluate
from tests.support.paths import ROOT

INSTANCE = "arn:aws:ec2:ap-northeast-2:123456789012:instance/i-0123456789abcdef0"


def policy(cluster: str) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": [push_keys_statement(cluster)]}


def test_the_statement_admits_ubuntu_on_the_stacks_instances_only():
    p = policy("gitops-dev")
    ours = {"aws:ResourceTag/cluster": "gitops-dev", "ec2:osuser": "ubuntu"}
    assert evaluate([p], Request(ACTION, INSTANCE, ours)) == "Allow"
    # Another stack's instance, an untagged one, another OS user: refused.
    assert (
        evaluate([p], Request(ACTION, INSTANCE, {**ours, "aws:ResourceTag/cluster": "gitops-prod"})) == "ImplicitDeny"
    )
    assert evaluate([p], Request(ACTION, INSTANCE, {"ec2:osuser": "ubuntu"})) == "ImplicitDeny"
    assert evaluate([p], Request(ACTION, INSTANCE, {**ours, "ec2:osuser": "root"})) == "ImplicitDeny"
    # It grants nothing else.
    assert evaluate([p], Request("ec2:DescribeInstances", INSTANCE, ours)) == "ImplicitDeny"


def test_the_docs_print_the_statement_for_the_dev_stack():
    docs = (ROOT / "docs" / "gitops-practices.md").read_text()
    printed = json.dumps(push_keys_statement("gitops-dev"), indent=2)
    assert printed in docs, "docs/gitops-practices.md must print components/eic_access.py's statement"


def test_the_preview_role_is_not_given_the_push():
    """The preview role runs a pull request's program: it must reach no node (docs/gitops-practices.md)."""
    docs = (ROOT / "docs" / "gitops-practices.md").read_text()
    preview = docs.split("   - *preview* (", 1)[1].split("   - *apply* (", 1)[0]
    assert "ec2-instance-connect" not in preview
    apply = docs.split("   - *apply* (", 1)[1].split("\n3. ", 1)[0]
    assert ACTION in apply and "the preview role never gets it" in apply
