"""Tests of tools/argocd_status.py against a real HTTP server speaking the Kubernetes API.

The official Kubernetes client runs unmodified: it reads a generated kubeconfig (http:// server on
127.0.0.1, a dummy bearer token) and talks HTTP to a ThreadingHTTPServer on a free loopback port,
which serves ApplicationLists built from tests/fixtures/argocd_status/healthy.json (a full
`kubectl get applications -o json` style document, secrets planted in spec, comparedTo, history
and the last-applied annotation). Each scenario rewrites only `status`, the way ArgoCD would.
"""

from __future__ import annotations

import io
import json
import re
import runpy
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import paths
from tools import argocd_apps, redact
from tools.argocd_status import main

FIXTURES = paths.FIXTURES / "argocd_status"
APPS_PATH = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
TOKEN = "dummy-token-5c1e9a7f"
SECRET = "hunter2"
GITHUB_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
ESC = "\033["
CHILDREN_BY_WAVE = [
    "namespaces",  # wave 0
    "credentials",  # 1
    "monitoring-stack",  # 2
    "network-policies",  # 3, then by name
    "service-monitors",  # 3
    "postgresql",  # 4
    "rabbitmq",  # 4
    "redis",  # 4
    "api-services",  # 5
]
HEALTHY_ORDER = ["root-app", *CHILDREN_BY_WAVE]

Response = tuple[int, str, bytes]
Responder = Callable[[], Response]


# --- the fake API server --------------------------------------------------------------------------


class FakeApiServer:
    """A loopback HTTP server that answers the Application list with whatever `respond` returns."""

    def __init__(self) -> None:
        self.respond: Responder = lambda: json_response(load_fixture())
        self.requests: list[tuple[str, str | None]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Authorization")))
                if self.path.split("?")[0] == APPS_PATH:
                    status, content_type, body = server.respond()
                else:
                    status, content_type, body = json_response(
                        {"kind": "Status", "status": "Failure", "code": 404}, 404
                    )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that drops the connection (a timeout, a body it refused) makes the handler
                # raise; socketserver would print that traceback to the test's own stderr, which the
                # tests read as the tool's output. Keep it apart instead.
                server.errors.append(traceback.format_exc())

        self.errors: list[str] = []
        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def serve(self, respond: Responder) -> None:
        self.respond = respond

    def serve_doc(self, doc: object) -> None:
        self.respond = lambda: json_response(doc)


def json_response(doc: object, status: int = 200) -> Response:
    return status, "application/json", json.dumps(doc).encode()


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=2)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound (so nobody else takes it) but not listening: refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def write_kubeconfig(path: Path, server: str, closed: str, current: str = "test") -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "test", "cluster": {"server": server}},
            {"name": "closed", "cluster": {"server": closed}},
        ],
        "users": [{"name": "test", "user": {"token": TOKEN}}],
        "contexts": [
            {"name": "test", "context": {"cluster": "test", "user": "test"}},
            {"name": "closed", "context": {"cluster": "closed", "user": "test"}},
        ],
        "current-context": current,
    }
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is valid kubeconfig YAML
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path, api: FakeApiServer, closed_port: int) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", api.url, f"http://127.0.0.1:{closed_port}")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NO_COLOR",
        "KUBECONFIG",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


# --- scenarios ------------------------------------------------------------------------------------


def load_fixture() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "healthy.json").read_text(encoding="utf-8"))
    return doc


def _app(doc: dict[str, Any], name: str) -> dict[str, Any]:
    for item in doc["items"]:
        if item["metadata"]["name"] == name:
            return item  # type: ignore[no-any-return]
    raise KeyError(name)


def _set_status(doc: dict[str, Any], name: str, **changes: Any) -> None:
    status = _app(doc, name)["status"]
    for key, value in changes.items():
        if value is None:
            status.pop(key, None)
        elif isinstance(value, dict) and isinstance(status.get(key), dict):
            status[key] = {**status[key], **value}
        else:
            status[key] = value


