"""A simulated cluster: a bastion and nodes, each with its own root and sshd, in one network namespace.

Topology (one per `SimCluster`, names unique per run: `gcsim-<pid>-<n>`):

    test process (root netns) --veth (a /30 in 100.64.0.0/10)--> netns gcsim-<pid>-<n>
                                                                   bastion sshd  <link address>:22
                                                                   node sshds    127.X.Y.<10+i>:22
                                                                   HTTPS server  127.X.Y.2:443

The namespace is the VPC: nodes listen on loopback addresses inside it, so they are reachable
only through the bastion's sshd (ProxyJump), as on AWS, and nothing they do can leave the machine
(127.0.0.0/8 never routes out). X.Y differ per cluster: Ansible keys its persistent SSH
connections (~/.ansible/cp) by address, port and user only, so two simulated clusters with the
same node addresses, run at once or within ControlPersist's 300 s, would reach each other's hosts.
One namespace rather than one per host: one veth pair to create
and remove, and a node's "network failure" is its sshd not answering.

Each host is `ip netns exec NS unshare --mount --pid --uts --fork --kill-child` running a small
script: an overlay over this machine's `/` (lower) with a per-host upper directory, fresh /proc,
/dev and /sys bound in, tmpfs on /run, /tmp and /sys/module, the cluster's shared state directory
bound at /var/lib/gitops-sim-cluster, then `pivot_root` into it (so its mount table has the
overlay as `/`, named /dev/root as on an EC2 instance: Ansible's mount facts skip sources that
are not device paths, and the preflight's free-space check reads them) and exec sshd. The host image (the
upper directory written before the mount) holds the /etc/os-release of the Ubuntu release the AMI pin
names (this machine is Debian 12; the preflight wants Ubuntu), an `ubuntu` user with passwordless sudo, an fstab with a
swap line, the test CA, /etc/hosts naming the repository hosts, no apt sources, and the
stand-ins for systemctl, sysctl, modprobe, swapon/swapoff, hostnamectl and cloud-init.

Clean-up: killing a host's unshare process kills its PID namespace, and with it every process and
mount of that host. The processes carry PR_SET_PDEATHSIG, so they die with the test process even
when it is killed; `close()` deletes the namespace (its veth goes with it) and the directories;
`remove_leftovers()` deletes namespaces and directories of earlier runs whose process is gone.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import ipaddress
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.bastion_commands import CommandSpec, secret_bundle
from components.bootstrap import secret_extra_vars
from components.control_plane_reads import (
    PROVIDER_CLIENT_NAME,
    admin_credential_command,
    cluster_ca_command,
    first_control_plane,
)
from components.inventory import ClusterVars, InventoryHost, SshJump, render_inventory
from components.playbooks import CLUSTER_PLAYBOOK, playbook_command, prepare_command
from components.settings.model import NodeSpec
from tests.support.eic import EicEndpoint, authorized_keys_command
from tests.support.paths import ROOT
from tests.support.simulator.world import REPO_HOSTS, STANDINS, World, ubuntu_release

# Inside each host: the ec2-instance-connect AuthorizedKeysCommand (the package's path on Ubuntu)
# and the stand-in endpoint's records, bind-mounted read-only.
EIC_COMMAND = "/usr/share/ec2-instance-connect/eic_run_authorized_keys"
EIC_RECORDS = "/var/lib/gitops-sim-eic"

PREFIX = "gcsim"
BASE = Path("/tmp") / PREFIX
SSH_USER = "ubuntu"
SIM_UID = 1777
NODE_TOOLS = {
    "usr/bin/systemctl": "systemctl",
    "usr/sbin/sysctl": "sysctl",
    "usr/sbin/modprobe": "modprobe",
    "usr/sbin/swapon": "swapon",
    "usr/sbin/swapoff": "swapoff",
    "usr/bin/hostnamectl": "hostnamectl",
    "usr/bin/cloud-init": "cloud-init",
}
# Packages the simulated repositories provide: the host image must not already list them.
SIMULATED_PACKAGES = ("containerd.io", "kubeadm", "kubelet", "kubectl")
UBUNTU_NAMES = {"jammy": "Jammy Jellyfish", "noble": "Noble Numbat"}


def os_release(release: str, codename: str) -> str:
    """/etc/os-release of the Ubuntu release the AMI pin names (the preflight checks it)."""
    name = UBUNTU_NAMES.get(codename, codename.capitalize())
    return (
        f'PRETTY_NAME="Ubuntu {release} LTS"\nNAME="Ubuntu"\nVERSION_ID="{release}"\n'
        f'VERSION="{release} LTS ({name})"\nVERSION_CODENAME={codename}\nID=ubuntu\nID_LIKE=debian\n'
        f'HOME_URL="https://www.ubuntu.com/"\nUBUNTU_CODENAME={codename}\n'
    )


def lsb_release(release: str, codename: str) -> str:
    return (
        f"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE={release}\nDISTRIB_CODENAME={codename}\n"
        f'DISTRIB_DESCRIPTION="Ubuntu {release} LTS"\n'
    )


_counter = itertools.count()


def _pdeathsig() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def remove_leftovers() -> None:
    """Delete the namespaces and directories of simulator runs whose test process is gone."""
    names = _ip("netns", "list", check=False).stdout.split()
    for name in names:
        m = re.fullmatch(rf"{PREFIX}-(\d+)-\d+", name)
        if m and not _pid_alive(int(m.group(1))):
            _ip("netns", "delete", name, check=False)
    if BASE.is_dir():
        for d in BASE.iterdir():
            m = re.fullmatch(r"(\d+)-\d+", d.name)
            if m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(d, ignore_errors=True)


@dataclass
class Host:
    name: str
    address: str
    dir: Path
    key_alias: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        """The host's filesystem as its processes see it (through its sshd's /proc entry)."""
        assert self.process is not None, f"{self.name} is not running"
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return Path(f"/proc/{children[0]}/root")

    def path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def read(self, path: str) -> str:
        return self.path(path).read_text()

    def state(self, name: str, default: Any = None) -> Any:
        p = self.path(f"/var/lib/gitops-sim/{name}")
        return json.loads(p.read_text()) if p.exists() else default


@dataclass
class Run:
    returncode: int
    output: str
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, returncode: int, output: str) -> Run:
        recap: dict[str, dict[str, int]] = {}
        if "PLAY RECAP" in output:
            for line in output[output.rindex("PLAY RECAP") :].splitlines()[1:]:
                m = re.match(r"^(\S+)\s+:\s+(.*)$", line)
                if not m:
                    break
                recap[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        return cls(returncode, output, recap)

    def task(self, name: str) -> str:
        """The output block of the last task whose name contains `name`."""
        start = self.output.rindex(f"TASK [{name}") if f"TASK [{name}" in self.output else -1
        if start < 0:
            matches = [m.start() for m in re.finditer(r"TASK \[[^\]]*" + re.escape(name), self.output)]
            if not matches:
                return ""
            start = matches[-1]
        rest = self.output[start:]
        end = rest.find("\nTASK [", 1)
        return rest if end < 0 else rest[:end]


@dataclass
class Up(Run):
    """What `pulumi up` runs of the bootstrap (components/bootstrap.py): the prepare command, then,
    if it succeeded, the cluster command. As one Run: the outputs in order, the recaps summed per
    host, the first failure's return code; `prepare` and `cluster` are the two runs."""

    prepare: Run | None = None
    cluster: Run | None = None

    @classmethod
    def of(cls, prepare: Run, cluster: Run | None) -> Up:
        runs = [prepare] if cluster is None else [prepare, cluster]
        recap: dict[str, dict[str, int]] = {}
        for run in runs:
            for host, counts in run.recap.items():
                total = recap.setdefault(host, {})
                for key, value in counts.items():
                    total[key] = total.get(key, 0) + value
        returncode = next((r.returncode for r in runs if r.returncode), 0)
        return cls(returncode, "".join(r.output for r in runs), recap, prepare, cluster)


