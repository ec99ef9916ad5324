"""Calling the policy pack's policies directly, with the SDK's real argument classes."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pulumi_policy import PolicyCustomTimeouts, PolicyProviderResource, PolicyResourceOptions, ResourceValidationArgs

from tests.support.paths import ROOT

EXPLICIT_K8S = PolicyProviderResource(
    "pulumi:providers:kubernetes", {}, "urn:pulumi:dev::gitops-cluster::pulumi:providers:kubernetes::k8s", "k8s"
)


def make_args(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "res",
    provider: PolicyProviderResource | None = None,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    urn = f"urn:pulumi:dev::gitops-cluster::{resource_type}::{name}"
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    return ResourceValidationArgs(resource_type, props, urn, name, opts, provider, dict(config or {}))


def only(args: ResourceValidationArgs, policy: str) -> list[str]:
    return violations(args).get(policy, [])


def violations(args: ResourceValidationArgs) -> dict[str, list[str]]:
    result: dict[str, list[str]] = P.evaluate(args)
    return result


def _load_policies() -> ModuleType:
    # The pack imports its rules as a top-level module (Pulumi runs policy/__main__.py with
    # policy/ on sys.path); load the same file here without putting policy/ on everyone's path.
    spec = importlib.util.spec_from_file_location("gitops_policy_rules", POLICY_DIR / "policies.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


POLICY_DIR = ROOT / "policy"


P = _load_policies()