def scenario(name: str) -> dict[str, Any]:
    """The healthy fixture with the status ArgoCD would report in scenario `name`."""
    doc = load_fixture()
    if name == "progressing":
        _set_status(
            doc,
            "monitoring-stack",
            health={"status": "Progressing", "message": "Waiting for rollout to finish"},
            operationState={
                "phase": "Running",
                "message": "waiting for healthy state of apps/Deployment/kube-prometheus-operator",
            },
        )
    elif name == "degraded":
        _set_status(
            doc,
            "api-services",
            health={
                "status": "Degraded",
                "message": "Deployment auth/auth-api exceeded its deadline",
            },
            operationState={
                "phase": "Failed",
                "message": f"one or more objects failed to apply: token={SECRET}",
            },
            conditions=[
                {
                    "type": "SyncError",
                    "message": f'Failed sync attempt: Secret "db" is invalid: password={SECRET} '
                    f"(Authorization: Bearer {TOKEN})",
                    "lastTransitionTime": "2026-11-27T07:02:00Z",
                }
            ],
        )
        _set_status(
            doc,
            "network-policies",
            sync={"status": "Unknown"},
            health={"status": "Healthy"},
            conditions=[
                {
                    "type": "ComparisonError",
                    "message": "rpc error: authentication required for "
                    f"https://git:{GITHUB_TOKEN}@github.com/example-org/gitops-cluster.git",
                }
            ],
        )
    elif name == "out_of_sync":
        _set_status(doc, "rabbitmq", sync={"status": "OutOfSync"})
    elif name == "missing_root":
        doc["items"] = [i for i in doc["items"] if i["metadata"]["name"] != "root-app"]
    elif name == "missing_child":
        doc["items"] = [i for i in doc["items"] if i["metadata"]["name"] != "api-services"]
    elif name != "healthy":
        raise ValueError(name)
    return doc


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def names_in_text(out: str) -> list[str]:
    return re.findall(r"^  \[.{4}\]  (\S+)", out, flags=re.M)


# --- statuses and exit codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extra", "code", "state", "bad"),
    [
        ("healthy", [], 0, "healthy", {}),
        ("progressing", [], 1, "progressing", {"monitoring-stack": "progressing"}),
        (
            "degraded",
            [],
            1,
            "degraded",
            {"api-services": "degraded", "network-policies": "degraded"},
        ),
        ("out_of_sync", [], 1, "out_of_sync", {"rabbitmq": "out_of_sync"}),
        ("missing_root", [], 1, "missing", {"root-app": "missing"}),
        (
            "missing_child",
            ["--expect", "api-services", "--expect", "redis"],
            1,
            "missing",
            {"api-services": "missing"},
        ),
    ],
)
def test_json_report_per_scenario(
    api: FakeApiServer,
    kubeconfig: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    extra: list[str],
    code: int,
    state: str,
    bad: dict[str, str],
) -> None:
    api.serve_doc(scenario(name))
    got, out, err = run(capsys, "--kubeconfig", str(kubeconfig), "--json", *extra)
    assert got == code, err
    report = json.loads(out)
    assert set(report) == {
        "schema_version",
        "namespace",
        "root",
        "healthy",
        "state",
        "verdict",
        "totals",
        "apps",
    }
    assert report["schema_version"] == 1
    assert report["root"] == "root-app"
    assert report["namespace"] == "argocd"
    assert report["healthy"] is (code == 0)
    assert report["state"] == state
    assert report["verdict"].startswith(argocd_apps.STATE_LABELS[state] + ":")
    assert report["apps"][0]["name"] == "root-app"
    assert report["apps"][0]["role"] == "root"
    assert all(app["role"] == "child" for app in report["apps"][1:])
    states = {app["name"]: app["state"] for app in report["apps"]}
    assert {n: s for n, s in states.items() if s != "healthy"} == bad
    totals = report["totals"]
    assert totals["apps"] == len(report["apps"])
    assert sum(totals[s] for s in argocd_apps.STATES) == totals["apps"]
    for app in report["apps"]:
        assert set(app) == {
            "name",
            "role",
            "present",
            "state",
            "sync_wave",
            "sync",
            "health",
            "revision",
            "operation",
            "message",
            "hints",
        }
        assert bool(app["hints"]) is (app["state"] != "healthy")


