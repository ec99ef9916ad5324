"""Ansible run by pulumi-command: turns the EC2 nodes into a kubeadm cluster, returns its kubeconfig.

Two local commands, in this order:

1. `<name>-playbook` runs `ansible-playbook ansible/site.yml` against an inventory rendered from
   the node table (components/inventory.py), through the bastion. It depends on everything it
   uses: the network (NAT routes), the security-group rules, the nodes, the bastion and both API
   endpoints with their listeners and target attachments. The nodes reach the API through
   the internal endpoint (`cluster_api_endpoint`, kubeadm's controlPlaneEndpoint); the public one
   is a certificate SAN (`cluster_api_public_endpoint`).
2. `<name>-upgrade` runs `ansible-playbook ansible/upgrade.yml` the same way, after the playbook:
   the rolling Kubernetes upgrade in kubeadm's order (docs/deployment.md, "Upgrading
   Kubernetes"). Its triggers are the Kubernetes pins (KUBERNETES_KEYS) and the upgrade
   playbook's files; on a cluster already at the pin it only checks.
3. `<name>-kubeconfig` reads /etc/kubernetes/admin.conf from the first control-plane node through
   the bastion after both; its stdout, with the server rewritten to the public API endpoint, is
   the component's secret `kubeconfig` output.

Re-runs are on purpose. A command runs when its inputs change; `triggers` add content hashes of
what the playbook consumes but pulumi-command cannot see: every file under ansible/ (path and
bytes) but the upgrade playbook's own, the rendered inventory and the versions table without the
Kubernetes pins. Same inputs give the same triggers, so a no-change `pulumi up` runs nothing; an
edited role or an added node runs the playbook again; a Kubernetes bump runs the upgrade step
only. The bootstrap still needs the pins for a new cluster: they travel in their own environment
variable, whose later changes the engine ignores (`ignore_changes`), and site.yml installs the
running cluster's version on an existing one (roles/cluster_version).

Secrets: the SSH private key reaches the script on stdin only (a Pulumi secret input); the script
writes it to a 0600 file in a private temp directory and removes that directory on exit. It is
never on a command line, in `environment` (which Pulumi shows) or echoed. Both commands have
`additionalSecretOutputs` on stdout/stderr and do not inject previous output into the next run.
The command construction (script, environment, ssh options) lives in pure functions so the tests
run the very same invocation against a local sshd.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pulumi
import yaml
from pulumi_command import local

from components.config import NodeRole, NodeSpec, StackSettings
from components.inventory import (
    API_PORT,
    ClusterVars,
    InventoryHost,
    SshJump,
    render_inventory,
    render_ssh_config,
)

TYPE_TOKEN = "gitops-cluster:bootstrap:AnsibleBootstrap"  # noqa: S105 (a Pulumi type token)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ANSIBLE_DIR = PROJECT_ROOT / "ansible"
# Relative to the command's working directory, the project root (where Pulumi runs the program),
# so no machine-specific absolute path enters the command's inputs.
ANSIBLE_DIR_IN_PROJECT = "ansible"
SSH_USER = "ubuntu"
PLAYBOOKS = ("site.yml", "upgrade.yml")
# The pins a Kubernetes upgrade changes: the bootstrap neither hashes nor re-runs on them.
KUBERNETES_KEYS = ("kubernetes", "kubernetesPackageRevision")
# Files under ansible/ that only the upgrade playbook reads (so editing them re-runs the upgrade
# step, not the bootstrap), and the files both read (editing them re-runs both).
UPGRADE_ONLY_FILES = ("upgrade.yml",)
UPGRADE_ONLY_DIRS = ("roles/kubernetes_upgrade/",)
UPGRADE_SHARED_FILES = ("ansible.cfg", "roles/wait_for_nodes/")
# The engine keeps the creation-time value of this environment variable of the bootstrap command.
BOOTSTRAP_IGNORED_ENVIRONMENT = "environment.GC_KUBERNETES_VERSIONS"
TreePart = Literal["all", "bootstrap", "upgrade"]

# Files that never influence a run: editor and Python caches.
_IGNORED_PARTS = {"__pycache__", ".pytest_cache"}
_IGNORED_SUFFIXES = {".pyc", ".retry", ".swp"}


# --- what the component is given --------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapHost:
    """A node of the table and the instance that runs it.

    `instance_id` (optional but recommended) names the node's known_hosts entry, so a replaced
    instance that gets a recycled private IP is a new host rather than a "host key changed" stop.
    """

    spec: NodeSpec
    private_ip: pulumi.Input[str]
    instance_id: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class BootstrapArgs:
    """Inputs of AnsibleBootstrap.

    settings: the validated stack settings (cluster name, CIDRs, versions, node table).
    hosts: one BootstrapHost per node of settings.nodes (same names; order does not matter).
    bastion_host: the bastion's public IP or DNS name.
    control_plane_endpoint_host: the internal API load balancer's DNS name: kubeadm's
        controlPlaneEndpoint, which every kubelet, kube-proxy and join uses.
    api_endpoint_host: the public API load balancer's DNS name (admins and CI): a certificate SAN
        and the server of the exported kubeconfig.
    ssh_private_key: the private key the nodes and the bastion accept (a Pulumi secret).
    depends_on: everything the playbook uses, usually the components (a dependency on a component
        is one on every resource in it): the network with its NAT routes, the security groups and
        their rules, the node instances, the bastion and the API endpoints' listeners and target
        attachments. The playbook waits for all of them.
    bastion_instance_id: optional; names the bastion's known_hosts entry (see BootstrapHost).
    known_hosts_file: the stack's own known_hosts file; `~` is expanded by the script.
    """

    settings: StackSettings
    hosts: Sequence[BootstrapHost]
    bastion_host: pulumi.Input[str]
    control_plane_endpoint_host: pulumi.Input[str]
    api_endpoint_host: pulumi.Input[str]
    ssh_private_key: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    bastion_instance_id: pulumi.Input[str] | None = None
    known_hosts_file: str | None = None
    ssh_user: str = SSH_USER

    def __post_init__(self) -> None:
        table = [n.name for n in self.settings.nodes]
        given = [h.spec.name for h in self.hosts]
        if sorted(table) != sorted(given):
            raise ValueError(
                f"BootstrapArgs.hosts must be the node table: missing {sorted(set(table) - set(given))}, "
                f"unexpected {sorted(set(given) - set(table))}, given {len(given)} for {len(table)} nodes"
            )
        if not self.depends_on:
            raise ValueError(
                "BootstrapArgs.depends_on must list what the playbook uses: the network, the security groups, "
                "the node instances, the bastion and the API endpoints (or the components holding them)"
            )


# --- pure helpers: hashes, rendered files, the script ----------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_upgrade_file(rel: str) -> bool:
    """True for a path under ansible/ (posix, relative) that only the upgrade playbook reads."""
    return rel in UPGRADE_ONLY_FILES or any(rel.startswith(d) for d in UPGRADE_ONLY_DIRS)


def ansible_tree_files(root: Path, part: TreePart = "all") -> list[Path]:
    """Every file under `root` that can change what Ansible does, in a stable order.

    part: "all"; "bootstrap", every file but the upgrade playbook's own (what site.yml can read);
    "upgrade", the upgrade playbook's own files plus what both share (ansible.cfg and the roles
    upgrade.yml runs, see UPGRADE_SHARED_FILES).
    """
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or _IGNORED_PARTS.intersection(rel.parts) or path.suffix in _IGNORED_SUFFIXES:
            continue
        name = rel.as_posix()
        if part == "bootstrap" and is_upgrade_file(name):
            continue
        if part == "upgrade" and not (is_upgrade_file(name) or any(name.startswith(d) for d in UPGRADE_SHARED_FILES)):
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def ansible_tree_digest(root: Path = ANSIBLE_DIR, part: TreePart = "all") -> str:
    """sha256 over the relative path and bytes of every file under ansible/ (or one part of it).

    Paths are part of the hash (a renamed template changes it); the absolute location of the
    checkout is not (two clones hash the same).
    """
    h = hashlib.sha256()
    for path in ansible_tree_files(root, part):
        rel = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        # Length-prefixed so that no two different trees can produce the same byte stream.
        h.update(len(rel).to_bytes(8, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def render_extra_vars(versions: Mapping[str, str]) -> str:
    """The extra vars of every run: the resolved versions table, as `versions`."""
    return json.dumps({"versions": dict(sorted(versions.items()))}, indent=2, sort_keys=True) + "\n"


def split_versions(versions: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(everything else, the Kubernetes pins): the second half is the upgrade step's business."""
    kubernetes = {k: v for k, v in versions.items() if k in KUBERNETES_KEYS}
    return {k: v for k, v in versions.items() if k not in KUBERNETES_KEYS}, kubernetes


