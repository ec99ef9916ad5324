"""tools/pin_zones.py: the upgrade path from row-position placement that keeps every node where it runs.

The stack's `nodes` output says where each node runs. For a stack placed by the old rule
(`i % azCount` in table order), the tool prints the `zone` each moving row needs; with those
pins added to the table, a mock run of the program puts every node exactly where it ran.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from components.settings.model import StackSettings
from tests.support.paths import ROOT
from tests.support.settings import dev_settings
from tools.pin_zones import deployed_zones, main, pins

DEV_NODES: list[dict[str, Any]] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"][
    "gitops-cluster:nodes"
]
ZONES = ("ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c")
REGION = "ap-northeast-2"
INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"


def legacy_outputs(settings: StackSettings) -> list[dict[str, str]]:
    """The `nodes` output of a stack placed by the old rule: row position modulo the AZ count."""
    return [
        {"name": n.name, "availabilityZone": ZONES[i % len(ZONES)], "instanceId": f"i-{i}"}
        for i, n in enumerate(settings.nodes)
    ]


def node_zones(rec) -> dict[str, str]:
    subnets = {f"{r.name}-id": r.inputs["availabilityZone"] for r in rec.of_type(SUBNET)}
    return {
        r.inputs["tags"]["node"]: subnets[r.inputs["subnetId"]]
        for r in rec.of_type(INSTANCE)
        if r.inputs["tags"]["role"] != "bastion"
    }


def pinned(table: list[dict[str, Any]], found: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r, zone=found[r["name"]]) if r["name"] in found else r for r in table]


def test_pinning_keeps_a_legacy_stack_where_it_runs(run_stack):
    # At the end of the table the old rule happens to give "edge" its new zones; "ingress" moves.
    table = [*DEV_NODES, {"name": "ingress", "role": "api", "instanceType": "t3.small", "rootVolumeGb": 30, "count": 3}]
    settings = dev_settings(nodes=table)
    legacy = {n["name"]: n["availabilityZone"] for n in legacy_outputs(settings)}
    found = pins(settings.nodes, legacy, ZONES, REGION, "gitops-cluster")
    assert found, "the old rule places most of the dev table elsewhere"
    # The pool's members ran in three zones: pinned with a list in member order.
    assert found["ingress"] == [legacy[f"ingress-{k}"].removeprefix(REGION) for k in (1, 2, 3)]
    assert len(set(found["ingress"])) == 3
    # With the pins, the program puts every node where it ran: nothing is replaced.
    assert node_zones(run_stack({"nodes": pinned(table, found)})) == legacy
    # And once pinned, nothing is left to pin.
    again = dev_settings(nodes=pinned(table, found))
    assert pins(again.nodes, legacy, ZONES, REGION, "gitops-cluster") == {}


def test_a_pool_in_one_zone_is_pinned_with_one_letter():
    # The pool carries the Gateway label: a table needs at least one node for the public entry.
    pool = {"name": "edge", "role": "api", "instanceType": "t3.small", "rootVolumeGb": 30, "count": 2}
    table = [DEV_NODES[0], {**pool, "labels": {"gitops-cluster.io/edge": "gateway"}}]
    settings = dev_settings(nodes=table)
    deployed = {"master": "ap-northeast-2b", "edge-1": "ap-northeast-2c", "edge-2": "ap-northeast-2c"}
    found = pins(settings.nodes, deployed, ZONES, REGION, "gitops-cluster")
    assert found["edge"] == "c"


def test_cli_on_the_dev_stack_file(tmp_path, capsys, dev):
    current = tmp_path / "current.json"
    current.write_text(json.dumps(dev.stack_outputs))
    assert main(["--stack", "dev", "--outputs", str(current)]) == 0
    assert "No node of stack 'dev' would change AZ." in capsys.readouterr().out

    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps({"nodes": legacy_outputs(dev_settings(nodes=DEV_NODES))}))
    assert main(["--stack", "dev", "--outputs", str(legacy)]) == 1
    out = capsys.readouterr().out
    assert "would move to another AZ" in out
    printed = yaml.safe_load(out.split(":\n", 1)[1])
    expected = pins(
        dev_settings(nodes=DEV_NODES).nodes,
        deployed_zones({"nodes": legacy_outputs(dev_settings(nodes=DEV_NODES))}),
        ZONES,
        REGION,
        "gitops-cluster",
    )
    assert {p["name"]: p["zone"] for p in printed} == expected


def test_cli_says_what_is_wrong_with_its_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nodes": [{"name": "master"}]}))
    assert main(["--stack", "dev", "--outputs", str(bad)]) == 2
    assert "expected the stack outputs with a `nodes` list" in capsys.readouterr().err
    two_zones = tmp_path / "two.json"
    two_zones.write_text(json.dumps([{"name": "master", "availabilityZone": "ap-northeast-2a"}]))
    assert main(["--stack", "dev", "--outputs", str(two_zones)]) == 2
    assert "name the stack's zones with --zones" in capsys.readouterr().err
    assert main(["--stack", "dev", "--outputs", str(two_zones), "--zones", ",".join(ZONES)]) in (0, 1)
    assert main(["--stack", "nope", "--outputs", str(two_zones)]) == 2
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err
