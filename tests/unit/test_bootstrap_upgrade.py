"""The upgrade step in the graph, under the mock runtime: a Kubernetes bump re-runs it and nothing else.

`pulumi up` after a bump of `kubernetes` in versions.yaml must replace exactly one command, the
component's `<name>-upgrade` (ansible/upgrade.yml), whose trigger is the Kubernetes pins and the
upgrade playbook's files. The bootstrap command (ansible/site.yml) keeps its triggers; the one
input of it that carries the pins is one the engine ignores after creation (a new cluster is built
at the pin; a running one keeps its version for new nodes, see roles/cluster_version). Node user
data also renders the pins and is ignored by the engine after creation (components/nodes.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from components.bootstrap import TYPE_TOKEN
from components.playbooks import (
    ANSIBLE_DIR,
    BOOTSTRAP_IGNORED_ENVIRONMENT,
    KUBERNETES_KEYS,
    PLAYBOOKS,
    ansible_tree_files,
    is_upgrade_file,
    playbook_command,
    prepare_command,
)
from tests.support.settings import FIXED_JUMP, dev_settings, fixed_cluster, fixed_hosts
from tools.mockrun import Recording, Registration

COMMAND = "command:local:Command"
KNOWN_HOSTS = "~/.ssh/known_hosts.d/gitops-cluster-dev"


def bump(versions: dict[str, str]) -> dict[str, str]:
    major, minor, _ = versions["kubernetes"].split(".")
    return {"kubernetes": f"{major}.{int(minor) + 1}.0"}


@pytest.fixture(scope="module")
def before_and_after(run_stack) -> tuple[Recording, Recording]:
    before = run_stack()
    after = run_stack({"versions": bump(dict(dev_settings().versions))})
    return before, after


def commands(rec: Recording) -> dict[str, Registration]:
    component = rec.one(TYPE_TOKEN)
    return {r.name.removeprefix(f"{component.name}-"): r for r in rec.of_type(COMMAND) if r.parent == component.urn}


def ignored(reg: Registration, key: str, old: Any, new: Any) -> bool:
    """Whether the engine ignores this difference of input `key` (a top-level or a map-key path)."""
    if key in reg.ignore_changes:
        return True
    if isinstance(old, dict) and isinstance(new, dict):
        differing = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        return all(f"{key}.{k}" in reg.ignore_changes for k in differing)
    return False


def test_the_upgrade_step_runs_after_the_playbook_and_before_the_cluster_ca(before_and_after):
    rec, _ = before_and_after
    cmds = commands(rec)
    assert set(cmds) == {"prepare", "playbook", "upgrade", "cluster-ca", "service-account-keys"}
    assert rec.depends_on(cmds["upgrade"], cmds["playbook"])
    assert rec.depends_on(cmds["cluster-ca"], cmds["upgrade"])
    # The service-account public keys (the IRSA issuer's JWKS) are read after the upgrade too.
    assert rec.depends_on(cmds["service-account-keys"], cmds["upgrade"])
    upgrade = cmds["upgrade"]
    assert "upgrade.yml" in upgrade.inputs["create"] and "cluster.yml\n" in cmds["playbook"].inputs["create"]
    assert [t.split(":")[0] for t in upgrade.inputs["triggers"]] == ["kubernetes", "ansible-upgrade"]
    # The same protections as the bootstrap: key on stdin as a secret, output kept secret.
    assert upgrade.is_secret("stdin") and {"stdout", "stderr"} <= set(upgrade.additional_secret_outputs)
    assert upgrade.inputs["addPreviousOutputInEnv"] is False
    # The upgrade gets the whole table; the bootstrap the table without the Kubernetes pins.
    full = json.loads(upgrade.inputs["environment"]["GC_EXTRA_VARS"])["versions"]
    assert full == dict(dev_settings().versions)
    boot = cmds["playbook"].inputs["environment"]
    assert set(json.loads(boot["GC_EXTRA_VARS"])["versions"]) == set(full) - set(KUBERNETES_KEYS)
    assert json.loads(boot["GC_KUBERNETES_VERSIONS"]) == {k: full[k] for k in KUBERNETES_KEYS}
    assert BOOTSTRAP_IGNORED_ENVIRONMENT in cmds["playbook"].ignore_changes
    # The prepare command too: the pins it installs on a new cluster, kept from creation.
    prepare = cmds["prepare"].inputs["environment"]
    assert json.loads(prepare["GC_KUBERNETES_VERSIONS"]) == {k: full[k] for k in KUBERNETES_KEYS}
    assert BOOTSTRAP_IGNORED_ENVIRONMENT in cmds["prepare"].ignore_changes


def test_a_kubernetes_bump_changes_the_upgrade_trigger_and_nothing_else(before_and_after):
    before, after = before_and_after
    old = {r.urn: r for r in before.resources}
    assert set(old) == {r.urn for r in after.resources}, "a bump added or removed resources"
    upgrade = commands(after)["upgrade"]
    not_ignored: dict[str, list[str]] = {}
    for reg in after.resources:
        prev = old[reg.urn]
        for key in reg.inputs.keys() | prev.inputs.keys():
            a, b = prev.inputs.get(key), reg.inputs.get(key)
            if a != b and not ignored(reg, key, a, b):
                not_ignored.setdefault(reg.short, []).append(key)
    # The upgrade step runs, and the cluster CA is read again after it (tests/unit/test_admin_cert.py;
    # no admin certificate is stored to renew). The service-account
    # public keys are read again too (a rotation during the upgrade reaches the JWKS). Nothing
    # else changes.
    fetch = commands(after)["cluster-ca"]
    keys = commands(after)["service-account-keys"]
    assert set(not_ignored) == {upgrade.short, fetch.short, keys.short}, not_ignored
    assert "triggers" in not_ignored[upgrade.short] and not_ignored[fetch.short] == ["triggers"]
    assert not_ignored[keys.short] == ["triggers"]
    prev_upgrade = commands(before)["upgrade"]
    assert upgrade.inputs["triggers"][0] != prev_upgrade.inputs["triggers"][0]
    assert upgrade.inputs["triggers"][1:] == prev_upgrade.inputs["triggers"][1:]
    # The bootstrap keeps its triggers: it is not replaced.
    assert commands(after)["playbook"].inputs["triggers"] == commands(before)["playbook"].inputs["triggers"]


def triggers(tree: Path, playbook: str) -> list[str]:
    settings = dev_settings()
    if playbook == "prepare.yml":
        return list(
            prepare_command(
                fixed_hosts(settings.nodes), FIXED_JUMP, settings.versions, KNOWN_HOSTS, ansible_dir=tree
            ).triggers
        )
    spec = playbook_command(
        fixed_cluster(settings),
        fixed_hosts(settings.nodes),
        FIXED_JUMP,
        settings.versions,
        KNOWN_HOSTS,
        ansible_dir=tree,
        playbook=playbook,
    )
    return list(spec.triggers)


def test_each_step_re_runs_for_the_files_it_reads(tmp_path):
    """An upgrade-only file re-runs the upgrade step only; a bootstrap role the bootstrap only;
    ansible.cfg (read by both) both."""
    tree = tmp_path / "ansible"
    shutil.copytree(ANSIBLE_DIR, tree)
    files = [p.relative_to(tree).as_posix() for p in ansible_tree_files(tree)]
    upgrade_only = [f for f in files if is_upgrade_file(f)]
    assert "upgrade.yml" in upgrade_only and any(f.startswith("roles/kubernetes_upgrade/") for f in upgrade_only)
    base = {pb: triggers(tree, pb) for pb in PLAYBOOKS}
    for rel, reruns in (
        ("upgrade.yml", {"upgrade.yml"}),
        ("roles/kubernetes_upgrade/tasks/main.yml", {"upgrade.yml"}),
        ("site.yml", {"site.yml"}),
        ("prepare.yml", {"site.yml", "prepare.yml"}),
        ("cluster.yml", {"site.yml", "cluster.yml"}),
        ("roles/kubernetes_packages/tasks/main.yml", {"site.yml", "prepare.yml"}),
        ("roles/control_plane/tasks/main.yml", {"site.yml", "cluster.yml"}),
        # The apt key tasks of common, which containerd, kubernetes_packages and the upgrade run.
        ("roles/common/tasks/apt_key.yml", {"site.yml", "prepare.yml", "upgrade.yml"}),
        ("ansible.cfg", {"site.yml", "prepare.yml", "cluster.yml", "upgrade.yml"}),
    ):
        path = tree / rel
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        try:
            changed = {pb for pb in PLAYBOOKS if triggers(tree, pb) != base[pb]}
        finally:
            path.write_bytes(original)
        assert changed == reruns, f"editing ansible/{rel} re-runs {sorted(changed)}, not {sorted(reruns)}"
