"""Report the sync and health of the root ArgoCD Application and its children.

Successor of the old `argocd-quick-status.sh`, which printed coloured markers per Application but
could not be used as a gate: it exited 0 whatever it saw, could not wait for a rollout, and echoed
raw `status` text that sometimes carried credentials. This tool reads the Applications through the
Kubernetes API (the official client, so every kubeconfig auth method works: client certificates,
tokens, exec plugins), prints the root Application first and then its children in sync-wave order,
and ends with totals, a one-line verdict and the exact commands to inspect each unhealthy app.

It is meant for people and for CI alike: `--json` prints a stable, documented document
(docs/monitoring.md), `--wait` polls until every Application is Synced and Healthy or a deadline
passes, and the exit code says what happened: 0 healthy, 1 not healthy (degraded, progressing,
out of sync or missing), 2 the cluster could not be asked (unreachable, rejected credentials,
malformed answers; argparse also uses 2 for usage errors).

Only names, statuses, revisions and short scrubbed messages are ever printed. The tool never reads
`spec` (Helm values and parameters live there, and a copy of them under `status.sync.comparedTo`
and `status.history`), never touches Secrets, and redacts anything in a status message that looks
like a password or token before showing it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_UNREACHABLE = 2

SCHEMA_VERSION = 1
GROUP = "argoproj.io"
VERSION = "v1alpha1"
PLURAL = "applications"
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"

DEFAULT_ROOT = "root-app"
DEFAULT_NAMESPACE = "argocd"
DEFAULT_REQUEST_TIMEOUT = 5.0
DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_INTERVAL = 5.0
MESSAGE_LIMIT = 200

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

# --- scrubbing ------------------------------------------------------------------------------------

REDACTED = "[REDACTED]"
_CREDENTIAL_KEY = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credentials?|authorization|session[_-]?id|cookie)[\w.-]*"
)
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A PEM private key runs to its END line, or to the end of a truncated message.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        REDACTED,
    ),
    # key=value, key: value, "key": "value" where the key names a credential.
    (
        re.compile(
            rf"(?i)\b({_CREDENTIAL_KEY})([\"']?\s*[=:]\s*)"
            r"((?:bearer|basic)\s+[^\s,;&)\]}\"']+|\"[^\"]*\"|'[^']*'|[^\s,;&)\]}\"']+)"
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    # user:password@ in URLs (repository URLs in comparison errors).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@"), rf"\1{REDACTED}@"),
    # JWTs (service account tokens) and well-known token formats.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    (
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16})\b"
        ),
        REDACTED,
    ),
)


# The credentials this run really holds (the kubeconfig user's token, password, keys): redacted
# wherever they appear, whatever they look like. Patterns alone miss a body that echoes an opaque
# token back. Values shorter than this are too common to replace safely (and too short to matter).
_MIN_KNOWN_SECRET = 8
_known_secrets: set[str] = set()


def remember_secret(value: object) -> None:
    """Redact `value` (and each of its lines) from everything printed from now on."""
    if not isinstance(value, str):
        return
    for candidate in (value, value.strip(), *value.splitlines()):
        candidate = candidate.strip()
        if len(candidate) >= _MIN_KNOWN_SECRET:
            _known_secrets.add(candidate)


def _remember_kubeconfig_credentials(paths: Sequence[str], configuration: k8s_client.Configuration) -> None:
    """Every credential of every user in the kubeconfig files, and what the client loaded from them."""
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        users = doc.get("users") if isinstance(doc, dict) else None
        for entry in users if isinstance(users, list) else []:
            user = entry.get("user") if isinstance(entry, dict) else None
            if not isinstance(user, dict):
                continue
            for key in ("token", "password", "client-key-data", "client-certificate-data"):
                remember_secret(user.get(key))
            provider = user.get("auth-provider")
            if isinstance(provider, dict) and isinstance(provider.get("config"), dict):
                for value in provider["config"].values():
                    remember_secret(value)
            exec_ = user.get("exec")
            if isinstance(exec_, dict) and isinstance(exec_.get("env"), list):
                for env in exec_["env"]:
                    if isinstance(env, dict):
                        remember_secret(env.get("value"))
    for value in (configuration.api_key or {}).values():
        remember_secret(value)
        if isinstance(value, str) and " " in value:
            remember_secret(value.split(" ", 1)[1])  # "Bearer <token>"
    remember_secret(configuration.password)


def scrub(text: str) -> str:
    """Redact the run's own credentials, then anything in `text` that looks like a credential."""
    for known in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(known, REDACTED)
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


