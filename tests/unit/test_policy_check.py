"""The PR preview's policy job: the default branch's policies judge the preview's JSON digest.

tools/ci/policy_check.py reads `pulumi preview --json` (pulumi/pulumi sdk/go/common/display/json.go
`PreviewDigest`: steps with `op`, `urn`, `newState` = apitype.ResourceV3 {urn, type, custom,
inputs, parent, provider}). The digest here is built from what the dev stack registers under the
mock runtime, in that shape; a world-open rule or a second public instance added to it is found.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tools.ci import policy_check
from tools.mockrun import Recording


@pytest.fixture(scope="module")
def digest(dev: Recording) -> dict[str, Any]:
    # The session's dev run (tests/conftest.py): read only, never changed here.
    steps = []
    for reg in dev.resources:
        state = {
            "urn": reg.urn,
            "custom": reg.custom,
            "type": reg.type,
            "inputs": reg.inputs,
            "parent": reg.parent,
            "provider": reg.provider,
        }
        steps.append({"op": "create", "urn": reg.urn, "provider": reg.provider, "newState": state})
    return {"steps": steps, "changeSummary": {"create": len(steps)}}


def test_the_dev_stack_passes(digest: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(digest), encoding="utf-8")
    assert policy_check.main([str(path)]) == 0
    assert "0 violation(s)" in capsys.readouterr().out


def test_a_world_open_rule_and_a_second_public_instance_are_found(
    digest: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = copy.deepcopy(digest)
    rule = {
        "urn": "urn:pulumi:dev::gitops-cluster::aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::kubelet",
        "custom": True,
        "type": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "inputs": {"ipProtocol": "tcp", "fromPort": 10250, "toPort": 10250, "cidrIpv4": "0.0.0.0/1"},
    }
    bad["steps"].append({"op": "create", "urn": rule["urn"], "newState": rule})
    instance = next(s for s in bad["steps"] if s["newState"]["type"] == "aws:ec2/instance:Instance" and
                    s["newState"]["inputs"].get("tags", {}).get("role") != "bastion")  # fmt: skip
    instance["newState"]["inputs"]["associatePublicIpAddress"] = True
    instance["newState"]["inputs"]["tags"]["role"] = "bastion"
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    assert policy_check.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "no-internet-wide-ingress: SecurityGroupIngressRule 'kubelet' rule opens tcp port 10250 (the kubelet)" in out
    assert "one-public-bastion-and-no-split-world-rules: 2 instances may get a public IP" in out


def test_a_deleted_resource_is_not_judged_and_an_empty_digest_is_an_error(tmp_path: Path) -> None:
    rule = {"type": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "urn": "urn:x::y",
            "inputs": {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"}}  # fmt: skip
    assert policy_check.violations({"steps": [{"op": "delete", "oldState": rule}]}) == []
    path = tmp_path / "preview.json"
    path.write_text("{}", encoding="utf-8")
    assert policy_check.main([str(path)]) == 2
