"""Data on EBS (issue 20): a replaced data node keeps its zone and its claim's topology, and the
migration procedure of docs/deployment.md names objects that render.

An EBS volume lives in one zone; the gp3 class creates it in the zone of the node the claiming pod
is first scheduled to (WaitForFirstConsumer), and its PersistentVolume is then pinned to that zone.
So a datastore survives the replacement of its node exactly when (1) every node its pod may be
scheduled to is in one zone, and (2) that zone does not change when the instance is replaced
(resized, a new AMI, `--replace`). Both are checked here on the program's own runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from tests.support.children import render_all
from tests.support.paths import ROOT
from tests.support.placement import DEV_NODES, node_zones
from tests.support.prereqs import missing
from tests.support.storage import DATASTORE_APPS, EBS_CLASS

DEPLOYMENT = ROOT / "docs" / "deployment.md"


@pytest.fixture(scope="module")
def objects() -> dict[str, list[dict[str, Any]]]:
    rendered, unrenderable = render_all()
    for app in (*DATASTORE_APPS, "monitoring-stack", "data-storage"):
        if app in unrenderable:
            missing(unrenderable[app])
    return rendered


def _claiming_pods(objects: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    """Each workload that claims a data volume -> the node selector of its pods."""
    found: dict[str, dict[str, str]] = {}
    for app in (*DATASTORE_APPS, "monitoring-stack"):
        for doc in objects[app]:
            kind, spec = doc["kind"], doc.get("spec", {})
            if kind == "StatefulSet" and spec.get("volumeClaimTemplates"):
                found[f"{app}/{doc['metadata']['name']}"] = spec["template"]["spec"].get("nodeSelector") or {}
            elif kind == "Cluster" and doc["apiVersion"].startswith("postgresql.cnpg.io/"):
                found[f"{app}/{doc['metadata']['name']}"] = (spec.get("affinity") or {}).get("nodeSelector") or {}
            elif kind in ("Prometheus", "Alertmanager") and (spec.get("storage") or {}).get("volumeClaimTemplate"):
                found[f"{app}/{kind}"] = spec.get("nodeSelector") or {}
    return found


def _zones_of_claims(rec: Any, selectors: Mapping[str, Mapping[str, str]]) -> dict[str, set[str]]:
    zones = node_zones(rec)
    labels = {row["name"]: row.get("labels") or {} for row in DEV_NODES}
    return {
        workload: {
            zones[n] for n, node_labels in labels.items() if all(node_labels.get(k) == v for k, v in sel.items())
        }
        for workload, sel in selectors.items()
    }


def test_every_data_claim_is_pinned_to_nodes_of_one_zone(dev, objects):
    selectors = _claiming_pods(objects)
    assert len(selectors) == 5, selectors  # postgresql, redis, rabbitmq, Prometheus, Alertmanager
    for workload, zones in _zones_of_claims(dev, selectors).items():
        assert selectors[workload], f"{workload} may run on any node: its volume's zone would be a coin toss"
        assert len(zones) == 1, f"{workload} may be scheduled into {sorted(zones)}; its EBS volume is in one"


def test_replacing_a_data_node_keeps_its_zone_and_the_claims_topology(dev, run_stack, objects):
    """A resize (new instance type, larger root disk) replaces every data node's instance; each
    comes back in the zone its volumes were created in."""
    data_nodes = {"postgresql", "redis", "rabbitmq", "monitoring"}
    resized = [
        {**row, "instanceType": "t3.xlarge", "rootVolumeGb": row["rootVolumeGb"] + 20}
        if row["name"] in data_nodes
        else row
        for row in DEV_NODES
    ]
    after = run_stack({"nodes": resized})
    before_types = {
        r.inputs["tags"]["node"]: r.inputs["instanceType"] for r in dev.of_type("aws:ec2/instance:Instance")
    }
    after_types = {
        r.inputs["tags"]["node"]: r.inputs["instanceType"] for r in after.of_type("aws:ec2/instance:Instance")
    }
    assert all(before_types[n] != after_types[n] for n in data_nodes)  # the instances really change
    selectors = _claiming_pods(objects)
    assert _zones_of_claims(after, selectors) == _zones_of_claims(dev, selectors)
    zones_before, zones_after = node_zones(dev), node_zones(after)
    assert {n: zones_after[n] for n in data_nodes} == {n: zones_before[n] for n in data_nodes}


def test_the_class_leaves_the_zone_to_the_pod(objects):
    (gp3,) = [d for d in objects["data-storage"] if d["metadata"]["name"] == EBS_CLASS]
    # No allowedTopologies: the volume goes where the (pinned) pod is scheduled, nowhere else first.
    assert "allowedTopologies" not in gp3 and gp3["volumeBindingMode"] == "WaitForFirstConsumer"


# --- the migration procedure names what renders -------------------------------------------------


def test_the_migration_procedure_names_objects_that_render(objects):
    text = DEPLOYMENT.read_text()
    section = text[text.index("### Moving data from local-path to EBS") : text.index("### Deleting data on purpose")]
    by_kind = {(d["kind"], d["metadata"]["name"]) for app in objects.values() for d in app}
    for kind, name in [
        ("ObjectStore", "backups"),
        ("Cluster", "postgresql"),
        ("StatefulSet", "redis"),
        ("StatefulSet", "rabbitmq"),
        ("CronJob", "rabbitmq-definitions-export"),
        ("StorageClass", EBS_CLASS),
    ]:
        assert (kind, name) in by_kind, f"{kind} {name}"
        assert name in section, f"the procedure does not name {kind} {name}"
    (cluster,) = [d for d in objects["postgresql"] if d["kind"] == "Cluster"]
    assert cluster["spec"]["plugins"][0]["parameters"]["barmanObjectName"] == "backups"
    (redis,) = [d for d in objects["redis"] if d["kind"] == "StatefulSet"]
    containers = {c["name"]: c for c in redis["spec"]["template"]["spec"]["containers"]}
    assert any(
        m["mountPath"] == "/data" for m in containers["redis"]["volumeMounts"]
    )  # `kubectl cp redis-0:/data/dump.rdb`
    (rabbitmq,) = [d for d in objects["rabbitmq"] if d["kind"] == "StatefulSet"]
    (broker,) = [c for c in rabbitmq["spec"]["template"]["spec"]["containers"] if c["name"] == "rabbitmq"]
    assert any(m["mountPath"] == "/tmp" for m in broker["volumeMounts"])  # `kubectl cp` definitions.json
    for app, kind in (("redis", "StatefulSet"), ("rabbitmq", "StatefulSet")):
        (sts,) = [d for d in objects[app] if d["kind"] == kind]
        (template,) = sts["spec"]["volumeClaimTemplates"]
        assert template["metadata"]["name"] == "data" and f"data-{app}-0" in section, app


def test_postgresql_volume_snapshots_reach_the_root_only_when_on(dev, run_stack):
    """`postgresqlVolumeSnapshots` un-suspends the snapshot schedule through the root's patches
    (merged with the postgresql child's role patch into one kustomize block); off, nothing does."""

    def postgresql_patches(stack) -> list[dict]:
        (root,) = stack.of_type("kubernetes:argoproj.io/v1alpha1:Application")
        out = []
        for patch in root.inputs["spec"]["source"]["kustomize"]["patches"]:
            if (patch.get("target") or {}).get("name") == "postgresql":
                for op in yaml.safe_load(patch["patch"]):
                    out += op["value"]["patches"]
        return out

    def snapshot_schedule(patches: list[dict]) -> list[dict]:
        return [p for p in patches if p["target"].get("name") == "postgresql-snapshots"]

    assert snapshot_schedule(postgresql_patches(dev)) == []
    on = postgresql_patches(run_stack({"postgresqlVolumeSnapshots": True}))
    (schedule,) = snapshot_schedule(on)
    assert yaml.safe_load(schedule["patch"]) == [{"op": "replace", "path": "/spec/suspend", "value": False}]
    assert any(p["target"].get("kind") == "Cluster" for p in on), "the role ARN patch is kept beside it"
