"""The backup roles against the S3 calls the real clients make (components/backup_s3_calls.yaml).

What must hold, and why:
- every call barman (through the Barman Cloud plugin), the etcd snapshot upload and the RabbitMQ
  export make is allowed by the role of the node it runs on, under the bucket's TLS-only policy:
  barman's HeadBucket (authorized by s3:ListBucket, with no s3:prefix) above all, which a
  prefix-conditioned ListBucket refused, stopping WAL archiving and base backups with a 403;
- object access stays within the writer's own prefix: another writer's objects, and objects at
  the bucket's top, are refused; nothing is allowed over plain HTTP;
- the evaluator (components/iam_policy.py) decides as IAM does for the conditions it supports, and
  refuses what it does not understand rather than guessing.
The policies checked are the ones the program registers (the dev stack under the mock runtime).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from components import bucket_policies, iam_policy
from components.iam_policy import Request, evaluate

BUCKET = "gitops-dev-backups-20261130mock"
ARN = f"arn:aws:s3:::{BUCKET}"
KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/mock"
# Each client's own role (IRSA, components/identity.py: the role of its ServiceAccount).
ROLE_OF_CLIENT = {"postgresql": "gitops-dev-postgresql-backup", "rabbitmq": "gitops-dev-rabbitmq-export",
                  "etcd": "gitops-dev-etcd-backup"}  # fmt: skip


def _registered(dev: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Any], str]:
    """The roles' and the bucket's policies as registered, and the bucket's ARN in them."""
    roles = {r.name: json.loads(r.inputs["policy"]) for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")}
    (bucket_policy,) = [
        p for p in dev.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.name.endswith("-backups-policy")
    ]
    policy = json.loads(bucket_policy.inputs["policy"])
    return roles, policy, policy["Statement"][0]["Resource"][0]


def test_every_call_of_every_backup_client_is_allowed_by_its_role(dev: Any) -> None:
    roles, bucket_policy, arn = _registered(dev)
    calls = iam_policy.load_calls(arn)
    assert {c.client for c in calls} == set(ROLE_OF_CLIENT)
    assert any(c.api == "HeadBucket" and c.client == "postgresql" for c in calls)
    refused = []
    for client, role in ROLE_OF_CLIENT.items():
        mine = [_as(c, role) for c in calls if c.client == client]
        refused += iam_policy.check_calls([roles[role], bucket_policy], mine)
    assert not refused, "\n".join(f"{c.client} {c.api} {c.request.resource}: {d} ({c.source})" for c, d in refused)


def _principal(role: str) -> dict[str, str]:
    """The condition key S3 sees for a session of the IRSA role `role` (its ARN, no path)."""
    return {"aws:PrincipalArn": f"arn:aws:iam::123456789012:role/{role}"}


def _as(call: iam_policy.Call, role: str) -> iam_policy.Call:
    request = Request(call.request.action, call.request.resource, {**call.request.context, **_principal(role)})
    return dataclasses.replace(call, request=request)


def test_object_access_stays_within_each_writers_prefix(dev: Any) -> None:
    roles, bucket_policy, arn = _registered(dev)
    prefixes = {"postgresql": "postgresql/", "rabbitmq": "rabbitmq/", "etcd": "etcd/"}
    for client, role in ROLE_OF_CLIENT.items():
        policies = [roles[role], bucket_policy]
        for other, prefix in prefixes.items():
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
                context = {"aws:SecureTransport": "true", **_principal(role)}
                decision = evaluate(policies, Request(action, f"{arn}/{prefix}x", context))
                assert (decision == "Allow") == (other == client), (client, other, action, decision)
        top = Request("s3:PutObject", f"{arn}/loose-file", {"aws:SecureTransport": "true", **_principal(role)})
        assert evaluate(policies, top) == "ImplicitDeny"
        plain = Request("s3:ListBucket", arn, {"aws:SecureTransport": "false"})
        assert evaluate(policies, plain) == "Deny"


def test_a_prefix_condition_on_listbucket_would_refuse_barmans_headbucket() -> None:
    """The policy this replaced: HeadBucket carries no s3:prefix, so StringLike on it is false."""
    old = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ARN,
             "Condition": {"StringLike": {"s3:prefix": ["postgresql/", "postgresql/*"]}}},
        ]
    }  # fmt: skip
    head = next(c for c in iam_policy.load_calls(ARN) if c.api == "HeadBucket")
    assert evaluate([old], head.request) == "ImplicitDeny"
    assert evaluate([bucket_policies.writer_policy(ARN, "postgresql/", KEY)], head.request) == "Allow"


