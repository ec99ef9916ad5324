"""AnsibleBootstrap: trigger hashes, dependencies and secrecy, reviewed like `pulumi preview`.

Triggers are checked by editing files in a temporary copy of ansible/ (the repository is never
touched). Dependencies and secrets are checked under the Pulumi mock runtime with known fake
secret values, which must appear in no plain input, command, environment or output.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pulumi
import pytest
import yaml
from pulumi_command import local

from components.bootstrap import (
    ENCRYPTION_KEY_NAME,
    TYPE_TOKEN,
    AnsibleBootstrap,
    BootstrapArgs,
    BootstrapHost,
)
from components.control_plane_reads import (
    admin_credential_command,
    cluster_ca_command,
    rewrite_kubeconfig_server,
)
from components.inventory import InventoryHost
from components.playbooks import (
    ANSIBLE_DIR,
    ansible_tree_digest,
    ansible_tree_files,
    is_upgrade_file,
    playbook_command,
    playbook_script,
    prepare_command,
)
from components.settings.model import NodeRole, NodeSpec
from tests.support.paths import ROOT
from tests.support.plain_text import COMMAND, assert_nowhere_in_plain_text
from tests.support.settings import FIXED_JUMP, dev_settings, fixed_cluster, fixed_hosts
from tools.mockrun import FakeCloud, Recording, Registration, run_program, stack_config

INSTANCE = "aws:ec2/instance:Instance"
KEY_MARKER = "FAKE-USER-SUPPLIED-KEY-7f3a"
KUBECONFIG_MARKER = "FAKE-CLIENT-KEY-DATA-91c2"
KNOWN_HOSTS = "~/.ssh/known_hosts.d/gitops-cluster-dev"


# --- triggers ---------------------------------------------------------------------------------


def triggers_for(settings=None, *, ansible_dir: Path = ANSIBLE_DIR, hosts=None) -> list[str]:
    settings = settings or dev_settings()
    hosts = hosts if hosts is not None else fixed_hosts(settings.nodes)
    spec = playbook_command(
        fixed_cluster(settings), hosts, FIXED_JUMP, settings.versions, KNOWN_HOSTS, ansible_dir=ansible_dir
    )
    return list(spec.triggers)


@pytest.fixture(scope="module")
def ansible_copy(tmp_path_factory) -> Path:
    """A scratch copy of ansible/ next to copies of docs/ and manifests/, as in the repository."""
    root = Path(tmp_path_factory.mktemp("project"))
    shutil.copytree(ANSIBLE_DIR, root / "ansible")
    for other in ("docs", "manifests"):
        if (ROOT / other).is_dir():
            shutil.copytree(ROOT / other, root / other)
    return root


def test_same_inputs_give_the_same_triggers():
    first, second = triggers_for(), triggers_for()
    assert first == second
    assert [t.split(":")[0] for t in first] == ["ansible", "inventory", "versions"]
    assert all(len(t.split(":")[1]) == 64 for t in first)


def test_the_tree_hash_does_not_depend_on_where_the_checkout_is(ansible_copy):
    assert ansible_tree_digest(ansible_copy / "ansible") == ansible_tree_digest(ANSIBLE_DIR)


def test_changing_any_file_under_ansible_changes_the_triggers(ansible_copy):
    tree = ansible_copy / "ansible"
    base = triggers_for(ansible_dir=tree)
    files = ansible_tree_files(tree)
    assert len(files) > 20, "the copy should hold the whole playbook"
    for path in files:
        original = path.read_bytes()
        try:
            path.write_bytes(original + b"\n# edited\n")
            changed = triggers_for(ansible_dir=tree)
        finally:
            path.write_bytes(original)
        rel = path.relative_to(tree)
        if is_upgrade_file(rel.as_posix()):
            # Read by ansible/upgrade.yml only: the upgrade step's trigger (tests/unit/test_bootstrap_upgrade.py).
            assert changed == base, f"editing ansible/{rel} (upgrade only) changed the bootstrap's triggers"
            continue
        assert changed[0] != base[0], f"editing ansible/{rel} did not change the ansible trigger"
        assert changed[1:] == base[1:], f"editing ansible/{rel} changed unrelated triggers"
    assert triggers_for(ansible_dir=tree) == base


def test_adding_or_renaming_a_file_under_ansible_changes_the_triggers(ansible_copy):
    tree = ansible_copy / "ansible"
    base = triggers_for(ansible_dir=tree)
    extra = tree / "roles" / "common" / "templates" / "new.j2"
    extra.write_text("x\n")
    try:
        assert triggers_for(ansible_dir=tree)[0] != base[0]
    finally:
        extra.unlink()
    handlers = tree / "roles" / "common" / "handlers" / "main.yml"
    moved = handlers.with_name("other.yml")
    handlers.rename(moved)
    try:
        assert triggers_for(ansible_dir=tree)[0] != base[0]
    finally:
        moved.rename(handlers)
    assert triggers_for(ansible_dir=tree) == base


def test_files_outside_ansible_do_not_change_the_triggers(ansible_copy):
    tree = ansible_copy / "ansible"
    base = triggers_for(ansible_dir=tree)
    outside = [p for d in ("docs", "manifests") for p in (ansible_copy / d).rglob("*") if p.is_file()]
    assert outside, "docs/ and manifests/ should have files to edit"
    for path in outside[:50]:
        path.write_bytes(path.read_bytes() + b"\n# edited\n")
    (ansible_copy / "docs" / "new.md").write_text("new\n")
    assert triggers_for(ansible_dir=tree) == base


def test_the_node_table_changes_the_inventory_trigger_only():
    settings = dev_settings()
    base = triggers_for(settings)
    added = NodeSpec("api-extra", NodeRole.API, "t3.micro", 20, MappingProxyType({"workload": "api"}))
    grown = replace(settings, nodes=(*settings.nodes, added))
    assert triggers_for(grown)[1] != base[1]
    relabelled = tuple(
        replace(n, labels=MappingProxyType({**n.labels, "workload": "cache-v2"})) if n.name == "redis" else n
        for n in settings.nodes
    )
    assert triggers_for(replace(settings, nodes=relabelled))[1] != base[1]
    untainted = tuple(replace(n, taints=()) if n.name == "redis" else n for n in settings.nodes)
    assert triggers_for(replace(settings, nodes=untainted))[1] != base[1]
    moved = [replace(h, address="10.0.99.99") if h.spec.name == "redis" else h for h in fixed_hosts(settings.nodes)]
    changed = triggers_for(settings, hosts=moved)
    assert changed[1] != base[1]
    assert (changed[0], changed[2]) == (base[0], base[2])


def test_a_version_changes_the_versions_trigger_only():
    settings = dev_settings()
    base = triggers_for(settings)
    for key, value in (
        ("calico", "v3.29.2"),
        ("containerd", "1.7.26-1"),
        ("localPathProvisioner", "v0.0.31"),
        ("kubernetesPause", "3.10.3"),
    ):
        bumped = replace(settings, versions=MappingProxyType({**settings.versions, key: value}))
        changed = triggers_for(bumped)
        assert changed[2] != base[2], f"changing {key} did not change the versions trigger"
        assert changed[:2] == base[:2]
    # The Kubernetes pins are the upgrade step's trigger, not the bootstrap's (ansible/upgrade.yml).
    for key, value in (("kubernetes", "1.37.1"), ("kubernetesPackageRevision", "2.1")):
        bumped = replace(settings, versions=MappingProxyType({**settings.versions, key: value}))
        assert triggers_for(bumped) == base, f"changing {key} changed the bootstrap's triggers"


def test_forks_follow_the_node_table():
    settings = dev_settings()
    spec = playbook_command(fixed_cluster(settings), fixed_hosts(settings.nodes), FIXED_JUMP, settings.versions, "k")
    assert f"--forks {len(settings.nodes)} site.yml" in spec.create


def test_the_run_makes_its_own_key_and_reads_secrets_on_stdin_only():
    settings = dev_settings()
    hosts = fixed_hosts(settings.nodes)
    spec = playbook_command(fixed_cluster(settings), hosts, FIXED_JUMP, settings.versions, "k")
    script = spec.create
    assert spec.argv[:2] == ["/bin/bash", "-c"]
    # The stdin bundle gives the secret vars file (0600); the key is made here, for this run only,
    # and pushed to the bastion and every node of the inventory.
    assert 'python3 -c "import json' in script and 'chmod 600 "$work/secret-vars.json"' in script
    assert 'ssh-keygen -q -t ed25519 -N \'\' -C "gitops-cluster-run" -f "$work/id_ssh"' in script
    assert spec.environment["GC_EIC_INSTANCES"].split() == [
        FIXED_JUMP.host_key_alias,
        *(h.host_key_alias for h in hosts),
    ]
    assert spec.environment["GC_EIC_USER"] == "ubuntu"
    assert '-e "@$work/secret-vars.json"' in script
    assert "trap cleanup EXIT" in script and 'rm -rf -- "$work"' in script
    assert "umask 077" in script and "set -x" not in script
    for value in spec.environment.values():
        assert "PRIVATE KEY" not in value
    assert "--private-key" not in script


# --- kubeconfig rewriting ---------------------------------------------------------------------

ADMIN_CONF = """apiVersion: v1
kind: Config
clusters:
- name: gitops-dev
  cluster:
    certificate-authority-data: Q0EK
    server: https://10.0.16.10:6443