def bootstrap_triggers(tree_digest: str, inventory: str, versions: Mapping[str, str]) -> list[str]:
    """The playbook command's triggers: one labelled content hash per input.

    The Kubernetes pins (KUBERNETES_KEYS) are not among them: a bump is the upgrade step's
    (upgrade_triggers), which runs ansible/upgrade.yml; site.yml installs the version the running
    cluster has (docs/deployment.md, "Upgrading Kubernetes").
    """
    rest, _ = split_versions(versions)
    return [
        f"ansible:{tree_digest}",
        f"inventory:{_sha256(inventory.encode())}",
        f"versions:{_sha256(render_extra_vars(rest).encode())}",
    ]


def upgrade_triggers(tree_digest: str, versions: Mapping[str, str]) -> list[str]:
    """The upgrade command's triggers: the Kubernetes pins and the upgrade playbook's files."""
    _, kubernetes = split_versions(versions)
    return [
        f"kubernetes:{_sha256(json.dumps(kubernetes, sort_keys=True).encode())}",
        f"ansible-upgrade:{tree_digest}",
    ]


def default_known_hosts_file(project: str, stack: str) -> str:
    """The stack's own known_hosts file (outside the repository, per user, never the global one)."""
    return f"~/.ssh/known_hosts.d/{project}-{stack}"


