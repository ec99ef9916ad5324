"""No long-lived credential waits in state unless docs/gitops-practices.md says why.

The mock runtime records what the program would put in state: every resource's inputs, the
outputs the resources return (and the output names a resource marks secret, such as a
`tls:index/privateKey:PrivateKey`'s `privateKeyPem`, which the mock leaves empty), and the stack
outputs. This test looks through all of it for private keys (PEM or OpenSSH blocks, kubeconfig
`client-key-data`, output names that hold a private key) and client certificates (PEM blocks, a
kubeconfig's `client-certificate-data`). A certificate counts as short-lived when it parses and
lives at most a day; anything else must be a row of the table "What stays in state, and who can
read it" in docs/gitops-practices.md, which names where it is (``locator``), how long it lives,
who can read it and why it stays.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from cryptography import x509

from tests.support.paths import ROOT
from tools.mockrun import Recording

DOCS = ROOT / "docs" / "gitops-practices.md"
TABLE_HEADING = "### What stays in state, and who can read it"

_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_KUBECONFIG_KEY = re.compile(r"client-key-data:\s*\S+")
_KUBECONFIG_CERT = re.compile(r"client-certificate-data:\s*(\S+)")
_KEY_OUTPUT = re.compile(r"privatekey", re.IGNORECASE)
ONE_DAY = timedelta(days=1)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _long_lived_cert(pem: str) -> bool:
    """True unless `pem` is a certificate that parses and lives at most a day, or a CA certificate
    (the cluster CA the kubeconfig carries is public: it proves nothing without the CA's key)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return True
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        pass
    return cert.not_valid_after_utc - cert.not_valid_before_utc > ONE_DAY


def _embedded_cert(data: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return data


def credentials_in(text: str) -> list[str]:
    """What long-lived credential `text` holds: 'private key', 'client certificate'."""
    found = []
    if _PRIVATE.search(text) or _KUBECONFIG_KEY.search(text):
        found.append("private key")
    certs = [m.group(0) for m in _CERT.finditer(text)]
    certs += [_embedded_cert(m.group(1)) for m in _KUBECONFIG_CERT.finditer(text)]
    if any(_long_lived_cert(c) for c in certs):
        found.append("client certificate")
    return found


def findings(rec: Recording) -> dict[str, set[str]]:
    """locator -> what it holds. Locators: `output:<name>` for a stack output,
    `<inputs|outputs>:<resource type>:<property>` for a resource's property."""
    out: dict[str, set[str]] = {}
    for name, value in rec.stack_outputs.items():
        for text in _strings(value):
            out.setdefault(f"output:{name}", set()).update(credentials_in(text))
    for reg in rec.resources:
        for where, props in (("inputs", reg.inputs), ("outputs", reg.outputs)):
            for prop, value in (props or {}).items():
                for text in _strings(value):
                    out.setdefault(f"{where}:{reg.type}:{prop}", set()).update(credentials_in(text))
        for prop in reg.additional_secret_outputs:
            if _KEY_OUTPUT.search(prop):
                out.setdefault(f"outputs:{reg.type}:{prop}", set()).add("private key")
    return {k: v for k, v in out.items() if v}


def documented_locators() -> dict[str, str]:
    """locator -> the table row it is named in."""
    text = DOCS.read_text(encoding="utf-8")
    assert TABLE_HEADING in text, f"{DOCS.name} lost its table {TABLE_HEADING!r}"
    section = text.split(TABLE_HEADING, 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    out = {}
    for row in rows[1:]:
        where = row.split("|")[2]
        for locator in re.findall(r"`([^`]+)`", where):
            out[locator] = row
    return out


def test_every_long_lived_credential_in_state_is_in_the_table(dev: Recording) -> None:
    documented = documented_locators()
    undocumented = {k: sorted(v) for k, v in findings(dev).items() if k not in documented}
    assert undocumented == {}, (
        "long-lived credentials in state that docs/gitops-practices.md does not explain (add a row naming "
        f"where, lifetime, who can read it and why it stays, or make it short-lived): {undocumented}"
    )


def test_a_row_that_says_short_lived_holds_no_long_lived_certificate(dev: Recording) -> None:
    """A row whose lifetime is hours (the provider's per-run certificate) must be what it says: its
    locators hold keys of certificates that live at most a day, never a long-lived certificate."""
    found = findings(dev)
    short = {loc for loc, row in documented_locators().items() if "hour" in row.split("|")[3]}
    assert short, "the table lost its row for the provider's per-run certificate"
    long_lived = {loc: sorted(found[loc]) for loc in short if "client certificate" in found.get(loc, set())}
    assert long_lived == {}, f"rows that say their certificate lives hours hold a long-lived one: {long_lived}"


def test_the_table_names_nothing_that_is_gone(dev: Recording) -> None:
    stale = sorted(set(documented_locators()) - set(findings(dev)))
    assert stale == [], f"rows of the table name credentials the program no longer keeps in state: {stale}"


def test_the_scan_finds_what_it_looks_for() -> None:
    assert credentials_in("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----") == [
        "private key"
    ]
    assert credentials_in("users:\n- user:\n    client-certificate-data: Zm9v\n    client-key-data: YmFy\n") == [
        "private key",
        "client certificate",
    ]
    assert credentials_in("exec:\n  command: gh-oidc-token\n") == []


def test_a_certificate_for_a_day_passes_and_one_for_a_year_does_not() -> None:
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "kubernetes-admin")])
    now = datetime.now(UTC)

    def cert(days: float) -> str:
        built = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=days))
            .sign(key, hashes.SHA256())
        )
        return built.public_bytes(serialization.Encoding.PEM).decode()

    assert credentials_in(cert(1)) == []
    assert credentials_in(cert(365)) == ["client certificate"]
    # The cluster CA (ten years, as kubeadm's) is public.
    from tools.mock_pki import FAKE_CLUSTER_CA_PEM

    assert credentials_in(FAKE_CLUSTER_CA_PEM) == []
    embedded = base64.b64encode(cert(0.04).encode()).decode()
    assert credentials_in(f"client-certificate-data: {embedded}\n") == []


def test_a_new_private_key_in_state_is_caught(dev: Recording) -> None:
    documented = documented_locators()
    extra = dict(findings(dev))
    extra["inputs:aws:ec2/keyPair:KeyPair:publicKey"] = {"private key"}
    assert {k for k in extra if k not in documented} == {"inputs:aws:ec2/keyPair:KeyPair:publicKey"}
