"""A real run: the component's own ansible-playbook invocation against an sshd on loopback.

The suite starts Debian's sshd (openssh-server, installed by .ci/run) on a free high port with
its own host key and authorized_keys in a temporary directory. It plays both the bastion and the
nodes (127.0.0.1 under different host-key aliases, which are instance ids), and the test runs
exactly what `playbook_command` builds for the stack: the same script, inventory shape, ProxyJump,
ssh_config and key handling (a fresh key per run in a 0700 directory removed on exit, pushed with
the real botocore client to the EC2 Instance Connect stand-in, tests/support/eic.py, whose
AuthorizedKeysCommand the sshd runs), with `--tags preflight` and thresholds this machine meets.
A refused push, an expired key and a changed host key must stop it with a plain message.

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

from components.bastion_commands import PREAMBLE, CommandSpec, command_environment
from components.control_plane_reads import cluster_ca_command, service_account_keys_command
from components.inventory import ClusterVars, InventoryHost, SshJump
from components.playbooks import playbook_command
from components.settings.keys import default_versions
from components.settings.model import NodeRole, NodeSpec, Taint
from tests.support.paths import ROOT
from tests.support.sshd import LOOPBACK_BASTION, LOOPBACK_INSTANCES, Sshd

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
    hosts = [
        InventoryHost(n, "127.0.0.1", i, s.port) for n, i in zip((cp, infra), LOOPBACK_INSTANCES[1:], strict=False)
    ]
    jump = SshJump("test-bastion", "127.0.0.1", s.port, host_key_alias=LOOPBACK_BASTION, user=getpass.getuser())
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


def run(spec: CommandSpec, s: Sshd, *, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command spec the way pulumi-command does: argv, merged environment, cwd; nothing on
    stdin (these commands get no secret), the stand-in endpoint in botocore's variable."""
    env = {**os.environ, **spec.environment, **s.environment(), "GC_WORK_PARENT": str(WORK_PARENT), **(extra_env or {})}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(spec.argv, input="", env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)


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
    pushes = len(sshd.eic.requests)
    result = run(spec, sshd)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # One key, pushed to the bastion and to both nodes as the ssh user, before any connection.
    pushed = sshd.eic.requests[pushes : pushes + 3]
    assert [r["InstanceId"] for r in pushed] == [LOOPBACK_BASTION, *LOOPBACK_INSTANCES[1:3]]
    assert {r["InstanceOSUser"] for r in pushed} == {getpass.getuser()}
    assert len({r["SSHPublicKey"] for r in pushed}) == 1 and pushed[0]["SSHPublicKey"].startswith("ssh-ed25519 ")
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
    assert recorded == {LOOPBACK_BASTION, *LOOPBACK_INSTANCES[1:3]}
    # The key never shows, and its temporary directory is gone.
    assert "PRIVATE KEY" not in output
    assert not work_dirs() - before, "the temporary key directory was left behind"
    assert all("changed=0" in line for line in recap)


def test_a_refused_push_stops_the_run_naming_the_permission(sshd, tmp_path):
    cluster, hosts, jump = stack(sshd)
    known_hosts = tmp_path / "known_hosts"
    spec = playbook_command(cluster, hosts, jump, default_versions(), str(known_hosts))
    before = work_dirs()
    sshd.eic.denied.add(LOOPBACK_BASTION)
    try:
        result = run(spec, sshd)
    finally:
        sshd.eic.denied.discard(LOOPBACK_BASTION)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not push the run's SSH key with EC2 Instance Connect" in result.stderr
    assert "may not ec2-instance-connect:SendSSHPublicKey on " + LOOPBACK_BASTION in result.stderr
    assert "AccessDeniedException" in result.stderr
    # Nothing was reached: no host key was recorded, and the run's key went with its directory.
    assert not known_hosts.exists() or known_hosts.read_text() == ""
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert not work_dirs() - before, "the temporary key directory was left behind"


