"""Promote a domain service's image, by digest, into its Kustomize overlay.

The services' CI calls `.github/workflows/promote.yml` with a domain and an image reference; that
workflow runs this tool, which

1. validates the input: the domain is one of the overlays `manifests/services/kustomization.yaml`
   lists; the image comes from an allowed registry (`ALLOWED_REGISTRIES`), its repository ends in
   `<domain>-api` (the convention the placeholders follow, so one domain's image cannot land in
   another's overlay) and it is pinned **by digest** (`sha256:` + 64 hex). Anything outside the
   image-reference grammar (quotes, `$`, backticks, `;`, spaces, newlines, `${{`) is refused before
   any other check, so a crafted input never reaches a shell, a file or a commit message;
2. edits `manifests/services/<domain>/kustomization.yaml`: the `images:` entry `domain-api` gets
   `newName` (only if it differs) and `digest`, replacing `newTag`. The edit is structured - the
   file is parsed, the entry found, the result parsed again and compared with the intended
   document - but it rewrites only the lines of that entry, so comments and layout stay and a
   promotion of the same repository is a one-line diff. `kustomize edit set image` would do the
   same change but rewrites the whole file (dropping its comments), and needs a kustomize binary
   the runner does not have (kubectl embeds kustomize without `edit`);
3. prints the diff, and with `--github-output` writes the branch name, title and whether anything
   changed for the workflow's next steps.

`--direct-branch B` (the workflow passes the repository variable `PROMOTION_DIRECT_BRANCH`) asks to
commit straight to B instead of opening a pull request. It is honoured only if B is the branch a
development stack tracks (`gitopsMode: track`), so a tracking dev stack can take promotions as the
old system did, and a pinned or production stack is never changed without a reviewed PR.

Exit codes: 0 done (changed or already at that digest), 2 refused input, 1 an overlay that is not
in the expected shape.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.ci.affected_stacks import discover_stacks, read_stack_git

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICES = Path("manifests/services")
IMAGE_NAME = "domain-api"  # the placeholder name manifests/services/base/deployment.yaml uses

# Registries (host + namespace) the cluster may pull domain images from. Extend by a reviewed PR.
ALLOWED_REGISTRIES: tuple[str, ...] = ("ghcr.io/example-org/",)

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# registry host[:port] / path components (OCI distribution spec), optional :tag, optional @digest.
_HOST = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?"
_COMPONENT = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?P<repository>{_HOST}(/({_COMPONENT}))+)(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}))?"
    r"(@(?P<digest>[a-z0-9]+:[A-Za-z0-9]+))?$"
)
_REFERENCE_CHARS = re.compile(r"^[A-Za-z0-9._:/@-]+$")


class PromotionRefusedError(ValueError):
    """Input the promotion refuses; the message says what and how to fix it."""


class OverlayError(RuntimeError):
    """An overlay this tool cannot edit safely."""


def domains(root: Path = ROOT) -> tuple[str, ...]:
    """The domains: the overlays the services kustomization lists (one table of truth)."""
    doc = yaml.safe_load((root / SERVICES / "kustomization.yaml").read_text(encoding="utf-8"))
    return tuple(str(r) for r in doc["resources"] if (root / SERVICES / str(r) / "kustomization.yaml").is_file())


@dataclass(frozen=True)
class Image:
    repository: str
    digest: str

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest}"


def parse_image(domain: str, image: str, known_domains: Sequence[str]) -> Image:
    """Validate `domain` and `image`; raise PromotionRefusedError with the user-facing message."""
    if domain not in known_domains:
        raise PromotionRefusedError(
            f"domain {domain!r} is not one of {', '.join(known_domains)}; pass the domain's overlay name"
        )
    if not _REFERENCE_CHARS.match(image):
        raise PromotionRefusedError(
            f"image {image!r} contains characters an image reference never has (quotes, $, `, ;, spaces, "
            "newlines, braces); refused"
        )
    match = _REFERENCE.match(image)
    if match is None:
        raise PromotionRefusedError(
            f"image {image!r} is not an image reference; expected <registry>/<repository>@sha256:<64 hex>"
        )
    repository = match["repository"]
    digest = match["digest"]
    if digest is None:
        raise PromotionRefusedError(
            f"image {image!r} has no digest; promote by digest, <registry>/<repository>@sha256:<64 hex> "
            "(a tag can be moved to other content, a digest cannot)"
        )
    if not _DIGEST.match(digest):
        raise PromotionRefusedError(
            f"image {image!r} has digest {digest!r}; expected sha256: followed by 64 lowercase hex digits"
        )
    if not repository.startswith(ALLOWED_REGISTRIES):
        raise PromotionRefusedError(
            f"image {image!r} is not from an allowed registry ({', '.join(ALLOWED_REGISTRIES)}); push it there "
            "(or extend ALLOWED_REGISTRIES in tools/ci/promote_image.py by a reviewed PR)"
        )
    if repository.rsplit("/", 1)[-1] != f"{domain}-api":
        raise PromotionRefusedError(
            f"image {image!r} is not the {domain} service's image: its repository must end in '/{domain}-api'"
        )
    return Image(repository, digest)


def _entry_span(lines: list[str]) -> tuple[int, int, str]:
    """(first, end) line indices of the `- name: domain-api` entry under `images:`, and its indent."""
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "images:")
    except StopIteration:
        raise OverlayError("the overlay has no top-level `images:` list") from None
    for i in range(start + 1, len(lines)):
        found = re.match(rf"^(\s+)- name: {IMAGE_NAME}\s*$", lines[i])
        if found:
            indent = found.group(1) + "  "
            end = i + 1
            while end < len(lines) and lines[end].startswith(indent) and not lines[end].strip().startswith("- "):
                end += 1
            return i, end, indent
        if lines[i].strip() and not lines[i].startswith((" ", "-")):
            break
    raise OverlayError(f"the overlay's `images:` list has no entry `- name: {IMAGE_NAME}`")


def edit_overlay(text: str, image: Image) -> str:
    """The overlay with its `domain-api` image set to `image`, changing only that entry's lines."""
    before: dict[str, Any] = yaml.safe_load(text)
    lines = text.splitlines(keepends=True)
    first, end, indent = _entry_span(lines)
    body: list[str] = []
    has_name = has_digest = False
    for line in lines[first + 1 : end]:
        key = line.strip().split(":", 1)[0]
        if key == "newName":
            body.append(f"{indent}newName: {image.repository}\n")
            has_name = True
        elif key in ("newTag", "digest"):
            # The digest takes the place of the first tag or digest line; a second one goes.
            if not has_digest:
                body.append(f"{indent}digest: {image.digest}\n")
                has_digest = True
        else:
            body.append(line)
    if not has_name:
        body.insert(0, f"{indent}newName: {image.repository}\n")
    if not has_digest:
        body.append(f"{indent}digest: {image.digest}\n")
    result = "".join(lines[: first + 1] + body + lines[end:])

    expected = before
    entries = [e for e in expected.get("images", []) if e.get("name") == IMAGE_NAME]
    if len(entries) != 1:
        raise OverlayError(f"expected exactly one `{IMAGE_NAME}` entry under `images:`, found {len(entries)}")
    entries[0].pop("newTag", None)
    entries[0].update(newName=image.repository, digest=image.digest)
    try:
        produced = yaml.safe_load(result)
    except yaml.YAMLError:
        produced = None
    if produced != expected:
        raise OverlayError("the line edit did not produce the intended document; edit the overlay by hand")
    return result


