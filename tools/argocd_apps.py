"""The Applications as tools/argocd_status.py reports them: read from the API's answer, judged, printed.

Pure: a list of Application objects in, a Report out (root first, children in sync-wave order,
absent expected ones last), rendered as text for people or as the documented --json document
(docs/monitoring.md). Only names, statuses, revisions and short redacted messages are read; never
`spec`. A malformed answer is a ClusterError, as an unreachable cluster is.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from tools.redact import Redactor

SCHEMA_VERSION = 1
GROUP = "argoproj.io"
VERSION = "v1alpha1"
PLURAL = "applications"
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"

# Worst first: the overall state is the worst state of any Application.
STATES = ("missing", "degraded", "out_of_sync", "progressing", "healthy")
STATE_LABELS = {
    "missing": "MISSING",
    "degraded": "DEGRADED",
    "out_of_sync": "OUT OF SYNC",
    "progressing": "PROGRESSING",
    "healthy": "HEALTHY",
}
MARKERS = {
    "healthy": "[ OK ]",
    "progressing": "[WAIT]",
    "out_of_sync": "[SYNC]",
    "degraded": "[FAIL]",
    "missing": "[MISS]",
}
_GREEN, _YELLOW, _RED, _BOLD, _RESET = "\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"
COLOURS = {
    "healthy": _GREEN,
    "progressing": _YELLOW,
    "out_of_sync": _YELLOW,
    "degraded": _RED,
    "missing": _RED,
}


class ClusterError(Exception):
    """The Application list could not be read; `transient` errors are retried under --wait."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def malformed(where: str, detail: str) -> ClusterError:
    return ClusterError(f"malformed response from the Kubernetes API at {where}: {detail}", transient=False)