# --- the evaluator itself --------------------------------------------------------------------------


def _allow(condition: dict[str, Any] | None = None, action: str = "s3:ListBucket", resource: str = ARN) -> Any:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Statement": [statement]}


@pytest.mark.parametrize(
    ("condition", "context", "decision"),
    [
        ({"StringLike": {"s3:prefix": "etcd/*"}}, {"s3:prefix": "etcd/a"}, "Allow"),
        ({"StringLike": {"s3:prefix": "etcd/*"}}, {"s3:prefix": "rabbitmq/a"}, "ImplicitDeny"),
        ({"StringLike": {"s3:prefix": "etcd/*"}}, {}, "ImplicitDeny"),  # absent key: false
        ({"StringLikeIfExists": {"s3:prefix": "etcd/*"}}, {}, "Allow"),  # ...unless IfExists
        ({"StringLike": {"s3:prefix": ["a/*", "etcd/*"]}}, {"s3:prefix": "etcd/x"}, "Allow"),  # values: OR
        ({"StringLike": {"s3:prefix": "etc?/*"}}, {"s3:prefix": "etcd/x"}, "Allow"),
        ({"StringLike": {"s3:prefix": "etcd/[ab]"}}, {"s3:prefix": "etcd/a"}, "ImplicitDeny"),  # no classes
        ({"StringEquals": {"s3:prefix": "etcd/"}}, {"s3:prefix": "etcd/"}, "Allow"),
        ({"StringEquals": {"s3:prefix": "etcd/"}}, {"s3:prefix": "ETCD/"}, "ImplicitDeny"),
        ({"StringNotEquals": {"s3:prefix": "etcd/"}}, {}, "Allow"),  # negated, absent key: true
        ({"StringNotLike": {"s3:prefix": "etcd/*"}}, {"s3:prefix": "etcd/x"}, "ImplicitDeny"),
        ({"Null": {"s3:prefix": "true"}}, {}, "Allow"),
        ({"Null": {"s3:prefix": "true"}}, {"s3:prefix": ""}, "ImplicitDeny"),
        ({"Null": {"s3:prefix": "false"}}, {"s3:prefix": ""}, "Allow"),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, "Allow"),
        (  # keys: AND
            {"StringLike": {"s3:prefix": "etcd/*", "s3:delimiter": "/"}},
            {"s3:prefix": "etcd/x", "s3:delimiter": "-"},
            "ImplicitDeny",
        ),
        (  # operators: AND
            {"StringLike": {"s3:prefix": "etcd/*"}, "Bool": {"aws:SecureTransport": "true"}},
            {"s3:prefix": "etcd/x", "aws:SecureTransport": "false"},
            "ImplicitDeny",
        ),
    ],
)
def test_conditions(condition: dict[str, Any], context: dict[str, str], decision: str) -> None:
    assert evaluate([_allow(condition)], Request("s3:ListBucket", ARN, context)) == decision


def test_actions_resources_and_an_explicit_deny() -> None:
    wide = _allow(action="s3:*", resource=f"{ARN}/etcd/*")
    assert evaluate([wide], Request("S3:PutObject", f"{ARN}/etcd/a.db")) == "Allow"  # actions ignore case
    assert evaluate([wide], Request("s3:PutObject", f"{ARN}/Etcd/a.db")) == "ImplicitDeny"  # resources do not
    assert evaluate([wide], Request("s3:PutObject", f"{ARN}x/etcd/a.db")) == "ImplicitDeny"
    deny = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    assert evaluate([wide, deny], Request("s3:PutObject", f"{ARN}/etcd/a.db")) == "Deny"


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4"}}},
    ],
)
def test_what_the_evaluator_does_not_know_is_refused_loudly(statement: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not supported"):
        evaluate([{"Statement": [statement]}], Request("s3:GetObject", f"{ARN}/x"))
