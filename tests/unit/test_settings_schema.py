"""The pydantic schema of the structured sections (components/settings/schema.py) on its own."""

from __future__ import annotations

import typing

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from components.settings.keys import STRUCTURED_KEYS, declared_keys, default_versions
from components.settings.model import NodeRole
from components.settings.schema import (
    MAX_NODES,
    SCALAR_SECTIONS,
    NodeRow,
    TaintRow,
    check,
    fields,
    scalar_keys,
    section,
    versions_model,
)
from tests.support.dev_stack import dev_values
from tests.support.paths import ROOT

# Pulumi.yaml's declared types (the CLI's: string, integer, boolean, array of strings) as Python's.
_DECLARED_TYPE = {"string": str, "integer": int, "boolean": bool}

GOOD = {"name": "api-1", "role": "api", "instanceType": "t3.small", "rootVolumeGb": 40}


def test_the_schema_gives_no_second_home_to_a_declared_key():
    """Pulumi.yaml is the only home of a declared key's type and default: the schema holds only
    the fields of the keys Pulumi.yaml cannot declare."""
    assert "nodes" in STRUCTURED_KEYS and "nodes" not in declared_keys()
    assert not set(fields(NodeRow)) & set(declared_keys())


def test_the_flat_sections_are_pulumi_yamls_declarations():
    """Every key Pulumi.yaml declares is a field of exactly one flat section, of its declared type,
    with no default of its own (the declared one is applied before validation, and passes)."""
    owners: dict[str, list[str]] = {}
    for model in SCALAR_SECTIONS:
        for name in model.model_fields:
            owners.setdefault(name, []).append(model.__name__)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}, "a key in two sections"
    assert set(owners) == set(declared_keys()) == scalar_keys()
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    for model in SCALAR_SECTIONS:
        for name, info in model.model_fields.items():
            decl = project[name]
            if decl["type"] == "array":
                item = _DECLARED_TYPE[decl["items"]["type"]]
                expected: object = list[item]  # type: ignore[valid-type]
            else:
                expected = _DECLARED_TYPE[decl["type"]]
            assert info.annotation == expected, f"{name}: {info.annotation} in the schema, {decl['type']} declared"
            assert info.is_required(), f"{name}: a default in the schema; Pulumi.yaml is its only home"
            TypeAdapter(info.annotation).validate_python(declared_keys()[name].default, strict=True)


def test_a_wrong_type_of_any_declared_key_is_one_problem_naming_it():
    """The schema refuses it, and its section words the refusal: the key as typed, the value, a fix."""
    from components.settings.messages import ConfigError
    from components.settings.parse import parse_settings

    wrong = {"string": 7, "integer": "7", "boolean": "yes", "array": "10.0.0.0/16"}
    for key, decl in declared_keys().items():
        with pytest.raises(ConfigError) as err:
            parse_settings(dev_values(**{key: wrong[decl.type]}))
        mine = [p for p in err.value.problems if p.key == key]
        assert len(mine) == 1 and mine[0].value == wrong[decl.type] and mine[0].fix.endswith("."), (key, mine)
        assert "validation error" not in str(err.value) and "pydantic" not in str(err.value)


def test_the_version_overrides_are_versions_yamls_keys_each_a_text_pin():
    model = versions_model(default_versions())
    assert set(fields(model)) == set(default_versions())
    assert check(model, {"kubernetes": "1.36.4"}).ok
    assert check(model, {"kubernetes": 1.3}).refused == {"kubernetes": "string_type"}
    assert check(model, {"kubernets": "1.36.4"}, "known keys").unknown == (("kubernets", "did you mean 'kubernetes'?"),)
    assert not check(model, {"kubernetes": None}).ok


def test_a_flat_section_collects_every_refused_key_at_once():
    from components.settings.schema import NetworkKeys

    values = dev_values(azCount=True, natGatewayPerAz="no", adminCidrs=["10.0.0.0/8", 3])
    assert section(NetworkKeys, values).refused == {
        "azCount": "int_type", "natGatewayPerAz": "bool_type", "adminCidrs": "string_type",
    }  # fmt: skip
    with pytest.raises(ValidationError):
        NetworkKeys.model_validate({**section(NetworkKeys, values).raw, "clusterNme": "x"})


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


def test_a_version_override_the_schema_refuses_is_worded_by_the_section():
    from components.settings.messages import ConfigError
    from components.settings.parse import parse_settings

    with pytest.raises(ConfigError) as err:
        parse_settings(dev_values(versions={"kubernetes": 1.3, "calico": None, "kubernets": "1.36.4"}))
    assert [(p.key, p.fix[:32]) for p in err.value.problems] == [
        ("versions.kubernetes", "YAML read it as the number 1.3 ("),
        ("versions.calico", "null; pin an exact version in qu"),
        ("versions.kubernets", "unknown version key; did you mea"),
    ]
