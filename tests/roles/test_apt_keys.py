"""The apt key check (ansible/roles/common/tasks/apt_key.yml) run for real on this machine.

A key is downloaded with get_url (here from a file:// URL) and read with the real gpg: the pinned
fingerprint passes, any other is refused, the key file deleted and both fingerprints named. The
node simulator runs the same task file on every simulated node with its own test key's fingerprint
(tests/simulator/test_node_simulator.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.apiserver import run_play
from tests.support.prereqs import require_tool

pytestmark = pytest.mark.ansible

PLAY = """
- name: Check an apt key as the roles do
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Download and check
      ansible.builtin.include_role:
        name: common
        tasks_from: apt_key.yml
"""


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> tuple[Path, str]:
    """An armored public key made for this test, and its fingerprint."""
    gpg = require_tool("gpg", "the Debian package gpg; .ci/run installs it")
    home = Path(tmp_path_factory.mktemp("gnupg"))
    home.chmod(0o700)
    base = [gpg, "--homedir", str(home), "--batch"]
    subprocess.run([*base, "--passphrase", "", "--quick-gen-key", "test <t@invalid>", "ed25519", "sign", "never"],
                   check=True, capture_output=True)  # fmt: skip
    armored = subprocess.run([*base, "--armor", "--export"], check=True, capture_output=True, text=True).stdout
    colons = subprocess.run([*base, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True).stdout
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)
    path = home.parent / "Release.key"
    path.write_text(armored)
    return path, next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))


def check(tmp_path: Path, url: str, fingerprint: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    dest = tmp_path / "keyrings" / "test.asc"
    dest.parent.mkdir()
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "common_apt_key_url": url,
                "common_apt_key_dest": str(dest),
                "common_apt_key_fingerprint": fingerprint,
                "ansible_python_interpreter": sys.executable,
                # The task sets owner root; this test may run as another user.
                "ansible_become": False,
            }
        )
    )
    return run_play(play, "-e", f"@{extra}"), dest


def test_the_pinned_fingerprint_passes(tmp_path, key):
    path, fingerprint = key
    result, dest = check(tmp_path, path.as_uri(), fingerprint)
    assert result.returncode == 0, result.stdout + result.stderr
    assert dest.read_text() == path.read_text()


def test_another_fingerprint_is_refused_and_the_key_deleted(tmp_path, key):
    path, fingerprint = key
    published = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
    result, dest = check(tmp_path, path.as_uri(), published)
    assert result.returncode != 0
    assert f"served a key with fingerprint {fingerprint}, not the pinned {published}" in result.stdout
    assert not dest.exists(), "a refused key must not stay where an apt source could name it"
