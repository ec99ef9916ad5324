"""benchmarks/newcomer_path.py: the verdicts it writes and the block it replaces (the timing itself is its job)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.paths import ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newcomer_path", ROOT / "benchmarks" / "newcomer_path.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["newcomer_path"] = module
    spec.loader.exec_module(module)
    return module


bench = _load()
FIX = "    curl -fsSL https://get.pulumi.com | sh -s -- --version 3.272.0\n"


def _steps(pytest_wall: float, rc: int = 0) -> list[Any]:
    return [
        bench.Step("venv", 10.0, 5.0, 0, ""),
        bench.Step("npm", 5.0, 3.0, 0, ""),
        bench.Step("pytest", pytest_wall, 50.0, rc, "== 500 passed in 40.0s =="),
    ]


def test_a_fast_run_meets_both_targets() -> None:
    up = (bench.Step("up", 0.1, 0.0, 2, FIX), True, False)
    text = bench.report(_steps(40.0), up, warm=False, load=("0.1", "0.2"), summary="500 passed")
    lines = text.splitlines()
    assert lines[-1].endswith("| **55.0 s** | 58.0 s | < 120 s | met |")
    assert "printed the install command, installed nothing | 0.10 s | 0.00 s | < 5 s | met |" in text
    assert "empty uv and npm caches" in lines[0]


@pytest.mark.parametrize(
    ("up", "pytest_wall", "rc"),
    [
        ((bench.Step("up", 6.0, 0.0, 2, FIX), True, False), 40.0, 0),  # the stop is too slow
        ((bench.Step("up", 0.1, 0.0, 2, ""), False, False), 40.0, 0),  # no install command printed
        ((bench.Step("up", 0.1, 0.0, 2, FIX), True, True), 40.0, 0),  # it installed before checking
        ((bench.Step("up", 0.1, 0.0, 0, FIX), True, False), 40.0, 0),  # it did not stop
    ],
)
def test_the_up_verdict_is_missed_when_any_part_fails(up: tuple[Any, bool, bool], pytest_wall: float, rc: int) -> None:
    text = bench.report(_steps(pytest_wall, rc), up, warm=True, load=("1", "1"), summary="x")
    assert "< 5 s | **missed** |" in text


@pytest.mark.parametrize(("pytest_wall", "rc"), [(110.0, 0), (40.0, 1)])
def test_the_test_verdict_is_missed_when_slow_or_failing(pytest_wall: float, rc: int) -> None:
    up = (bench.Step("up", 0.1, 0.0, 2, FIX), True, False)
    text = bench.report(_steps(pytest_wall, rc), up, warm=False, load=("1", "1"), summary="x")
    assert text.splitlines()[-1].endswith("| < 120 s | **missed** |")


def test_the_block_is_replaced_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"before\n{bench.BEGIN}\nold figures\n{bench.END}\nafter\n", encoding="utf-8")
    monkeypatch.setattr(bench, "DOC", doc)
    bench.write_block("new figures")
    assert doc.read_text(encoding="utf-8") == f"before\n{bench.BEGIN}\nnew figures\n{bench.END}\nafter\n"


def test_the_committed_doc_has_the_block() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert text.count(bench.BEGIN) == 1 and text.count(bench.END) == 1
