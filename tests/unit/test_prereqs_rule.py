"""The prerequisite rule: on CI (`CI=true`) a missing tool fails the test; elsewhere it skips with the fix.

A skip on CI hides a broken set-up behind a green run, so every test that needs something from the
machine goes through tests/support/prereqs.py. Only the AWS lifecycle test (tests/integration/) may skip:
it needs an account and an opt-in that CI does not have. This file holds that rule: it finds any
`pytest.skip`, `skipif`, `importorskip` or unittest skip elsewhere under tests/, and runs a real
test with a tool hidden from PATH to show the failure on CI and the skip elsewhere.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.outcomes import Failed, Skipped

from tests.support import prereqs
from tests.support.paths import TESTS

ROOT = TESTS.parent
ALLOWED = {TESTS / "support" / "prereqs.py"}
ALLOWED_DIRS = {TESTS / "integration"}
SKIP_NAMES = {"skip", "skipif", "importorskip", "skipIf", "skipUnless", "skipTest", "SkipTest"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def skip_sites(path: Path) -> list[str]:
    """`file:line: what` for every skip construct in a Python file (by syntax, not text)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in SKIP_NAMES:
            found.append((node.lineno, _dotted(node)))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] in ("pytest", "_pytest", "unittest")
        ):
            found += [(node.lineno, f"from {node.module} import {a.name}") for a in node.names if a.name in SKIP_NAMES]
    where = path.relative_to(ROOT) if ROOT in path.parents else path
    return [f"{where}:{line}: {what}" for line, what in sorted(found)]


def _test_files() -> list[Path]:
    return [
        p
        for p in sorted(TESTS.rglob("*.py"))
        if "node_modules" not in p.parts and p not in ALLOWED and not any(d in p.parents for d in ALLOWED_DIRS)
    ]


def test_no_test_skips_outside_prereqs_and_the_lifecycle_test() -> None:
    sites = [site for path in _test_files() for site in skip_sites(path)]
    assert sites == [], (
        "use tests/support/prereqs.py (require_tool, require_root, require_helm, require, missing) instead: it fails "
        "on CI and skips elsewhere:\n" + "\n".join(sites)
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import pytest\npytestmark = pytest.mark.skipif(True, reason='x')\n", "pytest.mark.skipif"),
        ("import pytest\ndef test():\n    pytest.skip('no tool')\n", "pytest.skip"),
        ("import pytest\ndef test():\n    m = pytest.importorskip('m')\n", "pytest.importorskip"),
        ("import pytest\n@pytest.mark.skip\ndef test():\n    pass\n", "pytest.mark.skip"),
        ("from pytest import skip\n", "from pytest import skip"),
        ("import unittest\n@unittest.skipIf(True, 'x')\ndef test():\n    pass\n", "unittest.skipIf"),
    ],
)
def test_the_scan_finds_each_kind_of_skip(tmp_path: Path, source: str, expected: str) -> None:
    path = tmp_path / "test_x.py"
    path.write_text(source, encoding="utf-8")
    assert [s.split(": ", 1)[1] for s in skip_sites(path)] == [expected]


def test_the_scan_ignores_words_in_strings_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "test_y.py"
    path.write_text('"""pytest.skip is not used here."""\n# pytest.mark.skipif\nx = "importorskip"\n', encoding="utf-8")
    assert skip_sites(path) == []


def test_missing_fails_on_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    tool = "no-such-tool-for-the-prereqs-test"
    # Both outcomes are caught, so a skip where a failure is due fails this test instead of skipping it.
    monkeypatch.setenv("CI", "true")
    with pytest.raises((Failed, Skipped)) as on_ci:
        prereqs.require_tool(tool, "how to install it")
    assert on_ci.type is Failed
    assert str(on_ci.value) == f"prerequisite missing on CI: {tool} is not on PATH (how to install it)"
    monkeypatch.delenv("CI")
    with pytest.raises((Failed, Skipped)) as elsewhere:
        prereqs.require_tool(tool, "how to install it")
    assert elsewhere.type is Skipped
    assert str(elsewhere.value) == f"{tool} is not on PATH (how to install it)"


def _run_shellcheck_test_without_shellcheck(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    env["PATH"] = str(tmp_path)  # nothing on PATH: shellcheck is hidden
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "tests/unit/test_workflows.py::test_shellcheck_reports_nothing_in_run_scripts",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_hidden_tool_fails_the_real_test_on_ci(tmp_path: Path) -> None:
    proc = _run_shellcheck_test_without_shellcheck(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "prerequisite missing on CI: shellcheck is not on PATH" in proc.stdout
    assert "1 failed" in proc.stdout


def test_a_hidden_tool_skips_the_real_test_elsewhere(tmp_path: Path) -> None:
    proc = _run_shellcheck_test_without_shellcheck(tmp_path, None)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "1 skipped" in proc.stdout and "shellcheck is not on PATH" in proc.stdout


def test_make_test_fails_when_pytest_collects_nothing(tmp_path: Path) -> None:
    # A stand-in python that behaves like pytest finding no test (exit 5); the install steps are
    # taken as done (-o), so only the test recipe runs.
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'no tests ran'\nexit 5\n", encoding="utf-8")
    fake.chmod(0o755)
    proc = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "test",
            "-o",
            "venv",
            "-o",
            "node-tools",
            "-o",
            str(prereqs.HELM.relative_to(ROOT)),
            f"BIN={fake.parent}",
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "make test: pytest collected no test (exit 5); the suite is broken" in proc.stderr