def test_a_key_pushed_more_than_60_seconds_ago_is_refused(sshd, tmp_path):
    """The sshd's AuthorizedKeysCommand admits a pushed key for 60 s only; the old stack key in
    authorized_keys still works here (only prepare removes it, tests/simulator)."""
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key)], check=True)
    env = {**os.environ, **sshd.environment()}

    def login(identity: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-F", "/dev/null", "-i", str(identity), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={tmp_path / 'kh'}", "-p", str(sshd.port),
             f"{getpass.getuser()}@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    assert login(key).returncode == 255  # never pushed
    push = [str(ROOT / ".cache/eic/bin/python"), "tools/eic_push.py", "--user", getpass.getuser()]
    pushed = subprocess.run([*push, "--public-key", f"{key}.pub", LOOPBACK_BASTION], env=env, cwd=ROOT)
    assert pushed.returncode == 0
    assert login(key).returncode == 0
    sshd.eic.age_all(61)
    refused = login(key)
    assert refused.returncode == 255 and "Permission denied" in refused.stderr


def test_a_run_longer_than_the_key_reconnects_with_the_refreshed_key(sshd, tmp_path):
    """The refresher pushes again while the run lasts: a new connection after the first key's
    lifetime still authenticates. The stand-in's lifetime is shortened to 4 s and the refresh to
    1 s (the same ratio as 60 s / 40 s, without a minute of waiting); without the refresher the
    same run is refused."""
    _, _, jump = stack(sshd)
    script = PREAMBLE + (
        'sleep 6\nssh -F "$GC_SSH_CONFIG_FILE" -O exit "$GC_BASTION_ALIAS" 2>/dev/null || true\n'
        'ssh -F "$GC_SSH_CONFIG_FILE" -o ControlMaster=no -o ControlPath=none "$GC_BASTION_ALIAS" true\n'
    )
    spec = CommandSpec(script, command_environment(jump, str(tmp_path / "known_hosts")), [])
    sshd.eic.set_ttl(4)
    try:
        refreshed = run(spec, sshd, extra_env={"GC_EIC_REFRESH_SECONDS": "1"})
        stale = run(spec, sshd, extra_env={"GC_EIC_REFRESH_SECONDS": "600"})
    finally:
        (sshd.eic.records / "ttl").unlink()
    assert refreshed.returncode == 0, refreshed.stderr
    assert stale.returncode == 255 and "Permission denied" in stale.stderr, stale.stderr


def test_a_changed_host_key_stops_the_run(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{LOOPBACK_BASTION} " + sshd.other_host_key_pub)
    cluster, hosts, jump = stack(sshd)
    spec = playbook_command(cluster, hosts, jump, default_versions(), str(known_hosts))
    result = run(spec, sshd)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the bastion's host key differs from the one recorded" in result.stderr
    assert "ssh-keygen -R test-bastion" in result.stderr
    # accept-new never replaces a recorded key.
    assert known_hosts.read_text() == f"{LOOPBACK_BASTION} " + sshd.other_host_key_pub


def test_the_cluster_ca_is_read_through_the_bastion(sshd, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n")
    _, hosts, jump = stack(sshd)
    spec = cluster_ca_command(hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(ca))
    result = run(spec, sshd)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ca.read_text()

    missing = cluster_ca_command(hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(tmp_path / "no"))
    failed = run(missing, sshd)
    assert failed.returncode != 0 and failed.stdout == ""


def test_the_service_account_keys_are_read_through_the_bastion_with_retired_ones(sshd, tmp_path):
    """What the issuer's JWKS is made from: sa.pub and, during a rotation, sa-retired-*.pub."""
    from components.oidc_issuer import jwks, public_key_blocks
    from tests.support.identity import kubeadm_service_account_key

    current, _ = kubeadm_service_account_key(tmp_path / "sa")
    retired, _ = kubeadm_service_account_key(tmp_path / "sa-retired-1")
    _, hosts, jump = stack(sshd)
    spec = service_account_keys_command(hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(current))
    result = run(spec, sshd)
    assert result.returncode == 0, result.stderr
    blocks = public_key_blocks(result.stdout)
    assert blocks == [current.read_text(), retired.read_text()]
    assert len(jwks(blocks)["keys"]) == 2

    missing = service_account_keys_command(
        hosts[0], jump, str(tmp_path / "known_hosts"), [], remote_path=str(tmp_path / "no.pub")
    )
    failed = run(missing, sshd)
    assert failed.returncode == 4 and failed.stdout == "", failed.stderr
    assert "holds no PEM public key" in failed.stderr
