"""The tests mirror the code: one folder a tier, shared code in tests/support, the root defined once."""

from __future__ import annotations

import ast

import pytest

from tests.support.paths import ROOT, TESTS

TIERS = {"unit", "manifests", "roles", "simulator", "integration", "support"}
# Files that may name their own location: the one root, the simulator's own folder, the stub CLI's
# own path (it execs itself).
OWN_PATH = {
    TESTS / "support" / "paths.py",
    TESTS / "support" / "simulator" / "world.py",
    TESTS / "support" / "stub_pulumi.py",
}


def _python_files() -> list:
    return sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts)


def test_every_test_module_lives_in_a_tier_folder():
    misplaced = [str(p.relative_to(ROOT)) for p in TESTS.rglob("test_*.py") if p.parent.name not in TIERS]
    assert misplaced == []


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_module_is_imported_and_the_root_is_defined_once(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests."):
            last = node.module.rsplit(".", 1)[-1]
            assert not last.startswith("test_") and last != "conftest", (
                f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}; move what it needs to tests/support"
            )
        if isinstance(node, ast.Name) and node.id == "__file__" and path not in OWN_PATH:
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} derives a path from __file__; use tests.support.paths")
