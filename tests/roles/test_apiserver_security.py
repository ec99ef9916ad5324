"""The API server's secure defaults, run with the real ansible-playbook on this machine.

- Anonymous access is limited to the health paths by a structured AuthenticationConfiguration,
  passed with --authentication-config on every control plane (and the load balancers' /readyz
  checks are among those paths).
- Secrets are encrypted at rest: the control_plane role writes an EncryptionConfiguration 0600
  with the stack's key (never in the log), the kubeadm config references and mounts it, a changed
  file restarts the API server, and Secrets are rewritten once per configuration.

The role's own task files run in a local play against a temporary directory; crictl, curl and
kubectl are small stand-ins on PATH that record how they were called (the real ones need a
running cluster). The node simulator covers the whole playbook.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import bastion_commands
from components.access import readyz_health_check
from components.bastion_commands import secret_bundle
from components.bootstrap import ENCRYPTION_KEY_NAME, TYPE_TOKEN, secret_extra_vars
from components.playbooks import ANSIBLE_DIR, playbook_command, render_extra_vars
from components.settings.keys import default_versions
from tests.support.apiserver import api_args, render, run_play
from tests.support.paths import ROOT
from tests.support.plain_text import COMMAND, assert_nowhere_in_plain_text
from tests.support.settings import FIXED_JUMP, dev_settings, fixed_cluster, fixed_hosts
from tools.mockrun import FAKE_ENCRYPTION_KEY_BASE64, Recording, run_program

# Runs ansible-playbook for real: `make test` and CI run it, `make test-fast` leaves it out.
pytestmark = pytest.mark.ansible

KEY_1 = base64.b64encode(b"k" * 31 + b"1").decode()
KEY_2 = base64.b64encode(b"k" * 31 + b"2").decode()
DEFAULTS = yaml.safe_load((ANSIBLE_DIR / "roles/control_plane/defaults/main.yml").read_text())


def recap(result: subprocess.CompletedProcess[str]) -> str:
    out = result.stdout
    assert "PLAY RECAP" in out, out + result.stderr
    return out[out.index("PLAY RECAP") :]


# --- the rendered kubeadm and authentication configuration -------------------------------------


@pytest.fixture(scope="module")
def pinned(tmp_path_factory) -> dict[str, Any]:
    """Rendered with the versions table as it is."""
    return render(Path(tmp_path_factory.mktemp("pinned")), default_versions()["kubernetes"])


def test_the_api_server_reads_both_files_from_a_read_only_mount(pinned):
    config_dir = DEFAULTS["control_plane_apiserver_config_dir"]
    args = api_args(pinned["cluster"])
    assert args["authentication-config"] == f"{config_dir}/authentication-config.yaml"
    assert args["encryption-provider-config"] == f"{config_dir}/encryption-config.yaml"
    # The API server refuses --anonymous-auth together with an `anonymous` section.
    assert "anonymous-auth" not in args
    mounts = [v for v in pinned["cluster"]["apiServer"]["extraVolumes"] if v["hostPath"] == config_dir]
    assert mounts == [
        {
            "name": "apiserver-config",
            "hostPath": config_dir,
            "mountPath": config_dir,
            "readOnly": True,
            "pathType": "DirectoryOrCreate",
        }
    ]


def test_anonymous_requests_are_authenticated_on_the_health_paths_and_join_discovery_only(pinned):
    authn = pinned["authn"]
    assert authn["kind"] == "AuthenticationConfiguration"
    assert authn["anonymous"]["enabled"] is True
    # kubeadm join's token discovery reads cluster-info without credentials.
    assert [c["path"] for c in authn["anonymous"]["conditions"]] == [
        "/livez",
        "/readyz",
        "/healthz",
        "/api/v1/namespaces/kube-public/configmaps/cluster-info",
    ]


def test_the_load_balancers_health_check_path_stays_anonymous():
    assert readyz_health_check().path in DEFAULTS["control_plane_anonymous_paths"]


@pytest.mark.parametrize(
    ("kubernetes", "api_version", "gate"),
    [
        ("1.31.4", "apiserver.config.k8s.io/v1beta1", "AnonymousAuthConfigurableEndpoints=true"),
        ("1.33.6", "apiserver.config.k8s.io/v1beta1", None),
        ("1.34.2", "apiserver.config.k8s.io/v1", None),
    ],
)
def test_the_anonymous_section_follows_the_kubernetes_version(tmp_path, kubernetes, api_version, gate):
    # KEP-4633: alpha (gate off by default) in 1.31, beta (on) in 1.32, GA in v1 from 1.34.
    rendered = render(tmp_path, kubernetes)
    assert rendered["authn"]["apiVersion"] == api_version
    assert api_args(rendered["cluster"]).get("feature-gates") == gate


# --- the role's tasks on this machine ----------------------------------------------------------

LOCAL_PLAY = """
- name: Write the API server configuration as every control plane does
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write the files and restart a running API server
      ansible.builtin.include_role:
        name: control_plane
        tasks_from: apiserver_config.yml
    - name: Rewrite Secrets
      ansible.builtin.include_role:
        name: control_plane
        tasks_from: secrets_rewrite.yml
