"""The apply gate (tools/ci/apply_gate.cjs, run by .github/workflows/apply.yml): one writer cannot
pass it alone.

Each attack of the security review is a case here, run through the workflow's own github-script
steps against the fake Octokit of tools/ci/github_script_harness.cjs, and each must be refused with
its message: a promotion dispatched from a writer's branch carrying commits under an e-mail no
account is linked to; a push to someone else's branch that is then renamed; a bot approval (which
used to crash the script); a bot-authored pull request that is more than a promotion; a head that
does not contain the default branch; a second pull request applying a stack another one holds;
approvals dismissed (or the pull request closed) between the gate and `pulumi up`. The happy paths
- a reviewed pull request, a promotion from the default branch - still apply.

The fake GitHub answers in the REST API's documented shapes (github/rest-api-description,
descriptions/api.github.com/api.github.com.2022-11-28.yaml: components/schemas pull-request,
pull-request-review, commit, activity, commit-comparison, diff-entry, workflow-run,
repository-collaborator-permission, public-user, issue), trimmed to the fields the gate reads.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT
from tests.support.workflows import WF, jobs, run_github_script, steps

OWNER, NAME = "example-org", "gitops-cluster"
REPO = f"{OWNER}/{NAME}"
MAIN_HEAD = "c" * 40  # the default branch's head
HEAD = "a" * 40  # the pull request's head
OLD = "b" * 40
RUN_ID = 9001
OVERLAY = "manifests/services/auth/kustomization.yaml"
DIGEST = "sha256:" + "0123456789abcdef" * 4

USERS = {
    "author": 101,
    "reviewer": 102,
    "operator": 103,
    "writer": 104,
    "dispatcher": 105,
    "github-actions[bot]": 41898282,
    "web-flow": 19864447,
    "dependabot[bot]": 49699333,
}


def user(login: str) -> dict[str, Any]:
    """simple-user, as GitHub embeds it in reviews, commits, activities and runs."""
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {"login": login, "id": USERS[login], "node_id": f"U_{USERS[login]}", "type": kind, "site_admin": False}


def email(login: str) -> str:
    return f"{USERS[login]}+{login}@users.noreply.github.com"


def commit(
    sha: str,
    author: str | None,
    committer: str | None = None,
    *,
    author_email: str | None = None,
    message: str = "Change the thing",
    parent: str = MAIN_HEAD,
) -> dict[str, Any]:
    """One item of `GET /repos/{owner}/{repo}/pulls/{pull_number}/commits` (schema `commit`): the
    git author and committer (name, e-mail) and the accounts GitHub linked them to, or null."""
    committer = author if committer is None else committer
    git_author = {
        "name": author or "ghost",
        "email": author_email or (email(author) if author else "ghost@example.invalid"),
        "date": "2026-12-07T08:00:00Z",
    }
    git_committer = {
        "name": committer or "ghost",
        "email": email(committer) if committer else git_author["email"],
        "date": "2026-12-07T08:00:00Z",
    }
    if committer == "web-flow":
        git_committer["email"] = "noreply@github.com"
    return {
        "sha": sha,
        "node_id": f"C_{sha[:8]}",
        "commit": {"author": git_author, "committer": git_committer, "message": message, "comment_count": 0},
        "author": user(author) if author else None,
        "committer": user(committer) if committer else None,
        "parents": [{"sha": parent}],
    }


def activity(actor: str, after: str, ref: str = "refs/heads/feature", kind: str = "push") -> dict[str, Any]:
    """One item of `GET /repos/{owner}/{repo}/activity` (schema `activity`)."""
    return {
        "id": abs(hash((actor, after, ref))) % 10**9,
        "node_id": "PSH_x",
        "before": "0" * 40,
        "after": after,
        "ref": ref,
        "timestamp": "2026-12-07T08:01:00Z",
        "activity_type": kind,
        "actor": user(actor),
    }


def review(login: str, state: str = "APPROVED", commit_id: str = HEAD) -> dict[str, Any]:
    """One item of `GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews` (pull-request-review)."""
    return {"id": USERS[login] * 10, "user": user(login), "state": state, "commit_id": commit_id, "body": ""}


def permission(role: str) -> dict[str, Any]:
    # repository-collaborator-permission: the legacy `permission` and the finer `role_name`.
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    return {"data": {"permission": legacy, "role_name": role, "user": None}}


def patch_file(
    filename: str = OVERLAY, patch: str | None = None, additions: int = 1, deletions: int = 1
) -> dict[str, Any]:
    """diff-entry of a commit-comparison."""
    if patch is None:
        patch = (
            "@@ -24,4 +24,4 @@ images:\n   - name: domain-api\n"
            "     newName: ghcr.io/example-org/gitops-cluster/auth-api\n"
            f"-    newTag: 0.1.0\n+    digest: {DIGEST}"
        )
    return {
        "sha": "d" * 40,
        "filename": filename,
        "status": "modified",
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
        "patch": patch,
    }


def gate_api(
    *,
    pr_user: str = "author",
    head_ref: str = "feature",
    commits: list[dict[str, Any]] | None = None,
    activities: list[dict[str, Any]] | None = None,
    reviews: list[dict[str, Any]] | None = None,
    roles: dict[str, str] | None = None,
    behind_by: int = 0,
    files: list[dict[str, Any]] | None = None,
    run: dict[str, Any] | None = None,
    locked_by: list[int] | None = None,
    pr_changes: dict[str, Any] | None = None,
    public_emails: dict[str, str] | None = None,
) -> dict[str, Any]:
    pr = {
        "number": 42,
        "state": "open",
        "merged": False,
        "draft": False,
        "mergeable": True,
        "mergeable_state": "clean",
        "user": user(pr_user),
        "head": {"ref": head_ref, "sha": HEAD, "repo": {"full_name": REPO}},
        "base": {"ref": "main", "sha": MAIN_HEAD, "repo": {"full_name": REPO}},
        "labels": [],
        **(pr_changes or {}),
    }
    commit_list = [commit(HEAD, "author")] if commits is None else commits
    access = {"reviewer": "write", "operator": "write", "author": "write", "writer": "write", **(roles or {})}
    profiles = {
        login: {"data": {**user(login), "email": (public_emails or {}).get(login)}}
        for login in USERS
        if not login.endswith("[bot]")
    }
    api: dict[str, Any] = {
        "repos.get": {"data": {"default_branch": "main", "full_name": REPO}},
        "repos.getContent": {"data": {"type": "file", "path": "Pulumi.dev.yaml"}},
        "repos.getCollaboratorPermissionLevel": {
            "byParam": "username",
            "responses": {login: permission(r) for login, r in access.items()},
            # Bots and unknown accounts: GitHub answers 404 ("is not a user").
            "default": {"status": 404, "message": "dependabot[bot] is not a user"},
        },
        "pulls.get": {"data": pr},
        "pulls.listReviews": {"data": [review("reviewer")] if reviews is None else reviews},
        "pulls.listCommits": {"data": commit_list},
        "repos.listActivities": {
            "data": [activity("author", c["sha"]) for c in commit_list] if activities is None else activities
        },
        "repos.compareCommitsWithBasehead": {
            "data": {
                "status": "ahead" if not behind_by else "diverged",
                "ahead_by": len(commit_list),
                "behind_by": behind_by,
                "total_commits": len(commit_list),
                "merge_base_commit": {"sha": MAIN_HEAD},
                "files": [patch_file("components/stack.py", "@@ -1 +1 @@\n-a\n+b")] if files is None else files,
            }
        },
        "issues.listForRepo": {
            "data": [
                {
                    "number": n,
                    "state": "open",
                    "pull_request": {"url": f"https://api/pulls/{n}"},
                    "labels": [{"name": "pulumi-lock:dev"}],
                }
                for n in (locked_by or [])
            ]
        },
        "users.getByUsername": {"byParam": "username", "responses": profiles, "default": {"status": 404}},
        "issues.createComment": {"data": {"id": 1}},
        "issues.addLabels": {"data": [{"name": "pulumi-lock:dev"}]},
    }
    if run is not None:
        api["actions.getWorkflowRun"] = {"data": run}
    return api


def promote_run(**changes: Any) -> dict[str, Any]:
    """workflow-run of the promote workflow that made the promotion commit."""
    return {
        "id": RUN_ID,
        "name": "promote",
        "path": ".github/workflows/promote.yml",
        "event": "workflow_dispatch",
        "head_branch": "main",
        "head_sha": MAIN_HEAD,
        "status": "completed",
        "conclusion": "success",
        "actor": user("dispatcher"),
        "triggering_actor": user("dispatcher"),
        **changes,
    }


PROMOTION_MESSAGE = (
    f"Promote auth to ghcr.io/example-org/gitops-cluster/auth-api@sha256:0123456789ab\n\nImage ghcr.io/example-org/"
    f"gitops-cluster/auth-api@{DIGEST}, requested through the promote workflow: "
    f"https://github.com/{REPO}/actions/runs/{RUN_ID}"
)


def promotion_api(**changes: Any) -> dict[str, Any]:
    """A promotion pull request as promote.yml opens it from the default branch."""
    bot_commit = commit(HEAD, "github-actions[bot]", message=PROMOTION_MESSAGE)
    defaults: dict[str, Any] = {
        "pr_user": "github-actions[bot]",
        "head_ref": "promote/auth-0123456789ab",
        "commits": [bot_commit],
        "activities": [
            activity("github-actions[bot]", MAIN_HEAD, "refs/heads/promote/auth-0123456789ab", "branch_creation"),
            activity("github-actions[bot]", HEAD, "refs/heads/promote/auth-0123456789ab"),
        ],
        "files": [patch_file()],
        "run": promote_run(),
    }
    return gate_api(**{**defaults, **changes})


GATE_ENV = {"COMMENT_BODY": "/pulumi up dev", "COMMENTER": "operator", "PR_NUMBER": "42", "RUN_URL": "https://run/1"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runner's checkout as the two jobs lay it out: the gate job's sparse tools/ci, and the
    apply job's default-branch copy in .trusted/."""
    ws = tmp_path_factory.mktemp("workspace")
    (ws / "tools").symlink_to(ROOT / "tools")
    (ws / ".trusted").symlink_to(ROOT)
    return ws


