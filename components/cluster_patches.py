"""Stack values the Git children need, as patches of the root Application (pure functions).

The children in Git hold defaults so they render and validate alone; the root Application's
kustomize patches (components/gitops.py, the same mechanism as the backup bucket's name in
components/backup.py) replace them with this stack's values when ArgoCD renders the children:

- api-services: each domain API's HorizontalPodAutoscaler bounds (apiMinReplicas, apiMaxReplicas);
- kubelet-csr-approver: the address range a kubelet serving certificate may name (vpcCidr).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import yaml

from components import yaml_io

APPLICATION_TARGET = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"}


def _application_patch(child: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"target": {**APPLICATION_TARGET, "name": child}, "patch": yaml.safe_dump(operations, sort_keys=False)}


def autoscaling_patches(min_replicas: int, max_replicas: int) -> list[dict[str, Any]]:
    """Set every domain HorizontalPodAutoscaler's bounds (api-services renders one per domain)."""
    if not 1 <= min_replicas <= max_replicas:
        raise ValueError(f"autoscaling bounds {min_replicas}..{max_replicas} are not 1 <= min <= max")
    hpa = {
        "target": {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"},
        "patch": yaml.safe_dump(
            [
                {"op": "replace", "path": "/spec/minReplicas", "value": min_replicas},
                {"op": "replace", "path": "/spec/maxReplicas", "value": max_replicas},
            ]
        ),
    }
    return [
        _application_patch(
            "api-services", [{"op": "add", "path": "/spec/source/kustomize", "value": {"patches": [hpa]}}]
        )
    ]


def csr_approver_patches(vpc_cidr: ipaddress.IPv4Network) -> list[dict[str, Any]]:
    """The approver admits serving certificates whose IP addresses are in the VPC only."""
    return [
        _application_patch(
            "kubelet-csr-approver",
            [{"op": "replace", "path": "/spec/source/helm/valuesObject/providerIpPrefixes", "value": [str(vpc_cidr)]}],
        )
    ]


def merge_child_patches(root_patches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One `add /spec/source/kustomize` patch per child Application.

    Several parts of the stack give the same child kustomize patches (api-services: the
    autoscaling bounds and the ServiceAccounts' role ARNs). Each arrives as its own root patch that
    adds `/spec/source/kustomize`, and a second `add` would replace the first; so the patches of
    every such root patch aimed at one child are joined into the first one, in order.
    """
    out: list[dict[str, Any]] = []
    first: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for patch in root_patches:
        target = patch.get("target") or {}
        operations = yaml_io.load(patch.get("patch") or "[]")
        adds_kustomize = (
            target.get("kind") == "Application"
            and isinstance(operations, list)
            and len(operations) == 1
            and operations[0].get("op") == "add"
            and operations[0].get("path") == "/spec/source/kustomize"
            and set(operations[0].get("value") or {}) == {"patches"}
        )
        if not adds_kustomize:
            out.append(patch)
            continue
        name = str(target.get("name"))
        if name in first:
            first[name][1].extend(operations[0]["value"]["patches"])
            continue
        merged = {**patch}
        first[name] = (merged, list(operations[0]["value"]["patches"]))
        out.append(merged)
    for merged, patches in first.values():
        merged["patch"] = yaml.safe_dump(
            [{"op": "add", "path": "/spec/source/kustomize", "value": {"patches": patches}}], sort_keys=False
        )
    return out
