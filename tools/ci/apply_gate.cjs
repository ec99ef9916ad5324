// The apply gate: may `/pulumi up <stack>` apply this pull request? One module, run twice by
// .github/workflows/apply.yml from the default branch's copy (a pull request cannot change the
// rules it is judged by): by the gate job when the comment arrives ("gate" mode: comments the
// verdict and takes the stack's apply lock), and again by the apply job right before `pulumi up`
// ("recheck" mode: the same checks against the head SHA the gate approved, no comment - that job
// holds AWS credentials and may not write to pull requests - the reasons go to result/up.txt,
// which the report job posts).
//
// What it checks, and why (docs/gitops-practices.md, "The apply gate"):
// - the commenter and every counted approver have write access (asked of the API; a bot or an
//   account GitHub does not know answers as "no access", never as a crash);
// - the pull request is open, not a draft, from this repository, targets the default branch, is
//   mergeable with every required check and review green, and its head contains the default
//   branch's head (so applying it cannot revert what is merged);
// - an approval counts only from a person (not a bot) with write access who is none of the
//   identities that touched the pull request's commits: the author; every commit's author and
//   committer, by account and by e-mail (a commit whose e-mail no account is linked to cannot be
//   attributed and is refused); every account whose push put one of the commits on any branch
//   under any name (repository activity matched by commit SHA, so renaming a branch hides no
//   pusher); for a bot-authored promotion, the workflow run that made the commit and whoever
//   dispatched or re-ran it;
// - a bot-authored pull request is applied only if it is exactly an image promotion: one commit,
//   made by the promote workflow run it names, on the default branch, starting from the commit
//   that run checked out, changing one line of one domain overlay to a digest;
// - one pull request holds a stack's apply lock (label `pulumi-lock:<stack>`) from its first
//   apply until it is merged or closed: another open pull request holding it refuses the apply.
//
// Payload shapes are GitHub's REST API (github/rest-api-description, api.github.com.2022-11-28):
// pull-request, pull-request-review, commit (pulls.listCommits), activity (repos.listActivities),
// commit-comparison (repos.compareCommitsWithBasehead), workflow-run (actions.getWorkflowRun),
// collaborator permission (repos.getCollaboratorPermissionLevel), public-user (users.getByUsername).
"use strict";

const WRITERS = ["admin", "maintain", "write"];
const PROMOTE_WORKFLOW = ".github/workflows/promote.yml";
const PROMOTE_EVENTS = ["workflow_dispatch", "repository_dispatch"];
const BOT_LOGIN = "github-actions[bot]";
const OVERLAY = /^manifests\/services\/([a-z]+)\/kustomization\.yaml$/;
const DIGEST_LINE = /^\+ {4}digest: sha256:[0-9a-f]{64}$/;
const REPLACED_LINE = /^- {4}(digest: sha256:[0-9a-f]{64}|newTag: \S+)$/;
const STACK = /^\/pulumi up ([a-z0-9][a-z0-9-]{0,39})\s*$/;
const lockLabel = (stack) => `pulumi-lock:${stack}`;

const isBot = (user) => Boolean(user) && (user.type === "Bot" || /\[bot\]$/.test(user.login || ""));
const short = (sha) => String(sha || "").slice(0, 12);

// The e-mail addresses GitHub itself gives an account (its no-reply forms); with the public e-mail
// they are what an approver's identity can be compared with (private e-mails are not readable).
function emailsOf(user, profile) {
  const out = new Set();
  if (user && user.login) {
    out.add(`${user.login}@users.noreply.github.com`.toLowerCase());
    if (user.id) out.add(`${user.id}+${user.login}@users.noreply.github.com`.toLowerCase());
  }
  if (profile && profile.email) out.add(String(profile.email).toLowerCase());
  return out;
}

async function roleOf(github, owner, repo, username) {
  try {
    const { data } = await github.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username });
    return data.role_name || data.permission || "none";
  } catch (e) {
    // Bots and unknown accounts are not collaborators: GitHub answers 404. That is "no access".
    if (e.status === 404) return "none";
    throw e;
  }
}

