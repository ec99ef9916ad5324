"""The GitHub workflows as data, and actions/github-script steps run under the harness."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import ROOT
from tests.support.prereqs import require_tool


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


GITHUB = ROOT / ".github"


WORKFLOWS = GITHUB / "workflows"


WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))


WF = {p.stem: load(p) for p in WORKFLOW_FILES}


def jobs(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(doc.get("jobs") or {})


def steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def run_github_script(
    workflow: str,
    job: str,
    env: Mapping[str, str],
    api: Mapping[str, Any],
    *,
    files: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    step_name: str | None = None,
) -> ScriptRun:
    """Run the workflow's github-script step of `job` (the first, or the one named `step_name`) with
    a fake Octokit (tools/ci harness); `workspace` is the checkout the script's relative requires
    resolve against, as GITHUB_WORKSPACE in actions/github-script."""
    node = require_tool("node", "the github-script harness runs on it; .ci/run installs nodejs")
    step = next(
        s
        for s in steps(jobs(WF[workflow])[job])
        if "actions/github-script@" in str(s.get("uses")) and step_name in (None, s.get("name"))
    )
    payload: dict[str, Any] = {
        "script": step["with"]["script"],
        "env": dict(env),
        "context": {"repo": {"owner": "example-org", "repo": "gitops-cluster"}},
        "api": api,
        "files": dict(files or {}),
    }
    if workspace is not None:
        payload["workspace"] = str(workspace)
    proc = subprocess.run(
        [node, str(CI_TOOLS / "github_script_harness.cjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    return ScriptRun(out["calls"], out["outputs"], out["failed"], out["logs"], out["error"])


CI_TOOLS = ROOT / "tools" / "ci"


@dataclass
class ScriptRun:
    calls: list[dict[str, Any]]
    outputs: dict[str, str]
    failed: str | None
    logs: list[list[str]]
    error: str | None

    def called(self, method: str) -> list[dict[str, Any]]:
        return [c["params"] for c in self.calls if c["method"] == method]
