"""The root Application's delete timeout is computed from the wave-by-wave cascade it waits for.

Deleting the root (pulumi destroy) lets Argo CD's finalizer delete the children, highest wave
first, each wave once the one above is gone; a child is gone when its pods have stopped. The
timeout (components/gitops.py root_delete_timeout_seconds, passed by components/argocd.py as the
CustomResource's delete timeout) adds per wave two reconciliations and the slowest pod stop of the
wave. This holds that per-wave stop bound to the rendered children: every pod's
terminationGracePeriodSeconds, and the pods operators create from a rendered resource with their
documented defaults (CloudNativePG `Cluster.spec.stopDelay`, 1800 s; Prometheus
`terminationGracePeriodSeconds`, 600 s; Alertmanager 120 s).
"""

from __future__ import annotations

from components import PROJECT_ROOT, gitops
from components.argocd import root_delete_timeout
from tests.support import children
from tests.support.manifests import pod_spec

# Operator-created pods: (apiVersion prefix, kind) -> (field of the resource's spec, its default).
OPERATOR_PODS = {
    ("postgresql.cnpg.io/", "Cluster"): ("stopDelay", 1800),
    ("monitoring.coreos.com/", "Prometheus"): ("terminationGracePeriodSeconds", 600),
    ("monitoring.coreos.com/", "Alertmanager"): ("terminationGracePeriodSeconds", 120),
}


def stop_seconds(doc: dict) -> int | None:
    spec = pod_spec(doc)
    if spec is not None:
        return int(spec.get("terminationGracePeriodSeconds", 30))
    for (api, kind), (field, default) in OPERATOR_PODS.items():
        if doc.get("kind") == kind and str(doc.get("apiVersion", "")).startswith(api):
            return int((doc.get("spec") or {}).get(field, default))
    return None


def test_each_waves_stop_bound_covers_its_slowest_pod():
    slowest: dict[int, tuple[int, str]] = {}
    for name, app in children.applications().items():
        wave = int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))
        for doc in children.render_child(app):
            seconds = stop_seconds(doc)
            if seconds is not None and seconds > slowest.get(wave, (0, ""))[0]:
                slowest[wave] = (seconds, f"{name}: {doc['kind']}/{doc['metadata']['name']}")
    for wave, (seconds, what) in sorted(slowest.items()):
        bound = gitops.SLOWEST_POD_STOP_SECONDS.get(wave, gitops.DEFAULT_POD_STOP_SECONDS)
        assert seconds <= bound, f"wave {wave}: {what} takes up to {seconds}s to stop; the timeout allows {bound}s"


def test_the_timeout_is_the_cascade_of_every_wave():
    waves = gitops.child_waves(PROJECT_ROOT)
    assert sorted(set(waves)) == list(range(max(waves) + 1)), "the waves are 0..N"
    seconds = gitops.root_delete_timeout_seconds(waves)
    per_wave = 2 * gitops.RECONCILIATION_SECONDS
    assert seconds >= len(set(waves)) * per_wave + sum(gitops.SLOWEST_POD_STOP_SECONDS.values())
    minutes = int(root_delete_timeout().removesuffix("m"))
    assert minutes * 60 >= seconds > 10 * 60, "pulumi-kubernetes' default of 10 minutes is too short"
