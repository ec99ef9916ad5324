"""The pydantic schema of the structured sections (components/settings/schema.py) on its own."""

from __future__ import annotations

import typing

import pytest
import yaml

from components.settings.keys import STRUCTURED_KEYS, declared_keys
from components.settings.model import NodeRole
from components.settings.schema import MAX_NODES, NodeRow, TaintRow, check, fields
from tests.support.paths import ROOT

GOOD = {"name": "api-1", "role": "api", "instanceType": "t3.small", "rootVolumeGb": 40}


def test_the_schema_gives_no_second_home_to_a_declared_key():
    """Pulumi.yaml is the only home of a declared key's type and default: the schema holds only
    the fields of the keys Pulumi.yaml cannot declare."""
    assert "nodes" in STRUCTURED_KEYS and "nodes" not in declared_keys()
    assert not set(fields(NodeRow)) & set(declared_keys())


def test_the_node_rows_of_the_dev_stack_are_what_the_schema_knows():
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]
    rows = doc["gitops-cluster:nodes"]
    assert all(check(NodeRow, row).ok for row in rows)
    used = {k for row in rows for k in row}
    assert used <= set(fields(NodeRow))


def test_roles_are_the_model_roles():
    assert typing.get_args(NodeRow.model_fields["role"].annotation) == tuple(r.value for r in NodeRole)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("rootVolumeGb", True, "int_type"),  # YAML's `yes` is not a size
        ("rootVolumeGb", 40.0, "int_type"),
        ("rootVolumeGb", 19, "greater_than_equal"),
        ("count", "3", "int_type"),
        ("count", MAX_NODES + 1, "less_than_equal"),
        ("count", 0, "greater_than_equal"),
        ("name", "Api", "string_pattern_mismatch"),
        ("name", "a" * 41, "string_too_long"),
        ("role", "master", "literal_error"),
        ("labels", ["a"], "dict_type"),
        ("taints", {"key": "a"}, "list_type"),
    ],
)
def test_strict_types_and_bounds(field, value, error):
    assert check(NodeRow, {**GOOD, field: value}).refused == {field: error}


def test_every_problem_of_a_row_at_once_and_unknown_keys_with_a_hint():
    checked = check(NodeRow, {"name": "API", "role": "boss", "rootVolumeGb": "40", "instancetype": "t3.small", 3: 1})
    assert checked.refused == {
        "name": "string_pattern_mismatch",
        "role": "literal_error",
        "instanceType": "missing",
        "rootVolumeGb": "int_type",
    }
    assert checked.unknown == (("3", "allowed keys are: count, instanceType, labels, name, role, rootVolumeGb, "
                                "taints, zone."), ("instancetype", "did you mean 'instanceType'?"))  # fmt: skip


def test_a_taint_row_is_closed():
    assert check(TaintRow, {"key": "a", "effect": "NoSchedule"}).ok
    assert not check(TaintRow, {"key": "a"}).ok
    assert not check(TaintRow, {"key": "a", "effect": "NoSchedule", "operator": "Exists"}).ok


class _Reads(dict):
    """The config values, noting every key the validation reads."""

    def __init__(self, values: dict) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


def test_the_sections_read_exactly_the_keys_pulumi_yaml_declares():
    """Pulumi.yaml is the table of keys: every key it declares is read by some section's rules, and
    the rules read no key of the project that it does not declare (the structured keys aside)."""
    from components.settings.keys import INTERNAL_VALUES, UNDECLARED_KEYS, with_defaults
    from components.settings.parse import parse_settings

    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]
    values = {k.partition(":")[2]: v for k, v in doc.items() if k.startswith("gitops-cluster:")}
    values["awsRegion"] = doc["aws:region"]
    reads = _Reads(with_defaults(values))
    parse_settings(reads)
    declared = set(declared_keys())
    assert declared - reads.read == set(), "declared in Pulumi.yaml but read by no section"
    assert reads.read - declared - set(UNDECLARED_KEYS) - set(INTERNAL_VALUES) == set(), "read but not declared"
