"""The two playbook commands' parts: ansible-playbook site.yml (bootstrap) and upgrade.yml (upgrade).

What a run of ansible/ consumes and when it re-runs: the content hashes of the Ansible tree (split
into the files only the upgrade playbook reads and the rest), the versions table without or with
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
from typing import Literal

import pulumi

from components import PROJECT_ROOT
from components.bastion_commands import PREAMBLE, CommandSpec, command_environment
from components.inventory import ClusterVars, InventoryHost, SshJump, render_inventory

ANSIBLE_DIR = PROJECT_ROOT / "ansible"
# Relative to the command's working directory, the project root (where Pulumi runs the program),
# so no machine-specific absolute path enters the command's inputs.
ANSIBLE_DIR_IN_PROJECT = "ansible"
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

    playbook="site.yml" (the bootstrap): the Kubernetes pins travel apart, in
    GC_KUBERNETES_VERSIONS (the component lets the engine ignore later changes of it), and are
    not in the triggers. playbook="upgrade.yml" (the upgrade step): the whole table in
    GC_EXTRA_VARS; triggers are the Kubernetes pins and the upgrade playbook's files.

    `inventory`: render_inventory(cluster, hosts, jump) when the caller already has it (the
    component renders it once for both commands).
    """
    if inventory is None:
        inventory = render_inventory(cluster, hosts, jump)
    script = playbook_script(forks=len(hosts), extra_args=extra_args, playbook=playbook)
    if playbook == "upgrade.yml":
        return CommandSpec(
            create=script,
            environment=command_environment(
                jump, known_hosts, GC_INVENTORY=inventory, GC_EXTRA_VARS=render_extra_vars(versions)
            ),
            triggers=upgrade_triggers(ansible_tree_digest(ansible_dir, "upgrade"), versions),
        )
    rest, kubernetes = split_versions(versions)
    return CommandSpec(
        create=script,
        environment=command_environment(
            jump,
            known_hosts,
            GC_INVENTORY=inventory,
            GC_EXTRA_VARS=render_extra_vars(rest),
            GC_KUBERNETES_VERSIONS=json.dumps(kubernetes, sort_keys=True),
        ),
        triggers=bootstrap_triggers(ansible_tree_digest(ansible_dir, "bootstrap"), inventory, versions),
    )
