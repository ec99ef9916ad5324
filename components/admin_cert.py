"""When a kubeconfig's client certificate expires, and a warning when that is near.

The stack keeps no admin certificate: its kubeconfig output holds an exec user
(components/cluster_auth.py) and its own provider mints one for an hour per run. A kubeconfig file
someone copied from a control plane (kubeadm's admin.conf, a one-year certificate that
`kubeadm upgrade` renews: kubeadm docs, "Certificate Management with kubeadm") can still go stale,
so the status tool (tools/argocd_status.py) names the date once fewer than WARN_DAYS remain.
"""

from __future__ import annotations

import base64
import datetime as dt

import yaml
from cryptography import x509

from components import yaml_io

WARN_DAYS = 30
RENEW_HINT = (
    "use the stack's kubeconfig instead (`make kubeconfig`: it mints a one-hour certificate each time), "
    "or renew this one on each control plane with `sudo kubeadm certs renew admin.conf` (docs/deployment.md)"
)


def client_certificate_expiry(kubeconfig: str) -> dt.datetime | None:
    """notAfter of the first user's client certificate (UTC), or None when there is none to read."""
    try:
        doc = yaml_io.load(kubeconfig)
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
