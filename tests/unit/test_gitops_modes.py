"""Two ways to follow Git, one rule: tracked branch or pinned revision, per stack.

The rule lives in policy/gitops_rule.py. These tests hold every reader to it: config validation
(errors name the key, the value and the fix, before anything is registered), the root Application
(and, through its kustomize patches, every child rendered the way ArgoCD renders it) and the policy
pack, which must say "violation" exactly where the config would say "problem".
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import gitops
from components.argocd import root_application_resource_args
from components.settings.model import GitOpsSource
from policy import gitops_rule
from tests.support.paths import ROOT
from tests.support.policy import EXPLICIT_K8S, make_args, only
from tests.support.prereqs import require_tool
from tools.mockrun import stack_config

APP = "kubernetes:argoproj.io/v1alpha1:Application"
SHA = "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"

# (mode, environment, revision) -> the config keys with a problem. The same table drives the
# config, the root Application and the policy pack below.
CASES: list[tuple[str, str, str, list[str]]] = [
    ("track", "development", "main", []),
    ("track", "development", "release/2026-11", []),
    ("track", "development", "feature/x.y_z-1", []),
    ("pin", "development", SHA, []),
    ("pin", "production", SHA, []),
    # Only a full SHA pins: Argo CD resolves a tag or a short SHA by name, branches included.
    ("pin", "development", "v1.2.3", ["gitopsRevision"]),
    ("pin", "production", "v1.2.3", ["gitopsRevision"]),
    ("pin", "production", SHA[:12], ["gitopsRevision"]),
    ("pin", "production", SHA[:39], ["gitopsRevision"]),
    ("pin", "production", SHA.upper(), ["gitopsRevision"]),
    ("pin", "production", "refs/tags/v1.2.3", ["gitopsRevision"]),
    ("pin", "production", SHA + "0", ["gitopsRevision"]),
    ("track", "production", "main", ["gitopsMode"]),
    ("track", "development", "HEAD", ["gitopsRevision"]),
    ("track", "development", "head", ["gitopsRevision"]),
    ("track", "development", SHA, ["gitopsRevision"]),
    ("track", "development", "DEADBEEF1", ["gitopsRevision"]),
    ("track", "development", "v1.2.3", ["gitopsRevision"]),
    ("track", "development", "", ["gitopsRevision"]),
    ("track", "development", "bad..name", ["gitopsRevision"]),
    ("track", "development", "with space", ["gitopsRevision"]),
    ("track", "development", "-dash", ["gitopsRevision"]),
    ("track", "development", "x.lock", ["gitopsRevision"]),
    ("track", "development", "a/.hidden", ["gitopsRevision"]),
    ("track", "development", "trailing/", ["gitopsRevision"]),
    ("track", "development", "main@{1}", ["gitopsRevision"]),
    ("track", "development", "a:b", ["gitopsRevision"]),
    ("track", "development", "@", ["gitopsRevision"]),
    ("pin", "production", "main", ["gitopsRevision"]),
    ("pin", "development", "latest", ["gitopsRevision"]),
    ("pin", "production", "", ["gitopsRevision"]),
    ("follow", "development", "main", ["gitopsMode"]),
    ("pin", "staging", SHA, ["environment"]),
]


def _id(case: tuple[str, str, str, list[str]]) -> str:
    return f"{case[0]}-{case[1]}-{case[2] or 'empty'}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_the_rule_table(case: tuple[str, str, str, list[str]]) -> None:
    mode, environment, revision, keys = case
    assert [key for key, _ in gitops_rule.problems(mode, environment, revision)] == keys


def test_the_fixes_say_what_to_do() -> None:
    production_branch = gitops_rule.problems("track", "production", "main")
    assert production_branch == [
        (
            "gitopsMode",
            "a production stack must be pinned: set gitopsMode to 'pin' and gitopsRevision to a full 40-hex "
            "commit SHA (promote by a reviewed bump), or mark the stack environment: development.",
        )
    ]
    assert gitops_rule.problems("track", "development", "HEAD") == [
        (
            "gitopsRevision",
            "gitopsMode is 'track': name the branch (e.g. 'main'), not HEAD (the remote's default branch).",
        )
    ]
    assert gitops_rule.problems("track", "development", SHA) == [
        (
            "gitopsRevision",
            "looks like a commit SHA; gitopsMode 'track' needs a branch name, or set gitopsMode to 'pin'.",
        )
    ]
    [(_, why)] = gitops_rule.problems("track", "development", "bad..name")
    assert why.startswith("not a valid git branch name (contains a character or sequence git forbids")


@pytest.mark.parametrize("name", ["main", "release/1.x", "a.b", "user/feature-1", "x@y", "deps/bump_helm"], ids=str)
def test_ref_names_git_accepts(name: str) -> None:
    assert gitops_rule.ref_name_problem(name) is None


def test_ref_name_rule_agrees_with_git() -> None:
    git = require_tool("git", "apt-get install git")
    # "@" is left out: `git check-ref-format --branch @` expands it to the current branch.
    names = ["main", "a..b", "a b", "-x", "x.lock", "a/.b", "a/", "/a", "a//b", "a@{1}", "a:b", "a?b", "a*b",
             "a[b", "a\\b", "a~1", "a^1", "a.", "release/1.x", "x@y", "a/b.c", "a\tb", ".a"]  # fmt: skip
    for name in names:
        proc = subprocess.run([git, "check-ref-format", "--branch", name], capture_output=True, check=False)
        assert (gitops_rule.ref_name_problem(name) is None) == (proc.returncode == 0), name


# --- config: the stack file decides, validated before any resource -------------------------------


def test_the_dev_stack_tracks_main() -> None:
    dev = stack_config("dev")
    assert dev["gitops-cluster:gitopsMode"] == "track"
    assert dev["gitops-cluster:environment"] == "development"
    assert dev["gitops-cluster:gitopsRevision"] == "main"


def test_a_new_stack_is_pinned_production_by_default() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    assert declared["gitopsMode"]["default"] == "pin"
    assert declared["environment"]["default"] == "production"
    # No default revision: a pinned stack names its commit, or validation stops it with the fix.
    assert declared["gitopsRevision"]["default"] == ""
    assert gitops_rule.problems("pin", "production", "") == [("gitopsRevision", f"required: {gitops_rule.PIN_FIX}.")]
    for key in ("gitopsMode", "environment"):
        assert declared[key]["type"] == "string" and declared[key]["description"], key


def _config_overrides(mode: str, environment: str, revision: str) -> dict[str, Any]:
    return {"gitopsMode": mode, "environment": environment, "gitopsRevision": revision}


@pytest.mark.parametrize("case", [c for c in CASES if c[3]], ids=_id)
def test_config_rejects_what_the_rule_rejects(config_error: Any, case: tuple[str, str, str, list[str]]) -> None:
    mode, environment, revision, keys = case
    err = config_error(_config_overrides(mode, environment, revision))
    assert [p.key for p in err.problems] == keys
    values = {"gitopsMode": mode, "environment": environment, "gitopsRevision": revision}
    for problem, (key, fix) in zip(err.problems, gitops_rule.problems(mode, environment, revision), strict=True):
        assert f"gitops-cluster:{key} = {values[key]!r}: {fix}" in str(err)
        assert problem.fix == fix


def test_production_stack_with_a_branch_is_rejected_with_its_fix(config_error: Any) -> None:
    err = config_error({"environment": "production"})  # the dev stack's gitopsMode track, revision main
    assert str(err).splitlines()[1] == (
        "  - gitops-cluster:gitopsMode = 'track': a production stack must be pinned: set gitopsMode to 'pin' and "
        "gitopsRevision to a full 40-hex commit SHA (promote by a reviewed bump), or mark the stack "
        "environment: development."
    )


# --- the root Application and its children --------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "environment", "revision"),
    [
        ("track", "development", "main"),
        ("pin", "production", SHA),
        ("pin", "development", "0123456789abcdef" * 2 + "01234567"),
    ],
)
def test_the_program_registers_the_root_the_stack_asks_for(
    run_stack: Any, mode: str, environment: str, revision: str
) -> None:
    rec = run_stack(_config_overrides(mode, environment, revision))
    [app] = rec.of_type(APP)
    source = app.inputs["spec"]["source"]
    assert source["targetRevision"] == revision
    assert f"value: {revision}" in source["kustomize"]["patches"][0]["patch"]
    labels = app.inputs["metadata"]["labels"]
    assert labels[gitops_rule.MODE_LABEL] == mode
    assert labels[gitops_rule.ENVIRONMENT_LABEL] == environment
    assert app.inputs["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_root_application_refuses_a_tracking_production_root() -> None:
    with pytest.raises(ValueError, match=r"gitopsMode = 'track': a production stack must be pinned"):
        gitops.root_application(gitops.DEFAULT_REPO_URL, "main", gitops.DEFAULT_APPS_PATH, mode="track")
    with pytest.raises(ValueError, match=r"gitopsRevision = 'HEAD': gitopsMode is 'track': name the branch"):
        gitops.root_application(
            gitops.DEFAULT_REPO_URL, "HEAD", gitops.DEFAULT_APPS_PATH, mode="track", environment="development"
        )


def _render_children(app: dict[str, Any], tmp_path: Path) -> dict[str, dict[str, Any]]:
    kubectl = require_tool("kubectl", "kubectl with its built-in kustomize; .ci/run installs it")
    overlay = gitops.write_root_overlay(app, ROOT, tmp_path / "overlay")
    out = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True, timeout=60)
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(out.stdout) if d}


@pytest.mark.parametrize(
    ("mode", "environment", "revision"), [("track", "development", "main"), ("pin", "production", SHA)]
)
def test_every_git_child_follows_the_root(tmp_path: Path, mode: str, environment: str, revision: str) -> None:
    source = GitOpsSource(gitops.DEFAULT_REPO_URL, revision, gitops.DEFAULT_APPS_PATH, mode, environment)
    args = root_application_resource_args(source)
    app = {"apiVersion": args["api_version"], "kind": args["kind"], "metadata": args["metadata"], "spec": args["spec"]}
    children = _render_children(app, tmp_path)
    upstream = set(gitops.upstream_repos(yaml.safe_load((ROOT / "versions.yaml").read_text(encoding="utf-8"))))
    # Children from an upstream Git repository (the external-snapshotter) stay at their versions.yaml pin.
    git_children = [
        c
        for c in children.values()
        if "chart" not in c["spec"]["source"] and c["spec"]["source"]["repoURL"] not in upstream
    ]
    assert len(git_children) >= 5
    for child in git_children:
        assert child["spec"]["source"]["targetRevision"] == revision, child["metadata"]["name"]
        assert child["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # Third-party charts stay at their pinned chart versions whatever the root follows.
    for child in children.values():
        if "chart" in child["spec"]["source"]:
            assert gitops_rule.GIT_TAG.match(child["spec"]["source"]["targetRevision"])


# --- the policy pack holds the registered root to the same rule ----------------------------------


def _policy_args(mode: str, environment: str, revision: str, *, stack: str = "dev", config: Any = None) -> Any:
    # Built by hand (root_application() validates first): this tests the pack on its own.
    manifest: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "root-app",
            "namespace": "argocd",
            "finalizers": [gitops.RESOURCES_FINALIZER],
            "labels": {gitops_rule.MODE_LABEL: mode, gitops_rule.ENVIRONMENT_LABEL: environment},
        },
        "spec": {
            "project": gitops.ROOT_PROJECT,
            "source": {"repoURL": gitops.DEFAULT_REPO_URL, "targetRevision": revision, "path": "manifests/argocd/apps"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    args = make_args(APP, manifest, name="root-app", provider=EXPLICIT_K8S, config=config)
    if stack != "dev":
        args.urn = args.urn.replace("urn:pulumi:dev::", f"urn:pulumi:{stack}::")
    return args


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_the_policy_pack_agrees_with_the_config(case: tuple[str, str, str, list[str]]) -> None:
    mode, environment, revision, keys = case
    messages = only(_policy_args(mode, environment, revision), "gitops-application-sync")
    assert len(messages) == len(keys)
    for message, key in zip(messages, keys, strict=True):
        assert message.startswith(f"Application 'root-app' violates gitops-cluster:{key} = ")


def test_the_pack_config_can_force_a_stack_to_be_production() -> None:
    config = {"productionStacks": ["prod"]}
    assert (
        only(_policy_args("track", "development", "main", stack="dev", config=config), "gitops-application-sync") == []
    )
    messages = only(
        _policy_args("track", "development", "main", stack="prod", config=config), "gitops-application-sync"
    )
    assert messages == [
        "Application 'root-app' violates gitops-cluster:gitopsMode = 'track' (the pack config lists this stack "
        "in productionStacks): a production stack must be pinned: set gitopsMode to 'pin' and gitopsRevision to a "
        "full 40-hex commit SHA (promote by a reviewed bump), or mark the stack environment: development."
    ]


def test_the_dev_stack_root_passes_the_pack(dev: Any) -> None:
    [app] = dev.of_type(APP)
    args = make_args(APP, app.inputs, name="root-app", provider=EXPLICIT_K8S)
    assert only(args, "gitops-application-sync") == []
    assert app.inputs["spec"]["source"]["targetRevision"] == "main"
