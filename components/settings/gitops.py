"""Rules of the GitOps section: the repository ArgoCD reads, its revision, path and mode.

The URL is https:// without credentials, the path a plain relative one; how revision, mode and
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
from components.settings.values import Collector, https_url_problem
from policy import gitops_rule

_PLACEHOLDER_REPO = re.compile(r"(^|[/.@])(example-org|example\.(com|org|net))([/.:]|$)", re.IGNORECASE)


def parse_gitops(
    c: Collector, values: Mapping[str, Any], *, project: str, deploying: bool, warnings: list[str]
) -> GitOpsSource:
    """The GitOps keys; a placeholder repository is a problem when deploying, else a warning."""
    gitops = _parse_gitops(c, values)
    _check_gitops_source(c, gitops)
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


def _parse_gitops(c: Collector, values: Mapping[str, Any]) -> GitOpsSource:
    url = values.get("gitopsRepoUrl")
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or not url:
        c.add("gitopsRepoUrl", url, "required: the HTTPS URL of this repository.")
    elif parsed.scheme != "https" or not parsed.netloc or parsed.username or parsed.password:
        c.add(
            "gitopsRepoUrl",
            url,
            "must be an https:// URL without credentials (ArgoCD reads it; keep tokens in a repo secret).",
        )
    rev = values.get(gitops_rule.REVISION_KEY)
    mode = values.get(gitops_rule.MODE_KEY)
    environment = values.get(gitops_rule.ENVIRONMENT_KEY)
    value_of = {gitops_rule.REVISION_KEY: rev, gitops_rule.MODE_KEY: mode, gitops_rule.ENVIRONMENT_KEY: environment}
    for key, fix in gitops_rule.problems(mode, environment, rev):
        c.add(key, value_of[key], fix)
    path = values.get("gitopsPath")
    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
        c.add("gitopsPath", path, "a relative path inside the repository, e.g. 'manifests/argocd/apps'.")
    return GitOpsSource(str(url), str(rev), str(path), str(mode), str(environment))


def _check_gitops_source(c: Collector, gitops: GitOpsSource) -> None:
    """What _parse_gitops leaves open: a URL or path that would make ArgoCD read somewhere else."""
    reported = {p.key for p in c.problems}
    if "gitopsRepoUrl" not in reported and (why := https_url_problem(gitops.repo_url)) is not None:
        c.add("gitopsRepoUrl", gitops.repo_url, why)
    segments = gitops.path.rstrip("/").split("/")
    if "gitopsPath" not in reported and (
        not gitops.path.isascii()
        or any(ch.isspace() or ch == "\\" for ch in gitops.path)
        or any(seg in ("", ".", "..") for seg in segments)
    ):
        c.add(
            "gitopsPath",
            gitops.path,
            "a plain relative path inside the repository ('/'-separated, no '.', '..', '//', spaces or "
            "backslashes), e.g. 'manifests/argocd/apps'.",
        )
