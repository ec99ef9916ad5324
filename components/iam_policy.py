"""A small evaluator of IAM policy documents, for the conditions this project's policies use.

`evaluate(policies, request)` answers as IAM does for one request against identity and resource
policies of the same account: an explicit Deny wins, else an Allow of any statement, else the
implicit deny (IAM User Guide, "Policy evaluation logic"). A statement matches when its Action
and Resource match (`*` and `?` wildcards, actions case-insensitive) and every condition holds.

Conditions: the operators StringEquals, StringNotEquals, StringLike, StringNotLike, Bool and Null,
each optionally `...IfExists`. Several keys under an operator, and several operators, must all
hold; several values of one key are alternatives. A key the request does not carry makes a
positive operator false and a negated one (StringNotEquals, StringNotLike) true, unless IfExists
makes any operator true (IAM User Guide, "Condition operators"). Anything else (NotAction,
NotResource, Principal matching, policy variables, other operators) raises instead of guessing.

`check_calls(policies, calls)` evaluates a list of client calls (components/backup_s3_calls.yaml)
and returns the ones IAM would refuse; the same list serves any role, per node or per
ServiceAccount, that must let those clients work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components import yaml_io

CALLS_FILE = Path(__file__).resolve().parent / "backup_s3_calls.yaml"
_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "Bool", "Null"}
_SUPPORTED_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition", "Principal"}


@dataclass(frozen=True)
class Request:
    action: str  # e.g. s3:ListBucket
    resource: str  # an ARN
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys the request carries


@dataclass(frozen=True)
class Call:
    client: str
    api: str
    request: Request
    source: str


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character, nothing else special."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (0 if case else re.IGNORECASE)) is not None


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, keys in condition.items():
        base, if_exists = (operator[: -len("IfExists")], True) if operator.endswith("IfExists") else (operator, False)
        if base not in _OPERATORS:
            raise ValueError(f"condition operator {operator!r} is not supported by this evaluator")
        for key, wanted in keys.items():
            values = [str(v) for v in _list(wanted)]
            if base == "Null":
                present = key in context
                if not any((v.lower() == "true") != present for v in values):
                    return False
                continue
            if key not in context:
                if if_exists or base in ("StringNotEquals", "StringNotLike"):
                    continue
                return False
            actual = context[key]
            if base == "StringEquals":
                ok = actual in values
            elif base == "StringNotEquals":
                ok = actual not in values
            elif base == "StringLike":
                ok = any(_like(v, actual) for v in values)
            elif base == "StringNotLike":
                ok = not any(_like(v, actual) for v in values)
            else:  # Bool
                ok = actual.lower() in (v.lower() for v in values)
            if not ok:
                return False
    return True


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    unknown = set(statement) - _SUPPORTED_KEYS
    if unknown:
        raise ValueError(f"statement keys {sorted(unknown)} are not supported by this evaluator")
    if not any(_like(a, request.action, case=False) for a in _list(statement["Action"])):
        return False
    if not any(_like(r, request.resource) for r in _list(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), request.context)


def evaluate(policies: Iterable[Mapping[str, Any]], request: Request) -> str:
    """'Allow', or 'Deny' (explicit) or 'ImplicitDeny', for `request` under all `policies`."""
    allowed = False
    for policy in policies:
        for statement in _list(policy["Statement"]):
            if _statement_matches(statement, request):
                if statement["Effect"] == "Deny":
                    return "Deny"
                allowed = allowed or statement["Effect"] == "Allow"
    return "Allow" if allowed else "ImplicitDeny"


def load_calls(bucket_arn: str, path: Path = CALLS_FILE) -> list[Call]:
    """The client calls of the data file, against the bucket `bucket_arn` (over HTTPS, as every client)."""
    doc = yaml_io.load(path.read_text(encoding="utf-8"))
    calls = []
    for client, spec in doc["clients"].items():
        for call in spec["calls"]:
            resource = bucket_arn if call["resource"] == "bucket" else f"{bucket_arn}/{call['resource']}"
            context = {"aws:SecureTransport": "true", **{k: str(v) for k, v in (call.get("context") or {}).items()}}
            calls.append(Call(client, call["api"], Request(call["action"], resource, context), call["source"]))
    return calls


def check_calls(policies: Sequence[Mapping[str, Any]], calls: Iterable[Call]) -> list[tuple[Call, str]]:
    """Each call IAM would refuse under `policies`, with the decision."""
    return [(c, d) for c in calls if (d := evaluate(policies, c.request)) != "Allow"]
