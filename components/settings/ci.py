"""Rules of the CI section: the GitHub repository whose Actions OIDC tokens the API server accepts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.settings.schema import CiKeys, section
from components.settings.values import Collector

# GitHub's rules: an owner login is 1-39 alphanumerics or single hyphens, not at the ends; a
# repository name is 1-100 of letters, digits, '.', '-' and '_' (and never '.' or '..').
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")


def parse_ci_repository(c: Collector, values: Mapping[str, Any]) -> str | None:
    """`ciGithubRepository`: "owner/name", or None when unset (no GitHub issuer)."""
    t = section(CiKeys, values)
    given = t["ciGithubRepository"]
    if t.ok("ciGithubRepository") and not given:
        return None
    if not (t.ok("ciGithubRepository") and isinstance(given, str) and _REPOSITORY.match(given)):
        c.add(
            "ciGithubRepository",
            given,
            "the repository whose workflows deploy this stack, as owner/name (e.g. 'example-org/gitops-cluster'), "
            "no URL and no '.git'.",
        )
        return None
    return given
