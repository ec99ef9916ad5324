"""What a test needs from the machine: skipped on a developer's machine, a failure on CI.

`.ci/run` installs every system tool the suite drives, and `make test` installs the rest, so on CI
(`CI=true`) a missing prerequisite means the set-up is broken: the test fails with what is missing
and how it is installed instead of quietly skipping. On a developer's machine it skips with the
same sentence. Only the AWS lifecycle test (tests/integration) may skip on CI.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.paths import ROOT


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# What `missing` raises: a skip, or a failure on CI. Code that renders many things and keeps going
# when one of them lacks a prerequisite catches these and lets the tests that need it stop.
MISSING_OUTCOMES: tuple[type[BaseException], ...] = (pytest.skip.Exception, pytest.fail.Exception)


def missing(what: str) -> NoReturn:
    """Stop the test: a failure under CI=true, a skip elsewhere. `what` says what and how to install it."""
    if on_ci():
        pytest.fail(f"prerequisite missing on CI: {what}", pytrace=False)
    pytest.skip(what)


def require(condition: bool, what: str) -> None:
    if not condition:
        missing(what)


def require_tool(name: str, how: str) -> str:
    """The path of `name` on PATH, or stop the test saying how it is installed."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not on PATH ({how})")
    return path


def require_root(why: str) -> None:
    require(os.geteuid() == 0, f"needs root: {why} (CI runs as root)")


HELM_VERSION = "v3.17.3"
HELM = ROOT / ".cache" / f"helm-{HELM_VERSION}" / "helm"


def require_helm() -> Path:
    """The pinned helm binary that `make test` unpacks (tools/fetch_helm.sh)."""
    require(HELM.is_file(), f"helm {HELM_VERSION} is not at {HELM.relative_to(ROOT)} (run `make helm` or `make test`)")
    return HELM