def short_message(text: str) -> str:
    """One scrubbed line of at most MESSAGE_LIMIT characters."""
    # Scrub before cutting so a truncation can never leave half a secret unmatched.
    line = " ".join(scrub(text).split())
    if len(line) > MESSAGE_LIMIT:
        line = line[: MESSAGE_LIMIT - 3].rstrip() + "..."
    return line


# --- errors ---------------------------------------------------------------------------------------


class ClusterError(Exception):
    """The Application list could not be read; `transient` errors are retried under --wait."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def _status_message(exc: ApiException) -> str:
    """The `message` of a Kubernetes Status body, if the error carries one."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return short_message(message) if isinstance(message, str) else ""


def _api_error(exc: ApiException, where: str) -> ClusterError:
    status = exc.status or 0
    reason = (exc.reason or "").strip()
    if status == 0:
        first = reason.splitlines()[0] if reason else ""
        if first == "SSLError":
            detail = short_message(" ".join(reason.splitlines()[1:]))
            return ClusterError(f"cannot reach the Kubernetes API at {where}: TLS error: {detail}", transient=False)
        return ClusterError(
            f"malformed response from the Kubernetes API at {where}: {short_message(reason)}",
            transient=False,
        )
    http = f"HTTP {status} {short_message(reason)}".strip()
    detail = _status_message(exc)
    suffix = f": {detail}" if detail else ""
    if status == 401:
        return ClusterError(
            f"the Kubernetes API at {where} rejected the credentials ({http}){suffix}; check the kubeconfig user",
            transient=False,
        )
    if status == 403:
        return ClusterError(
            f"the Kubernetes API at {where} forbids listing {PLURAL}.{GROUP} ({http}){suffix}",
            transient=False,
        )
    if status == 404:
        return ClusterError(
            f"the Kubernetes API at {where} does not serve {GROUP}/{VERSION} {PLURAL} ({http}); is ArgoCD installed?",
            transient=False,
        )
    # 429 and 5xx happen while an API server restarts or sheds load: worth another try under --wait.
    return ClusterError(
        f"the Kubernetes API at {where} answered with an error ({http}){suffix}",
        transient=status == 429 or status >= 500,
    )


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nested = exc.__cause__ or exc.__context__
        if nested is None:
            break
        exc = nested
    return exc


def _transport_error(exc: Exception, where: str, timeout: float) -> ClusterError:
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    prefix = f"cannot reach the Kubernetes API at {where}"
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        return ClusterError(f"{prefix}: DNS lookup of the server name failed", transient=True)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        cause = _root_cause(exc)
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else "connection failed"
        return ClusterError(f"{prefix}: {reason.lower()}", transient=True)
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return ClusterError(f"{prefix}: connection timed out after {timeout:g}s", transient=True)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return ClusterError(f"{prefix}: no answer within {timeout:g}s", transient=True)
    if isinstance(exc, urllib3.exceptions.SSLError):
        return ClusterError(f"{prefix}: TLS error: {short_message(str(_root_cause(exc)))}", transient=False)
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return ClusterError(f"{prefix}: connection dropped ({short_message(str(_root_cause(exc)))})", transient=True)
    return ClusterError(f"{prefix}: {type(exc).__name__}: {short_message(str(exc))}", transient=True)


# --- reading the cluster --------------------------------------------------------------------------


