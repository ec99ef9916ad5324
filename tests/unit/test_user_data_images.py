"""What user data pulls, and when: a control plane's images before cloud-init is done, every other
node's in the background (issue 25: a joining worker's prepare command and join start once its
packages are installed), and the later images the ones the Argo CD release really runs.

The pins (versions.yaml `argoCdImage`, `argoCdRedisImage`) are held to the render of the pinned
argo-cd chart from ../shared/charts with components/argocd.py's values (tests/support/charts.py,
the same render the chart tests use), so a chart bump that moves an image fails here instead of
leaving the workers pre-pulling an image nothing runs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from components.argocd import PLACEMENT_AFFINITY, WORKER_LABEL
from components.settings.keys import default_versions
from components.settings.model import NodeRole
from components.user_data import (
    _BACKGROUND_PULLS,
    BACKGROUND_PULLS_UNIT,
    FOREGROUND_PULL_ROLES,
    LATER_IMAGE_KEYS,
    PREPARE_SCRIPT,
    later_images,
    render_user_data,
)
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


def background_unit(text: str) -> str | None:
    unit = re.search(rf"systemd-run --no-block --unit={BACKGROUND_PULLS_UNIT} .*?\|\| log", text, re.DOTALL)
    return None if unit is None else unit.group(0)


@pytest.mark.parametrize("role", list(NodeRole), ids=lambda r: r.value)
def test_only_a_control_plane_pulls_before_cloud_init_is_done(role):
    text = script(role)
    unit = background_unit(text)
    calico = default_versions()["calicoOperatorImage"]
    later = later_images(default_versions(), role)
    if role in FOREGROUND_PULL_ROLES:
        # Its images before cloud-init reports done: kubeadm init (or a control-plane join) follows.
        assert "\n  wait\n" in text and f" {calico}; do" in text
        assert later == [] and unit is None
        return
    assert unit is not None, f"a {role.value} node pulls its images in the background unit"
    foreground = text.replace(unit, "")
    assert "images pull" not in foreground and "\n  wait\n" not in foreground, "cloud-init would wait for a pull"
    # The first minutes' images (kubeadm's for the role, Calico's) in a first batch, the later ones after.
    args = unit.split("' pulls ", 1)[1]  # the unit's arguments, after its script
    first, then, rest = args.partition(" --then ")
    assert first.startswith("$first_images") and f' {calico}"' in text
    assert all(image in rest for image in later) and not any(image in first for image in later)
    assert bool(then) == bool(later)


def test_the_background_pulls_run_a_batch_at_once_retry_and_then_the_next(tmp_path):
    """The unit's own script with a stand-in `ctr`: each pull of the first batch waits until every one
    of them has started (one at a time would leave the first alone), a failing pull is retried and
    logged, and the later batch starts only when the first is done."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ctr").write_text(
        "#!/bin/bash\n"
        f'echo "$6" >> {tmp_path}/started\n'
        "for _ in $(seq 100); do\n"
        f'  [ "$(grep -c first {tmp_path}/started)" -ge 3 ] && break\n'
        "  sleep 0.05\n"
        "done\n"
        f'[ "$(grep -c first {tmp_path}/started)" -ge 3 ] || {{ echo "$6" >> {tmp_path}/alone; exit 1; }}\n'
        '[[ "$6" == *broken* ]] && exit 1\n'
        f'echo "$6" >> {tmp_path}/pulled\n'
    )
    (bin_dir / "ctr").chmod(0o755)
    (bin_dir / "sleep").write_text("#!/bin/sh\nexec /bin/sleep 0\n")  # the unit's 10 s between retries
    (bin_dir / "sleep").chmod(0o755)
    result = subprocess.run(
        ["bash", "-c", _BACKGROUND_PULLS, "pulls", "first-a", "first-b", "first-broken", "--then", "later-c"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "alone").exists(), "a first-batch pull ran alone: the batch is not pulled at once"
    started = (tmp_path / "started").read_text().split()
    assert started.count("first-broken") == 30, "a failing pull is retried 30 times"
    assert "gitops-cluster-prepare: could not pre-pull first-broken" in result.stdout
    assert started.index("later-c") > max(i for i, s in enumerate(started) if s == "first-broken"), (
        "the later batch started before the first was done"
    )
    assert sorted((tmp_path / "pulled").read_text().split()) == ["first-a", "first-b", "later-c"]