contexts:
- name: kubernetes-admin@gitops-dev
  context: {cluster: gitops-dev, user: kubernetes-admin}
current-context: kubernetes-admin@gitops-dev
users:
- name: kubernetes-admin
  user: {client-certificate-data: Q0VSVAo=, client-key-data: %s}
"""


def test_kubeconfig_server_is_rewritten_to_the_api_endpoint():
    out = yaml.safe_load(rewrite_kubeconfig_server(ADMIN_CONF % KUBECONFIG_MARKER, "api.example.com"))
    assert out["clusters"][0]["cluster"]["server"] == "https://api.example.com:6443"
    assert out["users"][0]["user"]["client-key-data"] == KUBECONFIG_MARKER
    with pytest.raises(ValueError, match="not a kubeconfig"):
        rewrite_kubeconfig_server("kind: Pod\n", "api.example.com")


def test_the_cluster_ca_is_read_from_the_first_control_plane_through_the_bastion():
    target = InventoryHost(NodeSpec("master", NodeRole.CONTROL_PLANE, "t3.large", 80), "10.0.16.10", "i-0abc")
    spec = cluster_ca_command(target, FIXED_JUMP, KNOWN_HOSTS, ["t"])
    assert spec.environment["GC_TARGET_HOST"] == "10.0.16.10"
    assert spec.environment["GC_TARGET_HOST_KEY_ALIAS"] == "i-0abc"
    assert spec.environment["GC_REMOTE_CA"] == "/etc/kubernetes/pki/ca.crt"
    assert '-o "ProxyJump=$GC_BASTION_ALIAS"' in spec.create
    # admin.conf (a one-year key) is read by no command of the stack.
    assert "admin.conf" not in spec.create


def test_the_admin_credential_is_minted_for_an_hour_and_admin_conf_is_never_read():
    target = InventoryHost(NodeSpec("master", NodeRole.CONTROL_PLANE, "t3.large", 80), "10.0.16.10", "i-0abc")
    spec = admin_credential_command(target, FIXED_JUMP, KNOWN_HOSTS, client_name="admin:alice")
    env = spec.environment
    assert (env["GC_CLIENT_NAME"], env["GC_CLIENT_ORG"], env["GC_VALIDITY"]) == (
        "admin:alice",
        "kubeadm:cluster-admins",
        "1h",
    )
    assert 'sudo kubeadm kubeconfig user --client-name "$GC_CLIENT_NAME" --org "$GC_CLIENT_ORG"' in spec.create
    assert '--validity-period "$GC_VALIDITY"' in spec.create
    assert "admin.conf" not in spec.create
    # Printed only after the whole kubeconfig arrived, so a failure cannot leak part of it.
    assert spec.create.rstrip().endswith('cat "$work/user.conf"')
    with pytest.raises(ValueError, match="client name"):
        admin_credential_command(target, FIXED_JUMP, KNOWN_HOSTS, client_name="a b; rm -rf /")


# --- the component under the mock runtime -----------------------------------------------------


@pytest.fixture(scope="module")
def user_key_stack() -> Recording:
    """The dev stack (no key of any kind in its config: each run pushes its own)."""
    return run_program("dev")


def bootstrap_commands(rec: Recording) -> tuple[Registration, Registration, Registration]:
    component = rec.one(TYPE_TOKEN)
    playbook = rec.one(COMMAND, f"{component.name}-playbook")
    fetch = rec.one(COMMAND, f"{component.name}-cluster-ca")
    return component, playbook, fetch


def test_commands_are_children_named_from_the_component(user_key_stack):
    component, playbook, fetch = bootstrap_commands(user_key_stack)
    assert playbook.parent == component.urn and fetch.parent == component.urn
    upgrade = user_key_stack.one(COMMAND, f"{component.name}-upgrade")
    key = f"{component.name}-{ENCRYPTION_KEY_NAME}"
    keys = f"{component.name}-service-account-keys"
    prepare = f"{component.name}-prepare"
    assert {r.name for r in user_key_stack.children(component)} == {
        prepare,
        playbook.name,
        upgrade.name,
        fetch.name,
        key,
        keys,
    }


def test_the_service_account_keys_are_read_with_the_ca_with_no_key_in_their_inputs(user_key_stack):
    component, playbook, fetch = bootstrap_commands(user_key_stack)
    keys = user_key_stack.one(COMMAND, f"{component.name}-service-account-keys")
    assert user_key_stack.depends_on(keys, playbook)
    # Re-read when the CA is (read_triggers).
    assert keys.inputs["triggers"] == fetch.inputs["triggers"]
    assert keys.inputs["environment"]["GC_REMOTE_SA_PUB"] == "/etc/kubernetes/pki/sa.pub"
    assert "stdin" not in keys.inputs and "PRIVATE KEY" not in json.dumps(keys.inputs["environment"])


def test_the_playbook_depends_on_every_node_and_the_bastion(user_key_stack):
    _, playbook, _ = bootstrap_commands(user_key_stack)
    instances = user_key_stack.of_type(INSTANCE)
    table = dev_settings(nodes=stack_config("dev")["gitops-cluster:nodes"]).nodes
    assert len(instances) == len(table) + 1, [i.name for i in instances]
    assert any("bastion" in i.name for i in instances)
    for instance in instances:
        assert user_key_stack.depends_on(playbook, instance), f"{playbook.name} does not wait for {instance.name}"


def waits_for(rec: Recording, reg: Registration) -> set[str]:
    """The URNs of everything the engine finishes before it starts `reg` (transitively)."""
    seen: set[str] = set()
    frontier = [reg]
    while frontier:
        nxt = []
        for r in frontier:
            for other in rec.resources:
                if other.urn not in seen and other.urn != r.urn and rec.depends_on(r, other):
                    seen.add(other.urn)
                    nxt.append(other)
        frontier = nxt
    return seen


LOAD_BALANCER_TYPES = (
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/listener:Listener",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment",
)


def test_the_prepare_command_starts_before_the_load_balancers_and_the_playbook_waits_for_both(user_key_stack):
    """The first plays start as soon as the nodes, the bastion and their network are ready: the
    prepare command waits for no load balancer and no CloudFront distribution; the cluster
    command (`-playbook`) waits for the prepare command and every load balancer."""
    component, playbook, _ = bootstrap_commands(user_key_stack)
    prepare = user_key_stack.one(COMMAND, f"{component.name}-prepare")
    before_prepare = waits_for(user_key_stack, prepare)
    for type_ in (*LOAD_BALANCER_TYPES, "aws:cloudfront/distribution:Distribution"):
        for reg in user_key_stack.of_type(type_):
            assert reg.urn not in before_prepare, f"{prepare.name} waits for {reg.name} ({type_})"
    access = user_key_stack.one("gitops-cluster:access:ClusterAccess")
    api = [r for r in user_key_stack.descendants(access) if r.type in LOAD_BALANCER_TYPES]
    assert len(api) == 2 * 3, [r.name for r in api]  # two NLBs, each with a listener and one attachment
    for reg in api:
        assert user_key_stack.depends_on(playbook, reg), f"{playbook.name} does not wait for {reg.name}"
    for reg in user_key_stack.of_type(INSTANCE) + user_key_stack.of_type("aws:ec2/route:Route"):
        assert user_key_stack.depends_on(prepare, reg), f"{prepare.name} does not wait for {reg.name}"
    assert user_key_stack.depends_on(playbook, prepare)
    # It runs the prepare half on an inventory without the cluster's values.
    assert " prepare.yml\n" in prepare.inputs["create"] and " cluster.yml\n" in playbook.inputs["create"]
    inventory = yaml.safe_load(prepare.inputs["environment"]["GC_INVENTORY"])
    assert not [k for k in inventory["all"]["vars"] if k.startswith("cluster_")], inventory["all"]["vars"]
    # No stdin: it reads no secret, and the run makes its own key; nothing secret anywhere else.
    assert "stdin" not in prepare.inputs
    assert {"stdout", "stderr"} <= set(prepare.additional_secret_outputs)
    assert not prepare.is_secret("environment") and not prepare.is_secret("triggers")
    assert "PRIVATE KEY" not in json.dumps([prepare.inputs["environment"], prepare.inputs["triggers"]])
    assert [t.split(":")[0] for t in prepare.inputs["triggers"]] == ["ansible", "inventory", "versions"]
    extra = json.loads(prepare.inputs["environment"]["GC_EXTRA_VARS"])
    assert re.fullmatch(r"[0-9a-f]{64}", extra["prepare_marker_fingerprint"])


def prepare_spec(settings=None, *, ansible_dir: Path = ANSIBLE_DIR):
    settings = settings or dev_settings()
    return prepare_command(
        fixed_hosts(settings.nodes), FIXED_JUMP, settings.versions, KNOWN_HOSTS, ansible_dir=ansible_dir
    )


def fingerprint(spec) -> str:
    return json.loads(spec.environment["GC_EXTRA_VARS"])["prepare_marker_fingerprint"]


def test_the_prepare_command_re_runs_for_its_own_files_and_a_row_not_for_a_label(ansible_copy):
    """The prepare triggers: prepare.yml's files, the nodes and their roles, the versions; a label,
    a taint or a cluster role's file leaves them (and the fingerprint that keeps nodes prepared)."""
    tree = ansible_copy / "ansible"
    base = prepare_spec(ansible_dir=tree)
    for rel, reruns in (
        ("roles/containerd/tasks/main.yml", True),
        ("roles/prepare_marker/defaults/main.yml", True),
        ("prepare.yml", True),
        ("ansible.cfg", True),
        ("roles/control_plane/tasks/main.yml", False),
        ("cluster.yml", False),
        ("upgrade.yml", False),
    ):
        path = tree / rel
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        try:
            edited = prepare_spec(ansible_dir=tree)
        finally:
            path.write_bytes(original)
        assert (edited.triggers[0] != base.triggers[0]) is reruns, rel
        assert (fingerprint(edited) != fingerprint(base)) is reruns, rel
    rows = stack_config("dev")["gitops-cluster:nodes"]
    relabelled = [{**r, "labels": {**r.get("labels", {}), "team": "x"}} if i == 3 else r for i, r in enumerate(rows)]
    assert prepare_spec(dev_settings(nodes=relabelled)).triggers == base.triggers
    added = [*rows, {**rows[-1], "name": "monitoring-2"}]
    grown = prepare_spec(dev_settings(nodes=added))
    assert grown.triggers[1] != base.triggers[1] and grown.triggers[0::2] == base.triggers[0::2]
    # A row added keeps the fingerprint: the nodes already prepared stay out of the prepare plays.
    assert fingerprint(grown) == fingerprint(base)
    bumped = dict(dev_settings().versions, containerd="9.9.9")
    assert fingerprint(prepare_spec(replace(dev_settings(), versions=MappingProxyType(bumped)))) != fingerprint(base)


