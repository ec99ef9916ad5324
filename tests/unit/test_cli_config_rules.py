"""The stack files pass the Pulumi CLI's own config rules (tools/cli_config.py), and the check itself works.

The mock runtime hands config to the program directly, so only this test sees what `pulumi up`
would refuse before the program runs (issue 9: `sshPrivateKey` declared without a default).
"""

from __future__ import annotations

import copy

import pytest
import yaml

from components.settings.keys import UNDECLARED_KEYS
from tests.support.paths import ROOT
from tools import cli_config
from tools.cli_config import CliConfigError, check_project, check_stack, load_yaml
from tools.mockrun import stack_config

PROJECT = load_yaml((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))

# Before issue 9, Pulumi.yaml declared the secret key without a default, and no stack set it.
ISSUE_9_DECLARATION = {
    "type": "string",
    "secret": True,
    "description": "The private key matching sshPublicKey (set with `pulumi config set --secret`).",
}


def test_committed_project_and_stacks_pass_the_cli_rules():
    assert cli_config.check_files(ROOT) == []
    assert cli_config.main([str(ROOT)]) == 0


def test_the_issue_9_declaration_is_refused_as_the_cli_refuses_it():
    project = copy.deepcopy(PROJECT)
    project["config"]["sshPrivateKey"] = ISSUE_9_DECLARATION
    dev = load_yaml((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    assert check_stack(project, "dev", dev, undeclared_ok=UNDECLARED_KEYS) == [
        "Stack 'dev' is missing configuration value 'sshPrivateKey'"
    ]
    # A plain empty default does not help: a secret key's value must be encrypted.
    project["config"]["sshPrivateKey"] = {**ISSUE_9_DECLARATION, "default": ""}
    assert check_stack(project, "dev", dev, undeclared_ok=UNDECLARED_KEYS) == [
        "Stack 'dev' with configuration key 'sshPrivateKey' must be encrypted as it's secret"
    ]


def _project(**config):
    return {"name": "proj", "runtime": "python", "config": config}


STR = {"type": "string"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"a": {"type": "string", "default": "x", "value": "y"}}, "cannot have both a 'default' and 'value'"),
        ({"a": {"type": "array", "default": []}}, "declares an array but does not specify the underlying type"),
        ({"a": {"type": "integer", "default": "three"}}, "not of the expected type 'integer'"),
        ({"a": {"type": "integer", "default": 2.5}}, "not of the expected type 'integer'"),
        ({"a": {"type": "boolean", "default": "yes"}}, "not of the expected type 'boolean'"),
        ({"a": {"type": "string", "default": 3}}, "not of the expected type 'string'"),
        (
            {"a": {"type": "array", "items": {"type": "string"}, "default": [1]}},
            "not of the expected type 'array<string>'",
        ),
        ({"a": {"type": "object", "default": {}}}, "type 'object' is not one of string, integer, boolean, array"),
        ({"a": {"type": "string", "requried": True}}, "additionalProperties 'requried' not allowed"),
        ({"a": {"type": "string", "secret": "yes"}}, "'secret' must be a boolean"),
        (
            {"aws:region": {"type": "string", "value": "x"}},
            "is not namespaced by the project and should not define a type",
        ),
        ({"aws:region": {"default": "eu-west-1"}}, "Did you mean to use the 'value' attribute"),
        ({"aws:region": {"description": "no value"}}, "is namespaced and must provide an attribute 'value'"),
        ({"a:b:c": {"value": 1}}, "could not parse a:b:c as a configuration key"),
        ({"a": None}, "a shorthand value must be a string, integer, boolean or array"),
    ],
)
def test_each_project_rule_refuses_its_case(config, expected):
    problems = check_project(_project(**config))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "config",
    [
        {"a": {"type": "integer", "default": 3}},
        {"a": {"type": "integer", "default": 3.0}},  # YAML gives floats; whole ones pass
        {"a": {"type": "integer", "default": "3"}},
        {"a": {"type": "boolean", "default": "false"}},
        {"a": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}, "default": [[1]]}},
        {"proj:a": {"type": "string", "default": "x"}},
        {"aws:region": {"value": "eu-west-1"}},
        {"aws:region": "eu-west-1", "a": "shorthand default"},
        {"a": {"type": "string", "secret": True}},
    ],
)
def test_project_declarations_the_cli_accepts_pass(config):
    assert check_project(_project(**config)) == []


SECURE = {"secure": "v1:AAAA:BBBB"}


