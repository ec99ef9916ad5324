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
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from components.admin_cert import expiry_warning
from components.node_iam import role_excess
from tools.argocd_apps import (
    GROUP,
    PLURAL,
    VERSION,
    ClusterError,
    Report,
    build_report,
    parse_application_list,
    render,
    use_colour,
)
from tools.redact import Redactor, short_message

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_UNREACHABLE = 2


DEFAULT_ROOT = "root-app"
DEFAULT_NAMESPACE = "argocd"
DEFAULT_REQUEST_TIMEOUT = 5.0
DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_INTERVAL = 5.0


# --- errors ---------------------------------------------------------------------------------------


def _status_message(exc: ApiException, redactor: Redactor) -> str:
    """The `message` of a Kubernetes Status body, if the error carries one."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return redactor.short(message) if isinstance(message, str) else ""


def _api_error(exc: ApiException, where: str, redactor: Redactor) -> ClusterError:
    status = exc.status or 0
    reason = (exc.reason or "").strip()
    if status == 0:
        first = reason.splitlines()[0] if reason else ""
        if first == "SSLError":
            detail = redactor.short(" ".join(reason.splitlines()[1:]))
            return ClusterError(f"cannot reach the Kubernetes API at {where}: TLS error: {detail}", transient=False)
        return ClusterError(
            f"malformed response from the Kubernetes API at {where}: {redactor.short(reason)}",
            transient=False,
        )
    http = f"HTTP {status} {redactor.short(reason)}".strip()
    detail = _status_message(exc, redactor)
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


def _transport_error(exc: Exception, where: str, timeout: float, redactor: Redactor) -> ClusterError:
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
        return ClusterError(f"{prefix}: TLS error: {redactor.short(str(_root_cause(exc)))}", transient=False)
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return ClusterError(f"{prefix}: connection dropped ({redactor.short(str(_root_cause(exc)))})", transient=True)
    return ClusterError(f"{prefix}: {type(exc).__name__}: {redactor.short(str(exc))}", transient=True)


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
        # This run's redaction: it knows the kubeconfig's own credentials from here on.
        self.redactor = Redactor()
        self.redactor.remember_kubeconfig([p for p in paths if os.path.isfile(p)], configuration)
        self.auth_note = "; ".join(self.redactor.short(m) for m in notes.messages)
        # No client-side retries: an unreachable server must fail in one request timeout, and
        # --wait does its own retrying with a visible deadline.
        configuration.retries = False
        self.where = self.redactor.short(configuration.host)
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
            error = _api_error(exc, self.where, self.redactor)
            if exc.status == 401 and self.auth_note:
                error = ClusterError(f"{error} (kubeconfig: {self.auth_note})", transient=False)
            raise error from exc
        except ValueError as exc:
            raise ClusterError(
                f"malformed response from the Kubernetes API at {self.where}: body is not valid JSON",
                transient=False,
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _transport_error(exc, self.where, limit, self.redactor) from exc
        return parse_application_list(body, self.where)


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
        "--stack-outputs",
        default=None,
        metavar="PATH",
        help="also check the node role in these stack outputs (`make outputs > PATH`): "
        "a role granting S3, EBS or every SSM parameter makes the run not healthy",
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


def node_role_findings(path: str) -> list[str]:
    """The excess grants of the stack's node role, from `pulumi stack output --json` saved at
    `path` (its plain `nodeRole` output); the rule is components/node_iam.py's, not a copy. The
    Kubernetes API cannot show IAM, so this is the only input the tool has for it."""
    try:
        with open(path, encoding="utf-8") as handle:
            outputs = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ClusterError(f"--stack-outputs {path}: cannot read JSON stack outputs: {exc}", transient=False) from exc
    if not isinstance(outputs, dict) or "nodeRole" not in outputs:
        raise ClusterError(
            f"--stack-outputs {path}: no `nodeRole` output; save `make outputs STACK=<stack>` (or "
            "`pulumi stack output --json`) of a stack deployed by this program",
            transient=False,
        )
    try:
        return role_excess(outputs["nodeRole"])
    except ValueError as exc:
        raise ClusterError(f"--stack-outputs {path}: {exc}", transient=False) from exc


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
            last_report = build_report(items, args.namespace, args.root, args.expect, source.where, source.redactor)
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


def _warn_about_expiry(kubeconfig: str, stderr: TextIO) -> None:
    """The date the kubeconfig's client certificate expires, when under 30 days (never the certificate)."""
    for path in (os.path.expanduser(p) for p in kubeconfig.split(os.pathsep) if p):
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                warning = expiry_warning(handle.read(), what=path)
            if warning:
                stderr.write(f"warning: {warning}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report; return 0 healthy, 1 not healthy, 2 the cluster could not be asked."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.wait and (args.timeout is not None or args.interval is not None):
        parser.error("--timeout and --interval only apply with --wait")
    stdout, stderr = sys.stdout, sys.stderr
    colour = not args.json and use_colour(args.colour, stdout, os.environ)
    kubeconfig = args.kubeconfig or default_kubeconfig(os.environ)
    _warn_about_expiry(kubeconfig, stderr)
    findings: list[str] = []
    try:
        if args.stack_outputs is not None:
            findings = node_role_findings(args.stack_outputs)
        source = ApplicationSource(kubeconfig, args.context, args.request_timeout)
    except ClusterError as exc:
        return _error(stderr, str(exc))
    for finding in findings:
        print(f"argocd_status: node role grants {finding}; nodes must lend nothing (node_iam.py)", file=stderr)
    if args.wait:
        code = _wait(source, args, stdout, stderr, colour)
    else:
        try:
            items = source.list(args.namespace)
            report = build_report(items, args.namespace, args.root, args.expect, source.where, source.redactor)
        except ClusterError as exc:
            return _error(stderr, str(exc))
        stdout.write(render(report, args.json, colour))
        code = EXIT_HEALTHY if report.healthy else EXIT_UNHEALTHY
    return EXIT_UNHEALTHY if findings and code == EXIT_HEALTHY else code


if __name__ == "__main__":
    raise SystemExit(main())
