"""The playbook commands' parts: prepare.yml and cluster.yml (the bootstrap's two halves, which
site.yml runs in one go) and upgrade.yml (the upgrade).

What a run of ansible/ consumes and when it re-runs: the content hashes of the Ansible tree (split
into the files each playbook reads: the upgrade playbook's, the prepare playbook's, the cluster
playbook's, the bootstrap's), the versions table without or with
the Kubernetes pins, the rendered inventory; the script that runs ansible-playbook after the
bastion command kit's preamble (components/bastion_commands.py); and the command itself as plain
values (:func:`playbook_command`), which AnsibleBootstrap (components/bootstrap.py) runs and the
tests run against a local sshd. ansible-playbook is looked for before the first resource
(:func:`require_ansible_playbook`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pulumi

from components import PROJECT_ROOT, yaml_io
from components.bastion_commands import PREAMBLE, CommandSpec, command_environment
from components.inventory import ClusterVars, InventoryHost, SshJump, render_inventory

ANSIBLE_DIR = PROJECT_ROOT / "ansible"
# Relative to the command's working directory, the project root (where Pulumi runs the program),
# so no machine-specific absolute path enters the command's inputs.
ANSIBLE_DIR_IN_PROJECT = "ansible"
PLAYBOOKS = ("site.yml", "prepare.yml", "cluster.yml", "upgrade.yml")
# The bootstrap's halves: what a node needs before the cluster (run as soon as the instances and the
# bastion exist), then the cluster (once the API load balancers are active too). site.yml imports both.
PREPARE_PLAYBOOK = "prepare.yml"
CLUSTER_PLAYBOOK = "cluster.yml"
# The pins a Kubernetes upgrade changes: the bootstrap neither hashes nor re-runs on them.
KUBERNETES_KEYS = ("kubernetes", "kubernetesPackageRevision")
# Files under ansible/ that only the upgrade playbook reads (so editing them re-runs the upgrade
# step, not the bootstrap); what it shares with the bootstrap (ansible.cfg, wait_for_nodes, common's
# apt key tasks) comes from playbook_files.
UPGRADE_ONLY_FILES = ("upgrade.yml",)
UPGRADE_ONLY_DIRS = ("roles/kubernetes_upgrade/",)
# The engine keeps the creation-time value of this environment variable of the bootstrap command.
BOOTSTRAP_IGNORED_ENVIRONMENT = "environment.GC_KUBERNETES_VERSIONS"
TreePart = Literal["all", "bootstrap", "upgrade", "prepare", "cluster"]
# The playbook whose files (playbook_files) make the "prepare" and "cluster" parts.
_PART_PLAYBOOKS = {"prepare": PREPARE_PLAYBOOK, "cluster": CLUSTER_PLAYBOOK, "upgrade": "upgrade.yml"}


# Files that never influence a run: editor and Python caches.
_IGNORED_PARTS = {"__pycache__", ".pytest_cache"}
_IGNORED_SUFFIXES = {".pyc", ".retry", ".swp"}
# Task keywords that run another role's tasks.
_ROLE_TASK_KEYS = (
    "ansible.builtin.import_role",
    "ansible.builtin.include_role",
    "import_role",
    "include_role",
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_upgrade_file(rel: str) -> bool:
    """True for a path under ansible/ (posix, relative) that only the upgrade playbook reads."""
    return rel in UPGRADE_ONLY_FILES or any(rel.startswith(d) for d in UPGRADE_ONLY_DIRS)


def playbook_roles(root: Path, playbook: str) -> list[str]:
    """The roles a playbook under `root` runs, in order: its plays' `roles`, the roles its tasks
    import or include, those of the playbooks it imports, and the roles those roles' own tasks
    import or include (containerd's apt key tasks are common's).

    The roles of ansible/ have no meta dependencies (a test holds them to it), so this is every
    role directory the playbook can read.
    """
    plays = yaml_io.load((root / playbook).read_text()) or []
    found: list[str] = []

    def add(name: str) -> None:
        if name not in found:
            found.append(name)

    for play in plays:
        imported = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if imported:
            for name in playbook_roles(root, imported):
                add(name)
            continue
        for role in play.get("roles", []):
            add(role if isinstance(role, str) else role.get("role") or role["name"])
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            for name in _included_roles(play.get(section, []) or []):
                add(name)
    for name in found:  # grows while it is read: the roles the roles include
        for path in sorted((root / "roles" / name).glob("*/*.yml")):
            if path.parent.name in ("tasks", "handlers"):
                for included in _included_roles(yaml_io.load(path.read_text()) or []):
                    add(included)
    return found


def _included_roles(tasks: list[dict[str, Any]]) -> list[str]:
    """The roles a task list imports or includes, blocks included."""
    names: list[str] = []
    for task in tasks:
        for key in _ROLE_TASK_KEYS:
            if key in task:
                names.append(task[key]["name"])
        for section in ("block", "rescue", "always"):
            names += _included_roles(task.get(section) or [])
    return names


def playbook_files(root: Path, playbook: str) -> list[str]:
    """The paths (relative to `root`) a run of `playbook` reads: itself, the playbooks it imports,
    ansible.cfg, and every file of the roles it runs (directories end with `/`)."""
    plays = yaml_io.load((root / playbook).read_text()) or []
    files = [playbook, "ansible.cfg"]
    for play in plays:
        imported = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if imported:
            files += [f for f in playbook_files(root, imported) if f not in files]
    return files + [f"roles/{name}/" for name in playbook_roles(root, playbook)]


def ansible_tree_files(root: Path, part: TreePart = "all") -> list[Path]:
    """Every file under `root` that can change what Ansible does, in a stable order.

    part: "all"; "bootstrap", every file but the upgrade playbook's own (what site.yml can read);
    "upgrade", the upgrade playbook's own files plus what both share (ansible.cfg and the roles
    upgrade.yml runs); "prepare" and "cluster", what prepare.yml and cluster.yml read. The last
    three are playbook_files of their playbook.
    """
    read = playbook_files(root, _PART_PLAYBOOKS[part]) if part in _PART_PLAYBOOKS else []
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or _IGNORED_PARTS.intersection(rel.parts) or path.suffix in _IGNORED_SUFFIXES:
            continue
        name = rel.as_posix()
        if part == "bootstrap" and is_upgrade_file(name):
            continue
        if read and not any(name == f or (f.endswith("/") and name.startswith(f)) for f in read):
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


def render_extra_vars(versions: Mapping[str, str], **extra: str) -> str:
    """The extra vars of every run: the resolved versions table, as `versions` (and `extra`)."""
    return json.dumps({"versions": dict(sorted(versions.items())), **extra}, indent=2, sort_keys=True) + "\n"


def prepare_fingerprint(tree_digest: str, versions: Mapping[str, str]) -> str:
    """What a prepared node was prepared for: the prepare playbook's files and the versions table
    without the Kubernetes pins (which the prepare plays read from the running cluster).

    The prepare command passes it as `prepare_marker_fingerprint`; a node whose marker holds it
    (with its name and role) is left out (ansible/roles/prepare_marker), so adding a row prepares
    the new node only, while an edited prepare role or a new pin prepares every node again.
    """
    rest, _ = split_versions(versions)
    return _sha256(f"{tree_digest}\n{render_extra_vars(rest)}".encode())


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
        PREAMBLE
        + r"""printf '%s' "$GC_INVENTORY" > "$work/inventory.yml"
