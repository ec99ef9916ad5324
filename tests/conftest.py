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

from components.config import ConfigError  # noqa: E402
from tools.mockrun import Recording, run_program  # noqa: E402

# Fake secret values planted by tests; none may ever show up in plain text.
FAKE_SSH_PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-USER-SUPPLIED-KEY-7f3a\n-----END OPENSSH PRIVATE KEY-----\n"
)
FAKE_SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeUserSuppliedPublicKey000000000000000 ops@example"


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
