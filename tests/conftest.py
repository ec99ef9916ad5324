"""The shared harness: run the Pulumi program under the mock runtime and review what it registers.

`tools/mockrun.py` does the work (the offline preview uses the same code); these fixtures make a
test read like a review of `pulumi preview`: run a stack, look at registrations by type and name,
their parents, dependencies, inputs and which inputs were secret.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.support.paths import ROOT
from tests.support.scheduling import LONG_TESTS, ONE_WORKER_MODULES, SCENARIO_MODULES

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.settings.messages import ConfigError
from tools.mockrun import Recording, run_program

# The simulator's shared checks are asserts in a support module: rewritten like a test's, so a
# failure prints the values compared (registered before anything imports it).
pytest.register_assert_rewrite("tests.support.simulator.checks")

# Fixtures that tests of several modules use, defined beside the code they serve.
pytest_plugins = ("tests.support.manifests", "tests.support.playbook", "tests.support.eic", "tests.support.sshd")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadgroup` (the Makefile's PYTEST_WORKERS): each test is its own unit of work,
    except that a module of ONE_WORKER_MODULES is one unit. Units go out in collection order
    (pytest_collection_modifyitems below), not xdist's largest-count-first: a worker takes the next
    unit when it has two tests or fewer left, so the scenarios start at once on separate workers and
    the short tests fill in around them."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class OneWorkerModules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return OneWorkerModules(config, log)


def _order(item: pytest.Item) -> tuple[int, int]:
    module = item.nodeid.split("::", 1)[0]
    if module in SCENARIO_MODULES:
        return (0, SCENARIO_MODULES.index(module))
    if item.nodeid in LONG_TESTS:
        return (1, LONG_TESTS.index(item.nodeid))
    return (2 if item.get_closest_marker("simulator") else 3 if item.get_closest_marker("ansible") else 4, 0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The node simulator's scenarios first, longest first (each runs playbooks for minutes), then
    the long single tests of LONG_TESTS (the CLI's typechecker), then the real Ansible runs (seconds
    to a minute each), then the rest (a second or less a test). xdist hands units out in this order,
    so the long ones start at once and the short ones fill in around them, instead of one long unit
    starting last on one worker while the other sits idle. The sort is stable: within a group,
    collection order."""
    items.sort(key=_order)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test: tell tests/support/local_play.py whether it may run a role for real."""
    from tests.support import local_play

    local_play.CURRENT_TEST_MARKED_ANSIBLE = item.get_closest_marker("ansible") is not None


@pytest.fixture(scope="session")
def dev() -> Recording:
    """The dev stack (Pulumi.dev.yaml) as `pulumi up` would register it."""
    return run_program("dev")


@pytest.fixture(scope="session")
def run_stack() -> Callable[..., Recording]:
    """Run the program with config overrides: run_stack({"azCount": 2}, secrets={...})."""

    def run(overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Recording:
        return run_program("dev", overrides, **kwargs)

    return run


@pytest.fixture(scope="session")
def config_error() -> Callable[..., ConfigError]:
    """Run with overrides that must be rejected; returns the error after checking nothing was registered."""

    def run(overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> ConfigError:
        with pytest.raises(ConfigError) as info:
            run_program("dev", overrides, **kwargs)
        recording: Recording = info.value.recording  # type: ignore[attr-defined]
        registered = [r.short for r in recording.resources]
        assert registered == [], f"a rejected config still registered {registered}"
        return info.value

    return run
