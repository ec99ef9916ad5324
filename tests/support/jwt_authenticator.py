"""The API server's `jwt` authenticator after signature checks: audience, CEL claim mappings and rules.

A stand-in written from kubernetes/kubernetes (read through the search tool, the tree of the pinned
1.36 line), with a real CEL implementation doing the evaluation:

- staging/src/k8s.io/apiserver/pkg/authentication/cel/compile.go: two environments, `claims`
  (`map(string, any)`) for claimValidationRules and claimMappings, `user` (kubernetes.UserInfo:
  username, uid, groups, extra) for userValidationRules; a validation rule must type-check to
  bool, a mapping may be of any type (checked when evaluated).
- staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/oidc/oidc.go, AuthenticateToken:
  the audience (MatchAny: any of the token's `aud` among the configured ones), then the username
  (an expression must give a non-empty string), the groups (a string, a list of strings or null;
  empty strings dropped: convertCELValueToStringList), then every claimValidationRule (each must
  be true, else "validation expression '<e>' failed: <message>"), then every userValidationRule
  over the user. Any evaluation error refuses the token.

The CEL is Google's cel-cpp through cel-expr-python (pinned in uv.lock), with the strings
extension. What differs from Kubernetes' cel-go environment (environment.MustBaseEnvSet):
- `user` is declared `map(string, dyn)` here, not the object type kubernetes.UserInfo: a
  misspelt field of `user` is a compile error there and an evaluation error (a refused token)
  here; both refuse.
- Kubernetes adds its own libraries (lists, regex, urls, quantity, ip, cidr, format, semver) and
  cel-go's sets and optional types; cel-cpp has none of the Kubernetes ones, so an expression that
  used them would fail to compile here (loudly), never pass silently. The stack's expressions use
  the standard library and the `in`, `has`, `map` and `all` macros only.
- No cost budget is modelled (Kubernetes bounds each expression's runtime cost).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

from tests.support.paths import FIXTURES


def example_claims(name: str) -> dict[str, Any]:
    """A token payload of tests/fixtures/oidc (its README says where each comes from)."""
    data: dict[str, Any] = json.loads((FIXTURES / "oidc" / name).read_text())
    return data


class Refused(Exception):  # noqa: N818 - what the API server does to the token
    """The API server would answer 401 to this token (the message is its reason)."""


@dataclass(frozen=True)
class User:
    username: str
    groups: tuple[str, ...]


@cache
def _env(variable: str) -> cel.Env:
    return cel.NewEnv(
        variables={variable: cel.Type.Map(cel.Type.STRING, cel.Type.DYN)},
        extensions=[ext_strings.ExtStrings()],
    )


@cache
def compile_expression(variable: str, expression: str) -> cel.Expression:
    """Parse and type-check `expression` with `variable` declared as Kubernetes does (compile.go)."""
    return _env(variable).compile(expression)


def _evaluate(variable: str, expression: str, value: Mapping[str, Any]) -> Any:
    result = compile_expression(variable, expression).eval(data={variable: dict(value)})
    if result.type() == cel.Type.ERROR:
        raise Refused(f"error evaluating {expression!r}: {result.value()}")
    return result.plain_value()


def _string_list(value: Any, expression: str) -> tuple[str, ...]:
    # oidc.go convertCELValueToStringList: a string, a list of strings or null; "" is dropped.
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    raise Refused(f"{expression!r}: expression must return a string or a list of strings")


def validation_expressions(authenticator: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every CEL expression of one authenticator, with the variable it sees (`claims` or `user`)."""
    mappings = authenticator.get("claimMappings") or {}
    found = [("claims", r["expression"]) for r in authenticator.get("claimValidationRules") or [] if "expression" in r]
    found += [("claims", m["expression"]) for m in mappings.values() if isinstance(m, Mapping) and "expression" in m]
    found += [("user", r["expression"]) for r in authenticator.get("userValidationRules") or []]
    return found


def check_compiles(authenticator: Mapping[str, Any]) -> None:
    """Each expression parses and type-checks, and each validation rule is a bool (compile.go)."""
    rules = {r["expression"] for r in authenticator.get("claimValidationRules") or []}
    rules |= {r["expression"] for r in authenticator.get("userValidationRules") or []}
    for variable, expression in validation_expressions(authenticator):
        compiled = compile_expression(variable, expression)
        if expression in rules:
            assert compiled.return_type() == cel.Type.BOOL, f"{expression!r} must evaluate to bool"


def authenticate(authenticator: Mapping[str, Any], claims: Mapping[str, Any]) -> User:
    """The user the API server makes of a verified token with these claims, or Refused."""
    issuer = authenticator["issuer"]
    if claims.get("iss") != issuer["url"]:
        raise Refused(f"issuer {claims.get('iss')!r} is not {issuer['url']!r}")
    audiences = claims.get("aud")
    token_audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
    if not set(token_audiences) & set(issuer["audiences"]):
        raise Refused(f"oidc: expected audience in {sorted(issuer['audiences'])} got {token_audiences}")
    mappings = authenticator["claimMappings"]
    username_expression = mappings["username"]["expression"]
    username = _evaluate("claims", username_expression, claims)
    if not isinstance(username, str):
        raise Refused("username claim expression must return a string")
    if not username:
        raise Refused("oidc: empty username via CEL expression is not allowed")
    groups: tuple[str, ...] = ()
    if "groups" in mappings:
        expression = mappings["groups"]["expression"]
        groups = _string_list(_evaluate("claims", expression, claims), expression)
    for rule in authenticator.get("claimValidationRules") or []:
        if _evaluate("claims", rule["expression"], claims) is not True:
            raise Refused(f"validation expression '{rule['expression']}' failed: {rule.get('message', '')}")
    user = {"username": username, "uid": "", "groups": list(groups), "extra": {}}
    for rule in authenticator.get("userValidationRules") or []:
        if _evaluate("user", rule["expression"], user) is not True:
            raise Refused(f"validation expression '{rule['expression']}' failed: {rule.get('message', '')}")
    return User(username, groups)


def authenticate_any(authenticators: Sequence[Mapping[str, Any]], claims: Mapping[str, Any]) -> User:
    """As the API server tries its authenticators: the one whose issuer the token names decides."""
    for authenticator in authenticators:
        if authenticator["issuer"]["url"] == claims.get("iss"):
            return authenticate(authenticator, claims)
    raise Refused(f"no authenticator for issuer {claims.get('iss')!r}")