def optional_dict(value: object, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise malformed(where, f"{what} is {type(value).__name__}, expected an object")
    return value


def optional_str(value: object, what: str, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise malformed(where, f"{what} is {type(value).__name__}, expected a string")
    return value


def parse_application_list(body: object, where: str) -> list[dict[str, Any]]:
    """Check that `body` is an ApplicationList whose items have a name; return the items."""
    if isinstance(body, (str, bytes)):
        raise malformed(where, "body is not JSON")
    if not isinstance(body, dict):
        raise malformed(where, f"expected an ApplicationList object, got a JSON {type(body).__name__}")
    items = body.get("items", None)
    if "items" not in body or not isinstance(items, (list, type(None))):
        raise malformed(where, "expected an ApplicationList with an 'items' list")
    result: list[dict[str, Any]] = []
    for index, item in enumerate(items or []):
        if not isinstance(item, dict):
            raise malformed(where, f"items[{index}] is {type(item).__name__}, expected an Application object")
        metadata = optional_dict(item.get("metadata"), f"items[{index}].metadata", where)
        if not isinstance(metadata.get("name"), str) or not metadata["name"]:
            raise malformed(where, f"items[{index}] has no metadata.name")
        result.append(item)
    return result


# --- the report -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AppStatus:
    """What the tool shows of one Application: names, statuses, revision, a short message."""

    name: str
    role: str  # "root" or "child"
    present: bool
    sync_wave: int | None = None
    sync: str | None = None
    health: str | None = None
    revision: str | None = None
    operation: str | None = None
    error_condition: bool = False
    message: str | None = None

    @property
    def state(self) -> str:
        if not self.present:
            return "missing"
        if self.sync == "Synced" and self.health == "Healthy":
            return "healthy"
        if self.health in ("Degraded", "Missing") or self.operation in ("Failed", "Error") or self.error_condition:
            return "degraded"
        if self.health == "Progressing" or self.operation in ("Running", "Terminating"):
            return "progressing"
        if self.health is None and self.sync is None:
            return "progressing"  # created but not reconciled yet
        if self.sync != "Synced":
            return "out_of_sync"
        return "degraded"  # Synced but Suspended, Unknown or no health at all


def _sync_wave(metadata: Mapping[str, Any]) -> int:
    annotations = metadata.get("annotations")
    raw = annotations.get(SYNC_WAVE_ANNOTATION) if isinstance(annotations, dict) else None
    try:
        return int(str(raw).strip()) if raw is not None else 0
    except ValueError:
        return 0  # ArgoCD treats an unparsable wave as wave 0 as well


def _pick_message(
    status: Mapping[str, Any], operation: Mapping[str, Any], health: Mapping[str, Any], redactor: Redactor
) -> str | None:
    """The most telling status message: errors first, then the operation, then health."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    candidates: list[object] = [c.get("message") for c in conditions if str(c.get("type", "")).endswith("Error")]
    if operation.get("phase") in ("Failed", "Error", "Running", "Terminating"):
        candidates.append(operation.get("message"))
    candidates.append(health.get("message"))
    candidates.extend(c.get("message") for c in conditions)
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return redactor.short(candidate)
    return None


def app_status(item: Mapping[str, Any], role: str, where: str, redactor: Redactor | None = None) -> AppStatus:
    """Read metadata.name, the sync-wave annotation and a few status fields, never `spec`."""
    redactor = redactor or Redactor()
    metadata = item.get("metadata") or {}
    name = metadata["name"]
    status = optional_dict(item.get("status"), f"{name}: status", where)
    sync = optional_dict(status.get("sync"), f"{name}: status.sync", where)
    health = optional_dict(status.get("health"), f"{name}: status.health", where)
    operation = optional_dict(status.get("operationState"), f"{name}: status.operationState", where)
    conditions = status.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        raise malformed(where, f"{name}: status.conditions is {type(conditions).__name__}, expected a list")
    revision = optional_str(sync.get("revision"), f"{name}: status.sync.revision", where)
    if revision is None and isinstance(sync.get("revisions"), list):  # multi-source Applications
        revision = ",".join(str(r)[:12] for r in sync["revisions"] if r) or None
    state_sync = optional_str(sync.get("status"), f"{name}: status.sync.status", where)
    state_health = optional_str(health.get("status"), f"{name}: status.health.status", where)
    phase = optional_str(operation.get("phase"), f"{name}: status.operationState.phase", where)
    # ComparisonError, InvalidSpecError, SyncError...: ArgoCD could not render or apply the app.
    error_condition = any(isinstance(c, dict) and str(c.get("type", "")).endswith("Error") for c in conditions or [])
    base = AppStatus(
        name=name,
        role=role,
        present=True,
        # Waves order the children; the root is applied by Pulumi, so its own wave means nothing.
        sync_wave=None if role == "root" else _sync_wave(metadata),
        sync=state_sync,
        health=state_health,
        revision=redactor.short(revision) if revision else None,
        operation=phase,
        error_condition=error_condition,
    )
    if base.state == "healthy":
        return base
    return dataclasses.replace(base, message=_pick_message(status, operation, health, redactor))


# Commands that show the state of what a child runs, beyond the Application itself.
APP_HINTS: dict[str, list[str]] = {
    # metrics-server serves the resource metrics the HorizontalPodAutoscalers read; it needs the
    # kubelets' serving certificates, which kubelet-csr-approver approves.
    "metrics-server": [
        "kubectl top nodes  # resource metrics: fails until metrics-server verifies the kubelets",
        "kubectl get csr --field-selector spec.signerName=kubernetes.io/kubelet-serving",
    ],
    "kubelet-csr-approver": [
        "kubectl get csr --field-selector spec.signerName=kubernetes.io/kubelet-serving",
        "kubectl -n kube-system logs deploy/kubelet-csr-approver  # why a request was denied",
    ],
    "api-services": [
        "kubectl top nodes",
        "kubectl get hpa -A  # each domain API's autoscaler and its current CPU",
    ],
    "gateway": ["kubectl -n envoy-gateway-system get gateway public -o wide  # Programmed, its listeners"],
}


@dataclasses.dataclass(frozen=True)
class Report:
    """The root Application, its children in display order, and what they add up to."""

    namespace: str
    root: str
    apps: tuple[AppStatus, ...]

    @property
    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(reversed(STATES), 0)
        for app in self.apps:
            counts[app.state] += 1
        return {"apps": len(self.apps), **counts}

    @property
    def state(self) -> str:
        present = {app.state for app in self.apps}
        return next(state for state in STATES if state in present or state == "healthy")

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"

    @property
    def verdict(self) -> str:
        totals = self.totals
        ok = totals["healthy"]
        problems = ", ".join(f"{totals[state]} {STATE_LABELS[state].lower()}" for state in STATES[:-1] if totals[state])
        detail = f" ({problems})" if problems else ""
        label = STATE_LABELS[self.state]
        return f"{label}: {ok}/{totals['apps']} Applications Synced and Healthy{detail}"

    def hints(self, app: AppStatus) -> list[str]:
        """The exact commands that show why `app` is not healthy."""
        ns = shlex.quote(self.namespace)
        name = shlex.quote(app.name)
        if app.state == "healthy":
            return []
        if app.state == "missing":
            if app.role == "root":
                return [
                    f"kubectl -n {ns} get applications.argoproj.io",
                    "pulumi stack output  # the root Application is created by `pulumi up`",
                ]
            root = shlex.quote(self.root)
            return [
                f"kubectl -n {ns} get applications.argoproj.io",
                f"argocd app get {root}  # does the root render {name}?",
            ]
        commands = [
            f"kubectl -n {ns} describe application.argoproj.io/{name}",
            f"argocd app get {name}",
        ]
        if app.state == "out_of_sync":
            commands.append(f"argocd app diff {name}")
        commands += APP_HINTS.get(app.name, [])
        return commands

    def to_json(self) -> dict[str, Any]:
        """The --json document; docs/monitoring.md documents every key (schema_version 1)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "namespace": self.namespace,
            "root": self.root,
            "healthy": self.healthy,
            "state": self.state,
            "verdict": self.verdict,
            "totals": self.totals,
            "apps": [
                {
                    "name": app.name,
                    "role": app.role,
                    "present": app.present,
                    "state": app.state,
                    "sync_wave": app.sync_wave,
                    "sync": app.sync,
                    "health": app.health,
                    "revision": app.revision,
                    "operation": app.operation,
                    "message": app.message,
                    "hints": self.hints(app),
                }
                for app in self.apps
            ],
        }


def build_report(
    items: Sequence[Mapping[str, Any]],
    namespace: str,
    root: str,
    expect: Sequence[str],
    where: str,
    redactor: Redactor | None = None,
) -> Report:
    """Root first, then present children by (sync wave, name), then absent expected children.

    `redactor`: the run's (it knows the kubeconfig's credentials); without one, patterns only.
    """
    by_name = {item["metadata"]["name"]: item for item in items}
    root_app = (
        app_status(by_name[root], "root", where, redactor)
        if root in by_name
        else AppStatus(name=root, role="root", present=False)
    )
    children = sorted(
        (app_status(item, "child", where, redactor) for name, item in by_name.items() if name != root),
        key=lambda app: (app.sync_wave or 0, app.name),
    )
    absent = sorted({name for name in expect if name not in by_name and name != root})
    missing = [AppStatus(name=name, role="child", present=False) for name in absent]
    return Report(namespace=namespace, root=root, apps=(root_app, *children, *missing))


# --- output ---------------------------------------------------------------------------------------


def use_colour(mode: str, stream: TextIO, env: Mapping[str, str]) -> bool:
    """`always`/`never` win; `auto` colours a terminal unless NO_COLOR is set or TERM is dumb."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render_text(report: Report, colour: bool) -> str:
    """The human report: one row per Application, totals, verdict, hints."""

    def paint(state: str, text: str) -> str:
        return f"{COLOURS[state]}{text}{_RESET}" if colour else text

    rows: list[tuple[AppStatus, list[str]]] = []
    for app in report.apps:
        label = f"{app.name} (root)" if app.role == "root" else app.name
        wave = "-" if app.sync_wave is None else f"wave {app.sync_wave}"
        if app.present:
            sync = app.sync or "Unknown"
            health = app.health or "Unknown"
            revision = app.revision or "-"
            if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
                revision = revision[:7]
        else:
            sync, health, revision = "MISSING", "-", "-"
        rows.append((app, [label, wave, sync, health, revision]))
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(4)]

    lines = [f"ArgoCD Applications in namespace {report.namespace} (root: {report.root})", ""]
    for app, cells in rows:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:4])] + [cells[4]]
        lines.append(f"  {paint(app.state, MARKERS[app.state])}  " + "  ".join(padded).rstrip())
        if app.operation not in (None, "Succeeded") and app.state != "healthy":
            lines.append(f"          operation: {app.operation}")
        if app.message:
            lines.append(f"          message: {app.message}")
    totals = report.totals
    lines += [
        "",
        f"Totals: {totals['apps']} Applications: {totals['healthy']} healthy, "
        f"{totals['progressing']} progressing, {totals['out_of_sync']} out of sync, "
        f"{totals['degraded']} degraded, {totals['missing']} missing",
        "Verdict: " + (f"{_BOLD}{paint(report.state, report.verdict)}" if colour else report.verdict),
    ]
    unhealthy = [app for app in report.apps if app.state != "healthy"]
    if unhealthy:
        lines += ["", "To inspect:"]
        for app in unhealthy:
            lines.append(f"  {app.name} ({STATE_LABELS[app.state].lower()}):")
            lines += [f"    {command}" for command in report.hints(app)]
    return "\n".join(lines) + "\n"


def render(report: Report, as_json: bool, colour: bool) -> str:
    if as_json:
        return json.dumps(report.to_json(), indent=2) + "\n"
    return render_text(report, colour)
