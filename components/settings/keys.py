"""The key tables: which keys exist, their declared types and defaults, and the unknown-key check.

Every key the program reads is declared in Pulumi.yaml with its type, description and default;
:func:`declared_keys` reads that table, so a default has exactly one home. The keys Pulumi.yaml
cannot declare are listed here: the structured ones (`nodes`, `versions`) and the optional secrets
(`sshPrivateKey`, `argocdGithubClientSecret`). versions.yaml is read by :func:`default_versions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from components import PROJECT_ROOT, yaml_io
from components.settings.messages import did_you_mean, distance
from components.settings.model import PROJECT as PROJECT  # re-exported: the key tables name the namespace
from components.settings.schema import scalar_keys
from components.settings.values import Collector

PROJECT_FILE = PROJECT_ROOT / "Pulumi.yaml"
VERSIONS_FILE = PROJECT_ROOT / "versions.yaml"


# Pulumi.yaml cannot declare object-typed keys; these are read as structured config.
STRUCTURED_KEYS = ("nodes", "versions")
# An optional secret cannot be declared in Pulumi.yaml: the CLI demands a value for a declared key
# without a default, and refuses a plaintext default for a `secret: true` key.
SECRET_KEYS = ("sshPrivateKey", "argocdGithubClientSecret")
# Keys of the project's namespace the program reads without a Pulumi.yaml declaration.
UNDECLARED_KEYS = (*STRUCTURED_KEYS, *SECRET_KEYS)
# The stack's AWS provider is explicit (components/stack.py) and receives only the region: any
# other `aws:` key would be silently ignored, so it is refused.
AWS_KEYS = ("region",)

# Versions every stack needs; versions.yaml may hold more (charts pinned under manifests/).
REQUIRED_VERSIONS = (
    "ubuntuAmiName",
    "kubernetes",
    "kubernetesPackageRevision",
    "containerd",
    "calico",
    "argoCdChart",
    "argoCdChartRepo",
)


@dataclass(frozen=True)
class ConfigKey:
    name: str
    type: str
    default: Any
    secret: bool


@cache
def declared_keys() -> Mapping[str, ConfigKey]:
    """The config declarations of Pulumi.yaml (type, default, secret) by key of this project."""
    project = yaml_io.load(PROJECT_FILE.read_text(encoding="utf-8"))
    keys = {}
    for name, decl in (project.get("config") or {}).items():
        if ":" in name:
            continue  # a value for another namespace (pulumi:, aws:), not a key of this program
        keys[name] = ConfigKey(
            name=name,
            type=decl["type"],
            default=decl.get("default"),
            secret=bool(decl.get("secret", False)),
        )
    return MappingProxyType(keys)


@cache
def _versions_file(path: Path, mtime_ns: int, size: int) -> Mapping[str, Any]:
    raw = yaml_io.load(path.read_text(encoding="utf-8")) or {}
    return MappingProxyType({str(k): v for k, v in raw.items()})


def default_versions() -> Mapping[str, Any]:
    """versions.yaml as YAML typed it: a number stays a number, so validation can refuse it.

    Read again whenever VERSIONS_FILE names another file or the file changes.
    """
    stat = VERSIONS_FILE.stat()
    return _versions_file(VERSIONS_FILE, stat.st_mtime_ns, stat.st_size)


# Callers written against the old @cache'd function clear it; that still works.
default_versions.cache_clear = _versions_file.cache_clear  # type: ignore[attr-defined]
raw_versions = default_versions


def with_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """Apply Pulumi.yaml's declared defaults where a key is absent (None), as the CLI does."""
    merged = dict(values)
    for key, decl in declared_keys().items():
        if merged.get(key) is None and decl.default is not None:
            merged[key] = decl.default
    return merged


# Values load_settings adds beside the config keys (they are not keys a user sets).
INTERNAL_VALUES = frozenset({"awsRegion", "aws:region"})


@dataclass(frozen=True)
class SecretInput:
    """What validation learns of one optional secret of SECRET_KEYS (its value is never printed)."""

    set: bool = False
    # The plaintext, for validation only; None when unset or unreadable (an offline tool reading
    # ciphertext from the stack file).
    value: str | None = None
    # Stored in the stack file without `--secret`: refused, the value has been exposed.
    plaintext: bool = False


def check_keys(c: Collector, config_keys: Mapping[str, object], project: str) -> None:
    """Every key that is set must be one the program reads: a typo is refused, not ignored."""
    known = {*scalar_keys(), *UNDECLARED_KEYS}  # the schema's keys: Pulumi.yaml's (a test holds them equal)
    for full, value in sorted(config_keys.items()):
        namespace, _, name = full.partition(":")
        if name.startswith("config:"):
            name = name[len("config:") :]  # the CLI's old `<namespace>:config:<name>` form
        if namespace == project:
            if name not in known:
                c.add(name, value, f"unknown key of this stack; {did_you_mean(name, known, 'known keys are')}")
        elif namespace == "aws":
            if name not in AWS_KEYS:
                c.add(
                    full,
                    value,
                    "the stack's AWS provider takes only aws:region from config, so this would be ignored; "
                    "remove it and set credentials in the environment (AWS_PROFILE, AWS_ROLE_ARN ...).",
                )
        elif namespace != "pulumi" and len(namespace) <= 2 * len(project) and distance(namespace, project) <= 3:
            c.add(full, value, f"not this project's namespace; did you mean '{project}:{name}'?")