def gate(api: dict[str, Any], workspace: Path, env: dict[str, str] | None = None) -> Any:
    return run_github_script("apply", "gate", {**GATE_ENV, **(env or {})}, api, workspace=workspace)


def refused(run: Any, *messages: str) -> str:
    assert run.error is None, f"the gate crashed instead of refusing: {run.error}"
    assert run.failed is not None
    assert run.outputs == {}, "a refused request must not hand a stack or SHA to the apply job"
    assert run.called("issues.addLabels") == [], "a refused request takes no lock"
    [comment] = run.called("issues.createComment")
    body: str = comment["body"]
    assert "refused" in body
    for message in messages:
        assert message in body, body
    return body


# --- the happy paths -----------------------------------------------------------------------------


def test_a_reviewed_pull_request_applies_and_takes_the_stacks_lock(workspace: Path) -> None:
    run = gate(gate_api(), workspace)
    assert run.failed is None, run.error
    assert run.outputs == {"stack": "dev", "sha": HEAD, "pr": "42"}
    assert run.called("issues.addLabels") == [
        {"owner": OWNER, "repo": NAME, "issue_number": 42, "labels": ["pulumi-lock:dev"]}
    ]
    [comment] = run.called("issues.createComment")
    assert f"Applying {HEAD} to stack `dev` (approved by @reviewer)" in comment["body"]
    assert run.called("repos.compareCommitsWithBasehead")[0]["basehead"] == f"main...{HEAD}"
    asked = [c["username"] for c in run.called("repos.getCollaboratorPermissionLevel")]
    assert asked == ["operator", "reviewer"]