class SimCluster:
    """A bastion plus `nodes` (a node table), started and reached as components/bootstrap.py does."""

    def __init__(
        self,
        world: World,
        nodes: Sequence[NodeSpec],
        versions: Mapping[str, str],
        cluster_name: str,
        pod_cidr: ipaddress.IPv4Network,
        service_cidr: ipaddress.IPv4Network,
    ) -> None:
        remove_leftovers()
        n = next(_counter)
        self.id = f"{os.getpid()}-{n}"
        self.netns = f"{PREFIX}-{self.id}"
        self.dir = BASE / self.id
        self.world = world
        self.nodes = list(nodes)
        self.versions = dict(versions)
        self.endpoint = f"api.{cluster_name}.sim.internal"
        self.cluster_vars = ClusterVars(cluster_name, self.endpoint, pod_cidr, service_cidr)
        index = (os.getpid() * 16 + n) % (1 << 20)
        link = ipaddress.IPv4Network((int(ipaddress.IPv4Address("100.64.0.0")) + index * 4, 30))
        self.link_outer, self.link_inner = str(link[1]), str(link[2])
        self.veth = f"gs{os.getpid():x}{n:x}"[:13]
        spread = int(hashlib.sha256(self.id.encode()).hexdigest(), 16)
        self.prefix = f"127.{16 + spread % 239}.{(spread >> 8) % 256}"
        self.repo_address = f"{self.prefix}.2"
        self.hosts: dict[str, Host] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.known_hosts = self.dir / "known_hosts"
        self.closed = False
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    # --- building -----------------------------------------------------------------------------

    def _create(self) -> None:
        self.dir.mkdir(parents=True)
        (self.dir / "cluster-state").mkdir()
        # The key an older stack registered as its EC2 key pair, in ubuntu's authorized_keys as
        # cloud-init writes it: the prepare play empties that file. Runs authenticate with their own
        # key, pushed to this cluster's EC2 Instance Connect stand-in (tests/support/eic.py).
        key = self.dir / "client_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key)], check=True)
        self.old_key = key.read_text()
        self.eic = EicEndpoint(self.dir / "eic")
        # The stack's Secret-encryption key (components/bootstrap.py: a RandomBytes), one per cluster.
        self.encryption_key = base64.b64encode(os.urandom(32)).decode()
        _ip("netns", "add", self.netns)
        _ip("link", "add", f"{self.veth}h", "type", "veth", "peer", "name", f"{self.veth}n")
        _ip("link", "set", f"{self.veth}n", "netns", self.netns)
        _ip("addr", "add", f"{self.link_outer}/30", "dev", f"{self.veth}h")
        _ip("link", "set", f"{self.veth}h", "up")
        inside = ["netns", "exec", self.netns, "ip"]
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "addr", "add", f"{self.link_inner}/30", "dev", f"{self.veth}n")
        _ip(*inside, "link", "set", f"{self.veth}n", "up")
        _ip(*inside, "addr", "add", f"{self.repo_address}/32", "dev", "lo")
        self.bastion = Host("bastion", self.link_inner, self.dir / "hosts" / "bastion", self._instance_id("bastion"))
        for i, node in enumerate(self.nodes):
            address = f"{self.prefix}.{10 + i}"
            _ip(*inside, "addr", "add", f"{address}/32", "dev", "lo")
            self.hosts[node.name] = Host(
                node.name, address, self.dir / "hosts" / node.name, self._instance_id(node.name)
            )
        self.eic.instances.update(h.key_alias for h in [self.bastion, *self.hosts.values()])
        log = (self.dir / "https.log").open("wb")
        self.server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.netns,
                sys.executable,
                "-m",
                "tests.support.simulator.serve",
                str(self.world.docroot),
                str(self.world.server_cert),
                str(self.world.server_key),
                self.repo_address,
                "443",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=log,
            preexec_fn=_pdeathsig,
        )
        for host in [self.bastion, *self.hosts.values()]:
            self._image(host)
            self.start(host.name)

    def _instance_id(self, name: str) -> str:
        """The host's EC2-style instance id (^i-[0-9a-f]{17}$): its host-key alias, and where a run
        pushes its key."""
        return "i-" + hashlib.sha256(f"{self.id}/{name}".encode()).hexdigest()[:17]

    def _image(self, host: Host) -> None:
        """Write the host image into its upper directory (before the overlay is mounted)."""
        up = host.dir / "upper"
        for d in ("upper", "work", "merged"):
            (host.dir / d).mkdir(parents=True)

        def put(path: str, text: str, mode: int = 0o644) -> None:
            target = up / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            target.chmod(mode)

        release, codename = ubuntu_release(self.versions)
        put("etc/os-release", os_release(release, codename))
        put("etc/lsb-release", lsb_release(release, codename))
        put("etc/cloud/cloud.cfg.d/90_dpkg.cfg", "datasource_list: [ Ec2, None ]\n")
        hosts = "127.0.0.1 localhost\n" + f"{self.repo_address} {' '.join(REPO_HOSTS)}\n"
        hosts += "".join(f"{h.address} {h.name}\n" for h in [self.bastion, *self.hosts.values()])
        put("etc/hosts", hosts)
        put("etc/hostname", host.name + "\n")
        put(
            "etc/fstab",
            "# /etc/fstab of a simulated node\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n"
            "/swap.img none swap sw 0 0\n",
        )
        put(
            "etc/passwd",
            Path("/etc/passwd").read_text() + f"{SSH_USER}:x:{SIM_UID}:{SIM_UID}:Ubuntu:/home/{SSH_USER}:/bin/bash\n",
        )
        put("etc/group", Path("/etc/group").read_text() + f"{SSH_USER}:x:{SIM_UID}:\n")
        put("etc/shadow", Path("/etc/shadow").read_text() + f"{SSH_USER}:*:20000:0:99999:7:::\n", 0o640)
        put("etc/sudoers.d/90-cloud-init-users", f"{SSH_USER} ALL=(ALL) NOPASSWD:ALL\n", 0o440)
        put(f"home/{SSH_USER}/.ssh/authorized_keys", (self.dir / "client_key.pub").read_text(), 0o600)
        for d in (f"home/{SSH_USER}", f"home/{SSH_USER}/.ssh", f"home/{SSH_USER}/.ssh/authorized_keys"):
            os.chown(up / d, SIM_UID, SIM_UID)
        put(
            "etc/ssl/certs/ca-certificates.crt",
            Path("/etc/ssl/certs/ca-certificates.crt").read_text() + self.world.ca_cert.read_text(),
        )
        # The simulated repositories provide these packages; the host image starts without them.
        status = Path("/var/lib/dpkg/status").read_text()
        stanzas = [s for s in status.split("\n\n") if s.strip()]
        kept = [
            s
            for s in stanzas
            if not re.search(rf"^Package: ({'|'.join(map(re.escape, SIMULATED_PACKAGES))})$", s, re.M)
        ]
        put("var/lib/dpkg/status", "\n\n".join(kept) + "\n")
        for path, _tool in NODE_TOOLS.items():
            target = up / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(STANDINS, target)
            target.chmod(0o755)
        put("var/lib/gitops-sim/swap.json", json.dumps(["/swap.img"]))
        (up / "etc/gitops-sim/faults").mkdir(parents=True)
        (up / "var/lib/gitops-sim-cluster").mkdir(parents=True)
        put("usr/lib/gitops-sim/kubectl-real", "")
        (up / "etc/ssh").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(up / "etc/ssh/sim_host_ed25519_key")],
            check=True,
        )
        put(
            "etc/ssh/sshd_config.sim",
            (
                f"Port 22\nListenAddress {host.address}\nHostKey /etc/ssh/sim_host_ed25519_key\nPidFile /run/sshd.pid\n"
                "PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                "StrictModes no\nAllowTcpForwarding yes\nMaxStartups 200\nMaxSessions 200\nLogLevel INFO\n"
                "AuthorizedKeysFile .ssh/authorized_keys\nSubsystem sftp internal-sftp\n"
                # As the ec2-instance-connect package configures sshd (tests/support/eic.py).
                f"AuthorizedKeysCommand {EIC_COMMAND} %u %f\nAuthorizedKeysCommandUser root\n"
            ),
        )
        (up / EIC_RECORDS.lstrip("/")).mkdir(parents=True)
        (up / EIC_COMMAND.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        authorized_keys_command(up / EIC_COMMAND.lstrip("/"), EIC_RECORDS, [host.key_alias])

    def _script(self, host: Host) -> str:
        m = host.dir / "merged"
        kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
        return f"""set -e
mount -t overlay /dev/root -o lowerdir=/,upperdir={host.dir}/upper,workdir={host.dir}/work {m}
mount -t proc proc {m}/proc
mount --rbind /dev {m}/dev
mount --rbind /sys {m}/sys
mount -t tmpfs -o mode=0755 tmpfs {m}/sys/module
mount -t tmpfs -o mode=0755 tmpfs {m}/run
mount -t tmpfs -o mode=1777 tmpfs {m}/tmp
mkdir -p {m}/run/sshd {m}/run/lock
mount --bind {self.dir}/cluster-state {m}/var/lib/gitops-sim-cluster
mount --bind -o ro {self.eic.records} {m}{EIC_RECORDS}
mount --bind {kubectl} {m}/usr/lib/gitops-sim/kubectl-real
rm -rf {m}/etc/apt/sources.list {m}/etc/apt/sources.list.d/*
hostname {host.name}
mkdir -p {m}/run/oldroot
cd {m}
pivot_root . run/oldroot
umount -l /run/oldroot
rmdir /run/oldroot
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config.sim
"""

    # --- hosts ----------------------------------------------------------------------------------

    def host(self, name: str) -> Host:
        return self.bastion if name == "bastion" else self.hosts[name]

    def start(self, name: str) -> None:
        host = self.host(name)
        assert host.process is None or host.process.poll() is not None, f"{name} is already running"
        log_path = host.dir / "sshd.log"
        with log_path.open("ab") as log:
            host.process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.netns,
                    "unshare",
                    "--mount",
                    "--pid",
                    "--uts",
                    "--fork",
                    "--kill-child",
                    "--propagation",
                    "private",
                    "bash",
                    "-c",
                    self._script(host),
                ],
                stdout=log,
                stderr=log,
                preexec_fn=_pdeathsig,
            )
        deadline = time.monotonic() + 20
        while "Server listening on" not in log_path.read_text(errors="replace"):
            if host.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd of simulated host {name} did not start:\n{log_path.read_text()}")
            time.sleep(0.05)

    def stop(self, name: str) -> None:
        """Kill the host: every process of its PID namespace (sshd, sessions) goes, its files stay."""
        host = self.host(name)
        if host.process is not None and host.process.poll() is None:
            host.process.send_signal(signal.SIGKILL)
            host.process.wait(timeout=10)

    def set_fault(self, name: str, fault: str, value: str = "") -> None:
        self.host(name).path(f"/etc/gitops-sim/faults/{fault}").write_text(value)

    # --- the bootstrap invocation ---------------------------------------------------------------

    def inventory_hosts(self) -> list[InventoryHost]:
        return [InventoryHost(n, self.hosts[n.name].address, self.hosts[n.name].key_alias, 22) for n in self.nodes]

    def jump(self) -> SshJump:
        return SshJump(
            f"{self.cluster_vars.name}-bastion",
            self.bastion.address,
            22,
            host_key_alias=self.bastion.key_alias,
            user=SSH_USER,
        )

    def playbook_spec(
        self,
        extra_vars: Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
        *,
        playbook: str = "site.yml",
    ) -> CommandSpec:
        """site.yml (both halves in one run, as a manual run does), or cluster.yml: the component's
        cluster command, the one `pulumi up` runs again after it failed (the prepare command, created,
        is not re-run)."""
        args = self._vars_args(extra_vars, extra_args)
        return playbook_command(
            self.cluster_vars,
            self.inventory_hosts(),
            self.jump(),
            self.versions,
            str(self.known_hosts),
            extra_args=args,
            inventory=self.inventory(),
            playbook=playbook,
        )

    def inventory(self) -> str:
        """The component's inventory with the one override a simulated host needs: its repositories are
        signed with the world's test key, so the apt key pins name that key's fingerprint (the real pins
        stay the published ones, tests/unit/test_download_pins.py)."""
        return self.simulated_inventory(render_inventory(self.cluster_vars, self.inventory_hosts(), self.jump()))

    def simulated_inventory(self, inventory: str) -> str:
        """A rendered inventory with the apt key pins naming the world's test key (see `inventory`)."""
        import yaml

        loaded = yaml.safe_load(inventory)
        loaded["all"]["vars"].update(self.world.key_overrides())
        return yaml.safe_dump(loaded, sort_keys=False)

    def simulated(self, spec: CommandSpec) -> CommandSpec:
        """A component command's spec with its inventory made simulated (`simulated_inventory`)."""
        env = {**spec.environment, "GC_INVENTORY": self.simulated_inventory(spec.environment["GC_INVENTORY"])}
        return CommandSpec(spec.create, env, spec.triggers)

    def _vars_args(self, extra_vars: Mapping[str, Any] | None, extra_args: Sequence[str]) -> list[str]:
        args = list(extra_args)
        if extra_vars:
            path = self.dir / f"vars-{next(_counter)}.json"
            path.write_text(json.dumps(dict(extra_vars)))
            args += ["-e", f"@{path}"]
        return args

    def prepare_spec(self, extra_vars: Mapping[str, Any] | None = None) -> CommandSpec:
        """The component's prepare command (`<name>-prepare`: prepare.yml with the fingerprint, so a
        node whose marker holds it is left out, then the bastion forgets the old key)."""
        return self.simulated(
            prepare_command(
                self.inventory_hosts(),
                self.jump(),
                self.versions,
                str(self.known_hosts),
                extra_args=self._vars_args(extra_vars, ()),
            )
        )

    def prepare(self, extra_vars: Mapping[str, Any] | None = None, *, timeout: float = 600) -> Run:
        """Run the prepare command; it reads no secrets (an empty bundle on stdin, as the component)."""
        return self.run_playbook(self.prepare_spec(extra_vars), timeout=timeout, stdin=secret_bundle())

    def cluster(self, extra_vars: Mapping[str, Any] | None = None, *, timeout: float = 600) -> Run:
        """Run the component's cluster command (`<name>-playbook`: cluster.yml)."""
        return self.playbook(extra_vars, timeout=timeout, playbook=CLUSTER_PLAYBOOK)

    def up(
        self,
        extra_vars: Mapping[str, Any] | None = None,
        *,
        prepare_vars: Mapping[str, Any] | None = None,
        timeout: float = 600,
    ) -> Up:
        """What `pulumi up` runs when both commands' triggers changed (a first run, a new row): the
        prepare command, then the cluster command if it succeeded. `prepare_vars` go to the prepare
        command only (e.g. another `prepare_marker_fingerprint`, as an edited prepare role makes)."""
        prepare = self.prepare(prepare_vars, timeout=timeout)
        cluster = self.cluster(extra_vars, timeout=timeout) if prepare.returncode == 0 else None
        return Up.of(prepare, cluster)

    def secret_stdin(self) -> str:
        """What the component's playbook command reads on stdin: the secret extra vars."""
        return secret_bundle(secret_extra_vars([("key1", self.encryption_key)]))

    def environment(self, spec: CommandSpec) -> dict[str, str]:
        """A run's environment as pulumi-command gives it, with botocore pointed at the stand-in."""
        return {**os.environ, **spec.environment, **self.eic.environment()}

    def run_spec(self, spec: CommandSpec, *, timeout: float = 600, stdin: str | None = None) -> subprocess.Popen[str]:
        """Start a command spec the way pulumi-command runs it: argv, environment, secrets on stdin, cwd."""
        env = self.environment(spec)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("ANSIBLE_CONFIG", None)
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write("" if stdin is None else stdin)
        proc.stdin.close()
        proc.stdin = None
        return proc

    def playbook(
        self,
        extra_vars: Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
        *,
        timeout: float = 600,
        playbook: str = "site.yml",
    ) -> Run:
        return self.run_playbook(self.playbook_spec(extra_vars, extra_args, playbook=playbook), timeout=timeout)

    def run_playbook(
        self, spec: CommandSpec, *, timeout: float = 600, log_name: str | None = None, stdin: str | None = None
    ) -> Run:
        """Run a playbook command spec to its end with `stdin` (default: the cluster command's secret
        stdin); its output is kept as `<log_name or run-N>.log` in the cluster's directory."""
        proc = self.run_spec(spec, stdin=self.secret_stdin() if stdin is None else stdin)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        (self.dir / f"{log_name or f'run-{next(_counter)}'}.log").write_text(out)
        return Run.parse(proc.returncode, out)

    def kubeconfig(self, client_name: str = PROVIDER_CLIENT_NAME) -> subprocess.CompletedProcess[str]:
        """What the component's per-run credential invoke prints for this cluster (a minted kubeconfig)."""
        spec = admin_credential_command(
            first_control_plane(self.inventory_hosts()), self.jump(), str(self.known_hosts), client_name=client_name
        )
        return self._run_target(spec)

    def cluster_ca(self) -> subprocess.CompletedProcess[str]:
        """What the component's `<name>-cluster-ca` command prints for this cluster."""
        spec = cluster_ca_command(first_control_plane(self.inventory_hosts()), self.jump(), str(self.known_hosts), [])
        return self._run_target(spec)

    def _run_target(self, spec: CommandSpec) -> subprocess.CompletedProcess[str]:
        env = self.environment(spec)
        return subprocess.run(spec.argv, input="", env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)

    def cluster_state(self) -> dict[str, Any]:
        path = self.dir / "cluster-state" / "cluster.json"
        return json.loads(path.read_text()) if path.exists() else {}

    # --- clean-up -------------------------------------------------------------------------------

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for host in [getattr(self, "bastion", None), *self.hosts.values()]:
            if host is not None and host.process is not None and host.process.poll() is None:
                host.process.send_signal(signal.SIGKILL)
                host.process.wait(timeout=10)
        if getattr(self, "eic", None) is not None:
            self.eic.close()
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait(timeout=10)
        _ip("netns", "delete", self.netns, check=False)
        _ip("link", "delete", f"{self.veth}h", check=False)
        if os.environ.get("GITOPS_SIM_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
