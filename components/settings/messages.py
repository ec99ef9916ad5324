"""How a problem is told: values masked, keys as the user types them, every problem in one error.

`shown` masks credentials and private keys and cuts long values; `Problem` is one bad value with
its fix; `ConfigError` lists them all ("nothing was created") and is a RunError, so `pulumi up`
prints it without a traceback. `closest`/`did_you_mean` suggest the name meant by a misspelling.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pulumi.errors import RunError

from components.settings.model import PROJECT

_MAX_SHOWN = 160
MAX_LISTED_PROBLEMS = 50
# The scheme is bounded and starts where no scheme character precedes it: unbounded, the search
# tried every start of a long value and scanned to its end (quadratic: a 100,000-character
# clusterName took 10 s of CPU to refuse).
_URL_CREDENTIALS = re.compile(r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,31}://)[^/@\s]*@")


def shown(value: object) -> str:
    """A value as a message may print it: credentials and private keys masked, long values cut."""
    if isinstance(value, str):
        if "PRIVATE KEY" in value or "OPENSSH" in value.upper():
            return "'<a private key, not shown>'"
        value = _URL_CREDENTIALS.sub(r"\g<scheme><credentials, not shown>@", value)
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[: _MAX_SHOWN - 20]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Problem:
    """One bad value. `key` is relative to the project's namespace unless it names another one
    (`aws:region`); `file` names a file other than the stack's (versions.yaml)."""

    key: str
    value: object
    fix: str
    file: str | None = None

    def display_key(self, project: str = PROJECT) -> str:
        key = self.key if len(self.key) <= 100 else f"{self.key[:80]}...({len(self.key)} characters)"
        if self.file is not None:
            return f"{self.file}: {key}"
        root = re.split(r"[.\[]", key, maxsplit=1)[0]
        return key if ":" in root else f"{project}:{key}"

    def __str__(self) -> str:
        return f"{self.key} = {shown(self.value)}: {self.fix}"


class ConfigError(RunError):
    """Raised with every problem of a stack's configuration at once.

    A RunError, so `pulumi up` prints the message alone, without a Python traceback.
    """

    def __init__(self, problems: Sequence[Problem], project: str = PROJECT) -> None:
        self.problems = tuple(problems)
        listed = self.problems[:MAX_LISTED_PROBLEMS]
        more = len(self.problems) - len(listed)
        lines = [
            f"Invalid stack configuration ({len(self.problems)} problem"
            f"{'' if len(self.problems) == 1 else 's'}); nothing was created.",
            *(f"  - {p.display_key(project)} = {shown(p.value)}: {p.fix}" for p in listed),
            *([f"  ... and {more} more problems of the same kind; fix these first."] if more else []),
            "Set a value with `pulumi config set <key> <value>` (structured keys: edit "
            "Pulumi.<stack>.yaml); every key is described in Pulumi.yaml and README.md.",
        ]
        super().__init__("\n".join(lines))


def distance(a: str, b: str) -> int:
    """Levenshtein distance, case-insensitive (as the Pulumi CLI's findClosestKey compares)."""
    a, b = a.lower(), b.lower()
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest(needle: str, haystack: Collection[str], *, max_distance: int | None = None) -> str | None:
    """The nearest known name for a misspelled one, or None when nothing is near."""
    if len(needle) > 64:
        return None  # no key is that long; and the distance is quadratic in the length
    limit = max_distance if max_distance is not None else max(2, len(needle) // 5)
    scored = sorted((distance(needle, k), k) for k in haystack)
    return scored[0][1] if scored and scored[0][0] <= limit else None


def did_you_mean(needle: str, haystack: Collection[str], what: str) -> str:
    near = closest(needle, haystack)
    if near is not None:
        return f"did you mean '{near}'?"
    return f"{what}: {', '.join(sorted(haystack))}."
