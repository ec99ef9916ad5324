"""The pieces of the stack lifecycle test that need no cloud: prerequisites, config, files, diffs.

The integration test (test_stack_lifecycle.py) drives a real `pulumi up` through the Automation
API; everything it decides before and around that call lives here as plain functions so that the
always-run tests (test_lifecycle_helpers.py) can check them: which prerequisite is missing and how
to provide it, the ephemeral stack's config, where its state lives, how the kubeconfig is handed to
the status tool, and how a non-empty second preview is reported.

Opting in is explicit (IT_ADMIN_CIDR) on purpose: the test creates a billable cluster, and the
address it opens SSH and the API server to must be the one the test runs from.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.node_removal import SKIP_VARIABLE
from tests.support.paths import ROOT

PROJECT = "gitops-cluster"
BASE_STACK = "dev"

ADMIN_CIDR_VAR = "IT_ADMIN_CIDR"
REPO_URL_VAR = "IT_GITOPS_REPO_URL"
REVISION_VAR = "IT_GITOPS_REVISION"
SYNC_TIMEOUT_VAR = "IT_SYNC_TIMEOUT"
DEFAULT_SYNC_TIMEOUT = 1800.0

# What `tools/up.sh` accepts as "has AWS credentials", so `make up` and this test agree.
AWS_CREDENTIAL_VARS = (
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)

# Copied into the ephemeral project: the program, its inputs and what pulumi-command runs.
# Everything else (virtualenv, state, caches, git) stays behind.
_COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    ".pulumi-state",
    "build",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "node_modules",
    "Pulumi.*.yaml",
)


@dataclass(frozen=True)
class Prerequisites:
    """What the lifecycle test found: `missing` makes it skip, `errors` make it fail."""

    missing: tuple[str, ...]
    errors: tuple[str, ...]
    admin_cidrs: tuple[str, ...]
    pulumi: str | None

    def skip_reason(self) -> str:
        return "stack lifecycle test needs real infrastructure; missing: " + "; ".join(self.missing)


def _aws_credentials_problem(env: Mapping[str, str], home: Path) -> str | None:
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key_id and not secret:
        return "AWS_SECRET_ACCESS_KEY (AWS_ACCESS_KEY_ID is set without it; export both, or use AWS_PROFILE)"
    if key_id and secret:
        return None
    if any(env.get(var) for var in AWS_CREDENTIAL_VARS):
        return None
    files = (
        Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"),
        Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config"),
    )
    if any(f.is_file() for f in files):
        return None
    return (
        "AWS credentials (none of AWS_ACCESS_KEY_ID+AWS_SECRET_ACCESS_KEY, "
        + ", ".join(AWS_CREDENTIAL_VARS)
        + f", {files[0]} or {files[1]}; run `aws configure sso` or export AWS_PROFILE)"
    )


def parse_admin_cidrs(raw: str) -> tuple[tuple[str, ...], list[str]]:
    """CIDRs from a comma- or space-separated list; the second item lists what is wrong with it."""
    cidrs: list[str] = []
    errors: list[str] = []
    for item in raw.replace(",", " ").split():
        try:
            net = ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            errors.append(f"{ADMIN_CIDR_VAR}: {item!r} is not a CIDR ({exc}); give e.g. 198.51.100.7/32")
            continue
        if net.prefixlen == 0:
            errors.append(f"{ADMIN_CIDR_VAR}: {item} opens SSH and the API to the world; give your own address")
            continue
        cidrs.append(str(net))
    if raw.strip() and not cidrs and not errors:
        errors.append(f"{ADMIN_CIDR_VAR} is set but names no CIDR")
    return tuple(cidrs), errors


def check_prerequisites(
    env: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
    home: Path | None = None,
) -> Prerequisites:
    """Everything the test needs from the machine, each absence named with how to provide it."""
    missing: list[str] = []
    pulumi = which("pulumi")
    if pulumi is None:
        missing.append(
            "the Pulumi CLI (`pulumi` not on PATH; install it from "
            "https://www.pulumi.com/docs/iac/download-install/, e.g. `curl -fsSL https://get.pulumi.com | sh`)"
        )
    aws = _aws_credentials_problem(env, Path.home() if home is None else home)
    if aws is not None:
        missing.append(aws)
    raw = env.get(ADMIN_CIDR_VAR, "")
    admin_cidrs, errors = parse_admin_cidrs(raw)
    if not raw.strip():
        missing.append(
            f"{ADMIN_CIDR_VAR} (the opt-in: the CIDR this test runs from, allowed to SSH to the bastion "
            f"and reach the API; e.g. `export {ADMIN_CIDR_VAR}=$(curl -s https://checkip.amazonaws.com)/32`)"
        )
    timeout = env.get(SYNC_TIMEOUT_VAR)
    if timeout is not None:
        try:
            if float(timeout) <= 0:
                raise ValueError(timeout)
        except ValueError:
            errors.append(f"{SYNC_TIMEOUT_VAR}: {timeout!r} is not a positive number of seconds")
    return Prerequisites(tuple(missing), tuple(errors), admin_cidrs, pulumi)


def sync_timeout(env: Mapping[str, str]) -> float:
    return float(env.get(SYNC_TIMEOUT_VAR) or DEFAULT_SYNC_TIMEOUT)


def copy_project(dest: Path, source: Path = ROOT, venv: Path | None = None) -> Path:
    """A private copy of the project whose `.venv` points at the virtualenv running the tests.

    The Automation API writes `Pulumi.<stack>.yaml` next to `Pulumi.yaml`; a copy keeps that file,
    and anything a crashed run leaves, out of the checkout.
    """
    shutil.copytree(source, dest, ignore=_COPY_IGNORE, symlinks=True)
    if venv is None:
        venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else source / ".venv"
    (dest / ".venv").symlink_to(venv, target_is_directory=True)
    return dest


def stack_config(
    stack: str,
    admin_cidrs: Sequence[str],
    env: Mapping[str, str],
    project_root: Path = ROOT,
) -> dict[str, Any]:
    """The dev stack's config with the ephemeral stack's name, access CIDRs and GitOps source."""
    doc = yaml.safe_load((project_root / f"Pulumi.{BASE_STACK}.yaml").read_text(encoding="utf-8")) or {}
    config: dict[str, Any] = dict(doc.get("config") or {})
    # The cluster name prefixes every AWS name: unique, so a live dev stack is never touched.
    config[f"{PROJECT}:clusterName"] = stack
    config[f"{PROJECT}:adminCidrs"] = list(admin_cidrs)
    config[f"{PROJECT}:apiCidrs"] = list(admin_cidrs)
    if env.get(REPO_URL_VAR):
        config[f"{PROJECT}:gitopsRepoUrl"] = env[REPO_URL_VAR]
    if env.get(REVISION_VAR):
        config[f"{PROJECT}:gitopsRevision"] = env[REVISION_VAR]
    return config


def write_stack_file(project_dir: Path, stack: str, config: Mapping[str, Any]) -> Path:
    """Put `config` into Pulumi.<stack>.yaml, keeping what `pulumi stack init` wrote (the salt)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    doc: dict[str, Any] = {}
    if path.exists():
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    doc["config"] = {**(doc.get("config") or {}), **config}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def workspace_env(env: Mapping[str, str], state_dir: Path) -> dict[str, str]:
    """Backend and passphrase for the Automation API's Pulumi commands.

    A given PULUMI_BACKEND_URL (S3, Pulumi Cloud...) is used as is; otherwise the state is a file
    backend in `state_dir`, outside the checkout, kept if a destroy fails. Backends without their
    own secrets service get a fresh passphrase file unless one is configured: the stack lives for
    one test.
    """
    out = {"PULUMI_SKIP_UPDATE_CHECK": "true"}
    backend = env.get("PULUMI_BACKEND_URL") or (state_dir / "state").as_uri()
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    out["PULUMI_BACKEND_URL"] = backend
    uses_service = backend.startswith(("https://", "http://"))
    if not uses_service and not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        passphrase = state_dir / "passphrase"
        fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(os.urandom(24).hex())
        out["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase)
    return out


@contextmanager
def private_file(path: Path, content: str) -> Iterator[Path]:
    """`content` in a new file only its owner can read, deleted on exit (also on errors)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        yield path
    finally:
        path.unlink(missing_ok=True)


def expected_children(project_root: Path = ROOT) -> list[str]:
    """Names of the child Applications the root renders (manifests/argocd/apps/kustomization.yaml)."""
    apps = project_root / "manifests" / "argocd" / "apps"
    kustomization = yaml.safe_load((apps / "kustomization.yaml").read_text(encoding="utf-8"))
    names: list[str] = []
    for resource in kustomization.get("resources") or []:
        for doc in yaml.safe_load_all((apps / resource).read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "Application":
                names.append(doc["metadata"]["name"])
    return names


def status_args(kubeconfig: Path, timeout: float, expect: Sequence[str]) -> list[str]:
    """tools/argocd_status.py arguments: wait for every Application, JSON for the assertion."""
    args = ["--kubeconfig", str(kubeconfig), "--wait", "--timeout", f"{timeout:g}", "--json"]
    for name in expect:
        args += ["--expect", name]
    return args


def unhealthy_summary(report: Mapping[str, Any]) -> str:
    """One line per Application that is not Synced and Healthy, from the status tool's JSON."""
    lines = [str(report.get("verdict", "no verdict"))]
    for app in report.get("apps", []):
        if app.get("state") != "healthy":
            message = f": {app['message']}" if app.get("message") else ""
            lines.append(f"  {app['name']} ({app['state']}, sync={app['sync']}, health={app['health']}){message}")
    return "\n".join(lines)


def changes_in(change_summary: Mapping[Any, int]) -> dict[str, int]:
    """The non-"same" entries of a preview's change summary (keys are OpType or plain strings)."""
    out: dict[str, int] = {}
    for op, count in change_summary.items():
        name = str(getattr(op, "value", op))
        if name != "same" and count:
            out[name] = count
    return out


def describe_steps(steps: Sequence[tuple[str, str, Sequence[str]]]) -> str:
    """`op urn [changed keys]` per step; keys only, never values (they may be secret)."""
    return "\n".join(f"  {op} {urn}" + (f" (changed: {', '.join(keys)})" if keys else "") for op, urn, keys in steps)


def destroy_env(env: Mapping[str, str]) -> dict[str, str]:
    """The workspace environment for `pulumi destroy`: as `make destroy` runs it (tools/up.sh), with
    GITOPS_CLUSTER_DESTROY=1, so the per-node removal steps do not drain every node one by one (a
    datastore's PodDisruptionBudget would block the last drain; components/node_removal.py)."""
    return {**env, SKIP_VARIABLE: "1"}


def unprotect_argv(stack: str) -> list[str]:
    """What `make destroy` runs before `pulumi destroy` (tools/up.sh): root-app and both API load
    balancers are protected against every other run (components/argocd.py, components/access.py)."""
    return ["pulumi", "state", "unprotect", "--all", "--yes", "--stack", stack]


def retry_hint(project_dir: Path, stack: str, env: Mapping[str, str]) -> str:
    """The commands that finish a destroy this test could not complete."""
    parts = [f"PULUMI_BACKEND_URL={env['PULUMI_BACKEND_URL']}"]
    if "PULUMI_CONFIG_PASSPHRASE_FILE" in env:
        parts.append(f"PULUMI_CONFIG_PASSPHRASE_FILE={env['PULUMI_CONFIG_PASSPHRASE_FILE']}")
    prefix = " ".join(parts)
    return (
        f"the ephemeral stack {stack} may still own AWS resources; its state is kept. Finish with:\n"
        f"  cd {project_dir} && {prefix} {' '.join(unprotect_argv(stack))} && "
        f"{prefix} {SKIP_VARIABLE}=1 pulumi destroy --yes --stack {stack} && "
        f"{prefix} pulumi stack rm --yes --stack {stack}"
    )
