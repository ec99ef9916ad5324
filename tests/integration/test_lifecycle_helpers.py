"""Always-run checks of the lifecycle test's own logic: when it skips, what it says, what it builds.

The real lifecycle test skips on most machines, so a mistake in its skip logic or its setup would
go unseen until someone pays for a cluster. These run the same functions against fake
environments and temporary directories, in milliseconds.
"""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
import yaml

from tests.integration import lifecycle
from tests.integration import test_stack_lifecycle as lifecycle_test
from tests.support.paths import ROOT


def _no_cli(_: str) -> None:
    return None


def _cli(name: str) -> str:
    return f"/usr/local/bin/{name}"


def test_bare_machine_skips_naming_each_missing_piece_and_how_to_provide_it(tmp_path: Path) -> None:
    pre = lifecycle.check_prerequisites({}, which=_no_cli, home=tmp_path)

    assert pre.errors == ()
    assert len(pre.missing) == 3
    reason = pre.skip_reason()
    assert "Pulumi CLI" in reason and "get.pulumi.com" in reason
    assert "AWS credentials" in reason and "AWS_PROFILE" in reason and "aws configure" in reason
    assert str(tmp_path / ".aws" / "credentials") in reason
    assert "IT_ADMIN_CIDR" in reason and "export IT_ADMIN_CIDR=" in reason


@pytest.mark.parametrize(
    ("env", "absent"),
    [
        ({"AWS_PROFILE": "ops", "IT_ADMIN_CIDR": "198.51.100.7/32"}, "Pulumi CLI"),
        ({"IT_ADMIN_CIDR": "198.51.100.7/32"}, "AWS credentials"),
        ({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "IT_ADMIN_CIDR": "198.51.100.7/32"}, "AWS_SECRET_ACCESS_KEY"),
        ({"AWS_PROFILE": "ops"}, "IT_ADMIN_CIDR"),
    ],
)
def test_each_piece_alone_is_named(tmp_path: Path, env: dict[str, str], absent: str) -> None:
    which = _no_cli if absent == "Pulumi CLI" else _cli
    pre = lifecycle.check_prerequisites(env, which=which, home=tmp_path)

    assert len(pre.missing) == 1, pre.missing
    assert absent in pre.missing[0]


@pytest.mark.parametrize(
    "env",
    [
        {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"},
        {"AWS_PROFILE": "ops"},
        {"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"},
    ],
)
def test_everything_present_means_no_skip(tmp_path: Path, env: dict[str, str]) -> None:
    pre = lifecycle.check_prerequisites({**env, "IT_ADMIN_CIDR": "198.51.100.7/32, 203.0.113.0/24"}, _cli, tmp_path)

    assert pre.missing == ()
    assert pre.errors == ()
    assert pre.admin_cidrs == ("198.51.100.7/32", "203.0.113.0/24")
    assert pre.pulumi == "/usr/local/bin/pulumi"


def test_credentials_file_in_home_counts(tmp_path: Path) -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = ap-northeast-2\n", encoding="utf-8")

    pre = lifecycle.check_prerequisites({"IT_ADMIN_CIDR": "198.51.100.7/32"}, _cli, tmp_path)

    assert pre.missing == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0.0.0.0/0", "to the world"),
        ("::/0", "to the world"),
        ("198.51.100.7", None),  # a bare address is a /32: accepted
        ("198.51.100.7/24", "not a CIDR"),  # host bits set
        ("my-office", "not a CIDR"),
    ],
)
def test_admin_cidr_is_checked_before_anything_is_created(tmp_path: Path, raw: str, message: str | None) -> None:
    pre = lifecycle.check_prerequisites({"AWS_PROFILE": "ops", "IT_ADMIN_CIDR": raw}, _cli, tmp_path)

    if message is None:
        assert pre.errors == ()
        assert pre.admin_cidrs == (str(ipaddress.ip_network(raw)),)
    else:
        assert len(pre.errors) == 1 and message in pre.errors[0]
        assert "IT_ADMIN_CIDR" in pre.errors[0]


def test_bad_sync_timeout_is_an_error(tmp_path: Path) -> None:
    env = {"AWS_PROFILE": "ops", "IT_ADMIN_CIDR": "198.51.100.7/32", "IT_SYNC_TIMEOUT": "soon"}
    assert lifecycle.check_prerequisites(env, _cli, tmp_path).errors
    assert lifecycle.sync_timeout({}) == lifecycle.DEFAULT_SYNC_TIMEOUT
    assert lifecycle.sync_timeout({"IT_SYNC_TIMEOUT": "90"}) == 90.0


