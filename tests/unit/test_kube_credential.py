"""The exec plugin (tools/kube_credential.py) and the credential-free kubeconfigs that run it.

The GitHub source is driven by GitHub's documented token request (a GET of
ACTIONS_ID_TOKEN_REQUEST_URL plus `&audience=`, bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN, answer
`{"value": <JWT>}`: actions/toolkit packages/core src/oidc-utils.ts) through a fake opener; the
bastion source runs the real mint command spec with a fake runner that prints what
`kubeadm kubeconfig user` prints (a real certificate, made here with `cryptography`). The ExecCredential
shape is client.authentication.k8s.io/v1's, which the pinned `kubernetes` client's ExecProvider reads.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import cluster_auth
from tools import kube_credential
from tools.mock_pki import FAKE_MINTED_KUBECONFIG
from tools.mockrun import run_program

EXP = 1_900_000_000


def jwt(claims: dict[str, Any]) -> str:
    def part(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


class FakeResponse(io.BytesIO):
    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ACTIONS_ENV = {
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-bearer-secret",
}


def test_the_github_source_asks_for_the_stacks_audience_and_returns_the_token_with_its_expiry() -> None:
    seen = []
    token = jwt({"sub": "repo:o/r:environment:dev", "exp": EXP})

    def opener(request: Any) -> FakeResponse:
        seen.append(request)
        return FakeResponse(json.dumps({"value": token}).encode())

    out = json.loads(kube_credential.github_credential("kubernetes/gitops-cluster/dev", ACTIONS_ENV, opener))
    (request,) = seen
    assert request.full_url.endswith("?api-version=2.0&audience=kubernetes%2Fgitops-cluster%2Fdev")
    assert request.get_header("Authorization") == "bearer request-bearer-secret"
    assert out["apiVersion"] == "client.authentication.k8s.io/v1" and out["kind"] == "ExecCredential"
    assert out["status"] == {"token": token, "expirationTimestamp": "2030-03-17T17:46:40Z"}


def test_the_github_source_says_what_is_missing_and_never_prints_the_request_url(capsys: Any) -> None:
    assert kube_credential.main(["--stack", "dev", "--audience", "a", "--source", "github"], environ={}) == 1
    assert "id-token: write" in capsys.readouterr().err

    def failing(request: Any) -> FakeResponse:
        raise OSError(f"connection refused to {request.full_url}")

    with pytest.raises(kube_credential.CredentialError) as caught:
        kube_credential.github_token("a", ACTIONS_ENV, failing)
    assert "pipelines.actions" not in str(caught.value) and "request-bearer-secret" not in str(caught.value)
    with pytest.raises(kube_credential.CredentialError, match="https"):
        kube_credential.github_token("a", {**ACTIONS_ENV, "ACTIONS_ID_TOKEN_REQUEST_URL": "file:///etc/passwd"})


def test_a_minted_kubeconfig_becomes_a_client_certificate_credential_that_expires_within_the_hour() -> None:
    out = json.loads(kube_credential.kubeconfig_credential(FAKE_MINTED_KUBECONFIG))["status"]
    assert out["clientCertificateData"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY-----" in out["clientKeyData"]
    expires = dt.datetime.strptime(out["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert dt.timedelta(0) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    with pytest.raises(kube_credential.CredentialError, match="no kubeconfig"):
        kube_credential.kubeconfig_credential("kind: Config\nusers: []\n")


def test_the_bastion_source_mints_for_the_caller_on_the_first_control_plane(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: gitops-cluster\n")
    outputs = {
        "clusterName": "gitops-dev",
        "bastionPublicIp": "198.51.100.20",
        "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nK\n-----END OPENSSH PRIVATE KEY-----\n",
        "nodes": [
            {"name": "worker-1", "role": "worker", "privateIp": "10.0.16.20", "instanceId": "i-0w"},
            {"name": "master", "role": "control-plane", "privateIp": "10.0.16.10", "instanceId": "i-0m"},
        ],
    }
    calls = []

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append((argv, kwargs))
        return subprocess.CompletedProcess(argv, 0, FAKE_MINTED_KUBECONFIG, "")

    out = kube_credential.bastion_credential("dev", tmp_path, loader=lambda _s, _w: outputs, run=run)
    assert "clientCertificateData" in json.loads(out)["status"]
    ((argv, kwargs),) = calls
    env = kwargs["env"]
    assert env["GC_TARGET_HOST"] == "10.0.16.10" and env["GC_TARGET_HOST_KEY_ALIAS"] == "i-0m"
    assert env["GC_CLIENT_NAME"].startswith("admin:") and env["GC_VALIDITY"] == "1h"
    assert env["GC_KNOWN_HOSTS"] == "~/.ssh/known_hosts.d/gitops-cluster-dev"
    # The key travels on stdin only.
    assert json.loads(kwargs["input"])["sshPrivateKey"] == outputs["sshPrivateKey"]
    assert outputs["sshPrivateKey"] not in json.dumps(argv) + json.dumps(env)

    with pytest.raises(kube_credential.CredentialError, match="no output sshPrivateKey"):
        kube_credential.bastion_credential("dev", tmp_path, loader=lambda _s, _w: {**outputs, "sshPrivateKey": ""})


def test_the_exported_kubeconfig_runs_the_plugin_and_holds_no_credential() -> None:
    text = cluster_auth.exec_kubeconfig(
        "https://api.example.com:6443", "CA PEM", "dev", "gitops-dev", audience_value="kubernetes/gitops-cluster/dev"
    )
    doc = yaml.safe_load(text)
    assert base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]) == b"CA PEM"
    exec_config = doc["users"][0]["user"]["exec"]
    assert exec_config["apiVersion"] == "client.authentication.k8s.io/v1"
    assert exec_config["interactiveMode"] == "Never"
    assert exec_config["args"] == ["--stack", "dev", "--audience", "kubernetes/gitops-cluster/dev"]
    absolute = yaml.safe_load(cluster_auth.with_absolute_plugin(text, Path("/checkout")))
    assert absolute["users"][0]["user"]["exec"]["command"] == "/checkout/tools/kube-credential"


def test_in_github_actions_the_provider_holds_an_exec_user_and_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ACTIONS_ENV.items():
        monkeypatch.setenv(key, value)
    rec = run_program("dev", {"ciGithubRepository": "example-org/gitops-cluster"})
    provider = rec.one("pulumi:providers:kubernetes")
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    exec_config = kubeconfig["users"][0]["user"]["exec"]
    assert set(kubeconfig["users"][0]["user"]) == {"exec"}
    assert exec_config["command"] == str(cluster_auth.PROJECT_ROOT / "tools" / "kube-credential")
    assert exec_config["args"] == [
        "--stack",
        "dev",
        "--audience",
        "kubernetes/gitops-cluster/dev",
        "--source",
        "github",
    ]
    assert "PRIVATE KEY" not in provider.inputs["kubeconfig"]
    # The per-run mint is not even invoked.
    assert not [t for t, _ in rec.invokes if t == "command:local:run"]


def test_elsewhere_the_provider_gets_the_hour_long_certificate_minted_for_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in ACTIONS_ENV:
        monkeypatch.delenv(key, raising=False)
    rec = run_program("dev", {"ciGithubRepository": "example-org/gitops-cluster"})
    provider = rec.one("pulumi:providers:kubernetes")
    assert provider.is_secret("kubeconfig")
    minted = yaml.safe_load(provider.inputs["kubeconfig"])
    assert (
        minted["users"][0]["user"]["client-key-data"]
        == (yaml.safe_load(FAKE_MINTED_KUBECONFIG)["users"][0]["user"]["client-key-data"])
    )