def bastion_alias(cluster_name: str) -> str:
    return f"{cluster_name}-bastion"


# Shared first half of both scripts. Everything dynamic arrives in GC_* environment variables
# (none secret) and the private key on stdin.
_PREAMBLE = r"""set -euo pipefail
umask 077
if [ ! -f ansible/site.yml ]; then
  echo "bootstrap: run from the project root (ansible/site.yml not found in $PWD)" >&2
  exit 2
fi
# A short directory: ssh control sockets must fit in 104 bytes. GC_WORK_PARENT (default /tmp) lets
# a test give each run a parent of its own and check that nothing is left behind in it.
work="$(mktemp -d "${GC_WORK_PARENT:-/tmp}/gc-bootstrap.XXXXXX")"
cleanup() {
  ssh -F "$work/ssh_config" -O exit "$GC_BASTION_ALIAS" >/dev/null 2>&1 || true
  rm -rf -- "$work"
}
trap cleanup EXIT
# The private key comes on stdin only: never in argv, the environment or the output.
cat > "$work/id_ssh"
chmod 600 "$work/id_ssh"
if ! ssh-keygen -y -P '' -f "$work/id_ssh" >/dev/null 2>&1; then
  echo "bootstrap: the SSH private key is not an unencrypted OpenSSH private key; set sshPrivateKey to one." >&2
  exit 2
fi
printf '%s' "$GC_SSH_CONFIG" > "$work/ssh_config"
known_hosts="${GC_KNOWN_HOSTS/#\~/$HOME}"
mkdir -p "$(dirname "$known_hosts")"
touch "$known_hosts"
export GC_SSH_KEY_FILE="$work/id_ssh" GC_SSH_CONFIG_FILE="$work/ssh_config"
export GC_KNOWN_HOSTS_FILE="$known_hosts" GC_SSH_CONTROL_DIR="$work"
# OpenSSH < 8.4 reads ${VAR} in ssh_config literally and would fail later with a confusing error.
if ! ssh -T -F "$GC_SSH_CONFIG_FILE" -G "$GC_BASTION_ALIAS" | grep -qxF "userknownhostsfile $GC_KNOWN_HOSTS_FILE"; then
  echo "bootstrap: this ssh does not expand \${VAR} in ssh_config; install OpenSSH 8.4 or newer." >&2
  exit 2
fi
# Reach the bastion first: a refused key or a changed host key is reported plainly instead of as
# 14 unreachable nodes; a bastion still booting is waited for (bounded).
attempt=0
until out="$(ssh -F "$GC_SSH_CONFIG_FILE" "$GC_BASTION_ALIAS" true 2>&1)"; do
  attempt=$((attempt + 1))
  case "$out" in
    *"Permission denied"*)
      echo "bootstrap: the bastion refused the stack's SSH key (Permission denied): sshPrivateKey does" \
        "not match the key the instances were given. ssh said: $out" >&2
      exit 3 ;;
    *"Host key verification failed"*|*"IDENTIFICATION HAS CHANGED"*)
      echo "bootstrap: the bastion's host key differs from the one recorded in $GC_KNOWN_HOSTS_FILE." \
        "If the bastion was replaced, remove its entry with:" \
        "ssh-keygen -R $GC_BASTION_ALIAS -f $GC_KNOWN_HOSTS_FILE" >&2
      exit 3 ;;
  esac
  if [ "$attempt" -ge "${GC_BASTION_ATTEMPTS:-60}" ]; then
    echo "bootstrap: the bastion did not answer SSH after $attempt attempts: $out" >&2
    exit 3
  fi
  sleep 5
done
"""