def test_a_promotion_from_the_default_branch_applies(workspace: Path) -> None:
    run = gate(promotion_api(), workspace)
    assert run.failed is None, run.error
    assert run.called("actions.getWorkflowRun") == [{"owner": OWNER, "repo": NAME, "run_id": RUN_ID}]
    [comment] = run.called("issues.createComment")
    assert "approved by @reviewer" in comment["body"]


def test_the_recheck_before_pulumi_up_passes_an_unchanged_pull_request(workspace: Path) -> None:
    run = recheck(gate_api(locked_by=[42]), workspace)
    assert run.failed is None, run.error
    assert run.called("issues.createComment") == [], "the apply job holds AWS credentials and never comments"


# --- the attacks of the review -------------------------------------------------------------------


def test_a_promotion_dispatched_from_a_writers_branch_is_refused(workspace: Path) -> None:
    # The reproduced attack: the writer commits under an e-mail linked to no account, dispatches
    # the promotion from that branch (the old promote.yml created the branch at its head), gets a
    # pull request authored by github-actions[bot], approves it and comments `/pulumi up`.
    ghost = commit(OLD, None, author_email="someone@example.invalid")
    bot = commit(HEAD, "github-actions[bot]", message=PROMOTION_MESSAGE, parent=OLD)
    api = promotion_api(
        commits=[ghost, bot],
        activities=[activity("writer", OLD, "refs/heads/writers-branch")],
        files=[patch_file(), patch_file("components/stack.py", "@@ -1 +1 @@\n-a\n+b")],
        run=promote_run(
            head_branch="writers-branch", head_sha=OLD, actor=user("writer"), triggering_actor=user("writer")
        ),
        reviews=[review("writer")],
    )
    refused(
        gate(api, workspace),
        "names author <someone@example.invalid>, an e-mail linked to no GitHub account",
        "a bot-authored pull request is applied only as one promotion commit; it has 2",
        "not counted: @writer (pushed or wrote a commit of this pull request",
    )


