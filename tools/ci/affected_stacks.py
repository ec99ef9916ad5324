"""Which stacks a change can affect, so the PR check previews exactly those.

A change to `Pulumi.<stack>.yaml` affects that stack; a change to anything the program, its
dependencies or its policy pack read affects every stack. Paths that cannot change what
`pulumi preview` shows (docs, tests, workflows, what ArgoCD syncs from Git) affect none. The rule
is an exclusion list on purpose: a new top-level directory is previewed until someone decides it
is inert, because a skipped preview is worse than a superfluous one.

Stacks are the `Pulumi.<name>.yaml` files at the repository root, so a new stack needs no edit
here. Prints a JSON list (a GitHub Actions matrix).

The same classification also says *how* a change reaches each stack (`--delivery-markdown`, for
the PR comment), because that depends on how the stack follows Git (policy/gitops_rule.py):

- `manifests/` is what ArgoCD syncs. On a stack that **tracks** a branch, merging to that branch
  is the deployment: ArgoCD's automated sync picks it up within its polling interval, no
  `pulumi up`. On a **pinned** stack nothing moves until a release tag is cut and the stack's
  `gitopsRevision` is bumped (a stack-file change, so a preview and `/pulumi up <stack>`).
- Everything the program, its dependencies or its policy pack read (components/, ansible/,
  versions.yaml, Pulumi.yaml, policy/, requirements) and a stack's own file go through the PR's
  `pulumi preview` and `/pulumi up <stack>`, whatever the mode.
- Docs, tests, workflows and benchmarks reach no cluster.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from policy import gitops_rule

ROOT = Path(__file__).resolve().parent.parent.parent
_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[A-Za-z0-9][A-Za-z0-9_.-]*)\.yaml$")

# Paths whose changes cannot alter a preview. manifests/ is Git content ArgoCD syncs at the stack's
# revision (a tracked branch or a pin); the program only points at it.
INERT_PREFIXES: tuple[str, ...] = (
    ".github/",
    "docs/",
    "tests/",
    "benchmarks/",
    "manifests/",
)
INERT_SUFFIXES: tuple[str, ...] = (".md",)
INERT_FILES: frozenset[str] = frozenset({".gitignore", "LICENSE", "Makefile", ".ci/run"})
# What ArgoCD syncs from Git: reaches a tracking stack on merge, a pinned stack with its next pin.
ARGOCD_PREFIX = "manifests/"

_PROJECT = "gitops-cluster"


def discover_stacks(root: Path = ROOT) -> list[str]:
    """Every stack with a config file at the repository root, sorted."""
    found = []
    for path in root.glob("Pulumi.*.yaml"):
        match = _STACK_FILE.match(path.name)
        if match:
            found.append(match.group("stack"))
    return sorted(found)


def _is_inert(path: str) -> bool:
    return path in INERT_FILES or path.startswith(INERT_PREFIXES) or path.endswith(INERT_SUFFIXES)


def affected_stacks(changed: Iterable[str], stacks: Sequence[str]) -> list[str]:
    """The stacks among `stacks` whose preview `changed` (repository-relative paths) can alter."""
    known = set(stacks)
    hit: set[str] = set()
    for raw in changed:
        path = str(PurePosixPath(raw.strip()))
        if not raw.strip() or path == ".":
            continue
        match = _STACK_FILE.match(path)
        if match:
            # A deleted or new stack file names a stack that may not exist on this side; only
            # stacks that exist can be previewed.
            if match.group("stack") in known:
                hit.add(match.group("stack"))
            continue
        if not _is_inert(path):
            return sorted(known)
    return sorted(hit)


def _clean(paths: Iterable[str]) -> list[str]:
    out = []
    for raw in paths:
        path = str(PurePosixPath(raw.strip()))
        if raw.strip() and path != ".":
            out.append(path)
    return out


@dataclass(frozen=True)
class StackGit:
    """How one stack follows Git, as its stack file (or Pulumi.yaml's defaults) says."""

    name: str
    mode: str
    revision: str
    environment: str

    @property
    def tracking(self) -> bool:
        return self.mode == gitops_rule.TRACK


def read_stack_git(stack: str, root: Path = ROOT) -> StackGit:
    """`gitopsMode`, `gitopsRevision` and `environment` of `stack`, defaults from Pulumi.yaml."""
    import yaml  # the affected-stacks job itself runs on the runner's python3, without PyYAML

    project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    declared: Mapping[str, Any] = project.get("config") or {}
    doc = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")) or {}
    config: Mapping[str, Any] = doc.get("config") or {}

    def value(key: str, fallback: str) -> str:
        found = config.get(f"{_PROJECT}:{key}")
        if found is None:
            found = (declared.get(key) or {}).get("default", fallback)
        return str(found)

    return StackGit(stack, value("gitopsMode", "pin"), value("gitopsRevision", ""), value("environment", "production"))


@dataclass(frozen=True)
class Delivery:
    """What of a change reaches one stack, and by which path."""

    stack: StackGit
    argocd: tuple[str, ...]  # manifests/ files ArgoCD syncs
    pulumi: tuple[str, ...]  # files that need the preview and `/pulumi up <stack>`


def deliveries(changed: Iterable[str], stacks: Sequence[StackGit]) -> tuple[list[Delivery], list[str]]:
    """Per stack, the changed files by delivery path; and the files that reach no cluster."""
    paths = _clean(changed)
    gitops = tuple(p for p in paths if p.startswith(ARGOCD_PREFIX) and not p.endswith(INERT_SUFFIXES))
    inert = [p for p in paths if _is_inert(p) and p not in gitops]
    out = []
    for stack in stacks:
        program = tuple(
            p for p in paths if (not _is_inert(p) and not _STACK_FILE.match(p)) or p == f"Pulumi.{stack.name}.yaml"
        )
        out.append(Delivery(stack, gitops, program))
    other_stack_files = [
        p for p in paths if _STACK_FILE.match(p) and p not in {f"Pulumi.{s.name}.yaml" for s in stacks}
    ]
    return out, inert + other_stack_files


def _files(paths: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f"`{p}`" for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def delivery_markdown(changed: Iterable[str], stacks: Sequence[StackGit]) -> str:
    """The PR comment's table: for each stack, whether this change needs `/pulumi up` or only a merge."""
    found, inert = deliveries(changed, stacks)
    lines = [
        "### How this change reaches each stack",
        "",
        "| stack | follows | `manifests/` (ArgoCD) | program and stack config (`pulumi up`) |",
        "|---|---|---|---|",
    ]
    for d in found:
        s = d.stack
        follows = f"tracks branch `{s.revision}`" if s.tracking else f"pinned to `{s.revision}`"
        follows += f" ({s.environment})"
        if not d.argocd:
            argocd = "no change"
        elif s.tracking:
            argocd = f"**ArgoCD alone** syncs it after the merge to `{s.revision}`; no `/pulumi up` needed"
        else:
            argocd = (
                f"nothing moves on merge: tag a release, bump `gitopsRevision` in `Pulumi.{s.name}.yaml`, "
                f"then `/pulumi up {s.name}`"
            )
        program = f"**needs `/pulumi up {s.name}`** after the preview: {_files(d.pulumi)}" if d.pulumi else "no change"
        lines.append(f"| `{s.name}` | {follows} | {argocd} | {program} |")
    if found and found[0].argocd:
        lines += ["", f"`manifests/` files changed: {_files(found[0].argocd)}."]
    if inert:
        lines += ["", f"Reaches no cluster: {_files(inert)}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--changed-files",
        type=Path,
        help="file listing changed paths one per line (default: read them from stdin)",
    )
    parser.add_argument("--all", action="store_true", help="print every stack, ignoring changes")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root holding Pulumi.<stack>.yaml")
    parser.add_argument(
        "--delivery-markdown",
        type=Path,
        help="also write, as Markdown for the PR comment, how the change reaches each stack (needs PyYAML)",
    )
    args = parser.parse_args(argv)

    stacks = discover_stacks(args.root)
    changed: list[str] = []
    if args.all:
        result = stacks
    else:
        text = args.changed_files.read_text(encoding="utf-8") if args.changed_files else sys.stdin.read()
        changed = text.splitlines()
        result = affected_stacks(changed, stacks)
    if args.delivery_markdown is not None:
        gits = [read_stack_git(stack, args.root) for stack in stacks]
        args.delivery_markdown.write_text(delivery_markdown(changed, gits), encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