def require_ansible_playbook(root: Path | None = None, path: str | None = None) -> str:
    """The ansible-playbook the playbook command will run, found the way its script finds it.

    The script prefers `<root>/.venv/bin/ansible-playbook` (root: the project) and falls back to PATH (`path`, default:
    this process's PATH). Called before the first resource is registered, so a machine without
    Ansible stops with the fix instead of failing after the instances exist.
    """
    in_venv = (PROJECT_ROOT if root is None else root) / ".venv" / "bin" / "ansible-playbook"
    if in_venv.is_file() and os.access(in_venv, os.X_OK):
        return str(in_venv)
    found = shutil.which("ansible-playbook", path=path)
    if found is None:
        raise pulumi.RunError(
            "ansible-playbook is not installed; the bootstrap runs it (ansible-core, a runtime dependency "
            "in pyproject.toml). Run `make venv` (or `pulumi install`) in the project and try again. "
            "Nothing was created."
        )
    return found


def playbook_script(*, forks: int, extra_args: Sequence[str] = (), playbook: str = "site.yml") -> str:
    """The bash script of the playbook command (interpreter: bash -c).

    `extra_args` are appended to ansible-playbook (the tests pass `--tags preflight`); the
    component passes none. `playbook` is site.yml (bootstrap) or upgrade.yml (upgrade step).
    GC_KUBERNETES_VERSIONS, when set, is merged into the versions table (the bootstrap's
    Kubernetes pins, kept apart so that a bump does not change the bootstrap; see
    AnsibleBootstrap).
    """
    if forks < 1:
        raise ValueError("forks must be at least 1")
    if playbook not in PLAYBOOKS:
        raise ValueError(f"playbook must be one of {sorted(PLAYBOOKS)}, not {playbook!r}")
    args = " ".join(shlex.quote(a) for a in extra_args)
    return (
        _PREAMBLE
        + r"""printf '%s' "$GC_INVENTORY" > "$work/inventory.yml"
if [ -x .venv/bin/ansible-playbook ]; then PATH="$PWD/.venv/bin:$PATH"; fi
python3 - "$work/extra-vars.json" <<'MERGE'
import json, os, sys
extra = json.loads(os.environ["GC_EXTRA_VARS"])
extra["versions"].update(json.loads(os.environ.get("GC_KUBERNETES_VERSIONS") or "{}"))
with open(sys.argv[1], "w") as f:
    json.dump(extra, f)
MERGE
cd ansible
export ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
"""
        + f'ansible-playbook -i "$work/inventory.yml" -e "@$work/extra-vars.json" --forks {forks} {playbook}'
        + (f" {args}" if args else "")
        + "\n"
    )


