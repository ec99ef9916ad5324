"""The images user data pulls in the background are the ones the Argo CD release really runs.

The pins (versions.yaml `argoCdImage`, `argoCdRedisImage`) are held to the render of the pinned
argo-cd chart from ../shared/charts with components/argocd.py's values (tests/support/charts.py,
the same render the chart tests use), so a chart bump that moves an image fails here instead of
leaving the workers pre-pulling an image nothing runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from components.argocd import PLACEMENT_AFFINITY, WORKER_LABEL
from components.settings.keys import default_versions
from components.settings.model import NodeRole
from components.user_data import LATER_IMAGE_KEYS, LATER_IMAGES_UNIT, PREPARE_SCRIPT, later_images, render_user_data
from tests.support import charts


def pod_images(docs: list[dict[str, Any]]) -> Iterator[str]:
    for doc in docs:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
        for container in [*(pod or {}).get("initContainers", []), *(pod or {}).get("containers", [])]:
            yield container["image"]


def script(role: NodeRole) -> str:
    config = yaml.safe_load(render_user_data(default_versions(), role))
    (entry,) = [f for f in config["write_files"] if f["path"] == PREPARE_SCRIPT]
    return str(entry["content"])


def test_the_argo_cd_pins_are_the_images_of_the_charts_render():
    rendered = set(pod_images(charts.rendered("release:argocd")))
    pinned = {default_versions()[key] for key in LATER_IMAGE_KEYS[NodeRole.WORKER]}
    assert rendered == pinned, (
        f"the argo-cd chart {default_versions()['argoCdChart']} runs {sorted(rendered)}; "
        f"versions.yaml argoCdImage/argoCdRedisImage say {sorted(pinned)}: bump them with the chart"
    )


def test_argo_cd_lands_where_its_images_are_pre_pulled():
    # Its pods prefer the worker label, which the node table gives the worker rows.
    (preferred,) = PLACEMENT_AFFINITY["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["preference"]["matchExpressions"][0]["key"] == WORKER_LABEL
    assert set(LATER_IMAGE_KEYS) == {NodeRole.WORKER}


@pytest.mark.parametrize("role", list(NodeRole), ids=lambda r: r.value)
def test_the_later_images_are_pulled_in_the_background_after_the_first_ones(role):
    text = script(role)
    images = later_images(default_versions(), role)
    if role is not NodeRole.WORKER:
        assert images == [] and LATER_IMAGES_UNIT not in text
        return
    first_wait = text.index("\n  wait\n")
    unit = re.search(rf"systemd-run --no-block --unit={LATER_IMAGES_UNIT} .*? (\S+) \|\| log", text, re.DOTALL)
    assert unit is not None and unit.start() > first_wait, "the later pulls start after the first minutes' ones"
    command = unit.group(0)
    for image in images:
        # Retried (bounded): containerd restarts once when the playbook configures it.
        assert (
            f"for _ in $(seq 30); do ctr --namespace k8s.io images pull --quiet {image} >/dev/null && break" in command
        )
    # Not in the first batch, which cloud-init (and so the playbook) waits for.
    assert not any(image in text[:first_wait] for image in images)
