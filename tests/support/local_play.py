"""Run a play with the project's own ansible-playbook and ansible.cfg, from ansible/, as role tests do.

The role tests (containerd, join extraction, init/join guards) run a role's tasks against this
machine or stand-ins; they share how ansible-playbook is found and how it is invoked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from components.playbooks import ANSIBLE_DIR
from tests.support.prereqs import require

BIN = Path(sys.executable).parent

# Set by tests/conftest.py before each test's setup: whether the test carries the `ansible` marker
# (`make test-fast` deselects those). A role run from an unmarked test fails, naming the marker,
# so the fast loop can never quietly grow a real Ansible run.
CURRENT_TEST_MARKED_ANSIBLE = True


def ansible_playbook() -> Path:
    """The virtualenv's ansible-playbook (ansible-core is a locked runtime dependency)."""
    playbook = BIN / "ansible-playbook"
    require(playbook.exists(), f"ansible-playbook is not installed in {BIN} (`make venv` installs it from uv.lock)")
    return playbook


def run_play(
    args: Sequence[str], *, path: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`ansible-playbook <args>` from ansible/ with its ansible.cfg; `path` goes first on PATH (stand-ins)."""
    if not CURRENT_TEST_MARKED_ANSIBLE:
        raise AssertionError(
            "this test runs ansible-playbook for real: mark it `@pytest.mark.ansible` (or its module "
            "`pytestmark = pytest.mark.ansible`) so `make test-fast` leaves it out"
        )
    full_env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **(env or {})}
    if path is not None:
        full_env["PATH"] = f"{path}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        [str(ansible_playbook()), *args], cwd=ANSIBLE_DIR, env=full_env, capture_output=True, text=True, timeout=timeout
    )
