"""The shared harness: run the Pulumi program under the mock runtime and review what it registers.

`tools/mockrun.py` does the work (the offline preview uses the same code); these fixtures make a
test read like a review of `pulumi preview`: run a stack, look at registrations by type and name,
their parents, dependencies, inputs and which inputs were secret.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.settings.messages import ConfigError  # noqa: E402
from tools.mockrun import Recording, run_program  # noqa: E402

# Fake secret values planted by tests; none may ever show up in plain text.
FAKE_SSH_PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-USER-SUPPLIED-KEY-7f3a\n-----END OPENSSH PRIVATE KEY-----\n"
)
# A real ED25519 public key (ssh-keygen -t ed25519; its private half was discarded): the settings
# read public keys with `cryptography`, which refuses key data that is cut short.
FAKE_SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFgGgCR2UXxKq5zWTUBNK/RHaEnVvpVxe63P+OqPWcjZ ops@example"


# Modules whose tests all read one module-scoped scenario (a simulated cluster taken through a
# sequence of playbook runs): every test of such a module must run on one worker, or each worker
# that gets one builds the scenario again (minutes of CPU). xdist's `--dist loadgroup` would do this
# from an `xdist_group` mark, but with pytest 9.2 it silently stops grouping (it still rewrites the
# old `_nodeid` field; pytest-dev/pytest-xdist#1386, open), so the scheduler below groups by module.
ONE_WORKER_MODULES = frozenset({"tests/test_node_simulator_upgrade.py"})


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadgroup` (pyproject.toml): each test is its own unit of work, except that a
    module of ONE_WORKER_MODULES is one unit. Units go out biggest first, then in collection order."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerModules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return OneWorkerModules(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The node simulator's tests first: each runs the playbook for a minute or more, the rest of the
    suite takes seconds a test. xdist hands tests out in this order, so the long ones start at once
    on every worker and the short ones fill in around them, instead of one long test starting last
    on one worker while the other sits idle."""
    items.sort(key=lambda item: item.get_closest_marker("simulator") is None)


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