def test_the_kubeconfig_is_fetched_after_the_playbook(user_key_stack):
    _, playbook, fetch = bootstrap_commands(user_key_stack)
    assert user_key_stack.depends_on(fetch, playbook)
    assert not user_key_stack.depends_on(playbook, fetch)


def test_commands_keep_secrets_out_of_logs_and_state(user_key_stack):
    _, playbook, fetch = bootstrap_commands(user_key_stack)
    assert {"stdout", "stderr"} <= set(playbook.additional_secret_outputs)
    # Only the playbooks read a secret (the extra vars); no command gets a key.
    assert playbook.is_secret("stdin") and set(json.loads(playbook.inputs["stdin"])) == {"extraVars"}
    assert "stdin" not in fetch.inputs
    for cmd in (playbook, fetch):
        assert cmd.inputs["addPreviousOutputInEnv"] is False
        assert cmd.inputs["environment"]["GC_EIC_REGION"] == stack_config("dev")["aws:region"]
        assert cmd.inputs["interpreter"] == ["/bin/bash", "-c"]
        assert not cmd.is_secret("environment") and not cmd.is_secret("create")
    assert playbook.inputs["logging"] == local.Logging.STDOUT.value
    assert fetch.inputs["logging"] == local.Logging.NONE.value
    # Fetched again when the first control plane changes or the upgrade step ran, not on every
    # playbook run (read_triggers; tests/unit/test_admin_cert.py adds a row).
    upgrade = user_key_stack.one(COMMAND, fetch.name.replace("-cluster-ca", "-upgrade"))
    assert fetch.inputs["triggers"][1:] == upgrade.inputs["triggers"]
    assert fetch.inputs["triggers"][0].startswith("control-plane:")