def test_healthy_text_lists_root_first_then_children_by_wave_and_name(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 0, err
    assert names_in_text(out) == HEALTHY_ORDER
    assert "wave 0" in out
    assert "wave 5" in out
    assert "4f0c1d2" in out  # the revision, shortened like git does
    assert "Verdict: HEALTHY: 10/10 Applications Synced and Healthy" in out
    assert "Totals: 10 Applications: 10 healthy, 0 progressing" in out
    assert "To inspect" not in out
    assert ESC not in out
    # The kubeconfig's token was used, and the only API path hit is the Application list.
    assert api.requests == [(APPS_PATH, f"Bearer {TOKEN}")]


def test_degraded_text_has_messages_markers_and_hint_commands(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve_doc(scenario("degraded"))
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 1
    assert "[FAIL]  api-services" in out
    assert "operation: Failed" in out
    assert "message: Failed sync attempt" in out
    assert "[REDACTED]" in out
    assert "Verdict: DEGRADED: 8/10 Applications Synced and Healthy (2 degraded)" in out
    for app in ("api-services", "network-policies"):
        assert f"    kubectl -n argocd describe application.argoproj.io/{app}\n" in out
        assert f"    argocd app get {app}\n" in out
    assert "describe application.argoproj.io/rabbitmq" not in out
    # What the domain APIs run on: node capacity (metrics-server) and their autoscalers.
    assert "    kubectl top nodes\n" in out
    assert "    kubectl get hpa -A  # each domain API's autoscaler and its current CPU\n" in out


def test_metrics_server_hints_name_kubectl_top_and_the_serving_csrs() -> None:
    from tools.argocd_apps import APP_HINTS

    assert APP_HINTS["metrics-server"][0].startswith("kubectl top nodes")
    assert "spec.signerName=kubernetes.io/kubelet-serving" in APP_HINTS["metrics-server"][1]


def test_out_of_sync_hint_includes_diff(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve_doc(scenario("out_of_sync"))
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 1
    assert "[SYNC]  rabbitmq" in out
    assert "OutOfSync" in out
    assert "    argocd app diff rabbitmq\n" in out


def test_missing_root_is_listed_first_as_missing(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve_doc(scenario("missing_root"))
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 1
    assert names_in_text(out) == HEALTHY_ORDER
    assert out.splitlines()[2].startswith("  [MISS]  root-app (root)")
    assert "MISSING" in out.splitlines()[2]
    assert "    kubectl -n argocd get applications.argoproj.io\n" in out


def test_expected_child_missing_is_listed_after_present_children(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve_doc(scenario("missing_child"))
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig), "--expect", "api-services", "--expect", "chat")
    assert code == 1
    assert names_in_text(out) == [*(n for n in HEALTHY_ORDER if n != "api-services"), "api-services", "chat"]
    assert "Verdict: MISSING: 9/11 Applications Synced and Healthy (2 missing)" in out
    assert "    argocd app get root-app  # does the root render chat?\n" in out


def test_without_expect_an_absent_child_is_not_noticed(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve_doc(scenario("missing_child"))
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 0
    assert "api-services" not in out


def test_root_name_and_namespace_options(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig), "--root", "namespaces", "--json")
    assert code == 0
    apps = json.loads(out)["apps"]
    assert (apps[0]["name"], apps[0]["role"]) == ("namespaces", "root")
    # root-app, now a child without a sync-wave annotation, sorts into wave 0.
    assert [a["name"] for a in apps[1:3]] == ["root-app", "credentials"]
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig), "--namespace", "gitops")
    # The fake server serves Applications only in `argocd`; elsewhere the CRD is "not served".
    assert code == 2
    assert api.requests[-1][0] == "/apis/argoproj.io/v1alpha1/namespaces/gitops/applications"


def test_unannotated_child_sorts_into_wave_0(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = scenario("healthy")
    del _app(doc, "redis")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    _app(doc, "rabbitmq")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "not-a-number"
    api.serve_doc(doc)
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 0
    assert names_in_text(out)[:4] == ["root-app", "namespaces", "rabbitmq", "redis"]


def test_status_edge_cases_without_a_server() -> None:
    def item(name: str, status: dict[str, Any] | None) -> dict[str, Any]:
        return {"metadata": {"name": name}, **({"status": status} if status is not None else {})}

    items = [
        item("root-app", {"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"}}),
        item("fresh", None),  # created, not reconciled yet
        item(
            "multi", {"sync": {"status": "Synced", "revisions": ["a" * 40, "1.2.3"]}, "health": {"status": "Healthy"}}
        ),
        item("paused", {"sync": {"status": "Synced"}, "health": {"status": "Suspended"}}),
        item("synced-but-failed-hook", {"sync": {"status": "OutOfSync"}, "operationState": {"phase": "Error"}}),
    ]
    report = argocd_apps.build_report(items, "argocd", "root-app", [], "test")
    states = {app.name: app.state for app in report.apps}
    assert states == {
        "root-app": "healthy",
        "fresh": "progressing",
        "multi": "healthy",
        "paused": "degraded",
        "synced-but-failed-hook": "degraded",
    }
    assert report.apps[2].revision == f"{'a' * 12},1.2.3"
    assert report.state == "degraded"
    assert not report.healthy


# --- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["healthy", "progressing", "degraded", "out_of_sync", "missing_root", "missing_child"])
@pytest.mark.parametrize("as_json", [False, True])
def test_no_secret_is_ever_printed(
    api: FakeApiServer,
    kubeconfig: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    as_json: bool,
) -> None:
    doc = scenario(name)
    assert SECRET in json.dumps(doc)  # the fixture really carries the secret
    api.serve_doc(doc)
    _, out, err = run(capsys, "--kubeconfig", str(kubeconfig), *(["--json"] if as_json else []))
    for secret in (SECRET, TOKEN, GITHUB_TOKEN, "adminPassword", "grafana.adminPassword"):
        assert secret not in out + err


def test_secrets_in_error_bodies_are_not_printed(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"kind": "Status", "code": 403, "message": f"forbidden: token={SECRET} Bearer {TOKEN}"}
    api.serve(lambda: json_response(body, 403))
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 2
    assert "forbidden" in err
    assert SECRET not in out + err
    assert TOKEN not in out + err


def test_the_kubeconfigs_own_credentials_are_never_printed_whatever_they_look_like(
    api: FakeApiServer, tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # An opaque token matches no credential pattern; a body that echoes it back must still not print it.
    opaque = "k8sOpaque9f8e7d6c5b4a3210"
    path = write_kubeconfig(tmp_path / "kubeconfig", api.url, f"http://127.0.0.1:{closed_port}")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["users"][0]["user"]["token"] = opaque
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert redact.short_message(f"echo {opaque}") == f"echo {opaque}"  # no pattern catches it
    body = {"kind": "Status", "code": 403, "message": f"forbidden: credential {opaque} may not list applications"}
    api.serve(lambda: json_response(body, 403))
    code, out, err = run(capsys, "--kubeconfig", str(path))
    assert code == 2
    assert "forbidden: credential [REDACTED] may not list" in err
    assert opaque not in out + err


def test_a_run_keeps_what_it_learnt_to_itself(
    api: FakeApiServer, tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The credentials one run learns are its own (no process-wide set): a later run in the same
    process, or the pattern-only short_message, knows nothing of them."""
    opaque = "k8sOpaqueLeak0123456789"
    path = write_kubeconfig(tmp_path / "kubeconfig", api.url, f"http://127.0.0.1:{closed_port}")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["users"][0]["user"]["token"] = opaque
    path.write_text(json.dumps(doc), encoding="utf-8")
    api.serve(lambda: json_response({"kind": "Status", "code": 403, "message": f"no {opaque}"}, 403))
    code, out, err = run(capsys, "--kubeconfig", str(path))
    assert code == 2 and opaque not in out + err
    assert redact.short_message(f"echo {opaque}") == f"echo {opaque}"
    assert redact.Redactor().known == set()


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("password=hunter2", "hunter2"),
        ('"adminPassword": "s3cr3t value"', "s3cr3t"),
        ("DB_PASSWORD: hunter2, next", "hunter2"),
        ("Authorization: Bearer abc.def.ghi", "abc.def"),
        ("using bearer abcdef123456", "abcdef123456"),
        ("clone https://user:pa55@github.com/x.git failed", "pa55"),
        (f"remote said {GITHUB_TOKEN}", GITHUB_TOKEN),
        ("key AKIAABCDEFGHIJKLMNOP leaked", "AKIAABCDEFGHIJKLMNOP"),
        ("jwt eyJhbGciOi.eyJzdWIiOiJ4In0.c2lnbmF0dXJl here", "eyJzdWIiOiJ4In0"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "MIIE"),
        ("api_key='k-123'", "k-123"),
    ],
)
def test_scrub_redacts_credentials(text: str, hidden: str) -> None:
    scrubbed = redact.short_message(text)
    assert hidden not in scrubbed
    assert redact.REDACTED in scrubbed


def test_scrub_keeps_ordinary_messages() -> None:
    text = "waiting for healthy state of apps/Deployment/auth (namespace auth: 2/3 ready)"
    assert redact.short_message(text) == text


# --- colour ---------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "no_color", "flags", "coloured"),
    [
        (False, False, [], False),
        (True, False, [], True),
        (True, True, [], False),
        (True, False, ["--no-color"], False),
        (True, False, ["--color", "never"], False),
        (False, False, ["--color", "always"], True),
        (True, False, ["--json"], False),
    ],
)
def test_colour_only_on_a_terminal_or_when_forced(
    api: FakeApiServer,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
    tty: bool,
    no_color: bool,
    flags: list[str],
    coloured: bool,
) -> None:
    api.serve_doc(scenario("degraded"))
    stream: io.StringIO = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    assert main(["--kubeconfig", str(kubeconfig), *flags]) == 1
    out = stream.getvalue()
    assert (ESC in out) is coloured
    if coloured:
        assert f"{ESC}31m[FAIL]{ESC}0m" in out
        assert f"{ESC}32m[ OK ]{ESC}0m" in out
    elif "--json" not in flags:
        assert "[FAIL]  api-services" in out


# --- cluster errors: exit 2 -----------------------------------------------------------------------


def test_unreachable_server_exits_2_quickly(kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig), "--context", "closed")
    assert code == 2
    assert time.monotonic() - started < 2
    assert out == ""
    assert err.count("\n") == 1
    assert "cannot reach the Kubernetes API at http://127.0.0.1:" in err
    assert "connection refused" in err


def test_context_option_selects_the_cluster(
    tmp_path: Path, api: FakeApiServer, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_kubeconfig(tmp_path / "config", api.url, f"http://127.0.0.1:{closed_port}", current="closed")
    assert run(capsys, "--kubeconfig", str(path))[0] == 2
    assert run(capsys, "--kubeconfig", str(path), "--context", "test")[0] == 0
    code, _, err = run(capsys, "--kubeconfig", str(path), "--context", "nope")
    assert code == 2
    assert "cannot use kubeconfig" in err


def test_kubeconfig_defaults_to_env_then_home(
    tmp_path: Path,
    api: FakeApiServer,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"http://127.0.0.1:{closed_port}"
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    write_kubeconfig(home / ".kube" / "config", api.url, closed)
    monkeypatch.setenv("HOME", str(home))
    assert run(capsys)[0] == 0
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "env", api.url, closed, "closed")))
    assert run(capsys)[0] == 2  # $KUBECONFIG wins over ~/.kube/config
    code, _, err = run(capsys, "--kubeconfig", str(tmp_path / "absent"))
    assert code == 2
    assert "kubeconfig not found" in err


def _exec_kubeconfig(path: Path, server: str, script: str) -> Path:
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "/bin/sh",
            "args": ["-c", script],
            "interactiveMode": "Never",
        }
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": exec_user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_exec_plugin_credentials_are_used(
    tmp_path: Path, api: FakeApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": "exec-token-0042"},
    }
    path = _exec_kubeconfig(tmp_path / "exec", api.url, f"echo '{json.dumps(credential)}'")
    code, out, _ = run(capsys, "--kubeconfig", str(path))
    assert code == 0
    assert api.requests == [(APPS_PATH, "Bearer exec-token-0042")]
    assert "exec-token-0042" not in out


def test_failing_exec_plugin_is_named_in_the_401_line(
    tmp_path: Path, api: FakeApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve(lambda: json_response({"kind": "Status", "message": "Unauthorized"}, 401))
    script = f"echo 'login expired, password={SECRET}' >&2; exit 1"
    path = _exec_kubeconfig(tmp_path / "exec", api.url, script)
    code, out, err = run(capsys, "--kubeconfig", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "rejected the credentials" in err
    assert "exec: process returned 1. login expired" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("foo: [unclosed\n", "not valid YAML"),
        ("just a string\n", "unexpected structure"),
        ("", "file is empty"),
    ],
)
def test_broken_kubeconfig_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "broken"
    path.write_text(content, encoding="utf-8")
    code, _, err = run(capsys, "--kubeconfig", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert expected in err


def test_server_that_never_answers_times_out(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def hang() -> Response:
        api.release.wait(3)
        return json_response(load_fixture())

    api.serve(hang)
    started = time.monotonic()
    code, _, err = run(capsys, "--kubeconfig", str(kubeconfig), "--request-timeout", "0.3")
    assert code == 2
    assert time.monotonic() - started < 1.5
    assert "no answer within 0.3s" in err


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ((200, "application/json", b"<html>not json</html>"), "not valid JSON"),
        ((200, "text/plain", b"hello"), "body is not JSON"),
        (json_response([1, 2]), "got a JSON list"),
        (json_response({"kind": "Status"}), "'items' list"),
        (json_response({"items": {"a": 1}}), "'items' list"),
        (json_response({"items": ["x"]}), "items[0] is str"),
        (json_response({"items": [{"metadata": {}}]}), "items[0] has no metadata.name"),
        (
            json_response({"items": [{"metadata": {"name": "root-app"}, "status": {"sync": "x"}}]}),
            "root-app: status.sync is str",
        ),
        (json_response({"message": "boom"}, 500), "HTTP 500 Internal Server Error"),
        (
            json_response({"kind": "Status", "message": "Unauthorized"}, 401),
            "rejected the credentials",
        ),
        ((401, "text/plain", b"Unauthorized"), "HTTP 401"),
        (json_response({"kind": "Status"}, 404), "is ArgoCD installed?"),
    ],
)
def test_malformed_or_error_responses_exit_2_with_one_clear_line(
    api: FakeApiServer,
    kubeconfig: Path,
    capsys: pytest.CaptureFixture[str],
    response: Response,
    expected: str,
) -> None:
    api.serve(lambda: response)
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("argocd_status: error: ")
    assert expected in err


# --- --wait ---------------------------------------------------------------------------------------


def sequence(*docs: dict[str, Any]) -> Responder:
    """Answer with each document in turn, then keep answering with the last one."""
    answers = [json_response(doc) for doc in docs]
    calls = iter(range(10**6))

    def respond() -> Response:
        return answers[min(next(calls), len(answers) - 1)]

    return respond


def test_wait_returns_0_once_everything_is_healthy(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve(sequence(scenario("progressing"), scenario("out_of_sync"), scenario("healthy")))
    started = time.monotonic()
    code, out, err = run(
        capsys,
        "--kubeconfig",
        str(kubeconfig),
        "--wait",
        "--timeout",
        "5",
        "--interval",
        "0.1",
        "--json",
    )
    assert code == 0, err
    assert time.monotonic() - started < 2
    assert len(api.requests) == 3
    assert json.loads(out)["healthy"] is True
    assert err.count("waiting (") == 2


def test_wait_retries_transient_errors(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([json_response({"kind": "Status"}, 503)])
    api.serve(lambda: next(answers, json_response(load_fixture())))
    code, _, err = run(capsys, "--kubeconfig", str(kubeconfig), "--wait", "--timeout", "5", "--interval", "0.1")
    assert code == 0
    assert "HTTP 503" in err


def test_wait_fails_at_the_deadline_with_the_last_status(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve_doc(scenario("progressing"))
    started = time.monotonic()
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig), "--wait", "--timeout", "1.5", "--interval", "0.2")
    elapsed = time.monotonic() - started
    assert code == 1
    assert 1.4 <= elapsed < 2.5
    assert len(api.requests) >= 5
    assert names_in_text(out) == HEALTHY_ORDER
    assert "Verdict: PROGRESSING" in out
    assert "timed out after 1.5s" in err.splitlines()[-1]


def test_wait_gives_up_at_once_on_rejected_credentials(
    api: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.serve(lambda: json_response({"kind": "Status"}, 401))
    started = time.monotonic()
    code, _, err = run(capsys, "--kubeconfig", str(kubeconfig), "--wait", "--timeout", "5")
    assert code == 2
    assert time.monotonic() - started < 1
    assert "rejected the credentials" in err


def test_wait_on_an_unreachable_server_exits_2_at_the_deadline(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "closed",
        "--wait",
        "--timeout",
        "0.3",
        "--interval",
        "0.1",
    )
    assert code == 2
    assert "connection refused" in err.splitlines()[-1]
    assert "still failing" in err.splitlines()[-1]


def test_timeout_without_wait_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--timeout", "3"])
    assert exc.value.code == 2
    assert "only apply with --wait" in capsys.readouterr().err


# --- entry point ----------------------------------------------------------------------------------


def test_runs_as_a_module(
    api: FakeApiServer,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # runpy is what `python -m` uses; in-process it costs no second interpreter start.
    api.serve_doc(scenario("out_of_sync"))
    monkeypatch.setattr(sys, "argv", ["argocd_status", "--kubeconfig", str(kubeconfig), "--json"])
    monkeypatch.delitem(sys.modules, "tools.argocd_status")  # as in a fresh `python -m`
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("tools.argocd_status", run_name="__main__", alter_sys=False)
    assert exc.value.code == 1
    assert json.loads(capsys.readouterr().out)["state"] == "out_of_sync"


# --- the node role in the stack outputs (components/node_iam.py's rule) ----------------------------


def _stack_outputs(tmp_path: Path, node_role: Any) -> Path:
    """Stack outputs as `make outputs` prints them, with the node role the program exports."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"clusterName": "gitops-dev", "nodeRole": node_role, "kubeconfig": "[secret]"}))
    return path


def test_a_clean_node_role_in_the_stack_outputs_keeps_a_healthy_exit(
    api: FakeApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], dev
) -> None:
    outputs = _stack_outputs(tmp_path, dev.stack_outputs["nodeRole"])
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig), "--stack-outputs", str(outputs))
    assert (code, err) == (0, "")
    assert "Verdict: HEALTHY" in out


