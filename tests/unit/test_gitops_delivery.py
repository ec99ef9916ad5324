"""What needs `pulumi up` and what does not: the delivery path of a change, per stack.

On a stack that tracks a branch, a change under manifests/ reaches the cluster through ArgoCD
alone (no preview, no `/pulumi up`); on a pinned stack it waits for a tag and a `gitopsRevision`
bump. Program, Ansible, versions and stack-file changes always go through the preview and
`/pulumi up`. tools/ci/affected_stacks.py decides both the preview matrix and the PR comment's table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.workflows import WF, jobs, run_github_script
from tools.ci import affected_stacks as a

DEV = a.StackGit("dev", "track", "main", "development")
PROD = a.StackGit("prod", "pin", "v1.4.0", "production")
STACKS = [DEV, PROD]
NAMES = [s.name for s in STACKS]

MANIFEST = "manifests/services/auth/kustomization.yaml"


def by_stack(changed: list[str]) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    found, _ = a.deliveries(changed, STACKS)
    return {d.stack.name: (d.argocd, d.pulumi) for d in found}


def test_a_manifest_only_change_needs_no_pulumi_up_anywhere() -> None:
    changed = [MANIFEST, "manifests/argocd/apps/redis.yaml"]
    assert a.affected_stacks(changed, NAMES) == []  # no preview job runs
    assert by_stack(changed) == {
        "dev": (tuple(changed), ()),
        "prod": (tuple(changed), ()),
    }
    table = a.delivery_markdown(changed, STACKS)
    assert (
        "| `dev` | tracks branch `main` (development) | **ArgoCD alone** syncs it after the merge to `main`; "
        "no `/pulumi up` needed | no change |"
    ) in table
    assert (
        "| `prod` | pinned to `v1.4.0` (production) | nothing moves on merge: tag a release, bump "
        "`gitopsRevision` in `Pulumi.prod.yaml`, then `/pulumi up prod` | no change |"
    ) in table


@pytest.mark.parametrize(
    "path",
    [
        "components/gitops.py",
        "components/argocd.py",
        "ansible/site.yml",
        "versions.yaml",
        "Pulumi.yaml",
        "policy/gitops_rule.py",
        "requirements.txt",
        "__main__.py",
    ],
)
def test_program_cluster_and_argocd_changes_need_pulumi_up_on_every_stack(path: str) -> None:
    assert a.affected_stacks([path], NAMES) == NAMES
    assert by_stack([path]) == {"dev": ((), (path,)), "prod": ((), (path,))}
    table = a.delivery_markdown([path], STACKS)
    assert f"| **needs `/pulumi up dev`** after the preview: `{path}` |" in table
    assert f"| **needs `/pulumi up prod`** after the preview: `{path}` |" in table


def test_a_stack_file_needs_pulumi_up_on_that_stack_only() -> None:
    # e.g. the promotion of a release to production: the one-line gitopsRevision bump.
    assert a.affected_stacks(["Pulumi.prod.yaml"], NAMES) == ["prod"]
    assert by_stack(["Pulumi.prod.yaml"]) == {"dev": ((), ()), "prod": ((), ("Pulumi.prod.yaml",))}


def test_a_mixed_change_says_both_paths() -> None:
    changed = [MANIFEST, "components/network.py", "docs/gitops-practices.md", "Pulumi.gone.yaml"]
    found, inert = a.deliveries(changed, STACKS)
    assert inert == ["docs/gitops-practices.md", "Pulumi.gone.yaml"]
    assert [(d.argocd, d.pulumi) for d in found] == [((MANIFEST,), ("components/network.py",))] * 2
    table = a.delivery_markdown(changed, STACKS)
    assert table.endswith(
        f"`manifests/` files changed: `{MANIFEST}`.\n\nReaches no cluster: `docs/gitops-practices.md`, "
        "`Pulumi.gone.yaml`.\n"
    )


def test_docs_and_readmes_under_manifests_reach_no_cluster() -> None:
    assert by_stack(["manifests/README.md", "docs/x.md"]) == {"dev": ((), ()), "prod": ((), ())}


def test_long_lists_are_cut() -> None:
    changed = [f"manifests/services/{d}/kustomization.yaml" for d in "abcdefg"]
    assert "and 2 more." in a.delivery_markdown(changed, STACKS)


def test_stack_modes_come_from_the_stack_files(tmp_path: Path) -> None:
    root = ROOT
    assert a.read_stack_git("dev", root) == a.StackGit("dev", "track", "main", "development")
    # A stack file that says nothing gets Pulumi.yaml's declared defaults: pinned production.
    (tmp_path / "Pulumi.yaml").write_text((root / "Pulumi.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  aws:region: ap-northeast-2\n", encoding="utf-8")
    assert a.read_stack_git("prod", tmp_path) == a.StackGit("prod", "pin", "", "production")


def test_the_cli_writes_the_table_and_prints_the_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\nconfig: {}\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  gitops-cluster:gitopsMode: track\n  gitops-cluster:gitopsRevision: main\n"
        "  gitops-cluster:environment: development\n",
        encoding="utf-8",
    )
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  gitops-cluster:gitopsRevision: v2.0.0\n", encoding="utf-8")
    changed = tmp_path / "changed.txt"
    changed.write_text(f"{MANIFEST}\n", encoding="utf-8")
    out = tmp_path / "delivery.md"
    argv = ["--root", str(tmp_path), "--changed-files", str(changed), "--delivery-markdown", str(out)]
    assert a.main(argv) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert out.read_text(encoding="utf-8") == (
        "### How this change reaches each stack\n\n"
        "| stack | follows | `manifests/` (ArgoCD) | program and stack config (`pulumi up`) |\n"
        "|---|---|---|---|\n"
        "| `dev` | tracks branch `main` (development) | **ArgoCD alone** syncs it after the merge to `main`; "
        "no `/pulumi up` needed | no change |\n"
        "| `prod` | pinned to `v2.0.0` (production) | nothing moves on merge: tag a release, bump "
        "`gitopsRevision` in `Pulumi.prod.yaml`, then `/pulumi up prod` | no change |\n"
        "\n"
        f"`manifests/` files changed: `{MANIFEST}`.\n"
    )


# --- the PR workflow: the table and the rendered diff in one comment, edited in place -----------

GITOPS_MARKER = "<!-- gitops-cluster:gitops-delivery -->"
GITOPS_ENV = {"HEAD_SHA": "c" * 40, "PR_NUMBER": "9", "RUN_URL": "https://run/9"}


def test_the_pr_workflow_computes_the_table_with_read_only_rights() -> None:
    job = jobs(WF["pr"])["gitops"]
    assert job["permissions"] == {"contents": "read"}
    assert job["if"] == "github.event_name == 'pull_request'"
    script = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert 'git diff --name-only "${BASE_SHA}...${HEAD_SHA}" > gitops/changed-files.txt' in script
    assert "tools.ci.affected_stacks --changed-files gitops/changed-files.txt" in script
    assert "--delivery-markdown gitops/delivery.md" in script
    # The rendered diff of the base against the head, into the same comment.
    assert 'git worktree add --detach "$RUNNER_TEMP/base" "$BASE_SHA"' in script
    assert (
        '.venv/bin/python -m tools.ci.render_diff --base "$RUNNER_TEMP/base" --head . --out gitops/render-diff.md'
        in script
    )
    assert script.index("make helm") < script.index("tools.ci.render_diff")
    upload = next(s for s in job["steps"] if "actions/upload-artifact@" in str(s.get("uses")))
    assert upload["if"] == "always()"
    comment = jobs(WF["pr"])["gitops-comment"]
    assert comment["permissions"] == {"pull-requests": "write"}
    assert "needs.gitops.result == 'failure'" in comment["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in comment["if"]


def test_the_gitops_comment_is_created_once_then_edited_in_place() -> None:
    files = {"gitops/delivery.md": "### How this change reaches each stack\n| dev | ... |\n"}
    first = run_github_script(
        "pr",
        "gitops-comment",
        GITOPS_ENV,
        {"issues.listComments": {"data": []}, "issues.createComment": {"data": {}}},
        files=files,
    )
    assert first.failed is None, first.error
    [created] = first.called("issues.createComment")
    assert created["issue_number"] == 9
    assert created["body"].startswith(GITOPS_MARKER + "\n### How this change reaches each stack\n")
    assert f"Commit {'c' * 40} · [workflow run](https://run/9)" in created["body"]
    assert first.outputs == {"action": "created"}
    # Only the table arrived (the render failed): the comment says so instead of hiding it.
    assert ":x: The rendered diff did not run to the end; see the workflow run." in created["body"]

    existing = [
        {"id": 5, "user": {"login": "someone"}, "body": f"quoting {GITOPS_MARKER}"},
        {"id": 6, "user": {"login": "github-actions[bot]"}, "body": f"{GITOPS_MARKER}\nold"},
    ]
    files["gitops/render-diff.md"] = "### Rendered changes\n- api-services: 1 changed\n"
    second = run_github_script(
        "pr",
        "gitops-comment",
        GITOPS_ENV,
        {"issues.listComments": {"data": existing}, "issues.updateComment": {"data": {}}},
        files=files,
    )
    [updated] = second.called("issues.updateComment")
    assert updated["comment_id"] == 6
    assert "### Rendered changes\n- api-services: 1 changed\n" in updated["body"]
    assert ":x:" not in updated["body"]
    assert second.called("issues.createComment") == []


def test_a_huge_rendered_diff_is_cut_to_fit_a_comment() -> None:
    files = {"gitops/delivery.md": "table\n", "gitops/render-diff.md": "summary first\n" + "x" * 100_000}
    run = run_github_script(
        "pr",
        "gitops-comment",
        GITOPS_ENV,
        {"issues.listComments": {"data": []}, "issues.createComment": {"data": {}}},
        files=files,
    )
    [created] = run.called("issues.createComment")
    assert len(created["body"]) < 65536
    assert "summary first" in created["body"]
    assert "truncated: the full rendered diff is in the workflow run" in created["body"]