def test_fake_secrets_appear_in_no_plain_input_or_output(user_key_stack):
    assert_nowhere_in_plain_text(user_key_stack, KEY_MARKER, "PRIVATE KEY")
    assert "kubeconfig" in user_key_stack.stack_output_secret_paths
    component, _, _ = bootstrap_commands(user_key_stack)
    # The component's kubeconfig holds the CA and an exec user only: nothing to hide.
    assert set(yaml.safe_load(component.outputs["kubeconfig"])["users"][0]["user"]) == {"exec"}
    assert set(component.outputs) == {"kubeconfig", "inventory", "triggers"}


def test_the_inventory_comes_from_the_node_table(user_key_stack):
    _, playbook, _ = bootstrap_commands(user_key_stack)
    inventory = yaml.safe_load(playbook.inputs["environment"]["GC_INVENTORY"])
    groups = inventory["all"]["children"]["k8s_cluster"]["children"]
    names = {name for g in groups.values() for name in g["hosts"]}
    table = dev_settings(nodes=stack_config("dev")["gitops-cluster:nodes"]).nodes
    assert names == {n.name for n in table}
    assert set(groups["control_plane"]["hosts"]) == {n.name for n in table if n.role is NodeRole.CONTROL_PLANE}
    assert "--forks 14" in playbook.inputs["create"]


