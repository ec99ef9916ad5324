"""The exec plugin (tools/kube_credential.py) and the credential-free kubeconfigs that run it.

The GitHub source is driven by GitHub's documented token request (a GET of
ACTIONS_ID_TOKEN_REQUEST_URL plus `&audience=`, bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN, answer
`{"value": <JWT>}`: actions/toolkit packages/core src/oidc-utils.ts), asked by the real urllib of a
real HTTPS server on loopback (a certificate made here for 127.0.0.1); the
bastion source runs the real mint command spec with a fake runner that prints what
`kubeadm kubeconfig user` prints (a real certificate, made here with `cryptography`). The ExecCredential
shape is client.authentication.k8s.io/v1's, which the pinned `kubernetes` client's ExecProvider reads.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


ACTIONS_ENV = {
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-bearer-secret",
}


@dataclass
class TokenServer:
    """GitHub's token endpoint on loopback: answers every GET with `{"value": token}` over TLS."""

    url: str
    opener: kube_credential.Opener
    token: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _loopback_tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context that trusts only it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder(subject_name=name, issuer_name=name, public_key=key.public_key(), serial_number=1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.crt", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[TokenServer]:
    server_tls, client_tls = _loopback_tls(tmp_path)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=client_tls)).open
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = TokenServer(f"https://127.0.0.1:{httpd.server_address[1]}/abc/idtoken?api-version=2.0", opener)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, dict(self.headers)))
            body = json.dumps({"value": state.token}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd.RequestHandlerClass = Handler
    httpd.socket = server_tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_github_source_asks_for_the_stacks_audience_and_returns_the_token_with_its_expiry(
    token_server: TokenServer,
) -> None:
    token_server.token = token = jwt({"sub": "repo:o/r:environment:dev", "exp": EXP})
    environ = {**ACTIONS_ENV, "ACTIONS_ID_TOKEN_REQUEST_URL": token_server.url}
    out = json.loads(kube_credential.github_credential("kubernetes/gitops-cluster/dev", environ, token_server.opener))
    ((path, headers),) = token_server.requests
    assert path == "/abc/idtoken?api-version=2.0&audience=kubernetes%2Fgitops-cluster%2Fdev"
    assert headers["Authorization"] == "bearer request-bearer-secret"
    assert out["apiVersion"] == "client.authentication.k8s.io/v1" and out["kind"] == "ExecCredential"
    assert out["status"] == {"token": token, "expirationTimestamp": "2030-03-17T17:46:40Z"}


def test_the_github_source_says_what_is_missing_and_never_prints_the_request_url(capsys: Any) -> None:
    assert kube_credential.main(["--stack", "dev", "--audience", "a", "--source", "github"], environ={}) == 1
    assert "id-token: write" in capsys.readouterr().err

    with socket.socket() as closed:  # a loopback port nobody listens on: the real refusal
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = {**ACTIONS_ENV, "ACTIONS_ID_TOKEN_REQUEST_URL": f"https://127.0.0.1:{port}/pipelines.actions/idtoken"}
    with pytest.raises(kube_credential.CredentialError) as caught:
        kube_credential.github_token("a", refused)
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
        "bastionInstanceId": "i-0b",
        "region": "ap-northeast-2",
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
    ((_argv, kwargs),) = calls
    env = kwargs["env"]
    assert env["GC_TARGET_HOST"] == "10.0.16.10" and env["GC_TARGET_HOST_KEY_ALIAS"] == "i-0m"
    assert env["GC_CLIENT_NAME"].startswith("admin:") and env["GC_VALIDITY"] == "1h"
    assert env["GC_KNOWN_HOSTS"] == "~/.ssh/known_hosts.d/gitops-cluster-dev"
    # No key from the stack: the run pushes its own to the bastion and that node, in the stack's region.
    assert kwargs["input"] == ""
    assert env["GC_EIC_INSTANCES"] == "i-0b i-0m" and env["GC_EIC_REGION"] == "ap-northeast-2"

    with pytest.raises(kube_credential.CredentialError, match="no output bastionInstanceId"):
        kube_credential.bastion_credential("dev", tmp_path, loader=lambda _s, _w: {**outputs, "bastionInstanceId": ""})


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