def kubeconfig_script() -> str:
    """The bash script that prints the first control-plane node's admin kubeconfig.

    The file is read into the private temp directory first and printed only once complete, so
    a failure cannot leave part of it in the command's error output.
    """
    return (
        _PREAMBLE
        + r"""alias_args=()
if [ -n "${GC_TARGET_HOST_KEY_ALIAS:-}" ]; then alias_args=(-o "HostKeyAlias=$GC_TARGET_HOST_KEY_ALIAS"); fi
ssh -F "$GC_SSH_CONFIG_FILE" -o "ProxyJump=$GC_BASTION_ALIAS" "${alias_args[@]}" -p "$GC_TARGET_PORT" \
  "$GC_TARGET_HOST" sudo cat "$GC_REMOTE_KUBECONFIG" > "$work/admin.conf"
if ! grep -q '^kind: Config' "$work/admin.conf"; then
  echo "bootstrap: the file read from $GC_TARGET_HOST is not a kubeconfig" >&2
  exit 4
fi
cat "$work/admin.conf"
"""
    )


@dataclass(frozen=True)
class CommandSpec:
    """Everything a local.Command runs with, as plain values (stdin, the key, is given apart)."""

    create: str
    environment: Mapping[str, str]
    triggers: Sequence[str]
    interpreter: Sequence[str] = ("/bin/bash", "-c")

    @property
    def argv(self) -> list[str]:
        return [*self.interpreter, self.create]


def _environment(jump: SshJump, known_hosts: str, **extra: str) -> dict[str, str]:
    # Rendered files and paths only, nothing secret: Pulumi shows a command's environment.
    return {
        "GC_SSH_CONFIG": render_ssh_config(jump),
        "GC_KNOWN_HOSTS": known_hosts,
        "GC_BASTION_ALIAS": jump.alias,
        **extra,
    }


def playbook_command(
    cluster: ClusterVars,
    hosts: Sequence[InventoryHost],
    jump: SshJump,
    versions: Mapping[str, str],
    known_hosts: str,
    *,
    ansible_dir: Path = ANSIBLE_DIR,
    extra_args: Sequence[str] = (),
    playbook: str = "site.yml",
) -> CommandSpec:
    """The playbook command: script, environment and triggers from resolved stack values.

    The component calls this with the stack's values; the tests call it with a local sshd's
    and run the result, so both run the same invocation.

    playbook="site.yml" (the bootstrap): the Kubernetes pins travel apart, in
    GC_KUBERNETES_VERSIONS (the component lets the engine ignore later changes of it), and are
    not in the triggers. playbook="upgrade.yml" (the upgrade step): the whole table in
    GC_EXTRA_VARS; triggers are the Kubernetes pins and the upgrade playbook's files.
    """
    inventory = render_inventory(cluster, hosts, jump)
    script = playbook_script(forks=len(hosts), extra_args=extra_args, playbook=playbook)
    if playbook == "upgrade.yml":
        return CommandSpec(
            create=script,
            environment=_environment(
                jump, known_hosts, GC_INVENTORY=inventory, GC_EXTRA_VARS=render_extra_vars(versions)
            ),
            triggers=upgrade_triggers(ansible_tree_digest(ansible_dir, "upgrade"), versions),
        )
    rest, kubernetes = split_versions(versions)
    return CommandSpec(
        create=script,
        environment=_environment(
            jump,
            known_hosts,
            GC_INVENTORY=inventory,
            GC_EXTRA_VARS=render_extra_vars(rest),
            GC_KUBERNETES_VERSIONS=json.dumps(kubernetes, sort_keys=True),
        ),
        triggers=bootstrap_triggers(ansible_tree_digest(ansible_dir, "bootstrap"), inventory, versions),
    )