"""

STANDIN = """#!/bin/sh
# Records its arguments (and for `replace`, what it read) in $STANDIN_LOG.
echo "$(basename "$0") $*" >> "$STANDIN_LOG"
case "$(basename "$0") $*" in
  "crictl pods"*) echo pod-0123 ;;
  "kubectl "*" get "*) echo '{"apiVersion": "v1", "kind": "List", "items": []}' ;;
  "kubectl "*" replace "*) cat > /dev/null ;;
esac
exit 0
"""


class Node:
    """A control plane's files under a temporary directory, and stand-ins for its tools."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_dir = root / "etc/kubernetes/apiserver"
        self.manifest = root / "etc/kubernetes/manifests/kube-apiserver.yaml"
        self.marker = self.config_dir / "secrets-rewritten.sha256"
        self.log = root / "standin.log"
        bindir = root / "bin"
        bindir.mkdir(parents=True)
        for tool in ("crictl", "curl", "kubectl"):
            (bindir / tool).write_text(STANDIN)
            (bindir / tool).chmod(0o755)
        self.env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "STANDIN_LOG": str(self.log)}
        self.play = root / "play.yml"
        self.play.write_text(LOCAL_PLAY)

    def run_api_server(self, *, encrypting: bool = True) -> None:
        self.manifest.parent.mkdir(parents=True, exist_ok=True)
        flag = f"    - --encryption-provider-config={self.config_dir}/encryption-config.yaml\n" if encrypting else ""
        self.manifest.write_text(f"spec:\n  containers:\n  - command:\n    - kube-apiserver\n{flag}")

    def converge(self, *keys: str, verbosity: str = "-v") -> subprocess.CompletedProcess[str]:
        secret = self.root / "secret-vars.json"
        named = [(f"key-{i}", k) for i, k in enumerate(keys, 1)]
        secret.write_text(json.dumps(secret_extra_vars(named) if named else {}))
        extra = self.root / "vars.json"
        overrides = {
            "control_plane_apiserver_config_dir": str(self.config_dir),
            "control_plane_apiserver_manifest": str(self.manifest),
            "control_plane_encryption_rewritten_marker": str(self.marker),
            "control_plane_admin_kubeconfig": str(self.root / "admin.conf"),
            "control_plane_apiserver_restart_attempts": 1,
            # The stand-in crictl restarts nothing and curl answers at once: no wait before it.
            "control_plane_apiserver_restart_interval": 0,
            # The modules run with this test's Python, not whatever the machine's PATH finds.
            "ansible_python_interpreter": sys.executable,
        }
        extra.write_text(json.dumps({**json.loads(render_extra_vars(default_versions())), **overrides}))
        return run_play(self.play, *verbosity.split(), "-e", f"@{extra}", "-e", f"@{secret}", env=self.env)

    def calls(self) -> list[str]:
        calls = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return calls


