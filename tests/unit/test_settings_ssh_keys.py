"""The SSH key checks of components/settings/bastion.py, read with `cryptography`, on real keys."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.settings.bastion import private_key_problem, public_key_problem
from tests.support.prereqs import require_tool


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    keygen = require_tool("ssh-keygen", "apt-get install openssh-client")
    d: Path = tmp_path_factory.mktemp("keys")
    made = {}
    kinds = {
        "a": ["-t", "ed25519", "-N", ""],
        "b": ["-t", "ecdsa", "-N", ""],
        "enc": ["-t", "ed25519", "-N", "pw"],
        "rsa": ["-t", "rsa", "-b", "1024", "-N", ""],
    }
    for name, args in kinds.items():
        subprocess.run([keygen, "-q", *args, "-C", "t", "-f", str(d / name)], check=True)
        made[name], made[f"{name}.pub"] = (d / name).read_text(), (d / f"{name}.pub").read_text().strip()
    return made


def test_a_real_pair_passes(pair):
    assert public_key_problem(pair["a.pub"]) is None
    assert private_key_problem(pair["a"], pair["a.pub"]) is None
    assert private_key_problem(pair["b"], pair["b.pub"]) is None  # ECDSA too


def test_a_public_key_cut_short_is_refused(pair):
    assert "cut short" in str(public_key_problem(pair["a.pub"][:60]))


def test_another_types_data_is_named(pair):
    assert "not a ssh-rsa key" in str(public_key_problem("ssh-rsa " + pair["a.pub"].split()[1]))


def test_short_rsa_passphrase_and_mismatch(pair):
    assert "shorter than 2048 bits" in str(public_key_problem(pair["rsa.pub"]))
    assert "passphrase" in str(private_key_problem(pair["enc"], pair["enc.pub"]))
    assert "does not match" in str(private_key_problem(pair["b"], pair["a.pub"]))
