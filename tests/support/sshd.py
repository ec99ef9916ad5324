"""sshd on loopback: the bastion and nodes the commands reach in tests.

One sshd plays every instance of LOOPBACK_INSTANCES (the bastion and the nodes, told apart by
host-key alias). It authenticates as an instance with the ec2-instance-connect package does: keys
come from the AuthorizedKeysCommand (tests/support/eic.py), which prints those the EC2 Instance
Connect stand-in took for one of these instances less than 60 seconds ago. Its authorized_keys
holds `old_key`, a key the stack used to register (the stand-in of a key left in old state).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.eic import EicEndpoint, authorized_keys_command
from tests.support.prereqs import require, require_root, require_tool

# The instance ids the loopback sshd answers for (EC2's form, ^i-[a-f0-9]+$, as the API checks).
LOOPBACK_BASTION = "i-0b0000000000000b1"
LOOPBACK_INSTANCES = (LOOPBACK_BASTION, "i-0c0000000000000c1", "i-0c0000000000000c2", "i-0c0000000000000c3")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory, eic_endpoint: EicEndpoint) -> Iterator[Sshd]:
    require(SSHD.exists(), f"sshd is not at {SSHD} (Debian package openssh-server; .ci/run installs it)")
    require_root("sshd on loopback needs root for privilege separation")
    for needed in ("ssh", "ssh-keygen", "sudo"):
        require_tool(needed, ".ci/run installs openssh-client and sudo")
    d = Path(tmp_path_factory.mktemp("sshd"))
    for name in ("host_key", "other_host_key", "old_key"):
        _keygen(d / name)
    (d / "authorized_keys").write_text((d / "old_key.pub").read_text())
    (d / "authorized_keys").chmod(0o600)
    eic_endpoint.instances.update(LOOPBACK_INSTANCES)
    # sshd refuses an AuthorizedKeysCommand on a path any non-root user may write to (auth2-pubkey.c
    # checks every directory up to /, so not under /tmp): a root-only directory under /run.
    command_dir = Path(tempfile.mkdtemp(prefix="gitops-eic-", dir="/run"))
    command_dir.chmod(0o755)
    command = authorized_keys_command(
        command_dir / "eic_run_authorized_keys", str(eic_endpoint.records), LOOPBACK_INSTANCES
    )
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        f"AuthorizedKeysCommand {command} %u %f\nAuthorizedKeysCommandUser root\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "AllowTcpForwarding yes\nMaxStartups 100\nLogLevel VERBOSE\n"
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation directory
    log = (d / "sshd.log").open("w")
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"sshd did not start: {(d / 'sshd.log').read_text()}")
                time.sleep(0.1)
        yield Sshd(port, d, eic_endpoint, (d / "old_key").read_text(), (d / "other_host_key.pub").read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(command_dir, ignore_errors=True)


SSHD = Path("/usr/sbin/sshd")


@dataclass(frozen=True)
class Sshd:
    port: int
    dir: Path
    eic: EicEndpoint
    old_key: str
    other_host_key_pub: str

    def environment(self) -> dict[str, str]:
        """What a kit run needs to push its key to this sshd's instances (the stand-in endpoint)."""
        return self.eic.environment()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)], check=True)
