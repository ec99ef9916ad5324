"""Every domain API with more than one replica keeps serving through a drain (issue 11, item 7).

The rule, on the render of the api-services child: a Deployment with replicas > 1 needs a
PodDisruptionBudget in its namespace that selects its pods and still allows at least one
eviction (so a drain proceeds one pod at a time instead of blocking forever). Today every API has
one replica; the base carries a `maxUnavailable: 1` budget so raising `replicas` is covered.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import pytest

from tests.support.children import Doc, kustomize
from tests.support.paths import ROOT


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def allows_one_eviction(pdb: Doc, replicas: int) -> bool:
    spec = pdb["spec"]
    if "maxUnavailable" in spec:
        return int(spec["maxUnavailable"]) >= 1
    return int(spec["minAvailable"]) < replicas


def problems(objects: Iterable[Doc]) -> list[str]:
    objects = list(objects)
    found = []
    for dep in (d for d in objects if d["kind"] == "Deployment"):
        replicas = dep["spec"].get("replicas", 1)
        ns = dep["metadata"]["namespace"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        budgets = [
            p
            for p in objects
            if p["kind"] == "PodDisruptionBudget"
            and p["metadata"]["namespace"] == ns
            and selects(p["spec"]["selector"], labels)
        ]
        where = f"Deployment/{ns}/{dep['metadata']['name']} ({replicas} replicas)"
        if replicas > 1 and not budgets:
            found.append(f"{where}: no PodDisruptionBudget selects its pods")
        found.extend(
            f"{where}: {p['metadata']['name']} allows no eviction"
            for p in budgets
            if not allows_one_eviction(p, replicas)
        )
    return found


@pytest.fixture(scope="module")
def services() -> list[Doc]:
    return kustomize(ROOT / "manifests/services")


def test_every_api_is_covered(services: list[Doc]) -> None:
    assert problems(services) == []
    deployments = [d for d in services if d["kind"] == "Deployment"]
    budgets = [d for d in services if d["kind"] == "PodDisruptionBudget"]
    assert len(deployments) == 7 and len(budgets) == 7


def test_scaling_an_api_up_stays_covered(services: list[Doc]) -> None:
    scaled = copy.deepcopy(services)
    for d in scaled:
        if d["kind"] == "Deployment":
            d["spec"]["replicas"] = 3
    assert problems(scaled) == []


def test_the_rule_fires_on_a_missing_or_blocking_budget(services: list[Doc]) -> None:
    scaled = [copy.deepcopy(d) for d in services if d["kind"] != "PodDisruptionBudget"]
    for d in scaled:
        if d["kind"] == "Deployment":
            d["spec"]["replicas"] = 2
    assert len(problems(scaled)) == 7
    blocking = copy.deepcopy(services)
    for d in blocking:
        if d["kind"] == "PodDisruptionBudget":
            d["spec"] = {"minAvailable": 2, "selector": d["spec"]["selector"]}
        if d["kind"] == "Deployment":
            d["spec"]["replicas"] = 2
    assert all("allows no eviction" in p for p in problems(blocking)) and len(problems(blocking)) == 7