def test_a_promotion_run_from_another_branch_is_refused_even_as_one_clean_commit(workspace: Path) -> None:
    api = promotion_api(
        run=promote_run(head_branch="writers-branch", head_sha=OLD),
        commits=[commit(HEAD, "github-actions[bot]", message=PROMOTION_MESSAGE, parent=OLD)],
    )
    refused(
        gate(api, workspace),
        f"promote run {RUN_ID} ran from `writers-branch`, not the default branch `main`",
    )


def test_the_dispatcher_of_a_promotion_cannot_approve_it(workspace: Path) -> None:
    api = promotion_api(run=promote_run(actor=user("reviewer"), triggering_actor=user("reviewer")))
    refused(
        gate(api, workspace),
        f"@reviewer (pushed or wrote a commit of this pull request: dispatched promote run {RUN_ID})",
    )


def test_whoever_re_ran_the_promotion_counts_too(workspace: Path) -> None:
    api = promotion_api(run=promote_run(triggering_actor=user("reviewer")))
    refused(gate(api, workspace), "@reviewer (pushed or wrote a commit of this pull request: dispatched promote run")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"files": [patch_file(patch="@@ -1 +1 @@\n-    newTag: 0.1.0\n+    newTag: latest")]},
            "exactly a promotion: one line of one manifests/services/<domain>/kustomization.yaml",
        ),
        ({"files": [patch_file("components/stack.py", "@@ -1 +1 @@\n-a\n+b")]}, "this one changes components/stack.py"),
        (
            {"files": [patch_file(), patch_file("policy/policies.py", "@@ -1 +1 @@\n-a\n+b")]},
            "policy/policies.py (+1 -1)",
        ),
        (
            {"commits": [commit(HEAD, "github-actions[bot]", message="Promote auth, no run named")]},
            "names no promote workflow run",
        ),
        ({"run": promote_run(path=".github/workflows/other.yml")}, "not the promote workflow"),
        (
            {"run": promote_run(head_sha=OLD)},
            "does not start from bbbbbbbbbbbb, the default branch's head the promote run checked out",
        ),
        (
            {"commits": [commit(HEAD, "author", message=PROMOTION_MESSAGE)]},
            "was not made by github-actions[bot]",
        ),
    ],
)
def test_a_bot_authored_pull_request_must_be_exactly_a_promotion(
    workspace: Path, changes: dict[str, Any], message: str
) -> None:
    refused(gate(promotion_api(**changes), workspace), message)


def test_a_commit_under_an_unlinked_e_mail_is_refused(workspace: Path) -> None:
    api = gate_api(commits=[commit(OLD, "author"), commit(HEAD, None, author_email="me@laptop.local")])
    refused(
        gate(api, workspace),
        "commit aaaaaaaaaaaa names author <me@laptop.local>, an e-mail linked to no GitHub account",
    )


def test_an_approver_whose_e_mail_wrote_a_commit_is_not_counted(workspace: Path) -> None:
    # Author and committer count by e-mail as well as by the account GitHub linked.
    written = commit(HEAD, "author", "author")
    written["commit"]["committer"]["email"] = "bob@example.com"
    api = gate_api(commits=[written], public_emails={"reviewer": "Bob@example.com"})
    refused(
        gate(api, workspace),
        "@reviewer (pushed or wrote a commit of this pull request: wrote commit aaaaaaaaaaaa as committer)",
    )