@pytest.mark.parametrize("wait", [[], ["--wait", "--timeout", "5"]])
def test_a_node_role_that_grants_more_makes_a_healthy_cluster_exit_1(
    api: FakeApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], dev, wait: list[str]
) -> None:
    role = json.loads(json.dumps(dev.stack_outputs["nodeRole"]))
    role["inlinePolicies"].append({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    role["managedPolicyArns"].append("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    outputs = _stack_outputs(tmp_path, role)
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig), "--stack-outputs", str(outputs), *wait)
    assert code == 1
    assert "Verdict: HEALTHY" in out  # the Applications are fine; the role is not
    assert "node role grants managed policy arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" in err
    assert "node role grants s3:GetObject on any resource" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read JSON stack outputs"),
        (json.dumps({"clusterName": "gitops-dev"}), "no `nodeRole` output"),
        (json.dumps({"nodeRole": {"inlinePolicies": "x", "managedPolicyArns": []}}), "nodeRole.inlinePolicies"),
    ],
)
def test_unreadable_stack_outputs_exit_2_before_asking_the_cluster(
    api: FakeApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(content)
    code, out, err = run(capsys, "--kubeconfig", str(kubeconfig), "--stack-outputs", str(path))
    assert code == 2 and out == ""
    assert message in err and str(path) in err
    assert api.requests == []