def kubeconfig_command(
    target: InventoryHost,
    jump: SshJump,
    known_hosts: str,
    triggers: Sequence[str],
    *,
    remote_path: str = "/etc/kubernetes/admin.conf",
) -> CommandSpec:
    """The command that prints `target`'s admin kubeconfig (the first control-plane node)."""
    return CommandSpec(
        create=kubeconfig_script(),
        environment=_environment(
            jump,
            known_hosts,
            GC_TARGET_HOST=target.address,
            GC_TARGET_PORT=str(target.port),
            GC_TARGET_HOST_KEY_ALIAS=target.host_key_alias or "",
            GC_REMOTE_KUBECONFIG=remote_path,
        ),
        triggers=list(triggers),
    )


def rewrite_kubeconfig_server(kubeconfig: str, host: str, port: int = API_PORT) -> str:
    """Point every cluster of a kubeconfig at https://<host>:<port> (the API load balancer)."""
    data = yaml.safe_load(kubeconfig)
    if not isinstance(data, dict) or data.get("kind") != "Config" or not data.get("clusters"):
        raise ValueError("not a kubeconfig with clusters")
    for cluster in data["clusters"]:
        cluster["cluster"]["server"] = f"https://{host}:{port}"
    return str(yaml.safe_dump(data, sort_keys=False))


def first_control_plane(hosts: Sequence[InventoryHost]) -> InventoryHost:
    """The node that runs `kubeadm init` and holds admin.conf."""
    return next(h for h in hosts if h.spec.role is NodeRole.CONTROL_PLANE)


def inventory_hosts(
    nodes: Sequence[NodeSpec],
    addresses: Mapping[str, str],
    aliases: Mapping[str, str | None] | None = None,
    port: int = 22,
) -> list[InventoryHost]:
    """InventoryHosts in node-table order from resolved addresses (and optional host-key aliases)."""
    aliases = aliases or {}
    return [InventoryHost(n, addresses[n.name], aliases.get(n.name), port) for n in nodes]


def _command_inputs(spec: pulumi.Output[CommandSpec]) -> dict[str, pulumi.Output[Any]]:
    """A resolved CommandSpec as local.Command inputs (the key goes apart, on stdin)."""
    return {
        "create": spec.apply(lambda s: s.create),
        "interpreter": spec.apply(lambda s: list(s.interpreter)),
        "environment": spec.apply(lambda s: dict(s.environment)),
        "triggers": spec.apply(lambda s: list(s.triggers)),
    }


# --- the component --------------------------------------------------------------------------


