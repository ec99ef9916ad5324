"""No admin certificate goes stale: the stack stores none, and a copied one's expiry is named.

What must hold, and why:
- the stack keeps no admin certificate (its kubeconfig has an exec user) and reads the cluster CA
  again whenever the upgrade step runs;
- under 30 days before a kubeconfig file's client certificate's notAfter, the status tool warns
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
from tools.mockrun import FAKE_ADMIN_KUBECONFIG

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
        assert warning is not None and expected in warning and "make kubeconfig" in warning
        assert "BEGIN CERTIFICATE" not in warning


def test_a_kubeconfig_without_a_readable_certificate_is_not_a_warning() -> None:
    assert client_certificate_expiry(FAKE_ADMIN_KUBECONFIG) is None
    assert expiry_warning("not yaml: [", NOW) is None


def _command(rec: Any, suffix: str) -> Any:
    (found,) = [r for r in rec.of_type(COMMAND) if r.name.endswith(suffix)]
    return found


def test_the_stack_stores_no_admin_certificate_to_go_stale(dev: Any) -> None:
    """The exported kubeconfig has an exec user; no bootstrap command prints admin.conf."""
    assert set(yaml.safe_load(dev.stack_outputs["kubeconfig"])["users"][0]["user"]) == {"exec"}
    bootstrap = dev.one("gitops-cluster:bootstrap:AnsibleBootstrap")
    for command in dev.children(bootstrap):
        assert "admin.conf" not in str(command.inputs.get("create", "")), command.name


def test_the_cluster_ca_is_read_again_when_the_upgrade_step_runs(dev: Any, run_stack: Any) -> None:
    versions = yaml.safe_load(open("versions.yaml", encoding="utf-8"))  # noqa: SIM115
    major, minor, patch = str(versions["kubernetes"]).split(".")
    bumped = run_stack({"versions": {"kubernetes": f"{major}.{minor}.{int(patch) + 1}"}})
    before, after = (
        {s: _command(rec, s).inputs["triggers"] for s in ("-upgrade", "-cluster-ca")} for rec in (dev, bumped)
    )
    assert before["-upgrade"] != after["-upgrade"], "a Kubernetes bump should run the upgrade step"
    assert before["-cluster-ca"] != after["-cluster-ca"], "the upgrade ran but the CA is not read again"
    assert {json.dumps(t) for t in after["-upgrade"]} <= {json.dumps(t) for t in after["-cluster-ca"]}


def test_a_worker_row_added_runs_the_playbook_but_reads_neither_the_ca_nor_the_keys_again(
    dev: Any, run_stack: Any
) -> None:
    """Issue 25: the reads' triggers are what changes what they read (components/control_plane_reads.py
    read_triggers), so adding a row costs no second read of the CA and the service-account keys."""
    from benchmarks.bootstrap_simulated import ADDED_ROW
    from tests.support.dev_stack import dev_node_rows

    grown = run_stack({"nodes": [*dev_node_rows(), ADDED_ROW]})
    for suffix in ("-cluster-ca", "-service-account-keys"):
        assert _command(dev, suffix).inputs["triggers"] == _command(grown, suffix).inputs["triggers"], suffix
    # ...while the playbook does run, and the first control plane is in the reads' triggers.
    assert _command(dev, "-playbook").inputs["triggers"] != _command(grown, "-playbook").inputs["triggers"]
    assert _command(dev, "-cluster-ca").inputs["triggers"][0].startswith("control-plane:")


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
