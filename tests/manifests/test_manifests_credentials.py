"""The in-cluster credentials generator (manifests/infrastructure/credentials/base/generate_secrets.py).

It runs as a Job, so these tests drive its functions with a recording sender in place of the API
server: the contract is "POST each Secret once, 409 means it already exists and is left alone,
anything else fails the Job, and no value is ever printed".
"""

from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.paths import ROOT

SCRIPT = ROOT / "manifests/infrastructure/credentials/base/generate_secrets.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_secrets", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load()


class FakeApi:
    """Records requests; answers with the HTTP status configured per Secret name."""

    def __init__(self, statuses: dict[str, int] | None = None) -> None:
        self.statuses = statuses or {}
        self.bodies: list[dict[str, Any]] = []
        self.requests: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request) -> int:
        assert isinstance(request.data, bytes)
        body = json.loads(request.data)
        self.requests.append(request)
        self.bodies.append(body)
        status = self.statuses.get(body["metadata"]["name"], 201)
        if status >= 300:
            raise urllib.error.HTTPError(request.full_url, status, "x", None, None)  # type: ignore[arg-type]
        return status


SPECS = [
    {"name": "db", "random": ["password"]},
    {"name": "mq", "literal": {"username": "platform"}, "random": ["password"]},
]


def test_creates_each_secret_with_random_values() -> None:
    api = FakeApi()
    lines = gen.ensure_secrets(SPECS, "data", "https://api:6443", "tok", api)
    assert lines == ["created secret data/db", "created secret data/mq"]
    req = api.requests[0]
    assert req.get_method() == "POST"
    assert req.full_url == "https://api:6443/api/v1/namespaces/data/secrets"
    assert req.get_header("Authorization") == "Bearer tok"
    db, mq = api.bodies
    assert db["metadata"] == {
        "name": "db",
        "namespace": "data",
        "labels": {"app.kubernetes.io/managed-by": "credentials-generator"},
    }
    assert mq["stringData"]["username"] == "platform"
    passwords = {db["stringData"]["password"], mq["stringData"]["password"]}
    assert len(passwords) == 2 and all(len(p) >= 40 for p in passwords)


def test_existing_secret_is_left_unchanged() -> None:
    api = FakeApi({"db": 409})
    lines = gen.ensure_secrets(SPECS, "data", "https://api", "tok", api)
    assert lines[0] == "secret data/db exists; left unchanged"
    assert all(r.get_method() == "POST" for r in api.requests)  # never PUT/PATCH: no rotation


def test_other_errors_fail_without_leaking_values() -> None:
    api = FakeApi({"mq": 403})
    with pytest.raises(RuntimeError, match=r"creating secret data/mq failed: HTTP 403") as err:
        gen.ensure_secrets(SPECS, "data", "https://api", "tok", api)
    for body in api.bodies:
        assert body["stringData"]["password"] not in str(err.value)


def test_log_lines_never_contain_values() -> None:
    api = FakeApi()
    lines = gen.ensure_secrets(SPECS, "data", "https://api", "tok", api)
    for body in api.bodies:
        assert all(body["stringData"]["password"] not in line for line in lines)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Expecting value"),
        ("[]", "non-empty JSON list"),
        ('[{"random": ["p"]}]', "string 'name'"),
        ('[{"name": "a", "random": ["p"], "extra": 1}]', "unknown keys"),
        ('[{"name": "a"}]', "no 'random' key"),
    ],
)
def test_bad_specs_are_rejected(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gen.parse_specs(raw)


def test_main_reports_bad_specs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_SPECS", "[]")
    assert gen.main(["--service-account-dir", str(tmp_path)]) == 2


def test_main_uses_the_mounted_service_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "namespace").write_text("messaging\n")
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_text("")
    monkeypatch.setenv("SECRET_SPECS", json.dumps(SPECS[:1]))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    api = FakeApi()
    monkeypatch.setattr(gen, "_in_cluster_sender", lambda ca: api)
    assert gen.main(["--service-account-dir", str(tmp_path)]) == 0
    assert api.requests[0].full_url == "https://[fd00::1]:443/api/v1/namespaces/messaging/secrets"
    assert api.requests[0].get_header("Authorization") == "Bearer sa-token"
    assert capsys.readouterr().out == "created secret messaging/db\n"
