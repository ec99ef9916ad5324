"""Every checkov suppression in the repository says why (docs/gitops-practices.md, "Static analysis: checkov").

checkov itself is not a dependency (it is heavy and needs no place in `make test`); these checks
read the files: a `checkov.io/skipN` annotation on a rendered object, a `# checkov:skip=` comment,
and each `skip-check` / `skip-path` entry of .checkov.yaml must carry a reason, and the docs' table
must list every skipped check.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.support.manifests import app_roots, kind_of, render
from tests.support.paths import ROOT

DOC = ROOT / "docs" / "gitops-practices.md"
CHECK_ID = r"CKV2?_[A-Z0-9]+_\d+"
# The prefixes checkov reads: checkov.io/skip, bridgecrew.io/skip, cortex.io/skip.
ANNOTATION = re.compile(r"^(checkov|bridgecrew|cortex)\.io/skip")
COMMENT = re.compile(r"(checkov|bridgecrew|cortex):skip=")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / p for p in out.splitlines() if (ROOT / p).is_file()]


def annotation_skips() -> list[tuple[str, str, str]]:
    found = []
    for root in app_roots():
        for doc in render(root):
            for key, value in (doc["metadata"].get("annotations") or {}).items():
                if ANNOTATION.match(key):
                    found.append((kind_of(doc), key, value))
    return found


def comment_skips() -> list[tuple[str, str]]:
    found = []
    for path in tracked_files():
        if path.suffix not in {".yaml", ".yml"} or path.name == ".checkov.yaml":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if COMMENT.search(line) and "#" in line:
                found.append((f"{path.relative_to(ROOT)}:{number}", line))
    return found


def config() -> dict[str, list[str]]:
    loaded: dict[str, list[str]] = yaml.safe_load((ROOT / ".checkov.yaml").read_text())
    return loaded


def test_every_skip_annotation_names_one_check_and_a_reason() -> None:
    skips = annotation_skips()
    assert skips, "no checkov.io/skip annotation rendered: did the render or this test break?"
    for where, key, value in skips:
        # checkov splits the value on "=": exactly one, a check id before it, a reason after it.
        assert value.count("=") == 1, f"{where} {key}: {value!r}"
        check, reason = value.split("=")
        assert re.fullmatch(CHECK_ID, check), f"{where} {key}: {check!r} is not a check id"
        assert len(reason.split()) >= 5, f"{where} {key}: give the reason, not just the id"


def test_every_skip_comment_names_a_check_and_a_reason() -> None:
    skips = comment_skips()
    assert skips
    for where, line in skips:
        match = re.search(rf"checkov:skip=({CHECK_ID}):\s*(\S.*)", line)
        assert match and len(match.group(2).split()) >= 5, f"{where}: `# checkov:skip=<id>: <reason>` needs its reason"


def test_every_repository_wide_skip_is_explained_on_its_line_above() -> None:
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    entries = [i for i, line in enumerate(lines) if re.match(r"\s+- \S", line)]
    assert entries
    for i in entries:
        assert lines[i - 1].lstrip().startswith("#"), f".checkov.yaml:{i + 1}: {lines[i].strip()} has no comment above"
    assert set(config()) == {"skip-check", "skip-path"}


def test_the_docs_list_every_skipped_check() -> None:
    text = DOC.read_text()
    section = text[text.index("## Static analysis: checkov") :]
    skipped = {value.split("=")[0] for _, _, value in annotation_skips()}
    skipped |= {re.search(rf"checkov:skip=({CHECK_ID})", line).group(1) for _, line in comment_skips()}  # type: ignore[union-attr]
    skipped |= set(config()["skip-check"])
    for check in sorted(skipped):
        assert f"`{check}`" in section, f"{check} is skipped but not in docs/gitops-practices.md's checkov table"