def test_lifecycle_test_is_collected_as_integration_and_skips_here(monkeypatch: pytest.MonkeyPatch) -> None:
    marks = [m.name for m in getattr(lifecycle_test.test_stack_lifecycle_on_aws, "pytestmark", [])]
    assert "integration" in marks
    # This machine lacks at least the opt-in; the test must skip with the reason, not fail or run.
    monkeypatch.delenv("IT_ADMIN_CIDR", raising=False)
    with pytest.raises(pytest.skip.Exception, match="IT_ADMIN_CIDR"):
        lifecycle_test.test_stack_lifecycle_on_aws()


def test_stack_config_is_dev_with_the_ephemeral_name_and_access() -> None:
    env = {"IT_GITOPS_REPO_URL": "https://github.com/acme/gitops-cluster.git", "IT_GITOPS_REVISION": "0" * 40}
    config = lifecycle.stack_config("it-abc123", ["198.51.100.7/32"], env)
    dev = yaml.safe_load((lifecycle.ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]

    assert config["gitops-cluster:clusterName"] == "it-abc123"
    assert config["gitops-cluster:adminCidrs"] == ["198.51.100.7/32"]
    assert config["gitops-cluster:apiCidrs"] == ["198.51.100.7/32"]
    assert config["gitops-cluster:gitopsRepoUrl"] == env["IT_GITOPS_REPO_URL"]
    assert config["gitops-cluster:gitopsRevision"] == "0" * 40
    assert config["gitops-cluster:nodes"] == dev["gitops-cluster:nodes"]
    assert config["aws:region"] == dev["aws:region"]
    # The ephemeral stack must not fall back to ~/.kube/config: the key comes from the stack file
    # or from Pulumi.yaml, which the project copy carries.
    project = yaml.safe_load((lifecycle.ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    disabled = config.get("pulumi:disable-default-providers") or project["pulumi:disable-default-providers"]["value"]
    assert disabled == ["kubernetes"]


def test_stack_config_validates_like_a_real_stack() -> None:
    """The config the lifecycle test deploys must pass the program's own validation."""
    from tools.mockrun import run_program

    config = lifecycle.stack_config("it-abc123", ["198.51.100.7/32"], {})
    recording = run_program("dev", {k: v for k, v in config.items() if k.startswith("gitops-cluster:")})
    instances = recording.of_type("aws:ec2/instance:Instance")
    assert instances and all(r.name.startswith("it-abc123") for r in instances)


def test_stack_file_keeps_what_stack_init_wrote(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.it-x.yaml").write_text("encryptionsalt: v1:abc\n", encoding="utf-8")

    path = lifecycle.write_stack_file(tmp_path, "it-x", {"gitops-cluster:clusterName": "it-x"})

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc == {"encryptionsalt": "v1:abc", "config": {"gitops-cluster:clusterName": "it-x"}}


def test_project_copy_leaves_state_and_stack_files_behind(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "components").mkdir(parents=True)
    (src / "Pulumi.yaml").write_text("name: gitops-cluster\n", encoding="utf-8")
    (src / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    (src / "components" / "x.py").write_text("", encoding="utf-8")
    (src / ".pulumi-state").mkdir()
    (src / "policy" / "venv").mkdir(parents=True)  # the policy pack's own virtualenv (git-ignored)
    venv = tmp_path / "venv"
    venv.mkdir()

    dest = lifecycle.copy_project(tmp_path / "copy", source=src, venv=venv)

    assert (dest / "Pulumi.yaml").is_file() and (dest / "components" / "x.py").is_file()
    assert not (dest / "Pulumi.dev.yaml").exists()
    assert not (dest / ".pulumi-state").exists()
    assert (dest / "policy").is_dir() and not (dest / "policy" / "venv").exists()
    assert (dest / ".venv").resolve() == venv.resolve()


def test_local_backend_and_passphrase_stay_outside_the_checkout(tmp_path: Path) -> None:
    env = lifecycle.workspace_env({}, tmp_path)

    assert env["PULUMI_BACKEND_URL"] == (tmp_path / "state").as_uri()
    assert (tmp_path / "state").is_dir()
    passphrase = Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"])
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    assert len(passphrase.read_text(encoding="utf-8")) == 48


def test_given_backend_and_passphrase_are_used_as_is(tmp_path: Path) -> None:
    env = lifecycle.workspace_env(
        {"PULUMI_BACKEND_URL": "s3://team-state/gitops", "PULUMI_CONFIG_PASSPHRASE_FILE": "/run/pp"}, tmp_path
    )
    assert env["PULUMI_BACKEND_URL"] == "s3://team-state/gitops"
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in env  # inherited from the caller's environment
    cloud = lifecycle.workspace_env({"PULUMI_BACKEND_URL": "https://api.pulumi.com"}, tmp_path / "c")
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in cloud  # Pulumi Cloud encrypts secrets itself


def test_kubeconfig_file_is_private_and_removed_even_on_error(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    seen: list[tuple[int, str]] = []

    def crashing_status_tool() -> None:
        with lifecycle.private_file(path, "apiVersion: v1\n") as written:
            seen.append((stat.S_IMODE(written.stat().st_mode), written.read_text(encoding="utf-8")))
            raise RuntimeError("status tool crashed")

    with pytest.raises(RuntimeError):
        crashing_status_tool()
    assert seen == [(0o600, "apiVersion: v1\n")]
    assert not path.exists()


def test_status_tool_waits_for_every_child_of_the_root() -> None:
    children = lifecycle.expected_children()
    args = lifecycle.status_args(Path("/tmp/kc"), 900, children)

    assert {"namespaces", "api-services", "monitoring-stack"} <= set(children)
    assert args[:6] == ["--kubeconfig", "/tmp/kc", "--wait", "--timeout", "900", "--json"]
    assert args[6:] == [x for name in children for x in ("--expect", name)]


def test_unhealthy_apps_are_named_in_the_failure() -> None:
    report = {
        "verdict": "DEGRADED: 1/2 Applications Synced and Healthy (1 degraded)",
        "apps": [
            {"name": "root-app", "state": "healthy", "sync": "Synced", "health": "Healthy", "message": None},
            {"name": "redis", "state": "degraded", "sync": "Synced", "health": "Degraded", "message": "CrashLoop"},
        ],
    }
    text = lifecycle.unhealthy_summary(report)
    assert text.splitlines()[0].startswith("DEGRADED")
    assert "redis (degraded, sync=Synced, health=Degraded): CrashLoop" in text
    assert "root-app" not in text


def test_only_same_counts_as_no_change() -> None:
    from pulumi.automation import OpType

    assert lifecycle.changes_in({OpType.SAME: 120}) == {}
    assert lifecycle.changes_in({OpType.SAME: 119, OpType.UPDATE: 1}) == {"update": 1}
    assert lifecycle.changes_in({"same": 3, "replace": 2}) == {"replace": 2}
    steps = [("update", "urn:pulumi:it::gitops-cluster::command:remote:Command::it-ansible", ["triggers"])]
    assert "update urn:pulumi:it::gitops-cluster::command:remote:Command::it-ansible (changed: triggers)" in (
        lifecycle.describe_steps(steps)
    )


def test_retry_hint_names_the_kept_state(tmp_path: Path) -> None:
    env = lifecycle.workspace_env({}, tmp_path)
    hint = lifecycle.retry_hint(tmp_path / "project", "it-abc123", env)

    assert env["PULUMI_BACKEND_URL"] in hint and env["PULUMI_CONFIG_PASSPHRASE_FILE"] in hint
    assert "GITOPS_CLUSTER_DESTROY=1 pulumi destroy --yes --stack it-abc123" in hint


def test_the_destroy_runs_like_make_destroy(tmp_path: Path) -> None:
    """tools/up.sh exports the variable for `make destroy`; the test's destroy must too, or every
    node is drained one by one and a datastore's PodDisruptionBudget blocks the last drain."""
    env = lifecycle.workspace_env({}, tmp_path)
    assert lifecycle.destroy_env(env) == {**env, "GITOPS_CLUSTER_DESTROY": "1"}
    assert "GITOPS_CLUSTER_DESTROY" not in env, "up and preview must not skip the removal steps"
    up_sh = (ROOT / "tools" / "up.sh").read_text()
    destroy = up_sh.split("\n  destroy)\n", 1)[1]
    assert "export GITOPS_CLUSTER_DESTROY=1" in destroy
    # ...and lifts the protection of root-app and the API load balancers first, as make destroy does.
    assert " ".join(lifecycle.unprotect_argv('"$stack"')) in destroy
    assert destroy.index("state unprotect") < destroy.index("pulumi destroy")