python3 - "$work/extra-vars.json" <<'MERGE'
import json, os, sys
extra = json.loads(os.environ["GC_EXTRA_VARS"])
extra["versions"].update(json.loads(os.environ.get("GC_KUBERNETES_VERSIONS") or "{}"))
with open(sys.argv[1], "w") as f:
    json.dump(extra, f)
MERGE
cd ansible
export ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
# Ansible keys its persistent SSH connections by address, port and user only: two stacks whose
# nodes share private IPs, run from one machine within ControlPersist, would reuse each other's
# sessions. Each run keeps its sockets in its own private directory, removed with it.
export ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp"
"""
        + 'ansible-playbook -i "$work/inventory.yml" -e "@$work/extra-vars.json" -e "@$work/secret-vars.json"'
        + f" --forks {forks} {playbook}"
        + (f" {args}" if args else "")
        + "\n"
    )


def pins_apart_environment(
    jump: SshJump,
    known_hosts: str,
    inventory: str,
    versions: Mapping[str, str],
    hosts: Sequence[InventoryHost],
    **extra_vars: str,
) -> dict[str, str]:
    """The environment of prepare.yml's and cluster.yml's (or site.yml's) runs: the versions table
    without the Kubernetes pins in GC_EXTRA_VARS (with `extra_vars`), the pins apart in
    GC_KUBERNETES_VERSIONS, which the component lets the engine ignore once the cluster exists."""
    rest, kubernetes = split_versions(versions)
    return command_environment(
        jump,
        known_hosts,
        instances=[h.host_key_alias for h in hosts],
        GC_INVENTORY=inventory,
        GC_EXTRA_VARS=render_extra_vars(rest, **extra_vars),
        GC_KUBERNETES_VERSIONS=json.dumps(kubernetes, sort_keys=True),
    )


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
    inventory: str | None = None,
) -> CommandSpec:
    """The playbook command: script, environment and triggers from resolved stack values.

    The component calls this with the stack's values; the tests call it with a local sshd's
    and run the result, so both run the same invocation.

    playbook="cluster.yml" (the component's `<name>-playbook`, after prepare_command's) or
    "site.yml" (both halves in one run: the node simulator, a manual run): the Kubernetes pins
    travel apart, in GC_KUBERNETES_VERSIONS (the component lets the engine ignore later changes
    of it), and are not in the triggers; the tree hash is cluster.yml's files, or site.yml's
    (everything but the upgrade's). Without a fingerprint site.yml prepares every node.
    playbook="upgrade.yml" (the upgrade step): the whole table in
    GC_EXTRA_VARS; triggers are the Kubernetes pins and the upgrade playbook's files.

    `inventory`: render_inventory(cluster, hosts, jump) when the caller already has it (the
    component renders it once for both commands).
    """
    if playbook == PREPARE_PLAYBOOK:
        raise ValueError("the prepare playbook's command is prepare_command (it has no cluster values)")
    if inventory is None:
        inventory = render_inventory(cluster, hosts, jump)
    script = playbook_script(forks=len(hosts), extra_args=extra_args, playbook=playbook)
    if playbook == "upgrade.yml":
        return CommandSpec(
            create=script,
            environment=command_environment(
                jump,
                known_hosts,
                instances=[h.host_key_alias for h in hosts],
                GC_INVENTORY=inventory,
                GC_EXTRA_VARS=render_extra_vars(versions),
            ),
            triggers=upgrade_triggers(ansible_tree_digest(ansible_dir, "upgrade"), versions),
        )
    return CommandSpec(
        create=script,
        environment=pins_apart_environment(jump, known_hosts, inventory, versions, hosts),
        triggers=bootstrap_triggers(
            ansible_tree_digest(ansible_dir, "cluster" if playbook == CLUSTER_PLAYBOOK else "bootstrap"),
            inventory,
            versions,
        ),
    )


# After prepare.yml (whose last play does it on the nodes): the bastion forgets the key an older
# stack registered as its EC2 key pair (docs/bootstrap.md, "The SSH path").
FORGET_BASTION_KEY = (
    'ssh -F "$GC_SSH_CONFIG_FILE" "$GC_BASTION_ALIAS" "rm -f /home/$GC_EIC_USER/.ssh/authorized_keys"\n'
)


def prepare_command(
    hosts: Sequence[InventoryHost],
    jump: SshJump,
    versions: Mapping[str, str],
    known_hosts: str,
    *,
    ansible_dir: Path = ANSIBLE_DIR,
    extra_args: Sequence[str] = (),
) -> CommandSpec:
    """The prepare command (ansible/prepare.yml): script, environment and triggers.

    It needs the nodes' addresses and the bastion only (the prepare inventory, render_inventory
    with no cluster values), so the component runs it while the API load balancers are still
    being created. Its triggers are the prepare playbook's files, that inventory and the versions
    table without the Kubernetes pins (the pins travel as for site.yml, in GC_KUBERNETES_VERSIONS,
    which cluster_version reads for a new cluster). The fingerprint of those files and versions
    goes in the extra vars: nodes already prepared for it are left out.
    """
    inventory = render_inventory(None, hosts, jump)
    digest = ansible_tree_digest(ansible_dir, "prepare")
    return CommandSpec(
        create=playbook_script(forks=len(hosts), extra_args=extra_args, playbook=PREPARE_PLAYBOOK) + FORGET_BASTION_KEY,
        environment=pins_apart_environment(
            jump,
            known_hosts,
            inventory,
            versions,
            hosts,
            prepare_marker_fingerprint=prepare_fingerprint(digest, versions),
        ),
        triggers=bootstrap_triggers(digest, inventory, versions),
    )
