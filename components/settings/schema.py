"""The typed schema of the structured sections, in pydantic v2: which fields a section has and their types.

A section's rules (nodes.py, ...) validate a row against its model here first: pydantic owns the
field names (an unknown key is refused with "did you mean"), the types (strict: `true` is not a
number, `40.0` is not a whole number, `"3"` is not a count) and the simple bounds, and it collects
every refused field of a row at once. Its errors never reach the user as they are: :func:`check`
returns the refused fields with pydantic's error type, and the section turns each into a Problem in
the project's wording (key as typed, value, fix). What a type cannot say (reserved labels, unique
names, one or three control planes) stays in the section's rules.

Pulumi.yaml cannot declare these structured keys (its types are scalars and arrays), so their
fields live here, the only home; tests/unit/test_settings_schema.py holds the README's and
Pulumi.dev.yaml's description of them to these models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from components.settings.messages import did_you_mean

MAX_NODES = 500


class _Section(BaseModel):
    """Strict, closed, frozen: no coercion, no unknown field, no change after validation."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class NodeRow(_Section):
    """One row of `gitops-cluster:nodes`: a node, or a pool of `count` nodes name-1 ... name-N."""

    # A DNS label (lowercase letters, digits, '-'), at most 40 characters.
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)]
    role: Literal["control-plane", "api", "worker", "infrastructure"]  # NodeRole's values (a test holds them)
    # The EC2 type's spelling is a rule of values.py (check_instance_type); here it is text.
    instanceType: str  # noqa: N815 - the key as the user types it
    rootVolumeGb: Annotated[int, Field(ge=20, le=16384)]  # noqa: N815
    count: Annotated[int, Field(ge=1, le=MAX_NODES)] = 1
    # Their entries are checked one by one by the rules (a reserved key, a null value), so that
    # each bad entry is named; here only the container's type.
    labels: dict[Any, Any] | None = None
    taints: list[Any] | None = None
    # An AZ index, a zone letter, or a list of them for a pool (rules: nodes.py).
    zone: Any = None


class TaintRow(_Section):
    key: Any
    value: Any = ""
    effect: Any


@dataclass(frozen=True)
class Checked:
    """What the schema made of one row: the fields it refused (with pydantic's error type) and the
    keys it does not know (with a did-you-mean hint each)."""

    refused: Mapping[str, str]
    unknown: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.refused and not self.unknown


def fields(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def check(model: type[BaseModel], row: Mapping[Any, Any]) -> Checked:
    """Validate `row` against `model`, collecting every problem instead of stopping at the first."""
    known = fields(model)
    unknown = sorted(str(k) for k in row if k not in known)
    hints = tuple((u, did_you_mean(u, known, "allowed keys are")) for u in unknown)
    refused: dict[str, str] = {}
    try:
        model.model_validate({k: v for k, v in row.items() if k in known})
    except ValidationError as exc:
        for error in exc.errors():
            # A field's own error, or the first error inside it (a row missing a key: loc is the field).
            refused.setdefault(str(error["loc"][0]) if error["loc"] else "", error["type"])
    return Checked(refused, hints)
