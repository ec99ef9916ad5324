"""The node simulator's shared fixture: the world every simulated cluster of a test process downloads from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.node_simulator import prerequisites
from tests.support.simulator.checks import bumped, dev_settings
from tests.support.simulator.world import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The CA, signed repositories and release files, built once per test process.

    The Kubernetes repositories also offer the next minor release (its own pkgs.k8s.io repository),
    which the upgrade scenario moves to; a cluster at the pin never reads it.
    """
    prerequisites()
    versions = dev_settings().versions
    return build_world(Path(tmp_path_factory.mktemp("sim-world")), versions, upgrades=[bumped(versions)["kubernetes"]])