def test_two_runs_of_the_program_give_the_same_triggers(user_key_stack):
    again = run_program("dev")
    first, second = bootstrap_commands(user_key_stack)[1], bootstrap_commands(again)[1]
    # The mock hands out private IPs in registration order, which varies between runs; with the
    # addresses masked the inventories must be identical, and so must the other triggers.
    mask = re.compile(r"ansible_host: \S+")
    inventories = [mask.sub("ansible_host: X", c.inputs["environment"]["GC_INVENTORY"]) for c in (first, second)]
    assert inventories[0] == inventories[1]
    assert first.inputs["triggers"][0::2] == second.inputs["triggers"][0::2]
    assert first.inputs["create"] == second.inputs["create"]


def test_the_kubeconfig_output_is_secret_and_points_at_the_endpoint(monkeypatch):
    """A standalone component whose mint invoke "prints" a kubeconfig with a fake client key."""
    original = FakeCloud.call

    def with_minted_key(self, args):
        if args.token == "command:local:run":
            return {"stdout": ADMIN_CONF % KUBECONFIG_MARKER, "stderr": ""}
        return original(self, args)

    monkeypatch.setattr(FakeCloud, "call", with_minted_key)
    settings = dev_settings()

    def program() -> None:
        stand_ins = [local.Command(f"node-{n.name}", create="true") for n in settings.nodes]
        bastion = local.Command("bastion", create="true")
        hosts = [BootstrapHost(n, f"10.0.16.{10 + i}", f"i-0{i:016x}") for i, n in enumerate(settings.nodes)]
        comp = AnsibleBootstrap(
            "boot",
            BootstrapArgs(
                settings=settings,
                hosts=hosts,
                bastion_host="198.51.100.10",
                control_plane_endpoint_host="internal-api.example.internal",
                api_endpoint_host="api.example.com",
                depends_on=[*stand_ins, bastion],
                bastion_instance_id="i-0bastion",
            ),
        )
        pulumi.export("kubeconfig", comp.kubeconfig)
        pulumi.export("provider", comp.provider_kubeconfig)
        pulumi.export("inventory", comp.inventory)

    rec = run_program("dev", program=program)
    kubeconfig = yaml.safe_load(rec.stack_outputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://api.example.com:6443"
    # The provider's minted credential is a secret, pointed at the public endpoint too.
    assert "provider" in rec.stack_output_secret_paths
    provider = yaml.safe_load(rec.stack_outputs["provider"])
    assert provider["clusters"][0]["cluster"]["server"] == "https://api.example.com:6443"
    assert_nowhere_in_plain_text(rec, KEY_MARKER, KUBECONFIG_MARKER)
    playbook = rec.one(COMMAND, "boot-playbook")
    for stand_in in [*rec.of_type(COMMAND)]:
        if stand_in.name.startswith(("node-", "bastion")):
            assert rec.depends_on(playbook, stand_in)
    # Instance ids name the known_hosts entries of nodes and bastion.
    env = playbook.inputs["environment"]
    assert "HostKeyAlias i-0bastion" in env["GC_SSH_CONFIG"]
    assert "-o HostKeyAlias=i-00000000000000000" in env["GC_INVENTORY"]
    # The nodes use the internal endpoint; the public one is only a SAN (and the kubeconfig's server).
    inventory_vars = yaml.safe_load(env["GC_INVENTORY"])["all"]["vars"]
    assert inventory_vars["cluster_api_endpoint"] == "internal-api.example.internal"
    assert inventory_vars["cluster_api_public_endpoint"] == "api.example.com"


def test_args_must_cover_the_node_table_and_name_dependencies():
    settings = dev_settings()
    hosts = [BootstrapHost(n, "10.0.0.1") for n in settings.nodes]
    common: dict[str, Any] = {
        "settings": settings,
        "bastion_host": "b",
        "control_plane_endpoint_host": "i",
        "api_endpoint_host": "a",
    }
    with pytest.raises(ValueError, match=r"missing \['redis'\]"):
        BootstrapArgs(hosts=[h for h in hosts if h.spec.name != "redis"], depends_on=[object()], **common)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="depends_on must list what the playbook uses"):
        BootstrapArgs(hosts=hosts, depends_on=[], **common)


def test_each_run_keeps_ansibles_ssh_sockets_in_its_own_directory():
    """Ansible names its ControlPersist sockets by address, port and user only: two stacks whose nodes
    share private IPs, run from one machine within ControlPersist, would talk to each other's nodes
    (seen in the node simulator). Each run's sockets live in its private work directory."""
    script = playbook_script(forks=1)
    export = 'export ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp"'
    assert export in script
    assert script.index(export) < script.index("ansible-playbook -i")
    assert 'work="$(mktemp -d ' in script and 'rm -rf -- "$work"' in script