def direct_branch_problem(branch: str, root: Path = ROOT) -> str | None:
    """Why `branch` may not take a direct promotion commit, or None."""
    tracked = sorted(
        {
            git.revision
            for git in (read_stack_git(stack, root) for stack in discover_stacks(root))
            if git.tracking and git.environment == "development"
        }
    )
    if branch not in tracked:
        return (
            f"direct promotion to {branch!r} refused: only a branch a development stack tracks may take it "
            f"({', '.join(tracked) or 'no stack tracks a branch'}); unset PROMOTION_DIRECT_BRANCH to open a PR"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--domain", required=True, help="the domain whose image is promoted, e.g. auth")
    parser.add_argument("--image", required=True, help="<registry>/<repository>@sha256:<64 hex>")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--github-output", type=Path, help="append changed/overlay/branch/title to this file")
    parser.add_argument(
        "--direct-branch",
        default="",
        help="commit to this tracked branch instead of opening a pull request (empty: open a pull request)",
    )
    args = parser.parse_args(argv)

    try:
        image = parse_image(args.domain, args.image, domains(args.root))
        if args.direct_branch and (why := direct_branch_problem(args.direct_branch, args.root)) is not None:
            raise PromotionRefusedError(why)
    except PromotionRefusedError as exc:
        print(f"promote_image: refused: {exc}", file=sys.stderr)
        return 2
    overlay = SERVICES / args.domain / "kustomization.yaml"
    text = (args.root / overlay).read_text(encoding="utf-8")
    try:
        new = edit_overlay(text, image)
    except OverlayError as exc:
        print(f"promote_image: {overlay}: {exc}", file=sys.stderr)
        return 1
    changed = new != text
    if changed:
        (args.root / overlay).write_text(new, encoding="utf-8")
        sys.stdout.writelines(
            difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"a/{overlay}", f"b/{overlay}")
        )
    else:
        print(f"{overlay} already runs {image}; nothing to promote")
    if args.github_output is not None:
        short = image.digest.split(":", 1)[1][:12]
        with args.github_output.open("a", encoding="utf-8") as out:
            out.write(f"changed={'true' if changed else 'false'}\n")
            out.write(f"overlay={overlay}\n")
            out.write(f"branch=promote/{args.domain}-{short}\n")
            out.write(f"title=Promote {args.domain} to {image.repository}@sha256:{short}\n")
            out.write(f"image={image}\n")
            out.write(f"direct-branch={args.direct_branch}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