def test_a_push_to_someone_elses_branch_counts_after_the_branch_is_renamed(workspace: Path) -> None:
    # The reviewer pushed to the author's branch `feature`, then renamed it `feature-2`: activity
    # under the old name still names the pusher, matched by the commit it pushed.
    api = gate_api(
        head_ref="feature-2",
        commits=[commit(OLD, "author"), commit(HEAD, "author")],
        activities=[
            activity("author", OLD, "refs/heads/feature"),
            activity("reviewer", HEAD, "refs/heads/feature", "force_push"),
        ],
    )
    refused(gate(api, workspace), "@reviewer (pushed or wrote a commit of this pull request: pushed to feature)")


def test_pushes_to_the_current_branch_name_count(workspace: Path) -> None:
    api = gate_api(activities=[activity("reviewer", "e" * 40, "refs/heads/feature", "force_push")])
    refused(gate(api, workspace), "@reviewer (pushed or wrote a commit of this pull request: pushed to feature)")


def test_a_bot_approval_is_refused_with_a_comment_not_a_crash(workspace: Path) -> None:
    body = refused(
        gate(gate_api(reviews=[review("dependabot[bot]")]), workspace), "@dependabot[bot] (a bot: only people approve)"
    )
    assert "no approval of the current head commit" in body


def test_an_account_github_does_not_know_has_no_access(workspace: Path) -> None:
    refused(gate(gate_api(), workspace, {"COMMENTER": "ghost"}), "@ghost has `none` access")


def test_a_head_behind_the_default_branch_is_refused(workspace: Path) -> None:
    refused(gate(gate_api(behind_by=3), workspace), "is 3 commit(s) behind `main`: merge or rebase onto it first")


def test_a_second_pull_request_cannot_apply_a_stack_another_one_holds(workspace: Path) -> None:
    body = refused(gate(gate_api(locked_by=[41]), workspace), "stack `dev` is held by #41 (label `pulumi-lock:dev`)")
    assert "merge or close it first" in body


def test_an_api_failure_refuses_on_the_pull_request(workspace: Path) -> None:
    api = gate_api()
    api["repos.listActivities"] = {"status": 502, "message": "Bad Gateway"}
    refused(gate(api, workspace), "the gate could not finish (502: Bad Gateway); nothing was applied")


@pytest.mark.parametrize(
    ("env_changes", "api_changes", "reason"),
    [
        ({"COMMENT_BODY": "/pulumi up dev; rm -rf /"}, {}, "usage: `/pulumi up <stack>`"),
        ({"COMMENT_BODY": "/pulumi up"}, {}, "usage: `/pulumi up <stack>`"),
        ({}, {"roles": {"operator": "read"}}, "@operator has `read` access"),
        ({}, {"roles": {"operator": "triage"}}, "@operator has `triage` access"),
        ({}, {"pr_changes": {"mergeable_state": "blocked"}}, "not mergeable (state `blocked`)"),
        ({}, {"pr_changes": {"mergeable_state": "dirty", "mergeable": False}}, "not mergeable (state `dirty`)"),
        ({}, {"pr_changes": {"mergeable_state": "unstable"}}, "not mergeable (state `unstable`)"),
        (
            {},
            {"pr_changes": {"head": {"ref": "feature", "sha": HEAD, "repo": {"full_name": "someone/fork"}}}},
            "comes from a fork",
        ),
        ({}, {"pr_changes": {"state": "closed"}}, "not open"),
        ({}, {"pr_changes": {"draft": True}}, "is a draft"),
        (
            {},
            {"pr_changes": {"base": {"ref": "scratch", "sha": OLD}}},
            "targets `scratch`, not the default branch `main`",
        ),
        ({}, {"reviews": []}, f"no approval of the current head commit {HEAD} by another account with write access"),
        ({}, {"roles": {"reviewer": "read"}}, "not counted: @reviewer (`read` access)"),
        ({}, {"roles": {"reviewer": "triage"}}, "not counted: @reviewer (`triage` access)"),
        ({}, {"commits": [commit(OLD, "author"), commit(HEAD, "reviewer")]}, "@reviewer (pushed or wrote a commit"),
        ({}, {"commits": [commit(HEAD, "author", "reviewer")]}, "@reviewer (pushed or wrote a commit"),
        ({}, {"reviews": [review("author")]}, "not counted: @author (the author)"),
        ({}, {"reviews": [review("reviewer", commit_id=OLD)]}, f"no approval of the current head commit {HEAD}"),
        (
            {},
            {"reviews": [review("reviewer"), review("operator", "CHANGES_REQUESTED")]},
            "changes requested by @operator",
        ),
        (
            {},
            {"reviews": [review("reviewer"), review("reviewer", "DISMISSED")]},
            "no approval of the current head commit",
        ),
    ],
)
def test_the_gate_refuses_and_says_why(
    workspace: Path, env_changes: dict[str, str], api_changes: dict[str, Any], reason: str
) -> None:
    refused(gate(gate_api(**api_changes), workspace, env_changes), reason)


