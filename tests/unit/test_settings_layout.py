"""The house rules of components/ and tools/ that a reader relies on (issue 23).

- Only components/settings/glue.py reads Pulumi config; every other component receives
  StackSettings and StackSecrets.
- The model types import no validation: a component naming NodeSpec pulls in nothing else.
- No module imports a private name (`_x`) of another module of the project.
- No source file over 500 lines without a reason written at its top.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.support.paths import ROOT

GLUE = ROOT / "components" / "settings" / "glue.py"
MAX_LINES = 500
# Words at the top of a long file that say why it is long.
REASON = "Why this file is long"


def _sources(*folders: str) -> list:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if "node_modules" not in p.parts)


@pytest.mark.parametrize("path", _sources("components"), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_settings_glue_reads_pulumi_config(path):
    if path == GLUE:
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "Config" and ast.unparse(node.value) == "pulumi":
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} reads Pulumi config; take it from StackSettings")
        if isinstance(node, ast.ImportFrom) and node.module in ("pulumi.runtime.config", "pulumi.config"):
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} imports Pulumi's config reader")
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "pulumi.runtime"
            and any(a.name == "config" for a in node.names)
        ):
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} imports Pulumi's config reader")


def test_the_model_imports_no_validation():
    code = "import sys, components.settings.model;print(sorted(m for m in sys.modules if m.startswith('components')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['components', 'components.settings', 'components.settings.model']"


@pytest.mark.parametrize("path", _sources("components", "tools"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_is_imported_from_another_module(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("components", "tools"):
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{path.relative_to(ROOT)}:{node.lineno} imports {private} from {node.module}"


@pytest.mark.parametrize("path", _sources("components", "tools"), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_long_source_file_says_why_at_its_top(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) > MAX_LINES:
        head = "\n".join(lines[:40])
        assert REASON in head, (
            f"{path.relative_to(ROOT)} has {len(lines)} lines (over {MAX_LINES}): split it, or say at its top "
            f"'{REASON}: ...'"
        )
