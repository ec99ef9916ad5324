"""Reading YAML with libyaml's C parser: the same objects as `yaml.safe_load`, at a fraction of the CPU.

A warm run of the dev stack spent about a fifth of its time in PyYAML's pure-Python scanner and
parser (playbooks and role task files for the fingerprints, the child Applications for the sync
waves, the stack file), though the PyYAML wheel in the lock carries libyaml (`yaml.CSafeLoader`).
`CSafeLoader` builds the same safe types with the same constructors (it is `CParser` plus
`SafeConstructor`), so what the program reads is unchanged: tests/unit/test_yaml_io.py loads every
YAML file of the repository both ways and compares, and checks the C loader stays safe.

Writing stays on PyYAML's Python emitter (`yaml.safe_dump`): libyaml's emitter folds long scalars at
other places, so the same data would give other bytes, and user data, patches and inventories whose
bytes change would update resources on the next `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

# The lock's PyYAML wheels are built with libyaml; the fallback is for a PyYAML built without it
# (the same objects, slower). tests/unit/test_yaml_io.py fails when the C loader is missing.
SafeLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """One YAML document, as `yaml.safe_load(text)` reads it."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)


def load_all(text: str) -> Iterator[Any]:
    """Every document of a YAML stream, as `yaml.safe_load_all(text)` reads them."""
    return yaml.load_all(text, Loader=SafeLoader)