class AnsibleBootstrap(pulumi.ComponentResource):
    """Bootstraps the cluster with Ansible over the bastion and exports the admin kubeconfig.

    Creates: `<name>-playbook` (command.local.Command running ansible/site.yml; depends on
    `depends_on`, i.e. the network, security groups, nodes, bastion and API endpoints; triggers =
    hashes of ansible/ but upgrade.yml's files, the inventory and the versions but the Kubernetes
    pins), `<name>-upgrade` (command.local.Command running ansible/upgrade.yml after the
    playbook; triggers = hashes of the Kubernetes pins and upgrade.yml's files) and
    `<name>-kubeconfig` (command.local.Command reading admin.conf from the first control-plane
    node; depends on the playbook and the upgrade). Outputs: `kubeconfig` (secret), `inventory` (the rendered
    inventory, not secret), `triggers`.
    """

    kubeconfig: pulumi.Output[str]
    inventory: pulumi.Output[str]
    triggers: pulumi.Output[list[str]]

    def __init__(self, name: str, args: BootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        settings = args.settings
        by_name = {h.spec.name: h for h in args.hosts}
        # Table order, control plane first (config.py guarantees it): kubeadm init runs on [0].
        ordered = [by_name[n.name] for n in settings.nodes]
        known_hosts = args.known_hosts_file or default_known_hosts_file(settings.project, settings.stack)
        alias = bastion_alias(settings.cluster_name)

        def resolve(values: list[Any]) -> tuple[ClusterVars, list[InventoryHost], SshJump]:
            bastion, bastion_id, endpoint, public_endpoint, *rest = values
            ips, ids = rest[: len(ordered)], rest[len(ordered) :]
            hosts = inventory_hosts(
                [h.spec for h in ordered],
                {h.spec.name: str(ip) for h, ip in zip(ordered, ips, strict=True)},
                {h.spec.name: i for h, i in zip(ordered, ids, strict=True)},
            )
            jump = SshJump(alias, str(bastion), host_key_alias=bastion_id, user=args.ssh_user)
            return ClusterVars.from_settings(settings, str(endpoint), str(public_endpoint)), hosts, jump

        resolved = pulumi.Output.all(
            args.bastion_host,
            args.bastion_instance_id,
            args.control_plane_endpoint_host,
            args.api_endpoint_host,
            *(h.private_ip for h in ordered),
            *(h.instance_id for h in ordered),
        ).apply(resolve)
        spec = resolved.apply(lambda r: playbook_command(r[0], r[1], r[2], settings.versions, known_hosts))
        upgrade_spec = resolved.apply(
            lambda r: playbook_command(r[0], r[1], r[2], settings.versions, known_hosts, playbook="upgrade.yml")
        )
        self.inventory = spec.apply(lambda s: s.environment["GC_INVENTORY"])
        self.triggers = spec.apply(lambda s: list(s.triggers))
        key = pulumi.Output.secret(args.ssh_private_key)

        playbook = local.Command(
            f"{name}-playbook",
            **_command_inputs(spec),
            stdin=key,
            # Ansible's task lines are progress worth seeing; secrets are no_log in the roles and
            # the key never reaches the output. stderr (ssh chatter) is kept out of the log.
            logging=local.Logging.STDOUT,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.depends_on),
                additional_secret_outputs=["stdout", "stderr"],
                # The pins the cluster was created with: site.yml installs them on a new cluster
                # only (on a running one it installs the cluster's own version), so a later bump
                # leaves this command alone and only the upgrade step below runs.
                ignore_changes=[BOOTSTRAP_IGNORED_ENVIRONMENT],
            ),
        )

        # After the playbook: a changed Kubernetes pin (or upgrade playbook) replaces this command,
        # which runs ansible/upgrade.yml. On a new cluster it finds every node at the pin and
        # ends after its checks; a pin more than one minor ahead or behind is refused there.
        upgrade = local.Command(
            f"{name}-upgrade",
            **_command_inputs(upgrade_spec),
            stdin=key,
            logging=local.Logging.STDOUT,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[playbook],
                additional_secret_outputs=["stdout", "stderr"],
            ),
        )

        fetch_spec = pulumi.Output.all(resolved, self.triggers).apply(
            lambda v: kubeconfig_command(first_control_plane(v[0][1]), v[0][2], known_hosts, v[1])
        )
        fetch = local.Command(
            f"{name}-kubeconfig",
            # Its spec carries the playbook's triggers: fetched again whenever the playbook ran.
            **_command_inputs(fetch_spec),
            stdin=key,
            logging=local.Logging.NONE,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[playbook, upgrade],
                additional_secret_outputs=["stdout", "stderr"],
            ),
        )

        endpoint = pulumi.Output.from_input(args.api_endpoint_host)
        # stdout is empty only under the mock runtime (no command runs); the script itself fails
        # rather than print anything that is not a kubeconfig.
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(fetch.stdout, endpoint).apply(
                lambda v: rewrite_kubeconfig_server(v[0], v[1]) if v[0] else ""
            )
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "inventory": self.inventory, "triggers": self.triggers})
