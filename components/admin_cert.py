"""When the admin kubeconfig's client certificate expires, and a warning when that is near.

kubeadm signs admin.conf's client certificate for one year and renews it with every
`kubeadm upgrade apply/node` (kubeadm docs, "Certificate Management with kubeadm": "kubeadm renews
all the certificates during control plane upgrade"). The stack keeps the admin kubeconfig it
fetched (components/bootstrap.py fetches it again whenever the playbook or the upgrade step runs);
a cluster that is never upgraded for a year would leave everyone who uses that output locked out.
So every preview and up warns, and so do `make kubeconfig` and the status tool
(tools/argocd_status.py), naming the date, once fewer than WARN_DAYS remain.
"""

from __future__ import annotations

import base64
import datetime as dt

import yaml
from cryptography import x509

WARN_DAYS = 30
RENEW_HINT = (
    "run `make up` after a Kubernetes patch bump (the upgrade step renews every certificate and "
    "the stack fetches the new admin.conf), or renew it on each control plane with "
    "`sudo kubeadm certs renew admin.conf` and fetch it with "
    "`pulumi up --replace '<URN of the <cluster>-kubeconfig command>'` (docs/deployment.md)"
)


def client_certificate_expiry(kubeconfig: str) -> dt.datetime | None:
    """notAfter of the first user's client certificate (UTC), or None when there is none to read."""
    try:
        doc = yaml.safe_load(kubeconfig)
        data = doc["users"][0]["user"]["client-certificate-data"]
        cert = x509.load_pem_x509_certificate(base64.b64decode(data, validate=True))
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
        return None
    return cert.not_valid_after_utc


def expiry_warning(
    kubeconfig: str, now: dt.datetime | None = None, *, what: str = "the stack's kubeconfig"
) -> str | None:
    """A one-line warning when the client certificate expires within WARN_DAYS (or has expired)."""
    expires = client_certificate_expiry(kubeconfig)
    if expires is None:
        return None
    left = expires - (now or dt.datetime.now(dt.UTC))
    if left > dt.timedelta(days=WARN_DAYS):
        return None
    when = expires.strftime("%Y-%m-%d %H:%M UTC")
    state = f"expired on {when}" if left.total_seconds() <= 0 else f"expires on {when} ({left.days} days left)"
    return f"the admin client certificate in {what} {state}: {RENEW_HINT}."
