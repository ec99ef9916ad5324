"""The Pulumi glue: gather the stack's config values through Pulumi, then validate them.

The only module of the program that reads Pulumi config. :func:`load_settings` reads every
declared key, the structured keys and the secrets, and the list of keys that are set (so a
misspelled key is refused), hands plain values to :func:`parse.parse_settings`, and returns the
settings with the secrets as a typed StackSecrets of secret Outputs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.settings.keys import SECRET_KEYS, STRUCTURED_KEYS, SecretInput, declared_keys, with_defaults
from components.settings.model import StackSecrets, StackSettings
from components.settings.parse import parse_settings

_INT_TEXT = re.compile(r"[-+]?[0-9]+")


def config_in_use() -> dict[str, bool]:
    """Every config key that is set for this run, and whether it is a secret.

    Under the CLI, the language host hands the program the whole stack config as PULUMI_CONFIG and
    the secret keys as PULUMI_CONFIG_SECRET_KEYS, and its entry point loads both with
    `pulumi.runtime.set_all_config`; the mock runtime and the Automation API call the same
    function. Both sources are read, so a key is seen however it arrived.
    """
    from pulumi.runtime import config as runtime_config

    keys = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = set(runtime_config.get_config_secret_keys_env())
    return {k: runtime_config.is_config_secret(k) or k in secret for k in keys}


def _config_values(in_use: Mapping[str, bool]) -> dict[str, object]:
    """The raw value of each key in use, as a message may show it (secrets never)."""
    from pulumi.runtime import config as runtime_config

    return {k: "<secret>" if secret else runtime_config.get_config(k) for k, secret in in_use.items()}


def load_settings() -> tuple[StackSettings, StackSecrets]:
    """Read the current stack's config and secrets through Pulumi, once, and validate them.

    The secrets come back as secret Outputs in StackSecrets (components receive those; none reads
    Pulumi config). A preview's warnings (what `pulumi up` would refuse) are logged here.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    project_cfg = pulumi.Config()

    def read(key: str, kind: str) -> Any:
        namespace, _, bare = key.rpartition(":")
        cfg = pulumi.Config(namespace) if namespace else project_cfg
        key = bare
        if kind in ("array", "object"):
            try:
                return cfg.get_object(key)
            except Exception:  # noqa: BLE001 - malformed JSON is reported by validation
                return cfg.get(key)
        if kind == "integer":
            raw = cfg.get(key)
            # As the CLI's ValidateConfigValue: base-10 digits only (no spaces, no '3.0', no '٣').
            return int(raw) if raw is not None and raw.isascii() and _INT_TEXT.fullmatch(raw) else raw
        if kind == "boolean":
            raw = cfg.get(key)
            return {"true": True, "false": False}.get(raw, raw) if raw is not None else None
        return cfg.get(key)

    in_use = config_in_use()
    project = pulumi.get_project()
    values: dict[str, Any] = {key: read(key, decl.type) for key, decl in declared_keys().items()}
    for key in STRUCTURED_KEYS:
        values[key] = read(key, "object")
    values["awsRegion"] = read("aws:region", "string")
    secrets: dict[str, SecretInput] = {}
    for key in SECRET_KEYS:
        full = f"{project}:{key}"
        plain = runtime_config.get_config(full)  # the plaintext, for validation and StackSecrets only
        secrets[key] = SecretInput(
            set=plain is not None,
            value=plain if isinstance(plain, str) else None,
            plaintext=full in in_use and not in_use[full],
        )
    settings = parse_settings(
        with_defaults(values),
        project=project,
        stack=pulumi.get_stack(),
        secrets=secrets,
        config_keys=_config_values(in_use),
        deploying=not pulumi.runtime.is_dry_run(),
    )
    for warning in settings.warnings:
        pulumi.log.warn(warning)

    def secret(key: str) -> pulumi.Output[str] | None:
        value = secrets[key].value
        return None if value is None else pulumi.Output.secret(value)

    return settings, StackSecrets(
        argocd_github_client_secret=secret("argocdGithubClientSecret"),
    )
