"""The stored kubeconfig never goes stale: fetched again after an upgrade, and its expiry named.

What must hold, and why:
- the kubeconfig fetch runs again whenever the upgrade step runs: `kubeadm upgrade` renews
  admin.conf's client certificate (kubeadm "Certificate Management": all certificates are renewed
  during a control plane upgrade), and the copy in the stack must be the renewed one;
- under 30 days before the client certificate's notAfter, a preview (and `make kubeconfig`) warns
  with the date and what to do; an expired one says expired; a healthy one says nothing.
Certificates here are real X.509 certificates made with `cryptography`, as kubeadm's are PEM in
client-certificate-data.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.admin_cert import WARN_DAYS, client_certificate_expiry, expiry_warning
from tools.mockrun import FAKE_ADMIN_KUBECONFIG, FakeCloud

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
COMMAND = "command:local:Command"


def kubeconfig_expiring(not_after: dt.datetime) -> str:
    """The mock runtime's admin kubeconfig with a real client certificate valid until `not_after`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    doc = yaml.safe_load(FAKE_ADMIN_KUBECONFIG)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    doc["users"][0]["user"]["client-certificate-data"] = base64.b64encode(pem).decode()
    return yaml.safe_dump(doc)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(400, None), (WARN_DAYS + 1, None), (WARN_DAYS - 1, "(29 days left)"), (-3, "expired on 2026-12-04")],
)
def test_the_warning_names_the_expiry_under_thirty_days(days_left: int, expected: str | None) -> None:
    text = kubeconfig_expiring(NOW + dt.timedelta(days=days_left))
    assert client_certificate_expiry(text) == (NOW + dt.timedelta(days=days_left)).replace(microsecond=0)
    warning = expiry_warning(text, NOW)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning and "kubeadm certs renew admin.conf" in warning
        assert "BEGIN CERTIFICATE" not in warning


def test_a_kubeconfig_without_a_readable_certificate_is_not_a_warning() -> None:
    assert client_certificate_expiry(FAKE_ADMIN_KUBECONFIG) is None
    assert expiry_warning("not yaml: [", NOW) is None


class ExpiringKubeconfig(FakeCloud):
    """FakeCloud whose admin.conf (the fetch command's stdout) expires in 10 days."""

    def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:  # type: ignore[override]
        resource_id, state = super().new_resource(args)
        if args.typ == COMMAND and args.name.endswith("-kubeconfig"):
            state["stdout"] = kubeconfig_expiring(dt.datetime.now(dt.UTC) + dt.timedelta(days=10))
        return resource_id, state


def test_a_preview_warns_when_the_stored_kubeconfig_is_about_to_expire(run_stack: Any, caplog: Any) -> None:
    run_stack(mocks=ExpiringKubeconfig())
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("the admin client certificate in the stack's kubeconfig expires on" in w for w in warnings), warnings


def _command(rec: Any, suffix: str) -> Any:
    (found,) = [r for r in rec.of_type(COMMAND) if r.name.endswith(suffix)]
    return found


def test_the_kubeconfig_is_fetched_again_when_the_upgrade_step_runs(dev: Any, run_stack: Any) -> None:
    versions = yaml.safe_load(open("versions.yaml", encoding="utf-8"))  # noqa: SIM115
    major, minor, patch = str(versions["kubernetes"]).split(".")
    bumped = run_stack({"versions": {"kubernetes": f"{major}.{minor}.{int(patch) + 1}"}})
    before, after = (
        {s: _command(rec, s).inputs["triggers"] for s in ("-upgrade", "-kubeconfig")} for rec in (dev, bumped)
    )
    assert before["-upgrade"] != after["-upgrade"], "a Kubernetes bump should run the upgrade step"
    assert before["-kubeconfig"] != after["-kubeconfig"], "the upgrade ran but the stored kubeconfig is the old one"
    # Every trigger of the upgrade step is one of the fetch's.
    assert {json.dumps(t) for t in after["-upgrade"]} <= {json.dumps(t) for t in after["-kubeconfig"]}


def test_the_status_tool_names_the_expiry_too(tmp_path: Any, capsys: Any) -> None:
    from tools import argocd_status

    doc = yaml.safe_load(kubeconfig_expiring(dt.datetime.now(dt.UTC) + dt.timedelta(days=5)))
    doc["clusters"][0]["cluster"] = {"server": "https://127.0.0.1:9", "insecure-skip-tls-verify": True}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    argocd_status.main(["--kubeconfig", str(path), "--request-timeout", "1"])
    err = capsys.readouterr().err
    assert f"warning: the admin client certificate in {path} expires on" in err
    assert "BEGIN CERTIFICATE" not in err
