"""Whether a secret appears anywhere in plain text in what the program registered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tools.mockrun import Recording

COMMAND = "command:local:Command"


def assert_nowhere_in_plain_text(rec: Recording, *markers: str) -> None:
    for reg in rec.resources:
        for where, values, secrets in (
            ("input", reg.inputs, reg.secret_paths),
            ("output", reg.outputs, reg.output_secret_paths),
        ):
            for path, text in plain_strings(values, "", secrets):
                for marker in markers:
                    assert marker not in text, f"{marker!r} in plain {where} {path} of {reg.type}::{reg.name}"
    for path, text in plain_strings(rec.stack_outputs, "", rec.stack_output_secret_paths):
        for marker in markers:
            assert marker not in text, f"{marker!r} in plain stack output {path}"


def plain_strings(value: Any, path: str, secret_paths: frozenset[str]) -> Iterator[tuple[str, str]]:
    """Every string leaf of `value` that was not sent as a secret, with its path."""
    if any(path == p or path.startswith(f"{p}.") or path.startswith(f"{p}[") for p in secret_paths if p):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from plain_strings(v, f"{path}.{k}" if path else str(k), secret_paths)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from plain_strings(v, f"{path}[{i}]", secret_paths)
    elif isinstance(value, str):
        yield path, value
