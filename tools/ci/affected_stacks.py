"""Which stacks a change can affect, so the PR check previews exactly those.

A change to `Pulumi.<stack>.yaml` affects that stack; a change to anything the program, its
dependencies or its policy pack read affects every stack. Paths that cannot change what
`pulumi preview` shows (docs, tests, workflows, what ArgoCD syncs from Git) affect none. The rule
is an exclusion list on purpose: a new top-level directory is previewed until someone decides it
is inert, because a skipped preview is worse than a superfluous one.

Stacks are the `Pulumi.<name>.yaml` files at the repository root, so a new stack needs no edit
here. Prints a JSON list (a GitHub Actions matrix).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent.parent
_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[A-Za-z0-9][A-Za-z0-9_.-]*)\.yaml$")

# Paths whose changes cannot alter a preview. manifests/ is Git content ArgoCD syncs at the pinned
# revision; the program only points at it.
INERT_PREFIXES: tuple[str, ...] = (
    ".github/",
    "docs/",
    "tests/",
    "benchmarks/",
    "manifests/",
)
INERT_SUFFIXES: tuple[str, ...] = (".md",)
INERT_FILES: frozenset[str] = frozenset({".gitignore", "LICENSE", "Makefile", ".ci/run", "requirements-dev.txt"})


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--changed-files",
        type=Path,
        help="file listing changed paths one per line (default: read them from stdin)",
    )
    parser.add_argument("--all", action="store_true", help="print every stack, ignoring changes")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root holding Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)

    stacks = discover_stacks(args.root)
    if args.all:
        result = stacks
    else:
        text = args.changed_files.read_text(encoding="utf-8") if args.changed_files else sys.stdin.read()
        result = affected_stacks(text.splitlines(), stacks)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