async function freshPull(github, owner, repo, pull_number) {
  // GitHub computes mergeability in the background: null means "ask again shortly".
  let pr;
  for (let attempt = 0; attempt < 6; attempt++) {
    ({ data: pr } = await github.rest.pulls.get({ owner, repo, pull_number }));
    if (pr.mergeable !== null && pr.mergeable_state !== "unknown") break;
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
  return pr;
}

// Is the change exactly what promote.yml makes? Returns the reasons it is not (empty: it is).
async function promotionProblems({ github, owner, repo, defaultBranch, commits, comparison, contributors }) {
  const problems = [];
  if (commits.length !== 1) {
    return [`a bot-authored pull request is applied only as one promotion commit; it has ${commits.length}`];
  }
  const [c] = commits;
  if (!c.author || c.author.login !== BOT_LOGIN || !c.committer || c.committer.login !== BOT_LOGIN) {
    problems.push(`commit ${short(c.sha)} of a bot-authored pull request was not made by ${BOT_LOGIN}`);
  }
  const files = comparison.files || [];
  const [file] = files;
  const lines = file && file.patch ? file.patch.split("\n").filter((l) => /^[+-]/.test(l)) : [];
  const added = lines.filter((l) => l.startsWith("+"));
  const removed = lines.filter((l) => l.startsWith("-"));
  if (
    files.length !== 1 ||
    !OVERLAY.test(file.filename) ||
    file.status !== "modified" ||
    added.length !== 1 ||
    removed.length !== 1 ||
    !DIGEST_LINE.test(added[0]) ||
    !REPLACED_LINE.test(removed[0])
  ) {
    problems.push(
      "a bot-authored pull request is applied only if it is exactly a promotion: one line of one " +
        "manifests/services/<domain>/kustomization.yaml set to `digest: sha256:<64 hex>`; this one changes " +
        (files.map((f) => `${f.filename} (+${f.additions} -${f.deletions})`).join(", ") || "nothing"),
    );
  }
  const m = /\/actions\/runs\/(\d+)/.exec((c.commit && c.commit.message) || "");
  if (!m) {
    problems.push(`commit ${short(c.sha)} names no promote workflow run`);
    return problems;
  }
  let run;
  try {
    ({ data: run } = await github.rest.actions.getWorkflowRun({ owner, repo, run_id: Number(m[1]) }));
  } catch (e) {
    if (e.status !== 404) throw e;
    problems.push(`workflow run ${m[1]} named by commit ${short(c.sha)} does not exist`);
    return problems;
  }
  // Whoever started or re-ran the run put this change here.
  for (const who of [run.actor, run.triggering_actor]) {
    if (who && who.login) contributors.add(who.login, `dispatched promote run ${run.id}`);
  }
  if (run.path !== PROMOTE_WORKFLOW || !PROMOTE_EVENTS.includes(run.event)) {
    problems.push(`workflow run ${run.id} is \`${run.path}\` on \`${run.event}\`, not the promote workflow`);
  }
  if (run.head_branch !== defaultBranch) {
    problems.push(
      `promote run ${run.id} ran from \`${run.head_branch}\`, not the default branch \`${defaultBranch}\`: ` +
        "promotions are made only from the default branch",
    );
  }
  const parent = (c.parents || [])[0];
  if (!parent || parent.sha !== run.head_sha || (c.parents || []).length !== 1) {
    problems.push(
      `commit ${short(c.sha)} does not start from ${short(run.head_sha)}, the default branch's head the promote run checked out`,
    );
  }
  return problems;
}

// Everyone who put code into the pull request, by account and by e-mail.
function contributorSet() {
  const logins = new Map();
  const emails = new Map();
  return {
    logins,
    emails,
    add(login, why) {
      if (login && !logins.has(login)) logins.set(login, why);
    },
    addEmail(email, why) {
      if (email && !emails.has(email.toLowerCase())) emails.set(email.toLowerCase(), why);
    },
    why(login, identities) {
      if (logins.has(login)) return logins.get(login);
      for (const e of identities) if (emails.has(e)) return emails.get(e);
      return null;
    },
  };
}

/**
 * Judge the request. env: COMMENT_BODY, COMMENTER, PR_NUMBER, RUN_URL; in recheck mode also
 * APPROVED_SHA. Returns {ok, reasons, stack, sha, approvers}.
 */
async function judge({ github, context, env, mode }) {
  const { owner, repo } = context.repo;
  const issue_number = Number(env.PR_NUMBER);
  const commenter = env.COMMENTER;
  const match = STACK.exec((env.COMMENT_BODY || "").split(/\r?\n/)[0].trim());
  if (!match) {
    return {
      ok: false,
      reasons: ["usage: `/pulumi up <stack>` alone on the first line (stack: lowercase letters, digits, dashes)"],
    };
  }
  const stack = match[1];
  const reasons = [];
  const { data: repoInfo } = await github.rest.repos.get({ owner, repo });
  const defaultBranch = repoInfo.default_branch;
  try {
    await github.rest.repos.getContent({ owner, repo, path: `Pulumi.${stack}.yaml`, ref: defaultBranch });
  } catch (e) {
    if (e.status !== 404) throw e;
    reasons.push(`no stack \`${stack}\` (Pulumi.${stack}.yaml) on the default branch`);
  }

  // Write access is asked of the API for every account that matters; author_association says
  // nothing about what an account may do.
  const commenterRole = await roleOf(github, owner, repo, commenter);
  if (!WRITERS.includes(commenterRole)) {
    reasons.push(`@${commenter} has \`${commenterRole}\` access; applying needs write, maintain or admin`);
  }

  const pr = await freshPull(github, owner, repo, issue_number);
  const sha = pr.head.sha;
  if (mode === "recheck" && sha !== env.APPROVED_SHA) {
    reasons.push(`the pull request moved: approved ${env.APPROVED_SHA}, head now ${sha}; approve the new head and comment again`);
  }
  if (pr.state !== "open" || pr.merged) reasons.push("the pull request is not open");
  // Only the default branch is protected by required checks and reviews: on any other base
  // `clean` proves nothing, and merging there would not deploy what main holds anyway.
  if (!pr.base || pr.base.ref !== defaultBranch) {
    reasons.push(
      `the pull request targets \`${pr.base ? pr.base.ref : "?"}\`, not the default branch \`${defaultBranch}\`; only changes to \`${defaultBranch}\` are applied`,
    );
  }
  if (pr.draft) reasons.push("the pull request is a draft");
  if (!pr.head.repo || pr.head.repo.full_name !== `${owner}/${repo}`) {
    reasons.push("the pull request comes from a fork; push the branch to this repository");
  }
  // clean: mergeable and every check green; has_hooks: the same, with pre-receive hooks.
  if (pr.mergeable !== true || !["clean", "has_hooks"].includes(pr.mergeable_state)) {
    reasons.push(
      `not mergeable (state \`${pr.mergeable_state}\`): needs every required review and check green and no conflicts`,
    );
  }

  // The head must contain the default branch's head: otherwise `pulumi up` of it would undo what
  // was merged (and applied) since the branch was cut.
  const { data: comparison } = await github.rest.repos.compareCommitsWithBasehead({
    owner,
    repo,
    basehead: `${defaultBranch}...${sha}`,
  });
  if (comparison.behind_by > 0) {
    reasons.push(
      `the head ${short(sha)} is ${comparison.behind_by} commit(s) behind \`${defaultBranch}\`: merge or rebase onto it first, so this apply reverts nothing`,
    );
  }

  // The apply lock: one pull request per stack from its first apply until it merges or closes.
  const locked = await github.paginate(github.rest.issues.listForRepo, {
    owner,
    repo,
    state: "open",
    labels: lockLabel(stack),
    per_page: 100,
  });
  const holders = locked.filter((i) => i.pull_request && i.number !== issue_number).map((i) => `#${i.number}`);
  if (holders.length) {
    reasons.push(
      `stack \`${stack}\` is held by ${holders.join(", ")} (label \`${lockLabel(stack)}\`), applied and not yet merged or closed: merge or close it first, so the two cannot revert each other`,
    );
  }

  const reviews = await github.paginate(github.rest.pulls.listReviews, {
    owner,
    repo,
    pull_number: issue_number,
    per_page: 100,
  });
  const latest = new Map();
  for (const r of reviews) {
    // Comments do not change a reviewer's verdict; reviews arrive oldest first.
    if (!r.user || !["APPROVED", "CHANGES_REQUESTED", "DISMISSED"].includes(r.state)) continue;
    latest.set(r.user.login, r);
  }
  const verdicts = [...latest.values()];
  const blockers = verdicts.filter((r) => r.state === "CHANGES_REQUESTED").map((r) => `@${r.user.login}`);
  if (blockers.length) reasons.push(`changes requested by ${blockers.join(", ")}`);

  // Who put code into this pull request. None of them may approve it.
  const contributors = contributorSet();
  contributors.add(pr.user.login, "the author");
  const commits = await github.paginate(github.rest.pulls.listCommits, {
    owner,
    repo,
    pull_number: issue_number,
    per_page: 100,
  });
  const commitShas = new Set(commits.map((c) => c.sha));
  for (const c of commits) {
    for (const [role, account] of [
      ["author", c.author],
      ["committer", c.committer],
    ]) {
      const who = (c.commit && c.commit[role]) || {};
      // web-flow is GitHub itself committing a web edit or a merge; its author is the person.
      if (account && account.login === "web-flow") continue;
      contributors.addEmail(who.email, `wrote commit ${short(c.sha)} as ${role}`);
      if (account && account.login) {
        contributors.add(account.login, `wrote commit ${short(c.sha)}`);
        for (const e of emailsOf(account)) contributors.addEmail(e, `wrote commit ${short(c.sha)}`);
      } else {
        reasons.push(
          `commit ${short(c.sha)} names ${role} <${who.email || "?"}>, an e-mail linked to no GitHub account: the gate cannot tell whether an approver wrote it; link the e-mail to its account or re-commit with a linked one`,
        );
      }
    }
  }
  // Pushes, by commit SHA on any ref: a push under a branch's old name (before a rename), or to
  // another branch the commits were later taken from, still names its pusher.
  const activities = await github.paginate(github.rest.repos.listActivities, { owner, repo, per_page: 100 });
  for (const a of activities) {
    const onBranch = a.ref === `refs/heads/${pr.head.ref}`;
    if ((onBranch || commitShas.has(a.after)) && a.actor && a.actor.login) {
      contributors.add(a.actor.login, `pushed to ${String(a.ref || "").replace(/^refs\/heads\//, "")}`);
    }
  }

  if (isBot(pr.user)) {
    reasons.push(
      ...(await promotionProblems({ github, owner, repo, defaultBranch, commits, comparison, contributors })),
    );
  }

  const approvers = [];
  const notCounted = [];
  for (const r of verdicts.filter((v) => v.state === "APPROVED" && v.commit_id === sha)) {
    const login = r.user.login;
    if (isBot(r.user)) {
      notCounted.push(`@${login} (a bot: only people approve)`);
      continue;
    }
    let profile = null;
    try {
      ({ data: profile } = await github.rest.users.getByUsername({ username: login }));
    } catch (e) {
      if (e.status !== 404) throw e;
    }
    const why = contributors.why(login, emailsOf({ ...r.user, id: r.user.id || (profile && profile.id) }, profile));
    if (why === "the author") {
      notCounted.push(`@${login} (the author)`);
    } else if (why) {
      notCounted.push(`@${login} (pushed or wrote a commit of this pull request: ${why})`);
    } else {
      const role = await roleOf(github, owner, repo, login);
      if (WRITERS.includes(role)) approvers.push(login);
      else notCounted.push(`@${login} (\`${role}\` access)`);
    }
  }
  if (!approvers.length) {
    const why = notCounted.length ? ` (not counted: ${notCounted.join(", ")})` : "";
    reasons.push(`no approval of the current head commit ${sha} by another account with write access${why}`);
  }
  return { ok: reasons.length === 0, reasons, stack, sha, approvers, issue_number, lock: lockLabel(stack) };
}

// Fail closed: an API error refuses, and the refusal says why (on the pull request, or in the
// apply result), rather than only in the run's log.
async function judgeOrRefuse(args) {
  try {
    return await judge(args);
  } catch (e) {
    return { ok: false, reasons: [`the gate could not finish (${e.status || "error"}: ${e.message}); nothing was applied`] };
  }
}

/** The gate job: judge, comment the verdict, take the apply lock, hand stack and SHA on. */
async function gate({ github, context, core, env = process.env }) {
  const { owner, repo } = context.repo;
  const issue_number = Number(env.PR_NUMBER);
  const verdict = await judgeOrRefuse({ github, context, env, mode: "gate" });
  if (!verdict.ok) {
    const body =
      `:no_entry: \`/pulumi up\` refused for @${env.COMMENTER}:\n\n` +
      verdict.reasons.map((r) => `- ${r}`).join("\n") +
      `\n\n[workflow run](${env.RUN_URL})`;
    await github.rest.issues.createComment({ owner, repo, issue_number, body });
    core.setFailed(verdict.reasons.join("; "));
    return verdict;
  }
  await github.rest.issues.addLabels({ owner, repo, issue_number, labels: [verdict.lock] });
  core.setOutput("stack", verdict.stack);
  core.setOutput("sha", verdict.sha);
  core.setOutput("pr", String(issue_number));
  await github.rest.issues.createComment({
    owner,
    repo,
    issue_number,
    body:
      `:rocket: Applying ${verdict.sha} to stack \`${verdict.stack}\` (approved by ${verdict.approvers.map((l) => "@" + l).join(", ")}); ` +
      `this pull request holds \`${verdict.lock}\` until it is merged or closed. [workflow run](${env.RUN_URL})`,
  });
  return verdict;
}

/** The apply job, right before `pulumi up`: the whole gate again, against the approved SHA. */
async function recheck({ github, context, core, env = process.env }) {
  const fs = require("node:fs");
  const verdict = await judgeOrRefuse({ github, context, env, mode: "recheck" });
  if (!verdict.ok) {
    fs.mkdirSync("result", { recursive: true });
    fs.writeFileSync(
      "result/up.txt",
      "pulumi up did not run: the gate, checked again just before it, refuses:\n" +
        verdict.reasons.map((r) => `- ${r}`).join("\n") +
        "\n",
    );
    core.setFailed(verdict.reasons.join("; "));
  }
  return verdict;
}

module.exports = { gate, recheck, judge };
