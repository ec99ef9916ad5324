"""tools/charts.py, the offline chart renderer every chart test goes through, on a real chart."""

from __future__ import annotations

import pytest

from tests.support.prereqs import require, require_helm
from tools.charts import CHARTS_DIR, ChartError, chart_archive, render, unknown_value_keys


@pytest.fixture(scope="module")
def argo_cd():
    require(CHARTS_DIR.is_dir(), f"the packaged charts are not at {CHARTS_DIR} (shared/charts beside the checkout)")
    return chart_archive("argo-cd", "10.1.1")


def test_a_missing_chart_names_what_is_there():
    with pytest.raises(ChartError, match=r"argo-cd 0\.0\.1 is not packaged .*present: argo-cd-10\.1\.1\.tgz"):
        chart_archive("argo-cd", "0.0.1")


def test_unknown_keys_are_found_at_any_depth_and_in_subcharts(argo_cd):
    values = {
        "configs": {"cm": {"admin.enabled": True}, "parms": {}},
        "server": {"replicas": 1, "resourcez": {}},
        "redis-ha": {"enabled": False, "haproxy": {"enabled": False, "typo": 1}},
        "global": {"domain": "argocd.example.com"},
    }
    assert unknown_value_keys(argo_cd, values) == ["configs.parms", "redis-ha.haproxy.typo", "server.resourcez"]


def test_free_form_maps_accept_any_key(argo_cd):
    # configs.cm is a map of argocd-cm keys; nodeSelector defaults to {}.
    values = {"configs": {"cm": {"timeout.reconciliation": "180s"}}, "controller": {"nodeSelector": {"a": "b"}}}
    assert unknown_value_keys(argo_cd, values) == []


def test_render_applies_the_values(argo_cd):
    objects = render(
        argo_cd,
        release="argocd",
        namespace="argocd",
        values={"server": {"replicas": 2}},
        kube_version="1.35.0",
        helm=require_helm(),
    )
    server = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "argocd-server")
    assert server["spec"]["replicas"] == 2
    assert any(o["kind"] == "CustomResourceDefinition" for o in objects)


def test_a_parent_may_read_keys_under_its_subcharts_name():
    """cloudnative-pg reads monitoring.podMonitorEnabled; `monitoring` is also its dashboards subchart."""
    require(CHARTS_DIR.is_dir(), f"the packaged charts are not at {CHARTS_DIR} (shared/charts beside the checkout)")
    cnpg = chart_archive("cloudnative-pg", "0.29.0")
    values = {"monitoring": {"podMonitorEnabled": True, "grafanaDashboard": {"create": False}, "podMonitorTypo": 1}}
    assert unknown_value_keys(cnpg, values) == ["monitoring.podMonitorTypo"]