@pytest.mark.parametrize(
    ("config", "stack_config", "expected"),
    [
        ({"a": STR}, {}, "Stack 'dev' is missing configuration value 'a'"),
        ({"a": STR, "b": STR, "c": STR}, {}, "missing configuration values 'a', 'b' and 'c'"),
        ({"a": {**STR, "secret": True}}, {}, "missing configuration value 'a'"),
        ({"a": {**STR, "secret": True, "default": ""}}, {}, "'a' must be encrypted as it's secret"),
        ({"a": {**STR, "secret": True}}, {"proj:a": "plain"}, "'a' must be encrypted as it's secret"),
        ({"a": {"type": "integer", "default": 1}}, {"proj:a": "two"}, "'a' must be of type 'integer'"),
        ({"a": {"type": "integer", "default": 1}}, {"proj:a": 2.5}, "'a' must be of type 'integer'"),
        ({"a": {"type": "boolean", "default": True}}, {"proj:a": "yes"}, "'a' must be of type 'boolean'"),
        ({"a": {"type": "string", "default": "x"}}, {"proj:a": ["x"]}, "'a' must be of type 'string'"),
        ({"a": {"type": "string", "default": "x"}}, {"proj:a": None}, "'a' must be of type 'string'"),
        (
            {"a": {"type": "array", "items": {"type": "string"}, "default": []}},
            {"proj:a": "10.0.0.0/8"},
            "'a' must be of type 'array<string>'",
        ),
        (
            {"a": {"type": "array", "items": {"type": "string"}, "default": []}},
            {"proj:a": ["x", 1]},
            "'a' must be of type 'array<string>'",
        ),
        ({}, {"region": "x"}, "could not parse region as a configuration key"),
        ({}, {"proj:typo": 1}, "'proj:typo' is not declared in Pulumi.yaml"),
    ],
)
def test_each_stack_rule_refuses_its_case(config, stack_config, expected):
    problems = check_stack(_project(**config), "dev", {"config": stack_config})
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("config", "stack_config"),
    [
        ({"a": {**STR, "secret": True}}, {"proj:a": SECURE}),
        ({"a": {"type": "integer", "default": 1}}, {"proj:a": 3}),
        ({"a": {"type": "integer", "default": 1}}, {"proj:a": "3"}),
        ({"a": {"type": "boolean", "default": True}}, {"proj:a": False}),
        ({"a": {"type": "string", "default": "x"}}, {"proj:a": 123}),  # scalars reach the CLI as text
        ({"a": {"type": "array", "items": {"type": "integer"}, "default": []}}, {"proj:a": [1, 2.0]}),
        ({"aws:region": {"value": "eu-west-1"}}, {}),
        ({"aws:region": {"description": "set per stack"}}, {}),  # refused by check_project, not here
        ({}, {"aws:region": "eu-west-1", "other:key": {"nested": [1]}}),
        ({}, {"proj:allowed": 1}),  # read by the program without a declaration
        ({"a": STR}, {"proj:config:a": "old form of the key"}),
    ],
)
def test_stacks_the_cli_accepts_pass(config, stack_config):
    assert check_stack(_project(**config), "dev", {"config": stack_config}, undeclared_ok=("allowed",)) == []


def test_yaml_is_read_as_the_cli_reads_it():
    doc = load_yaml("a: yes\nb: on\nc: true\nd: 1e3\ne: 1.30\nf: '1.30'\ng: 0x10\n")
    assert doc == {"a": "yes", "b": "on", "c": True, "d": 1000.0, "e": 1.3, "f": "1.30", "g": 16}
    project = _project(flag={"type": "boolean", "default": False})
    assert check_stack(project, "dev", load_yaml("config:\n  proj:flag: yes\n")) == [
        "Stack 'dev' with configuration key 'flag' must be of type 'boolean'"
    ]


def test_main_reports_and_fails_on_a_bad_directory(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: proj\nruntime: python\nconfig:\n  key:\n    type: string\n")
    (tmp_path / "Pulumi.prod.yaml").write_text("config: {}\n")
    assert cli_config.main([str(tmp_path)]) == 1
    assert "Stack 'prod' is missing configuration value 'key'" in capsys.readouterr().out


def test_the_mock_runtime_stops_where_the_cli_would(tmp_path):
    """tools/mockrun.py (tests, the offline preview) refuses a stack file the CLI would refuse."""
    project = copy.deepcopy(PROJECT)
    project["config"]["sshPrivateKey"] = ISSUE_9_DECLARATION
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    (tmp_path / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    with pytest.raises(CliConfigError, match="Stack 'dev' is missing configuration value 'sshPrivateKey'"):
        stack_config("dev", tmp_path)
    # An unknown key is left to the program, which names it with a did-you-mean.
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: ap-northeast-2\n  gitops-cluster:natGatewayPerAZ: true\n"
    )
    assert stack_config("dev", tmp_path)["gitops-cluster:natGatewayPerAZ"] is True


# The same resolvers on PyYAML's pure-Python parser: what load_yaml read before it used libyaml.
_PurePythonCliLoader = type(
    "_PurePythonCliLoader",
    (yaml.SafeLoader,),
    {"yaml_implicit_resolvers": cli_config.CliYamlLoader.yaml_implicit_resolvers},
)

TRICKY_YAML = """\
plain: value, with #no-comment and:colon
quoted: 'it''s'
folded: >
  two
  lines
literal: |
  keep
   indent
unicode: "caf\\u00e9 ✓"
anchors: &a {x: [1, 2.5, -3, 0o17, 0x1F, .inf, -.nan, ~, null, Null]}
again: *a
dates: 2026-12-07
octal_1_1: 017
sexagesimal: 1:30
tabs: "a\\tb"
empty:
"""


@pytest.mark.parametrize("name", [*sorted(p.name for p in ROOT.glob("Pulumi*.yaml")), "tricky"])
def test_the_c_loader_reads_the_same_data_as_the_pure_python_loader(name):
    """load_yaml parses with libyaml (about ten times faster); the data must be PyYAML's own, to the type."""
    assert issubclass(cli_config.CliYamlLoader, yaml.CSafeLoader), "PyYAML without libyaml: load_yaml is slow"
    text = TRICKY_YAML if name == "tricky" else (ROOT / name).read_text(encoding="utf-8")
    fast = load_yaml(text)
    slow = yaml.load(text, Loader=_PurePythonCliLoader)  # noqa: S506 - a SafeLoader subclass
    assert fast == slow
    assert repr(fast) == repr(slow)  # same types too (1 vs 1.0 vs True; nan != nan, so the repr)
