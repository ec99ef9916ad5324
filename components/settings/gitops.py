"""Rules of the GitOps section: the repository ArgoCD reads, its revision, path and mode.

The URL is https:// without credentials, the path a plain relative one (each checked in one pass:
one problem per value, at its place in the list); how revision, mode and
environment fit together is policy/gitops_rule.py (shared with the policy pack). The placeholder
repository (`example-org`) stops `pulumi up` and only warns in a preview.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from components.settings.messages import shown
from components.settings.model import GitOpsSource
from components.settings.schema import GitOpsKeys, section
from components.settings.values import Collector, https_url_problem
from policy import gitops_rule

_PLACEHOLDER_REPO = re.compile(r"(^|[/.@])(example-org|example\.(com|org|net))([/.:]|$)", re.IGNORECASE)


def parse_gitops(
    c: Collector, values: Mapping[str, Any], *, project: str, deploying: bool, warnings: list[str]
) -> GitOpsSource:
    """The GitOps keys in one pass each; a placeholder repository is a problem when deploying, else a warning.

    Mode, environment and revision are worded by policy/gitops_rule.py whatever their type (the
    policy pack reads them from untyped labels): a value the schema refuses is one it refuses too.
    """
    t = section(GitOpsKeys, values)
    url = t["gitopsRepoUrl"]
    if (why := _repo_url_problem(url) if t.ok("gitopsRepoUrl") else _URL_REQUIRED) is not None:
        c.add("gitopsRepoUrl", url, why)
    rev, mode, environment = t[gitops_rule.REVISION_KEY], t[gitops_rule.MODE_KEY], t[gitops_rule.ENVIRONMENT_KEY]
    value_of = {gitops_rule.REVISION_KEY: rev, gitops_rule.MODE_KEY: mode, gitops_rule.ENVIRONMENT_KEY: environment}
    for key, fix in gitops_rule.problems(mode, environment, rev):
        c.add(key, value_of[key], fix)
    path = t["gitopsPath"]
    if (why := _path_problem(path) if t.ok("gitopsPath") else _PATH_FIX) is not None:
        c.add("gitopsPath", path, why)
    gitops = GitOpsSource(str(url), str(rev), str(path), str(mode), str(environment))
    repo = urlparse(gitops.repo_url)
    if _PLACEHOLDER_REPO.search(f"{repo.netloc}{repo.path}"):
        message = (
            "the placeholder repository; set gitopsRepoUrl to your fork's https:// URL "
            "(`pulumi config set gitopsRepoUrl https://github.com/<you>/gitops-cluster.git`)."
        )
        if deploying:
            c.add("gitopsRepoUrl", gitops.repo_url, f"ArgoCD would sync {message}")
        else:
            warnings.append(f"{project}:gitopsRepoUrl = {shown(gitops.repo_url)}: `pulumi up` refuses {message}")
    return gitops


_URL_REQUIRED = "required: the HTTPS URL of this repository."
_PATH_FIX = "a relative path inside the repository, e.g. 'manifests/argocd/apps'."


def _repo_url_problem(url: str) -> str | None:
    """Why ArgoCD must not read this URL, or None: the first reason, so one problem per URL."""
    if not url:
        return _URL_REQUIRED
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc or parsed.username or parsed.password:
        return "must be an https:// URL without credentials (ArgoCD reads it; keep tokens in a repo secret)."
    return https_url_problem(url)


def _path_problem(path: str) -> str | None:
    """Why the path would make ArgoCD read somewhere else than a directory of the repository, or None."""
    if not path or path.startswith("/") or ".." in path.split("/"):
        return _PATH_FIX
    segments = path.rstrip("/").split("/")
    if (
        not path.isascii()
        or any(ch.isspace() or ch == "\\" for ch in path)
        or any(seg in ("", ".", "..") for seg in segments)
    ):
        return (
            "a plain relative path inside the repository ('/'-separated, no '.', '..', '//', spaces or "
            "backslashes), e.g. 'manifests/argocd/apps'."
        )
    return None