@pytest.fixture
def node(tmp_path) -> Node:
    return Node(tmp_path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# Every run below is at -vvv --diff (module arguments, results and file diffs printed), so the test
# that keeps the key out of the log reads the most Ansible can print. The two stories are module
# fixtures: each role run costs seconds of CPU, and the tests that read a story never change it.
LOUD = "-vvv --diff"


@dataclass
class Converged:
    """One run of the role on a node: its result, the tool calls it made, the marker after it."""

    result: subprocess.CompletedProcess[str]
    calls: list[str]
    marker: bool

    @classmethod
    def of(cls, node: Node, *keys: str) -> Converged:
        result = node.converge(*keys, verbosity=LOUD)
        return cls(result, node.calls(), node.marker.exists())


@dataclass
class Fresh:
    """A node with no API server yet (kubeadm init/join starts it later), converged with KEY_1."""

    node: Node
    run: Converged


@dataclass
class Running:
    """A node whose API server runs: converged with KEY_1 (new files), again with KEY_1, then rotated
    to KEY_2 (KEY_1 kept to read what it wrote)."""

    node: Node
    first: Converged
    marker_mode: int
    again: Converged
    rotated: Converged


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Fresh:
    node = Node(tmp_path_factory.mktemp("fresh"))
    return Fresh(node, Converged.of(node, KEY_1))


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Running:
    node = Node(tmp_path_factory.mktemp("running"))
    node.run_api_server()
    first = Converged.of(node, KEY_1)
    marker_mode = mode(node.marker) if node.marker.exists() else 0
    again = Converged.of(node, KEY_1)
    return Running(node, first, marker_mode, again, Converged.of(node, KEY_2, KEY_1))


def test_the_files_are_root_only_and_the_encryption_config_holds_the_stacks_key(fresh):
    node, result = fresh.node, fresh.run.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(node.config_dir) == 0o700
    for name in ("authentication-config.yaml", "encryption-config.yaml"):
        assert mode(node.config_dir / name) == 0o600, name
    config = yaml.safe_load((node.config_dir / "encryption-config.yaml").read_text())
    assert config["kind"] == "EncryptionConfiguration"
    (rule,) = config["resources"]
    assert rule["resources"] == ["secrets"]
    # The key encrypts; identity only reads what was stored before encryption was enabled.
    assert rule["providers"] == [{"secretbox": {"keys": [{"name": "key-1", "secret": KEY_1}]}}, {"identity": {}}]


def test_the_key_never_reaches_the_log(fresh, running):
    """Neither a fresh node's run nor a running API server's (new files, a re-run, a rotation)."""
    runs = {"fresh": fresh.run, "first": running.first, "again": running.again, "rotated": running.rotated}
    for name, run in runs.items():
        output = run.result.stdout + run.result.stderr
        assert run.result.returncode == 0, f"{name}: {output}"
        for key in (KEY_1, KEY_2):
            assert key not in output, f"the {name} run printed a key"
    assert "--- before" in fresh.run.result.stdout, "the runs printed no --diff output to check"


def test_a_missing_or_malformed_key_stops_the_role_with_the_fix(node):
    for keys in ((), (base64.b64encode(b"short").decode(),)):
        result = node.converge(*keys)
        assert result.returncode != 0
        assert "control_plane_encryption_keys must hold at least one key of 32 random bytes" in result.stdout
        assert not (node.config_dir / "encryption-config.yaml").exists()


def test_a_fresh_node_writes_the_files_without_restarting_anything(fresh):
    result = fresh.run.result
    assert result.returncode == 0, result.stdout + result.stderr
    # No API server runs yet (kubeadm init/join starts it with the files): nothing to restart and
    # no Secret to rewrite.
    assert fresh.run.calls == []
    assert not fresh.run.marker


def test_secrets_are_rewritten_once_per_configuration_and_a_change_restarts_the_api_server(running):
    node, first = running.node, running.first
    assert first.result.returncode == 0, first.result.stdout + first.result.stderr
    calls = first.calls
    # New files on a running API server: restarted, then every Secret read and written back.
    assert calls[:3] == ["crictl pods --name kube-apiserver -q", "crictl rmp -f pod-0123", "curl " + calls[2][5:]]
    assert "/readyz" in calls[2]
    # Both ends of one pipe, in either order.
    admin = f"kubectl --kubeconfig {node.root / 'admin.conf'}"
    assert sorted(calls[3:]) == [f"{admin} get secrets --all-namespaces -o json", f"{admin} replace -f -"]
    assert first.marker and running.marker_mode == 0o600

    again = running.again.result
    assert "changed=0" in recap(again), recap(again)
    assert running.again.calls == [], "a re-run with the same key restarted or rewrote something"

    rotated = running.rotated.result
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    calls = running.rotated.calls
    assert "crictl rmp -f pod-0123" in calls
    assert any(" replace -f -" in c for c in calls)
    config = yaml.safe_load((node.config_dir / "encryption-config.yaml").read_text())
    keys = config["resources"][0]["providers"][0]["secretbox"]["keys"]
    assert [k["secret"] for k in keys] == [KEY_2, KEY_1], "the newest key must come first (it writes)"


def test_an_api_server_without_the_flag_gets_no_rewrite_and_a_warning(node):
    node.run_api_server(encrypting=False)
    result = node.converge(KEY_1)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "was created without --encryption-provider-config" in result.stdout
    assert not any(" replace " in c for c in node.calls())
    # Not recorded: the rewrite happens on the run after the manifests are regenerated.
    assert not node.marker.exists()
    node.run_api_server()
    node.converge(KEY_1)
    assert any(" replace " in c for c in node.calls())
    assert node.marker.exists()


# --- the key's path from the stack to the playbook (mock runtime) ------------------------------


@pytest.fixture(scope="module")
def dev_stack() -> Recording:
    return run_program("dev")


def test_the_stack_generates_a_32_byte_key_beside_the_bootstrap(dev_stack):
    component = dev_stack.one(TYPE_TOKEN)
    key = dev_stack.one("random:index/randomBytes:RandomBytes", f"{component.name}-{ENCRYPTION_KEY_NAME}")
    assert key.parent == component.urn
    assert key.inputs["length"] == 32


def test_the_encryption_key_reaches_the_playbook_in_its_secret_stdin_only(dev_stack):
    component = dev_stack.one(TYPE_TOKEN)
    playbook = dev_stack.one(COMMAND, f"{component.name}-playbook")
    fetch = dev_stack.one(COMMAND, f"{component.name}-cluster-ca")
    assert playbook.is_secret("stdin")
    bundle = json.loads(playbook.inputs["stdin"])
    assert bundle["extraVars"] == {
        "control_plane_encryption_keys": [{"name": ENCRYPTION_KEY_NAME, "secret": FAKE_ENCRYPTION_KEY_BASE64}]
    }
    # The cluster-CA command reads no secret (its run makes and pushes its own SSH key).
    assert "stdin" not in fetch.inputs
    for cmd in (playbook, fetch):
        for field in ("triggers", "environment", "create"):
            assert FAKE_ENCRYPTION_KEY_BASE64 not in json.dumps(cmd.inputs[field]), f"{cmd.name}: key in {field}"
    assert_nowhere_in_plain_text(dev_stack, FAKE_ENCRYPTION_KEY_BASE64)


def test_the_script_reads_the_secret_vars_and_prints_nothing_it_read(tmp_path, eic_endpoint):
    settings = dev_settings()
    spec = playbook_command(
        fixed_cluster(settings), fixed_hosts(settings.nodes), FIXED_JUMP, settings.versions, str(tmp_path / "kh")
    )
    env = {**os.environ, **spec.environment, **eic_endpoint.environment(), "GC_WORK_PARENT": str(tmp_path)}
    # The stand-in knows none of these instances: the push is refused, which stops the script
    # before any connection, and nothing read on stdin is printed.
    result = subprocess.run(
        spec.argv, input=secret_bundle({"x": KEY_1}), env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stderr
    assert "could not push the run's SSH key with EC2 Instance Connect" in result.stderr
    assert KEY_1 not in result.stdout + result.stderr
    assert list(tmp_path.glob("gc-bootstrap.*")) == [], "the work directory was left behind"


def test_the_bundle_splitter_writes_the_secret_vars(tmp_path):
    script = bastion_commands.SPLIT_BUNDLE
    for forbidden in ('"', "$", "`", "\\"):
        assert forbidden not in script, f"{forbidden!r} would break the double-quoted python3 -c"
    cases = [
        (secret_bundle({"a": 1}), {"a": 1}),
        (secret_bundle(), {}),
        ("", {}),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nX\n", {}),
        ('{"not": "a bundle"}', {}),
    ]
    for i, (stdin, extra) in enumerate(cases):
        work = tmp_path / str(i)
        work.mkdir()
        subprocess.run([sys.executable, "-c", script, str(work)], input=stdin, text=True, check=True)
        assert sorted(p.name for p in work.iterdir()) == ["secret-vars.json"]
        assert json.loads((work / "secret-vars.json").read_text()) == extra
