"""Rules of the versions section: versions.yaml and the stack's `versions` overrides.

The schema (schema.versions_model, made from versions.yaml's keys) owns the keys and the type:
every version is text as written: an unquoted YAML number (`kubernetes: 1.30` reads as 1.3), a
boolean or a null is refused with "quote it". Nothing moves: no `latest`, ranges or wildcards. The
AMI is one exact Canonical build name; chart repositories are https:// URLs without credentials;
images carry a tag other than `latest`, a digest, or both (`name:tag@sha256:…`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from components.settings.keys import REQUIRED_VERSIONS, default_versions
from components.settings.schema import check, versions_model
from components.settings.values import Collector, https_url_problem, quote_fix

_UNPINNED_VERSIONS = {"latest", "stable", "main", "master", "head", "*", "x", "edge", "nightly"}
_RANGE_CHARS = re.compile(r"[\^~<>=*?| ]|(^|\.)x(\.|$)", re.IGNORECASE)
# Canonical's names: ubuntu/images/<volume>/ubuntu-<codename>-<yy.mm>-<arch>-server-<serial>.
AMI_NAME = re.compile(
    r"ubuntu/images/[a-z0-9-]+/ubuntu-[a-z]+-[0-9]{2}\.[0-9]{2}-(?P<arch>amd64|arm64)-server-[0-9]{8}(\.[0-9]+)?"
)
_SEMVER = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?")
_IMAGE = re.compile(
    r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+"
    r"((:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})"
)
_KUBERNETES_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
_V_TAG = re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")


def _type_fix(value: object) -> str:
    """The fix of a version the schema refused: YAML typed it as something other than text."""
    return "null; pin an exact version in quotes." if value is None else quote_fix(value)


def _version_problem(value: str, key: str = "") -> str | None:
    """Why a version of text is not a pin, or None. `key` selects the rules of its kind."""
    if not value.strip():
        return "empty; pin an exact version."
    if value != value.strip():
        return f"remove the spaces around it: '{value.strip()}'."
    if not value.isascii() or not value.isprintable() or len(value) > 200:
        return "a version is printable ASCII text of at most 200 characters."
    if value.lower() in _UNPINNED_VERSIONS:
        return f"'{value}' moves; pin an exact version (e.g. '1.31.4')."
    if key == "ubuntuAmiName":
        if "*" in value or "?" in value:
            return (
                "a wildcard; name one exact AMI build, "
                "e.g. 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20251015'."
            )
        if not AMI_NAME.fullmatch(value):
            return (
                "not a Canonical Ubuntu server AMI name; expected "
                "'ubuntu/images/<volume>/ubuntu-<codename>-<yy.mm>-<amd64|arm64>-server-<yyyymmdd>'."
            )
        return None
    if key.endswith("Repo"):
        # An OCI Helm repository is a registry path without a scheme (ArgoCD's form for
        # `enableOCI` repositories); Helm always reaches a registry over HTTPS.
        if _OCI_REGISTRY_PATH.fullmatch(value):
            return None
        return https_url_problem(value)
    if key.endswith("Image"):
        m = _IMAGE.fullmatch(value)
        if m is None:
            return "expected an image with its registry and an exact tag, e.g. 'docker.io/library/redis:7.4.1-alpine'."
        if (m["tag"] or "").lower() in _UNPINNED_VERSIONS:
            return f"the tag '{m['tag']}' moves; pin an exact tag or a sha256 digest."
        return None
    if key.endswith("Sha256"):
        if not _SHA256.fullmatch(value):
            return "expected the file's sha256: 64 lowercase hex digits."
        return None
    if key.endswith("Fingerprint"):
        if not _FINGERPRINT.fullmatch(value):
            return "expected the key's full OpenPGP fingerprint: 40 uppercase hex digits, no spaces."
        return None
    if _RANGE_CHARS.search(value):
        return "a range or wildcard; pin an exact version."
    if key == "kubernetes" and not _KUBERNETES_VERSION.fullmatch(value):
        return "expected the exact Kubernetes release 'MAJOR.MINOR.PATCH', e.g. '1.31.4'."
    if key.endswith("Chart") and not _SEMVER.fullmatch(value):
        return "a chart version is an exact semantic version, e.g. '7.7.14'."
    if key in ("calico", "localPathProvisioner", "externalSnapshotter") and not _V_TAG.fullmatch(value):
        return "expected the release tag 'vMAJOR.MINOR.PATCH', e.g. 'v3.29.1'."
    return None


_OCI_REGISTRY_PATH = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+(/[a-z0-9._-]+)+")


def parse_versions(c: Collector, raw: object) -> Mapping[str, str]:
    """versions.yaml, then the stack's `versions` overrides, against the schema made from versions.yaml's keys."""
    file_values = dict(default_versions())
    model = versions_model(file_values)
    versions: dict[str, str] = {}
    refused = check(model, file_values).refused
    for k, v in file_values.items():
        if (why := _version_problem(v, k) if k not in refused else _type_fix(v)) is not None:
            c.add(k, v, why, file="versions.yaml")
        else:
            versions[k] = v
    if raw is not None:
        if not isinstance(raw, dict):
            c.add("versions", raw, "expected a mapping of versions.yaml keys to pinned versions.")
        else:
            checked = check(model, raw, "known keys")
            unknown = dict(checked.unknown)
            for k, v in raw.items():
                if k not in file_values:
                    c.add(f"versions.{k}", v, f"unknown version key; {unknown[str(k)]}")
                elif (why := _version_problem(v, k) if k not in checked.refused else _type_fix(v)) is not None:
                    c.add(f"versions.{k}", v, why)
                else:
                    versions[k] = v
    for k in REQUIRED_VERSIONS:
        if k not in file_values:
            c.add(k, None, "missing; add a pinned value.", file="versions.yaml")
    return MappingProxyType(versions)