def test_a_missing_stack_is_refused(workspace: Path) -> None:
    api = gate_api()
    api["repos.getContent"] = {"status": 404, "message": "Not Found"}
    refused(gate(api, workspace), "no stack `dev` (Pulumi.dev.yaml) on the default branch")


def test_the_gate_waits_for_github_to_compute_mergeability(workspace: Path) -> None:
    api = gate_api()
    computing = copy.deepcopy(api["pulls.get"])
    computing["data"].update(mergeable=None, mergeable_state="unknown")
    api["pulls.get"] = [computing, computing, api["pulls.get"]]
    run = gate(api, workspace)
    assert run.failed is None, run.error
    assert len(run.called("pulls.get")) == 3


def test_a_change_request_followed_by_an_approval_counts(workspace: Path) -> None:
    reviews = [review("reviewer", "CHANGES_REQUESTED", OLD), review("reviewer", "COMMENTED"), review("reviewer")]
    run = gate(gate_api(reviews=reviews), workspace)
    assert run.failed is None, run.error


# --- the whole gate again, just before `pulumi up` -----------------------------------------------

APPLY_ENV = {**GATE_ENV, "APPROVED_SHA": HEAD}


def recheck(api: dict[str, Any], workspace: Path, env: dict[str, str] | None = None) -> Any:
    return run_github_script(
        "apply", "apply", {**APPLY_ENV, **(env or {})}, api, workspace=workspace, step_name="Check the whole gate again"
    )


@pytest.mark.parametrize(
    ("api_changes", "env_changes", "reason"),
    [
        (
            {"reviews": [review("reviewer"), review("reviewer", "DISMISSED")]},
            {},
            "no approval of the current head commit",
        ),
        ({"pr_changes": {"state": "closed"}}, {}, "the pull request is not open"),
        ({"behind_by": 1}, {}, "1 commit(s) behind `main`"),
        ({"locked_by": [42, 43]}, {}, "held by #43"),
        ({}, {"APPROVED_SHA": OLD}, f"the pull request moved: approved {OLD}, head now {HEAD}"),
        ({"pr_changes": {"base": {"ref": "scratch", "sha": OLD}}}, {}, "targets `scratch`"),
    ],
)
def test_the_recheck_before_pulumi_up_refuses_what_changed_while_it_waited(
    workspace: Path, tmp_path: Path, api_changes: dict[str, Any], env_changes: dict[str, str], reason: str
) -> None:
    run = recheck(gate_api(**api_changes), workspace, env_changes)
    assert run.error is None, run.error
    assert run.failed is not None and reason in run.failed
    assert run.called("issues.createComment") == []
    # The report job posts result/up.txt: the reasons reach the pull request from there.
    up = (workspace / "result" / "up.txt").read_text(encoding="utf-8")
    assert "pulumi up did not run" in up and reason in up


def test_the_recheck_is_the_last_step_before_pulumi_up() -> None:
    names = [s.get("name") for s in steps(jobs(WF["apply"])["apply"])]
    assert names.index("Check the whole gate again") == names.index("pulumi up with the policy pack") - 1
    script = next(s for s in steps(jobs(WF["apply"])["apply"]) if s.get("name") == "Check the whole gate again")
    assert "require('./.trusted/tools/ci/apply_gate.cjs')" in script["with"]["script"]
    gate_job = jobs(WF["apply"])["gate"]
    [checkout] = [s for s in steps(gate_job) if "actions/checkout@" in str(s.get("uses"))]
    assert "ref" not in checkout["with"], "issue_comment checks out the default branch; never the pull request"
    assert checkout["with"]["sparse-checkout"] == "tools/ci"
