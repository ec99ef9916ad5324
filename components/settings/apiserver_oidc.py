"""Rules of the people's-SSO section: an OpenID Connect issuer the API server trusts, and the groups' roles.

The issuer rules are the API server's own for a `jwt` authenticator (kubernetes/kubernetes
staging/src/k8s.io/apiserver/pkg/apis/apiserver/validation/validation.go, validateURL and
ValidateAuthenticationConfiguration): https, no user or password, no query, no fragment, and no
two authenticators with one issuer URL (so never GitHub Actions' issuer, which CI's authenticator
uses). Checked here so a bad value stops before any resource, not at the API server's restart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from components.cluster_auth import GITHUB_ISSUER
from components.settings.model import ApiServerOidc
from components.settings.schema import ApiServerOidcKeys, section
from components.settings.values import Collector

_GROUP_KEYS = ("apiServerOidcAdminGroups", "apiServerOidcEditGroups", "apiServerOidcViewGroups")
# A claim name the authenticator's CEL can name: claims.<name>, or claims["<name>"] for names such
# as Cognito's cognito:groups. No quote or backslash can reach the expression.
_CLAIM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,99}$")
# A group as an IdP names it: printable, no surrounding space, at most 256 characters.
_GROUP = re.compile(r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,254}[^\s\x00-\x1f\x7f])?$")
# RFC 6749 section 3.3 scope-token: printable ASCII without space, '"' or '\\'.
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")
_TURN_ON = (
    "people's SSO needs apiServerOidcIssuerUrl, apiServerOidcClientId and at least one of "
    "apiServerOidcAdminGroups, apiServerOidcEditGroups, apiServerOidcViewGroups; set this one, or unset "
    "apiServerOidcIssuerUrl and apiServerOidcClientId to keep only the break-glass certificate."
)


def issuer_problem(url: str) -> str | None:
    """Why the API server would refuse `url` as a jwt issuer, or None."""
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.hostname:
        return "must be an https:// URL with a host, exactly as the ID tokens' iss claim says it."
    if parsed.username or parsed.password:
        return "must not contain a username or password."
    if parsed.query or parsed.fragment or "#" in url or "?" in url:
        return "must not contain a query or a fragment (the API server refuses both)."
    if not url.isascii() or any(ch.isspace() for ch in url):
        return "must be a plain URL (no spaces or non-ASCII characters)."
    if url.rstrip("/") == GITHUB_ISSUER:
        return (
            "is GitHub Actions' issuer, which CI's authenticator already uses (the API server allows one "
            "authenticator per issuer); name your people's OpenID Connect provider."
        )
    return None


def parse_api_server_oidc(c: Collector, values: Mapping[str, Any]) -> ApiServerOidc | None:
    """The apiServerOidc* keys: issuer and client ID together (SSO on, with a group bound) or neither."""
    t = section(ApiServerOidcKeys, values)
    issuer, client_id = t["apiServerOidcIssuerUrl"], t["apiServerOidcClientId"]
    if not t.ok("apiServerOidcIssuerUrl") or (issuer and (problem := issuer_problem(issuer))):
        fix = "must be an https:// URL as text." if not t.ok("apiServerOidcIssuerUrl") else problem
        c.add("apiServerOidcIssuerUrl", issuer, f"{fix} e.g. 'https://sso.example.com' or 'https://example.okta.com'.")
    if not t.ok("apiServerOidcClientId") or (
        client_id and (client_id.strip() != client_id or not client_id.isprintable())
    ):
        c.add(
            "apiServerOidcClientId",
            client_id,
            "the client ID registered for kubectl at the provider, as text without spaces.",
        )
    claims = {}
    for key in ("apiServerOidcUsernameClaim", "apiServerOidcGroupsClaim"):
        name = t[key]
        if not t.ok(key) or not (isinstance(name, str) and _CLAIM.match(name)):
            c.add(key, name, "a claim name of the ID token, e.g. 'email', 'preferred_username' or 'groups'.")
        claims[key] = name
    scopes = t["apiServerOidcExtraScopes"]
    if not t.ok("apiServerOidcExtraScopes"):
        c.add("apiServerOidcExtraScopes", scopes, "expected a list of OAuth scopes, e.g. ['groups'].")
    for scope in (scopes or []) if t.ok("apiServerOidcExtraScopes") else []:
        if not _SCOPE.match(scope) or scope == "openid":
            c.add(
                "apiServerOidcExtraScopes",
                scope,
                "an OAuth scope without spaces or quotes, e.g. 'groups' (openid is always asked for).",
            )
    groups: dict[str, tuple[str, ...]] = {}
    for key in _GROUP_KEYS:
        given = t[key]
        if not t.ok(key):
            c.add(
                key, given, "expected a list of group names as the groups claim lists them, e.g. ['platform-admins']."
            )
            continue
        for group in given or []:
            if not _GROUP.match(group):
                c.add(
                    key,
                    group,
                    "a group name as the groups claim lists it (no surrounding spaces), e.g. 'platform-admins'.",
                )
        groups[key] = tuple(given or [])
    seen: dict[str, str] = {}
    for key, names in groups.items():
        for group in names:
            if group in seen and seen[group] != key:
                c.add(key, group, f"is also in {seen[group]}; give each group one role.")
            seen.setdefault(group, key)
    on = bool(issuer) or bool(client_id)
    if on:
        for key, value in (("apiServerOidcIssuerUrl", issuer), ("apiServerOidcClientId", client_id)):
            if not value:
                c.add(key, "<unset>", _TURN_ON)
        if not any(groups.values()) and len(groups) == len(_GROUP_KEYS):
            c.add("apiServerOidcAdminGroups", "[]", _TURN_ON)
    elif any(groups.values()):
        c.add("apiServerOidcIssuerUrl", "<unset>", _TURN_ON)
    if not on or t.refused or not (issuer and client_id):
        return None
    return ApiServerOidc(
        issuer_url=str(issuer),
        client_id=str(client_id),
        username_claim=str(claims["apiServerOidcUsernameClaim"]),
        groups_claim=str(claims["apiServerOidcGroupsClaim"]),
        extra_scopes=tuple(scopes or ()),
        admin_groups=groups.get("apiServerOidcAdminGroups", ()),
        edit_groups=groups.get("apiServerOidcEditGroups", ()),
        view_groups=groups.get("apiServerOidcViewGroups", ()),
    )
