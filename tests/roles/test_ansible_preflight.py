"""A real run: the component's own ansible-playbook invocation against an sshd on loopback.

The suite starts Debian's sshd (openssh-server, installed by .ci/run) on a free high port with
its own host key and authorized_keys in a temporary directory. It plays both the bastion and the
nodes (127.0.0.1 under different host-key aliases), and the test runs exactly what
`playbook_command` builds for the stack: the same script, inventory shape, ProxyJump, ssh_config
and key handling (stdin -> 0600 file removed on exit), with `--tags preflight` and thresholds
this machine meets. A wrong key and a changed host key must stop it with a plain message.

Skips, saying why, when sshd, sudo or root (sshd's privilege separation) are missing.
"""

from __future__ import annotations

import getpass
import glob
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from components.bastion_commands import CommandSpec, secret_bundle
from components.control_plane_reads import cluster_ca_command, service_account_keys_command
from components.inventory import ClusterVars, InventoryHost, SshJump
from components.playbooks import playbook_command
from components.settings.keys import default_versions
from components.settings.model import NodeRole, NodeSpec, Taint
from tests.support.paths import ROOT
from tests.support.sshd import Sshd

# Runs ansible-playbook for real: `make test` and CI run it, `make test-fast` leaves it out.
pytestmark = pytest.mark.ansible


def stack(s: Sshd) -> tuple[ClusterVars, list[InventoryHost], SshJump]:
    """A two-node table reached like the real one: through the "bastion", one alias per node."""
    cp = NodeSpec("cp-1", NodeRole.CONTROL_PLANE, "t3.large", 80)
    infra = NodeSpec(
        "redis",
        NodeRole.INFRASTRUCTURE,
        "t3.small",
        30,
        MappingProxyType({"workload": "cache"}),
        (Taint("node-role.kubernetes.io/infrastructure", "true", "NoSchedule"),),
    )
    hosts = [InventoryHost(n, "127.0.0.1", f"loopback-{n.name}", s.port) for n in (cp, infra)]
    jump = SshJump("test-bastion", "127.0.0.1", s.port, host_key_alias="loopback-bastion", user=getpass.getuser())
    cluster = ClusterVars(
        "loopback", "api.invalid", ipaddress.IPv4Network("192.168.0.0/16"), ipaddress.IPv4Network("10.96.0.0/12")
    )
    return cluster, hosts, jump


def preflight_vars(path: Path) -> Path:
    """Thresholds this machine meets (the real ones are role defaults); every check still runs."""
    values: dict[str, object] = {
        "preflight_min_memory_mb": 64,
        "preflight_min_vcpus": 1,
        "preflight_min_root_free_gb": 1,
        "preflight_supported_systems": ["^(Debian|Ubuntu) "],
        "wait_for_nodes_ssh_timeout": 30,
    }
    if not Path("/usr/bin/python3").exists():
        values["ansible_python_interpreter"] = sys.executable
    path.write_text(json.dumps(values))
    return path


# Each run's private work directory goes under this parent of the test process's own, so what a
# run leaves behind is seen here and never confused with another process's run.
WORK_PARENT = Path(tempfile.mkdtemp(prefix="gcw", dir="/tmp"))


