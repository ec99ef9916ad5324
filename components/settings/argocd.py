"""Rules of the ArgoCD section: its domain, the admin password's version and GitHub SSO (all or none)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.settings.keys import SecretInput
from components.settings.model import ArgoCdSso
from components.settings.schema import ArgoCdKeys, section
from components.settings.values import DNS_SUBDOMAIN, Collector


def parse_argocd_domain(c: Collector, values: Mapping[str, Any]) -> object:
    t = section(ArgoCdKeys, values)
    argocd_domain = t["argocdDomain"]
    host, _, port = argocd_domain.partition(":") if t.ok("argocdDomain") else ("", "", "")
    if not DNS_SUBDOMAIN.fullmatch(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        c.add(
            "argocdDomain",
            argocd_domain,
            "a host name with an optional port, no scheme or path, e.g. 'argocd.example.com' or 'localhost:8080'.",
        )
    return argocd_domain


def parse_password_version(c: Collector, values: Mapping[str, Any]) -> object:
    t = section(ArgoCdKeys, values)
    password_version = t["argocdAdminPasswordVersion"]
    if not t.ok("argocdAdminPasswordVersion") or password_version < 1:
        c.add(
            "argocdAdminPasswordVersion",
            password_version,
            "a whole number from 1; bump it by one to rotate the ArgoCD admin password.",
        )
    return password_version


# GitHub's rules: an organisation login is 1-39 alphanumerics or single hyphens, not at the ends; a
# team slug is lowercase letters, digits, '-' and '_'.
_GITHUB_ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_GITHUB_TEAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_SSO_KEYS = ("argocdGithubOrg", "argocdGithubAdminTeam", "argocdGithubClientId", "argocdGithubClientSecret")


def parse_argocd_sso(c: Collector, values: Mapping[str, Any], client_secret: SecretInput) -> ArgoCdSso | None:
    """The SSO keys: all four set (SSO on) or none (local admin only).

    A value that is not text is refused with its key's fix, even one that reads as unset (0, false).
    """
    t = section(ArgoCdKeys, values)
    given = {
        "argocdGithubOrg": t["argocdGithubOrg"] or "",
        "argocdGithubAdminTeam": t["argocdGithubAdminTeam"] or "",
        "argocdGithubClientId": t["argocdGithubClientId"] or "",
        "argocdGithubClientSecret": client_secret.set,
    }
    if client_secret.plaintext:
        c.add(
            "argocdGithubClientSecret",
            "<not shown>",
            "stored in plain text; set it with `pulumi config set --secret argocdGithubClientSecret`.",
        )
    for key in _SSO_KEYS:
        if any(given.values()) and not given[key]:
            shown = "<unset>"
            c.add(
                key,
                shown,
                "ArgoCD SSO needs argocdGithubOrg, argocdGithubAdminTeam, argocdGithubClientId and the secret "
                "argocdGithubClientSecret together; set this one, or unset all four to keep the local admin.",
            )
    org, team, client_id = t["argocdGithubOrg"], t["argocdGithubAdminTeam"], t["argocdGithubClientId"]
    if not t.ok("argocdGithubOrg") or (org and not _GITHUB_ORG.match(org)):
        c.add("argocdGithubOrg", org, "a GitHub organisation login, e.g. 'example-org' (no URL, no '@').")
    if not t.ok("argocdGithubAdminTeam") or (team and not _GITHUB_TEAM.match(team)):
        c.add(
            "argocdGithubAdminTeam", team, "a team slug of that organisation, e.g. 'platform-admins' (not 'org/team')."
        )
    if not t.ok("argocdGithubClientId") or (client_id and (client_id.strip() != client_id or " " in client_id)):
        c.add("argocdGithubClientId", client_id, "the OAuth App's client ID, e.g. 'Ov23li...', without spaces.")
    if not all(given.values()) or t.refused:
        return None
    return ArgoCdSso(github_org=str(org), admin_team=str(team), client_id=str(client_id))
