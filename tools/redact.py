"""Redaction of what the status tools print: the run's own credentials, and anything shaped like one.

A :class:`Redactor` belongs to one run: it learns that run's credentials (the kubeconfig user's
token, password, keys, exec-plugin environment) and replaces them wherever they appear, whatever
they look like, and then anything that matches a credential pattern (key=value pairs naming a
secret, bearer/basic values, user:password@ in URLs, JWTs, well-known token formats, PEM private
keys). Nothing is kept between runs. :func:`short_message` is the pattern-only form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

MESSAGE_LIMIT = 200
REDACTED = "[REDACTED]"
_CREDENTIAL_KEY = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credentials?|authorization|session[_-]?id|cookie)[\w.-]*"
)
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A PEM private key runs to its END line, or to the end of a truncated message.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        REDACTED,
    ),
    # key=value, key: value, "key": "value" where the key names a credential.
    (
        re.compile(
            rf"(?i)\b({_CREDENTIAL_KEY})([\"']?\s*[=:]\s*)"
            r"((?:bearer|basic)\s+[^\s,;&)\]}\"']+|\"[^\"]*\"|'[^']*'|[^\s,;&)\]}\"']+)"
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    # user:password@ in URLs (repository URLs in comparison errors).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@"), rf"\1{REDACTED}@"),
    # JWTs (service account tokens) and well-known token formats.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    (
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16})\b"
        ),
        REDACTED,
    ),
)


# Values shorter than this are too common to replace safely (and too short to matter).
_MIN_KNOWN_SECRET = 8


@dataclass
class Redactor:
    """The redaction of one run: the credentials it holds, then the patterns."""

    known: set[str] = field(default_factory=set)

    def remember(self, value: object) -> None:
        """Redact `value` (and each of its lines) from everything this run prints from now on."""
        if not isinstance(value, str):
            return
        for candidate in (value, value.strip(), *value.splitlines()):
            candidate = candidate.strip()
            if len(candidate) >= _MIN_KNOWN_SECRET:
                self.known.add(candidate)

    def remember_kubeconfig(self, paths: Sequence[str], configuration: Any) -> None:
        """Every credential of every user in the kubeconfig files, and what the client loaded from them
        (`configuration`: a kubernetes.client.Configuration)."""
        for path in paths:
            try:
                with open(path, encoding="utf-8") as f:
                    doc = yaml.safe_load(f)
            except (OSError, yaml.YAMLError, UnicodeDecodeError):
                continue
            users = doc.get("users") if isinstance(doc, dict) else None
            for entry in users if isinstance(users, list) else []:
                user = entry.get("user") if isinstance(entry, dict) else None
                if not isinstance(user, dict):
                    continue
                for key in ("token", "password", "client-key-data", "client-certificate-data"):
                    self.remember(user.get(key))
                provider = user.get("auth-provider")
                if isinstance(provider, dict) and isinstance(provider.get("config"), dict):
                    for value in provider["config"].values():
                        self.remember(value)
                exec_ = user.get("exec")
                if isinstance(exec_, dict) and isinstance(exec_.get("env"), list):
                    for env in exec_["env"]:
                        if isinstance(env, dict):
                            self.remember(env.get("value"))
        for value in (configuration.api_key or {}).values():
            self.remember(value)
            if isinstance(value, str) and " " in value:
                self.remember(value.split(" ", 1)[1])  # "Bearer <token>"
        self.remember(configuration.password)

    def scrub(self, text: str) -> str:
        """Redact the run's own credentials, then anything in `text` that looks like a credential."""
        for known in sorted(self.known, key=len, reverse=True):
            text = text.replace(known, REDACTED)
        for pattern, replacement in _SCRUBBERS:
            text = pattern.sub(replacement, text)
        return text

    def short(self, text: str) -> str:
        """One scrubbed line of at most MESSAGE_LIMIT characters."""
        # Scrub before cutting so a truncation can never leave half a secret unmatched.
        line = " ".join(self.scrub(text).split())
        if len(line) > MESSAGE_LIMIT:
            line = line[: MESSAGE_LIMIT - 3].rstrip() + "..."
        return line


def short_message(text: str) -> str:
    """One line of `text` with every credential pattern redacted (no run's own credentials)."""
    return Redactor().short(text)