def run(spec: CommandSpec, key: str, *, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command spec the way pulumi-command does: argv, merged environment, the secret bundle on stdin, cwd."""
    env = {**os.environ, **spec.environment, "GC_WORK_PARENT": str(WORK_PARENT), **(extra_env or {})}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    stdin = secret_bundle(key)
    return subprocess.run(spec.argv, input=stdin, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)


def work_dirs() -> set[str]:
    return set(glob.glob(f"{WORK_PARENT}/gc-bootstrap.*"))


@pytest.fixture(scope="module", autouse=True)
def _remove_work_parent() -> Iterator[None]:
    yield
    shutil.rmtree(WORK_PARENT, ignore_errors=True)


def test_preflight_runs_through_the_bastion(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts.d" / "loopback"
    cluster, hosts, jump = stack(sshd)
    spec = playbook_command(
        cluster,
        hosts,
        jump,
        default_versions(),
        str(known_hosts),
        extra_args=["--tags", "preflight", "-e", f"@{preflight_vars(tmp_path / 'vars.json')}"],
    )
    before = work_dirs()
    result = run(spec, sshd.key)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    recap = output[output.index("PLAY RECAP") :].splitlines()[1:3]
    assert sorted(line.split()[0] for line in recap) == ["cp-1", "redis"]
    for line in recap:
        assert "unreachable=0" in line and "failed=0" in line, line
    for task in (
        "wait_for_nodes : Wait until the node answers over SSH through the bastion",
        "wait_for_nodes : Wait for cloud-init to finish its first boot",
        "wait_for_nodes : Check that cloud-init finished without errors",
        "preflight : Run a command as root",
        "preflight : Check the operating system",
        "preflight : Check memory and CPUs",
        "preflight : Check free space on the root volume",
    ):
        assert f"TASK [{task}]" in output
        block = output.split(f"TASK [{task}]", 1)[1].split("TASK [", 1)[0]
        assert "ok: [cp-1]" in block and "ok: [redis]" in block, f"{task} did not run on both nodes"
    # Only the preflight play ran: nothing was installed on this machine.
    assert "TASK [common" not in output and "Gathering Facts" not in output
    # New hosts were accepted once, under their aliases, into the stack's file (and only there).
    recorded = {line.split()[0] for line in known_hosts.read_text().splitlines()}
    assert recorded == {"loopback-bastion", "loopback-cp-1", "loopback-redis"}
    # The key never shows, and its temporary directory is gone.
    assert "PRIVATE KEY" not in output
    assert not work_dirs() - before, "the temporary key directory was left behind"
    assert all("changed=0" in line for line in recap)


def test_a_wrong_key_fails_with_a_clear_message(sshd, tmp_path):
    cluster, hosts, jump = stack(sshd)
    spec = playbook_command(
        cluster,
        hosts,
        jump,
        default_versions(),
        str(tmp_path / "known_hosts"),
        extra_args=["--tags", "preflight", "-e", f"@{preflight_vars(tmp_path / 'vars.json')}"],
    )
    before = work_dirs()
    result = run(spec, sshd.wrong_key)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the bastion refused the stack's SSH key (Permission denied)" in result.stderr
    assert "sshPrivateKey does not match the key the instances were given" in result.stderr
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert not work_dirs() - before, "the temporary key directory was left behind"


def test_a_garbled_key_is_rejected_before_any_connection(sshd, tmp_path):
    cluster, hosts, jump = stack(sshd)
    spec = playbook_command(cluster, hosts, jump, default_versions(), str(tmp_path / "known_hosts"))
    result = run(spec, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n")
    assert result.returncode == 2
    assert "is not an unencrypted OpenSSH private key" in result.stderr
    assert not (tmp_path / "known_hosts").exists()


def test_a_changed_host_key_stops_the_run(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("loopback-bastion " + sshd.other_host_key_pub)
    cluster, hosts, jump = stack(sshd)
    spec = playbook_command(cluster, hosts, jump, default_versions(), str(known_hosts))
    result = run(spec, sshd.key)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the bastion's host key differs from the one recorded" in result.stderr
    assert "ssh-keygen -R test-bastion" in result.stderr
    # accept-new never replaces a recorded key.
    assert known_hosts.read_text() == "loopback-bastion " + sshd.other_host_key_pub


def test_the_cluster_ca_is_read_through_the_bastion(sshd, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n")
    _, hosts, jump = stack(sshd)
    spec = cluster_ca_command(hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(ca))
    result = run(spec, sshd.key)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ca.read_text()

    missing = cluster_ca_command(hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(tmp_path / "no"))
    failed = run(missing, sshd.key)
    assert failed.returncode != 0 and failed.stdout == ""


def test_the_service_account_keys_are_read_through_the_bastion_with_retired_ones(sshd, tmp_path):
    """What the issuer's JWKS is made from: sa.pub and, during a rotation, sa-retired-*.pub."""
    from components.oidc_issuer import jwks, public_key_blocks
    from tests.support.identity import kubeadm_service_account_key

    current, _ = kubeadm_service_account_key(tmp_path / "sa")
    retired, _ = kubeadm_service_account_key(tmp_path / "sa-retired-1")
    _, hosts, jump = stack(sshd)
    spec = service_account_keys_command(hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(current))
    result = run(spec, sshd.key)
    assert result.returncode == 0, result.stderr
    blocks = public_key_blocks(result.stdout)
    assert blocks == [current.read_text(), retired.read_text()]
    assert len(jwks(blocks)["keys"]) == 2

    missing = service_account_keys_command(
        hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(tmp_path / "no.pub")
    )
    failed = run(missing, sshd.key)
    assert failed.returncode == 4 and failed.stdout == "", failed.stderr
    assert "holds no PEM public key" in failed.stderr
