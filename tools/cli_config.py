"""The Pulumi CLI's own config rules, checked on Pulumi.yaml and every committed Pulumi.<stack>.yaml.

The mock runtime (tools/mockrun.py) hands config straight to the program, so nothing there refuses
a stack the way `pulumi up` does before the program starts. This module replays those rules on the
files, offline, so a test fails where the CLI would stop. It follows pulumi/pulumi (read through the
search tool, late 2026):

- `sdk/go/common/workspace/project.go`: `Project.Validate` (a key may not have both `default` and
  `value`; a key of the project's namespace may be typed, an `array` needs `items`, a typed
  `default` must match its type; a key of another namespace such as `aws:region` may not be typed
  and may not have a `default`, it must give a `value`), `ValidateConfigValue` (string, integer:
  int, whole float or a string that parses as one; boolean: bool or the strings "true"/"false";
  array: a list whose items match), `RewriteShorthandConfigValues` (a bare value is a `default`
  in the project's namespace and a `value` elsewhere);
- `sdk/go/common/workspace/project.json`: the schema (`type` is one of string, integer, boolean,
  array; a declaration has only type, items, description, secret, default and value);
- `sdk/go/common/workspace/config.go`: `mergeConfig` / `ValidateStackConfigAndApplyProjectConfig`
  (a declared key of the project's namespace without a stack value, `value` or `default` is
  missing: "Stack 'dev' is missing configuration value 'sshPrivateKey'"; a default or value is
  applied as a plain value; then every typed key is validated: "must be encrypted as it's secret"
  when declared `secret: true` and the value is not `secure:`, "must be of type '...'");
- `sdk/go/common/resource/config/key.go` (`ParseKey`: a stack key is `<namespace>:<name>`) and
  `object.go` (scalars reach the program as strings, lists and maps as JSON; `{secure: ...}` is a
  secret);
- the tests beside them (`project_test.go`, `config_test.go`, `loaders_test.go`).

The CLI parses YAML with go-yaml v3 (YAML 1.2 rules): `yes`/`on` are strings, not booleans, and
`1e3` is a number. :data:`CliYamlLoader` reads files the same way, so `natGatewayPerAz: yes` fails
here as it fails under the CLI.

One rule is the program's, not the CLI's, and is reported as such: a key of the project's namespace
that is set but declared nowhere (the CLI passes it through silently; components/settings/keys.py refuses
it, so a misspelled key cannot be ignored). The few keys the program reads without declaring them
are :data:`components.settings.keys.UNDECLARED_KEYS`.

    python -m tools.cli_config            # checks Pulumi.yaml and every Pulumi.*.yaml; exit 1 on a problem
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SIMPLE_TYPES = ("string", "integer", "boolean", "array")


class CliConfigError(ValueError):
    """What `pulumi up`/`preview` would print and stop at, before running the program."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "The Pulumi CLI refuses this stack's config before the program runs:\n"
            + "\n".join(f"  - {p}" for p in self.problems)
        )


DECLARATION_FIELDS = {"type", "items", "description", "secret", "default", "value"}


# libyaml's parser (C) when PyYAML was built with it, as the locked wheels are: the same events
# and the same Python resolver and constructor as yaml.SafeLoader, about ten times faster on the
# stack files (tests/unit/test_cli_config_rules.py proves the data equal on every committed file).
_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CliYamlLoader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """YAML 1.2 core-schema scalars, as go-yaml v3 resolves them when decoding into `any`."""


CliYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CliYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
CliYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=CliYamlLoader)  # noqa: S506 - a SafeLoader subclass


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def value_matches(type_name: str, items: Mapping[str, Any] | None, value: Any) -> bool:
    """`ValidateConfigValue` of project.go."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if _is_int(value):
            return True
        if isinstance(value, float):
            return math.isfinite(value) and value == math.trunc(value)
        if isinstance(value, str):
            return re.fullmatch(r"[-+]?[0-9]+", value) is not None  # strconv.Atoi
        return False
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or not isinstance(items, Mapping):
        return False
    return all(value_matches(str(items.get("type")), items.get("items"), v) for v in value)


def full_type_name(type_name: str, items: Mapping[str, Any] | None) -> str:
    """`InferFullTypeName` of project.go: array<string>."""
    if isinstance(items, Mapping):
        return f"array<{full_type_name(str(items.get('type')), items.get('items'))}>"
    return type_name


def namespaced_by_project(project: str, key: str) -> bool:
    return ":" not in key or key.startswith(f"{project}:")


def parse_key(project: str, key: str) -> tuple[str, str] | None:
    """`parseConfigKey`/`ParseKey`: (namespace, name), or None when the CLI cannot parse it."""
    if ":" not in key:
        return project, key
    parts = key.split(":")
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 3 and parts[1] == "config":
        return parts[0], parts[2]
    return None


def _declarations(project_doc: Mapping[str, Any]) -> dict[str, Any]:
    config = project_doc.get("config")
    return dict(config) if isinstance(config, Mapping) else {}


def check_project(project_doc: Mapping[str, Any]) -> list[str]:
    """What the CLI refuses in Pulumi.yaml's `config:` before it reads any stack."""
    problems: list[str] = []
    name = project_doc.get("name")
    if not isinstance(name, str) or not name:
        return ["Pulumi.yaml: project is missing a non-empty string 'name' attribute"]
    config = project_doc.get("config")
    if config is not None and not isinstance(config, (Mapping, str)):
        return [f"Pulumi.yaml: #/config: expected object or null, but got {type(config).__name__}"]
    for key, decl in _declarations(project_doc).items():
        where = f"Pulumi.yaml: config '{key}'"
        if parse_key(name, str(key)) is None:
            problems.append(
                f"{where}: could not parse {key} as a configuration key "
                "(configuration keys should be of the form `<namespace>:<name>`)"
            )
            continue
        if not isinstance(decl, Mapping):
            if not (isinstance(decl, (str, bool, list)) or _is_int(decl)):
                problems.append(f"{where}: a shorthand value must be a string, integer, boolean or array")
            continue  # shorthand: a default in the project's namespace, a value elsewhere
        extra = sorted(set(decl) - DECLARATION_FIELDS)
        if extra:
            problems.append(f"{where}: additionalProperties {', '.join(map(repr, extra))} not allowed")
        if "default" in decl and "value" in decl and decl["default"] is not None and decl["value"] is not None:
            problems.append(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        if "secret" in decl and not isinstance(decl["secret"], bool):
            problems.append(f"{where}: 'secret' must be a boolean")
        if "description" in decl and not isinstance(decl["description"], str):
            problems.append(f"{where}: 'description' must be a string")
        type_name = decl.get("type")
        if type_name is not None and type_name not in SIMPLE_TYPES:
            problems.append(f"{where}: type {type_name!r} is not one of {', '.join(SIMPLE_TYPES)}")
            continue
        if namespaced_by_project(name, str(key)):
            if type_name == "array" and not isinstance(decl.get("items"), Mapping):
                problems.append(
                    f"The configuration key '{key}' declares an array but does not specify the underlying type "
                    "via the 'items' attribute"
                )
                continue
            default = decl.get("default")
            if (
                type_name is not None
                and default is not None
                and not value_matches(type_name, decl.get("items"), default)
            ):
                problems.append(
                    f"The default value specified for configuration key '{key}' is not of the expected type "
                    f"'{full_type_name(type_name, decl.get('items'))}'"
                )
        else:
            if type_name is not None:
                problems.append(
                    f"Configuration key '{key}' is not namespaced by the project and should not define a type"
                )
            if decl.get("default") is not None:
                problems.append(
                    f"Configuration key '{key}' is not namespaced by the project and should not define a default "
                    "value. Did you mean to use the 'value' attribute instead of 'default'?"
                )
            if decl.get("value") is None:
                problems.append(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")
    return problems


def _is_secure(value: Any) -> bool:
    """`object.Secure`: a `{secure: ciphertext}` map, or a list/map holding one."""
    if isinstance(value, Mapping):
        if len(value) == 1 and isinstance(value.get("secure"), str):
            return True
        return any(_is_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_secure(v) for v in value)
    return False


def _as_program_sees(value: Any) -> Any:
    """The content `validateStackConfigValue` checks: scalars as their string text, objects as JSON."""
    if isinstance(value, (Mapping, list)) or value is None:
        return json.loads(json.dumps(value, default=str))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return json.dumps(value)
    return str(value)


def check_stack(
    project_doc: Mapping[str, Any],
    stack: str,
    stack_doc: Mapping[str, Any] | None,
    *,
    undeclared_ok: Sequence[str] = (),
    program_rule: bool = True,
) -> list[str]:
    """What the CLI refuses when it merges Pulumi.<stack>.yaml with Pulumi.yaml, plus (unless
    `program_rule` is false) the program's rule against undeclared keys."""
    project = str(project_doc.get("name"))
    problems: list[str] = []
    raw = (stack_doc or {}).get("config") or {}
    if not isinstance(raw, Mapping):
        return [f"Pulumi.{stack}.yaml: 'config' must be a mapping of `<namespace>:<name>` keys"]
    stack_values: dict[tuple[str, str], Any] = {}
    for key, value in raw.items():
        parsed = parse_key(project, str(key)) if ":" in str(key) else None
        if parsed is None:
            problems.append(
                f"Pulumi.{stack}.yaml: could not parse {key} as a configuration key "
                "(configuration keys should be of the form `<namespace>:<name>`)"
            )
            continue
        stack_values[parsed] = value

    declarations = _declarations(project_doc)
    declared: set[tuple[str, str]] = set()
    missing: list[str] = []
    for key in sorted(declarations):
        parsed = parse_key(project, key)
        if parsed is None:
            continue
        declared.add(parsed)
        decl = declarations[key]
        if not isinstance(decl, Mapping):
            decl = {"default": decl} if namespaced_by_project(project, key) else {"value": decl}
        found = parsed in stack_values
        has_default = decl.get("default") is not None
        has_value = decl.get("value") is not None
        if not found and not has_default and not has_value and parsed[0] == project:
            missing.append(key)
            continue
        value = stack_values[parsed] if found else decl.get("default") if has_default else decl.get("value")
        if not found and not has_default and not has_value:
            continue  # another namespace, nothing set: the provider decides
        type_name = decl.get("type")
        if type_name is None:
            continue
        if decl.get("secret") and not (found and _is_secure(value)):
            problems.append(f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret")
            continue
        if _is_secure(value):
            continue  # ciphertext: its type is checked once decrypted, which needs the passphrase
        if not value_matches(type_name, decl.get("items"), _as_program_sees(value)):
            problems.append(
                f"Stack '{stack}' with configuration key '{key}' must be of type "
                f"'{full_type_name(type_name, decl.get('items'))}'"
            )
    if missing:
        quoted = [f"'{k}'" for k in sorted(missing)]
        listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
        plural = "value" if len(missing) == 1 else "values"
        problems.insert(0, f"Stack '{stack}' is missing configuration {plural} {listed}")

    for namespace, name in sorted(stack_values):
        if not program_rule:
            break
        if namespace == project and (namespace, name) not in declared and name not in undeclared_ok:
            problems.append(
                f"Pulumi.{stack}.yaml: '{namespace}:{name}' is not declared in Pulumi.yaml (the CLI passes it "
                "through; the program refuses it as an unknown key)"
            )
    return problems


def check_files(root: Path = ROOT, *, undeclared_ok: Sequence[str] | None = None) -> list[str]:
    """Check Pulumi.yaml and every Pulumi.<stack>.yaml beside it."""
    if undeclared_ok is None:
        from components.settings.keys import UNDECLARED_KEYS

        undeclared_ok = UNDECLARED_KEYS
    project_doc = load_yaml((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    problems = check_project(project_doc)
    if problems:
        return problems
    config_dir = root / str(project_doc.get("stackConfigDir") or ".")
    for path in sorted(config_dir.glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        doc = load_yaml(path.read_text(encoding="utf-8")) or {}
        problems += check_stack(project_doc, stack, doc, undeclared_ok=undeclared_ok)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("root", nargs="?", type=Path, default=ROOT, help="the directory holding Pulumi.yaml")
    args = parser.parse_args(argv)
    problems = check_files(args.root)
    for problem in problems:
        print(problem)
    if not problems:
        print("Pulumi.yaml and its stack files pass the Pulumi CLI's config rules.")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