def default_kubeconfig(env: Mapping[str, str]) -> str:
    """$KUBECONFIG (a path list is allowed, as kubectl does) or ~/.kube/config."""
    return env.get("KUBECONFIG") or os.path.join("~", ".kube", "config")


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class ApplicationSource:
    """Lists Applications of one namespace through the official Kubernetes client."""

    def __init__(self, kubeconfig: str, context: str | None, request_timeout: float) -> None:
        paths = [os.path.expanduser(p) for p in kubeconfig.split(os.pathsep) if p]
        if not any(os.path.isfile(p) for p in paths):
            raise ClusterError(f"kubeconfig not found: {kubeconfig}", transient=False)
        configuration = k8s_client.Configuration()
        # A failing exec plugin is only logged by the loader (to the root logger), and the request
        # then goes out without credentials; keep that note for the 401 message instead.
        notes = _LogCollector()
        logging.getLogger().addHandler(notes)
        try:
            # The client's config loader carries no annotations (the rest of the package does).
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (
            k8s_config.ConfigException,
            yaml.YAMLError,
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            OSError,
        ) as exc:
            if isinstance(exc, yaml.YAMLError):
                detail = "not valid YAML"
            elif isinstance(exc, (TypeError, KeyError, AttributeError)):
                detail = f"unexpected structure ({type(exc).__name__}: {short_message(str(exc))})"
            else:
                detail = short_message(str(exc))
            raise ClusterError(f"cannot use kubeconfig {kubeconfig}: {detail}", transient=False) from exc
        finally:
            logging.getLogger().removeHandler(notes)
        _remember_kubeconfig_credentials([p for p in paths if os.path.isfile(p)], configuration)
        self.auth_note = "; ".join(short_message(m) for m in notes.messages)
        # No client-side retries: an unreachable server must fail in one request timeout, and
        # --wait does its own retrying with a visible deadline.
        configuration.retries = False
        self.where = short_message(configuration.host)
        self.request_timeout = request_timeout
        self._api = k8s_client.CustomObjectsApi(k8s_client.ApiClient(configuration))

    def list(self, namespace: str, timeout: float | None = None) -> list[dict[str, Any]]:
        """The `items` of the ApplicationList, shape-checked."""
        limit = self.request_timeout if timeout is None else timeout
        try:
            body = self._api.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, _request_timeout=(limit, limit)
            )
        except ApiException as exc:
            error = _api_error(exc, self.where)
            if exc.status == 401 and self.auth_note:
                error = ClusterError(f"{error} (kubeconfig: {self.auth_note})", transient=False)
            raise error from exc
        except ValueError as exc:
            raise ClusterError(
                f"malformed response from the Kubernetes API at {self.where}: body is not valid JSON",
                transient=False,
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _transport_error(exc, self.where, limit) from exc
        return parse_application_list(body, self.where)


def _malformed(where: str, detail: str) -> ClusterError:
    return ClusterError(f"malformed response from the Kubernetes API at {where}: {detail}", transient=False)


def _optional_dict(value: object, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(where, f"{what} is {type(value).__name__}, expected an object")
    return value


def _optional_str(value: object, what: str, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _malformed(where, f"{what} is {type(value).__name__}, expected a string")
    return value


def parse_application_list(body: object, where: str) -> list[dict[str, Any]]:
    """Check that `body` is an ApplicationList whose items have a name; return the items."""
    if isinstance(body, (str, bytes)):
        raise _malformed(where, "body is not JSON")
    if not isinstance(body, dict):
        raise _malformed(where, f"expected an ApplicationList object, got a JSON {type(body).__name__}")
    items = body.get("items", None)
    if "items" not in body or not isinstance(items, (list, type(None))):
        raise _malformed(where, "expected an ApplicationList with an 'items' list")
    result: list[dict[str, Any]] = []
    for index, item in enumerate(items or []):
        if not isinstance(item, dict):
            raise _malformed(where, f"items[{index}] is {type(item).__name__}, expected an Application object")
        metadata = _optional_dict(item.get("metadata"), f"items[{index}].metadata", where)
        if not isinstance(metadata.get("name"), str) or not metadata["name"]:
            raise _malformed(where, f"items[{index}] has no metadata.name")
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


def _pick_message(status: Mapping[str, Any], operation: Mapping[str, Any], health: Mapping[str, Any]) -> str | None:
    """The most telling status message: errors first, then the operation, then health."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    candidates: list[object] = [c.get("message") for c in conditions if str(c.get("type", "")).endswith("Error")]
    if operation.get("phase") in ("Failed", "Error", "Running", "Terminating"):
        candidates.append(operation.get("message"))
    candidates.append(health.get("message"))
    candidates.extend(c.get("message") for c in conditions)
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return short_message(candidate)
    return None


def app_status(item: Mapping[str, Any], role: str, where: str) -> AppStatus:
    """Read metadata.name, the sync-wave annotation and a few status fields, never `spec`."""
    metadata = item.get("metadata") or {}
    name = metadata["name"]
    status = _optional_dict(item.get("status"), f"{name}: status", where)
    sync = _optional_dict(status.get("sync"), f"{name}: status.sync", where)
    health = _optional_dict(status.get("health"), f"{name}: status.health", where)
    operation = _optional_dict(status.get("operationState"), f"{name}: status.operationState", where)
    conditions = status.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        raise _malformed(where, f"{name}: status.conditions is {type(conditions).__name__}, expected a list")
    revision = _optional_str(sync.get("revision"), f"{name}: status.sync.revision", where)
    if revision is None and isinstance(sync.get("revisions"), list):  # multi-source Applications
        revision = ",".join(str(r)[:12] for r in sync["revisions"] if r) or None
    state_sync = _optional_str(sync.get("status"), f"{name}: status.sync.status", where)
    state_health = _optional_str(health.get("status"), f"{name}: status.health.status", where)
    phase = _optional_str(operation.get("phase"), f"{name}: status.operationState.phase", where)
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
        revision=short_message(revision) if revision else None,
        operation=phase,
        error_condition=error_condition,
    )
    if base.state == "healthy":
        return base
    return dataclasses.replace(base, message=_pick_message(status, operation, health))


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
    items: Sequence[Mapping[str, Any]], namespace: str, root: str, expect: Sequence[str], where: str
) -> Report:
    """Root first, then present children by (sync wave, name), then absent expected children."""
    by_name = {item["metadata"]["name"]: item for item in items}
    root_app = (
        app_status(by_name[root], "root", where)
        if root in by_name
        else AppStatus(name=root, role="root", present=False)
    )
    children = sorted(
        (app_status(item, "child", where) for name, item in by_name.items() if name != root),
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


# --- command line ---------------------------------------------------------------------------------


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="argocd_status",
        description="Show sync and health of the root ArgoCD Application and its children. "
        "Exit 0 healthy, 1 not healthy, 2 cluster unreachable or answers malformed.",
    )
    parser.add_argument(
        "--root",
        default=DEFAULT_ROOT,
        help=f"name of the root Application (default: {DEFAULT_ROOT})",
    )
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"namespace of the Applications (default: {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="NAME",
        help="require a child Application of this name (repeatable); an absent one is listed as MISSING",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument(
        "--context",
        default=None,
        metavar="NAME",
        help="kubeconfig context (default: current-context)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (schema in docs/monitoring.md)",
    )
    parser.add_argument(
        "--color",
        "--colour",
        dest="colour",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the markers: auto (a terminal, unless NO_COLOR is set), always or never (default: auto)",
    )
    parser.add_argument(
        "--no-color",
        dest="colour",
        action="store_const",
        const="never",
        help="same as --color never",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="poll until every Application is Synced and Healthy, or fail at --timeout",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"with --wait: give up after this long and exit 1 (default: {DEFAULT_WAIT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--interval",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"with --wait: seconds between polls (default: {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        default=DEFAULT_REQUEST_TIMEOUT,
        metavar="SECONDS",
        help=f"timeout of one API request, so an unreachable server fails fast (default: {DEFAULT_REQUEST_TIMEOUT:g})",
    )
    return parser


def _error(stderr: TextIO, message: str) -> int:
    print(f"argocd_status: error: {message}", file=stderr)
    return EXIT_UNREACHABLE


def _wait(
    source: ApplicationSource,
    args: argparse.Namespace,
    stdout: TextIO,
    stderr: TextIO,
    colour: bool,
) -> int:
    timeout = DEFAULT_WAIT_TIMEOUT if args.timeout is None else args.timeout
    interval = DEFAULT_INTERVAL if args.interval is None else args.interval
    deadline = time.monotonic() + timeout
    last_report: Report | None = None
    last_error: ClusterError | None = None
    while True:
        remaining = deadline - time.monotonic()
        try:
            items = source.list(args.namespace, timeout=max(0.1, min(source.request_timeout, remaining)))
            last_report = build_report(items, args.namespace, args.root, args.expect, source.where)
            last_error = None
        except ClusterError as exc:
            if not exc.transient:
                return _error(stderr, str(exc))
            last_error = exc
        if last_report is not None and last_error is None and last_report.healthy:
            stdout.write(render(last_report, args.json, colour))
            return EXIT_HEALTHY
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        progress = str(last_error) if last_error else last_report.verdict if last_report else ""
        print(f"argocd_status: waiting ({remaining:.0f}s left): {progress}", file=stderr)
        time.sleep(min(interval, remaining))
    if last_error is not None or last_report is None:
        return _error(stderr, f"{last_error} (still failing at the --timeout of {timeout:g}s)")
    stdout.write(render(last_report, args.json, colour))
    print(f"argocd_status: timed out after {timeout:g}s: {last_report.verdict}", file=stderr)
    return EXIT_UNHEALTHY


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report; return 0 healthy, 1 not healthy, 2 the cluster could not be asked."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.wait and (args.timeout is not None or args.interval is not None):
        parser.error("--timeout and --interval only apply with --wait")
    stdout, stderr = sys.stdout, sys.stderr
    colour = not args.json and use_colour(args.colour, stdout, os.environ)
    kubeconfig = args.kubeconfig or default_kubeconfig(os.environ)
    try:
        source = ApplicationSource(kubeconfig, args.context, args.request_timeout)
    except ClusterError as exc:
        return _error(stderr, str(exc))
    if args.wait:
        return _wait(source, args, stdout, stderr, colour)
    try:
        items = source.list(args.namespace)
        report = build_report(items, args.namespace, args.root, args.expect, source.where)
    except ClusterError as exc:
        return _error(stderr, str(exc))
    stdout.write(render(report, args.json, colour))
    return EXIT_HEALTHY if report.healthy else EXIT_UNHEALTHY


if __name__ == "__main__":
    raise SystemExit(main())
