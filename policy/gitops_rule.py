"""How a stack follows Git: the one rule the program, the root Application and the policy pack share.

A stack either **tracks** a branch (ArgoCD's automated sync follows every commit merged to it, as
the dev stack follows `main`) or is **pinned** to a full 40-hex commit SHA (a reviewed bump of
`gitopsRevision` plus `pulumi up` promotes it). A stack marked `environment: production` must be
pinned.

Why only a full SHA pins: Argo CD 3.4 (argo-cd util/git/client.go, `nativeGitClient.lsRemote`)
returns a revision unresolved only when it is a full commit SHA (`IsCommitSHA`, 40 hex). Anything
else - a tag, a short SHA, any name - is first tried as a semver constraint against the tags, then
matched against every `refs/heads/*` and `refs/tags/*` of `git ls-remote` by short name
(`ref.Name().Short() == revision || refName == revision`, first match wins), and only then taken
as a truncated SHA. So a branch named like the pin (`v1.2.3`, `3f2a9c1`, even `refs/tags/v1.2.3`,
whose branch `refs/heads/refs/tags/v1.2.3` has that short name) or a moved tag changes what
production syncs without a review. Argo CD offers no way to write a tag that only a tag can
match, so tags are refused as pins: pin the tag's commit (`git rev-parse v1.2.3^{commit}`).

Why this file lives here and has no dependencies: the policy pack is a separate deployable with its
own virtualenv (policy/venv), run by Pulumi with `policy/` on `sys.path`, so it imports this module
as `gitops_rule`; the program imports the same file as `policy.gitops_rule` (the project root is on
its path). A Python module rather than a JSON/YAML rule file because the rule is logic, not a list
(git's ref-name grammar, SHA and tag shapes, the production constraint): a data file would still
need that logic written twice. Standard library only, so neither side gains a dependency.

Every function returns problems as ``(key, fix)`` with the key as the user types it in stack config
(``gitopsMode``, ``environment``, ``gitopsRevision``), so config validation and the policy pack
print the same words.
"""

from __future__ import annotations

import re

TRACK = "track"
PIN = "pin"
MODES = (TRACK, PIN)

DEVELOPMENT = "development"
PRODUCTION = "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)

# Stack config keys (project namespace gitops-cluster), as `pulumi config set` spells them.
MODE_KEY = "gitopsMode"
ENVIRONMENT_KEY = "environment"
REVISION_KEY = "gitopsRevision"

# Labels the root Application carries, so the policy pack can check the rule on the resource alone.
MODE_LABEL = "gitops-cluster.io/git-mode"
ENVIRONMENT_LABEL = "gitops-cluster.io/environment"

# A full commit SHA: the only revision Argo CD uses as it is, never resolved by name.
FULL_SHA = re.compile(r"^[0-9a-f]{40}\Z")
# A commit SHA, full or abbreviated (git abbreviates to at least 7 hex digits).
GIT_SHA = re.compile(r"^[0-9a-f]{7,40}\Z")
# What could be read as a commit SHA whatever its case; never accepted as a tracked branch name.
_SHA_LOOKING = re.compile(r"^[0-9a-f]{7,40}\Z", re.IGNORECASE)
# A release tag: semantic version with an optional leading `v` (v1.2.3, 1.2.3-rc.1).
GIT_TAG = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?\Z")

# What git check-ref-format refuses in a ref name (see git-check-ref-format(1), rules 1-10):
# control characters, space, ~ ^ : ? * [ \, "..", "@{", "//".
_REF_BAD_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def ref_name_problem(name: str) -> str | None:
    """Why `name` is not a valid git branch name (git check-ref-format --branch), or None."""
    if not name:
        return "empty"
    if name == "@":
        return "'@' alone is not a ref name"
    if name.startswith("-"):
        return "a branch name cannot start with '-'"
    if name.startswith("/") or name.endswith("/") or name.endswith("."):
        return "cannot start or end with '/' or end with '.'"
    if _REF_BAD_CHARS.search(name):
        return "contains a character or sequence git forbids (space, control, ~ ^ : ? * [ \\, '..', '@{', '//')"
    for part in name.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return "a path component cannot start with '.' or end with '.lock'"
    return None


def is_pinned_revision(revision: str) -> bool:
    """A revision that never moves: a full 40-hex commit SHA (see the module's docstring)."""
    return bool(FULL_SHA.match(revision))


PIN_FIX = (
    "a full 40-hex commit SHA (`git rev-parse v1.2.3^{commit}` for a release tag): Argo CD resolves "
    "anything else - a tag, a short SHA, a name - by name through git ls-remote, branches included, so "
    "a branch named like the pin or a moved tag would change what this stack syncs without review"
)


def mode_problems(mode: object, environment: object) -> list[tuple[str, str]]:
    """Problems with the mode/environment pair itself."""
    out: list[tuple[str, str]] = []
    if mode not in MODES:
        out.append((MODE_KEY, f"one of {', '.join(MODES)}: '{TRACK}' follows a branch, '{PIN}' a full commit SHA."))
    if environment not in ENVIRONMENTS:
        out.append((ENVIRONMENT_KEY, f"one of {', '.join(ENVIRONMENTS)}."))
    if mode == TRACK and environment == PRODUCTION:
        out.append(
            (
                MODE_KEY,
                f"a {PRODUCTION} stack must be pinned: set {MODE_KEY} to '{PIN}' and {REVISION_KEY} to a full "
                f"40-hex commit SHA (promote by a reviewed bump), or mark the stack {ENVIRONMENT_KEY}: {DEVELOPMENT}.",
            )
        )
    return out


def revision_problem(mode: object, revision: object) -> str | None:
    """Why `revision` does not fit `mode`, or None (an unknown mode is reported by mode_problems)."""
    if not isinstance(revision, str) or not revision.strip():
        if mode == TRACK:
            return "required: the branch this stack tracks, e.g. 'main'."
        return f"required: {PIN_FIX}."
    if mode == PIN:
        if not is_pinned_revision(revision):
            return (
                f"{MODE_KEY} is '{PIN}': use {PIN_FIX} (to follow a branch, set {MODE_KEY} to '{TRACK}' on a "
                f"{DEVELOPMENT} stack)."
            )
        return None
    if mode == TRACK:
        if revision.upper() == "HEAD":
            return f"{MODE_KEY} is '{TRACK}': name the branch (e.g. 'main'), not HEAD (the remote's default branch)."
        if _SHA_LOOKING.match(revision):
            return f"looks like a commit SHA; {MODE_KEY} '{TRACK}' needs a branch name, or set {MODE_KEY} to '{PIN}'."
        if GIT_TAG.match(revision):
            return f"looks like a release tag; {MODE_KEY} '{TRACK}' needs a branch name, or set {MODE_KEY} to '{PIN}'."
        why = ref_name_problem(revision)
        if why is not None:
            return f"not a valid git branch name ({why}); e.g. 'main'."
    return None


def problems(mode: object, environment: object, revision: object) -> list[tuple[str, str]]:
    """Every problem of one stack's way of following Git, as (config key, fix)."""
    out = mode_problems(mode, environment)
    if mode in MODES and (why := revision_problem(mode, revision)) is not None:
        out.append((REVISION_KEY, why))
    return out
