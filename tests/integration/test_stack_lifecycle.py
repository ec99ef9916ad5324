"""The whole lifecycle on real AWS: up, ArgoCD converges, a second preview is empty, destroy.

This is the one test that proves what the mock-runtime tests cannot: that `pulumi up` from nothing
ends with every ArgoCD Application Synced and Healthy, that the program is idempotent (a second
preview changes nothing, so no command re-runs and no resource drifts by itself), and that destroy
takes everything down again. It creates billable infrastructure, so it only runs when asked:

    IT_ADMIN_CIDR=198.51.100.7/32 .venv/bin/python -m pytest -m integration tests/integration -s

Needs the Pulumi CLI and AWS credentials as well; without any of the three it skips and says
which is missing and how to provide it. Optional: PULUMI_BACKEND_URL (default: a file backend in
a temporary directory), IT_GITOPS_REPO_URL / IT_GITOPS_REVISION (the Git source ArgoCD syncs;
default: the dev stack's), IT_SYNC_TIMEOUT (seconds to wait for ArgoCD, default 1800).
docs/deployment.md and the bootstrap workflow describe when to run it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration import lifecycle


def _log(line: str) -> None:
    # Pulumi masks secret values in its own output; nothing else from the stack is printed.
    print(line, file=sys.stderr, flush=True)


@pytest.mark.integration
def test_stack_lifecycle_on_aws() -> None:
    env = dict(os.environ)
    pre = lifecycle.check_prerequisites(env)
    if pre.errors:
        pytest.fail("; ".join(pre.errors))
    if pre.missing:
        pytest.skip(pre.skip_reason())

    from pulumi import automation as auto

    from tools import argocd_status

    name = f"it-{secrets.token_hex(3)}"
    base = Path(tempfile.mkdtemp(prefix=f"gitops-{name}-"))
    project_dir = lifecycle.copy_project(base / "project")
    ws_env = lifecycle.workspace_env(env, base)
    try:
        stack = auto.create_stack(name, work_dir=str(project_dir), opts=auto.LocalWorkspaceOptions(env_vars=ws_env))
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)  # no stack, so nothing in AWS to remember
        raise
    failure: BaseException | None = None
    try:
        lifecycle.write_stack_file(project_dir, name, lifecycle.stack_config(name, pre.admin_cidrs, env))
        up = stack.up(on_output=_log, color="never")

        kubeconfig = up.outputs["kubeconfig"]
        assert kubeconfig.secret, "the kubeconfig output must be a secret"
        timeout = lifecycle.sync_timeout(env)
        children = lifecycle.expected_children(project_dir)
        out = io.StringIO()
        with (
            lifecycle.private_file(base / "kubeconfig", str(kubeconfig.value)) as path,
            contextlib.redirect_stdout(out),
        ):
            code = argocd_status.main(lifecycle.status_args(path, timeout, children))
        assert code != argocd_status.EXIT_UNREACHABLE, f"the status tool could not ask the cluster:\n{out.getvalue()}"
        report: dict[str, Any] = json.loads(out.getvalue())
        assert code == argocd_status.EXIT_HEALTHY, (
            f"ArgoCD did not converge within {timeout:g}s:\n{lifecycle.unhealthy_summary(report)}"
        )

        steps: list[tuple[str, str, list[str]]] = []

        def on_event(event: auto.EngineEvent) -> None:
            pre_event = event.resource_pre_event
            if pre_event is not None and pre_event.metadata.op != auto.OpType.SAME:
                meta = pre_event.metadata
                steps.append((str(meta.op.value), meta.urn, list(meta.diffs or meta.keys or [])))

        preview = stack.preview(on_event=on_event, color="never")
        changes = lifecycle.changes_in(preview.change_summary)
        assert not changes, (
            f"a second preview right after `up` wants changes {changes}:\n{lifecycle.describe_steps(steps)}"
        )
    except BaseException as exc:
        failure = exc
        raise
    finally:
        try:
            stack.workspace.env_vars = lifecycle.destroy_env(ws_env)
            subprocess.run(
                lifecycle.unprotect_argv(name), cwd=project_dir, env={**os.environ, **ws_env}, check=True, timeout=300
            )
            stack.destroy(on_output=_log, color="never")
            stack.workspace.remove_stack(name)
        except Exception as exc:
            hint = lifecycle.retry_hint(project_dir, name, ws_env)
            if failure is None:
                raise AssertionError(f"destroy failed: {exc}\n{hint}") from exc
            failure.add_note(f"and the destroy that followed failed too: {exc}\n{hint}")
        else:
            shutil.rmtree(base, ignore_errors=True)
