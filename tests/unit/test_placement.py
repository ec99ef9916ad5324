"""Stable placement: a node's AZ (and so its subnet) is a property of the node, never of its row.

Two mock runs of the program are compared the way `pulumi preview` would diff them: after adding,
removing or reordering rows, or growing a pool, every resource present in both runs keeps its URN
and every input (subnet, type, AMI, key, user data, tags, ...), except the bootstrap commands,
whose rendered inventory lists the nodes on purpose.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest

from components.placement import default_zone, place_nodes, zone_ranking
from components.settings.messages import ConfigError
from components.settings.model import NodeRole, NodeSpec
from tests.support.placement import DEV_NODES, INSTANCE, node_zones
from tools.mockrun import Recording

COMMAND = "command:local:Command"
ZONES = ("ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c")
REGION = "ap-northeast-2"
PREFIX = "gitops-dev-"


def row(name: str, role: str = "api", **extra: Any) -> dict[str, Any]:
    return {"name": name, "role": role, "instanceType": "t3.small", "rootVolumeGb": 30, **extra}


def assert_only_these_changed(before: Recording, after: Recording, added: set[str], removed: set[str]) -> None:
    """Resources of untouched nodes (and everything else) keep their URN and inputs."""
    old = {(r.type, r.name): r for r in before.resources}
    new = {(r.type, r.name): r for r in after.resources}
    # A node's own resources: its instance, its removal step (components/node_removal.py).
    touched = {f"{PREFIX}{n}" for n in added | removed} | {f"{PREFIX}{n}-remove" for n in added | removed}
    assert {k[1] for k in new.keys() - old.keys()} <= touched | {f"{PREFIX}api-{n}" for n in added} | {
        f"{PREFIX}int-{n}" for n in added
    }, f"new resources beyond the added nodes: {sorted(new.keys() - old.keys())}"
    assert {k[1] for k in old.keys() - new.keys()} <= touched | {f"{PREFIX}api-{n}" for n in removed} | {
        f"{PREFIX}int-{n}" for n in removed
    }, f"resources gone beyond the removed nodes: {sorted(old.keys() - new.keys())}"
    instances = {k for k in new.keys() & old.keys() if k[0] == INSTANCE}
    assert len(instances) >= len(DEV_NODES) - len(removed), "the runs share too few instances to compare"
    for key in new.keys() & old.keys():
        if key[0] == COMMAND:
            continue  # the playbook's inventory lists every node: it runs again on purpose
        a, b = old[key], new[key]
        assert a.urn == b.urn, f"{key} would be renamed: {a.urn} -> {b.urn}"
        assert a.inputs == b.inputs, (
            f"{key[1]} changed although its node was not touched:\n"
            f"  before: {json.dumps(a.inputs, sort_keys=True, default=str)}\n"
            f"  after:  {json.dumps(b.inputs, sort_keys=True, default=str)}"
        )
    outputs_before = {n["name"]: n for n in before.stack_outputs["nodes"]}
    outputs_after = {n["name"]: n for n in after.stack_outputs["nodes"]}
    for name in outputs_before.keys() & outputs_after.keys():
        assert outputs_before[name] == outputs_after[name], f"the nodes output of {name} changed"


# --- the whole program: two runs compared ------------------------------------------------------


@pytest.fixture(scope="module")
def base(run_stack) -> Recording:
    # The dev table plus a pool, so that growing and shrinking a pool is compared too.
    return run_stack({"nodes": [*DEV_NODES, row("edge", count=2)]})


def test_inserting_a_row_moves_no_other_node(base, run_stack):
    nodes = [*DEV_NODES, row("edge", count=2)]
    nodes.insert(3, row("api-new"))
    after = run_stack({"nodes": nodes})
    assert_only_these_changed(base, after, added={"api-new"}, removed=set())


def test_removing_a_row_moves_no_other_node(base, run_stack):
    nodes = [r for r in DEV_NODES if r["name"] != "api-my"] + [row("edge", count=2)]
    after = run_stack({"nodes": nodes})
    assert_only_these_changed(base, after, added=set(), removed={"api-my"})


def test_reordering_rows_changes_nothing(base, run_stack):
    nodes = [row("edge", count=2), *reversed(DEV_NODES)]
    after = run_stack({"nodes": nodes})
    assert_only_these_changed(base, after, added=set(), removed=set())
    assert node_zones(after) == node_zones(base)


def test_growing_and_shrinking_a_pool_moves_no_other_member(base, run_stack):
    grown = run_stack({"nodes": [*DEV_NODES, row("edge", count=3)]})
    assert_only_these_changed(base, grown, added={"edge-3"}, removed=set())
    shrunk = run_stack({"nodes": [*DEV_NODES, row("edge", count=1)]})
    # count 1 is a single node named `edge`: both members go, the new name comes.
    assert_only_these_changed(base, shrunk, added={"edge"}, removed={"edge-1", "edge-2"})


def test_reordering_control_plane_rows_keeps_their_endpoint_attachments(run_stack):
    control = [row(f"cp-{x}", "control-plane") for x in "abc"]
    before = run_stack({"nodes": [*control, *DEV_NODES[1:]]})
    after = run_stack({"nodes": [*DEV_NODES[1:], *reversed(control)]})
    assert_only_these_changed(before, after, added=set(), removed=set())


def test_an_explicit_zone_moves_that_node_only(base, run_stack):
    zones = node_zones(base)
    target = next(z for z in ZONES if z != zones["redis"])
    nodes = [dict(r, zone=target.removeprefix(REGION)) if r["name"] == "redis" else r for r in DEV_NODES]
    after = run_stack({"nodes": [*nodes, row("edge", count=2)]})
    assert node_zones(after)["redis"] == target
    moved = {n for n, z in node_zones(after).items() if zones[n] != z}
    assert moved == {"redis"}
    old = {r.name: r for r in base.of_type(INSTANCE)}
    new = {r.name: r for r in after.of_type(INSTANCE)}
    assert old[f"{PREFIX}redis"].inputs["subnetId"] != new[f"{PREFIX}redis"].inputs["subnetId"]
    for name in old.keys() - {f"{PREFIX}redis"}:
        assert old[name].inputs == new[name].inputs, name


def test_zone_by_index_and_by_letter_place_the_node(run_stack):
    nodes = [dict(DEV_NODES[0], zone=2), dict(DEV_NODES[1], zone="a"), dict(DEV_NODES[2], zone="1"), *DEV_NODES[3:]]
    zones = node_zones(run_stack({"nodes": nodes}))
    assert (zones["master"], zones["api-auth"], zones["api-my"]) == (ZONES[2], ZONES[0], ZONES[1])


def test_a_pool_with_a_zone_puts_every_member_there(run_stack):
    zones = node_zones(run_stack({"nodes": [*DEV_NODES, row("edge", count=3, zone="b")]}))
    assert {zones[f"edge-{k}"] for k in (1, 2, 3)} == {"ap-northeast-2b"}


def test_a_pool_with_a_list_of_zones_goes_round_robin_over_it(run_stack):
    zones = node_zones(run_stack({"nodes": [*DEV_NODES, row("edge", count=3, zone=["c", 0])]}))
    assert [zones[f"edge-{k}"] for k in (1, 2, 3)] == ["ap-northeast-2c", "ap-northeast-2a", "ap-northeast-2c"]


@pytest.mark.parametrize(
    ("entry", "key", "why"),
    [
        (row("edge", zone=["a"]), "nodes[edge].zone", "a list of zones is for a pool (count > 1)"),
        (row("edge", count=2, zone=[]), "nodes[edge].zone", "a list of zones is for a pool (count > 1)"),
        (row("edge", count=2, zone=["a", "zz"]), "nodes[edge].zone[1]", "or a zone letter such as 'a'"),
        (row("edge", count=2, zone=["a", 7]), "nodes[edge].zone[1]", "out of range"),
    ],
)
def test_bad_zone_lists_are_rejected_before_anything_is_registered(config_error, entry, key, why):
    err = config_error({"nodes": [*DEV_NODES, entry]})
    assert f"gitops-cluster:{key} = " in str(err)
    assert why in str(err)


def test_three_control_plane_members_land_in_three_zones(run_stack):
    rec = run_stack({"nodes": [dict(DEV_NODES[0], count=3), *DEV_NODES[1:]]})
    zones = node_zones(rec)
    assert {zones[f"master-{k}"] for k in (1, 2, 3)} == set(ZONES)


def test_nodes_output_reports_the_placed_zone(base):
    zones = node_zones(base)
    for node in base.stack_outputs["nodes"]:
        assert node["availabilityZone"] == zones[node["name"]], node["name"]


def test_a_zone_letter_the_region_lacks_is_a_config_error(run_stack):
    nodes = [dict(r, zone="d") if r["name"] == "redis" else r for r in DEV_NODES]
    with pytest.raises(ConfigError) as info:
        run_stack({"nodes": [*nodes, row("edge", count=2, zone="f")]})
    message = str(info.value)
    assert "gitops-cluster:nodes[redis].zone = 'd': ap-northeast-2d is not one of this stack's zones" in message
    assert "use one of 'a', 'b', 'c' or an index 0 to 2" in message
    # One problem for the pool row, not one per member.
    assert message.count("nodes[edge].zone") == 1
    registered = [r.short for r in info.value.recording.resources]  # type: ignore[attr-defined]
    # The zone list needs the region's look-up, so only the provider exists when this is found.
    assert registered == ["pulumi:providers:aws::aws"]


@pytest.mark.parametrize(
    ("zone", "why"),
    [
        (3, "out of range: an AZ index from 0 to 2"),
        (-1, "out of range: an AZ index from 0 to 2"),
        ("ab", "an AZ index from 0 to 2"),
        ("A", "an AZ index from 0 to 2"),
        ("", "an AZ index from 0 to 2"),
        (True, "an AZ index from 0 to 2"),
        (1.5, "an AZ index from 0 to 2"),
        (["a"], "a list of zones is for a pool"),
        ("ap-northeast-2a", "or a zone letter such as 'a'"),
    ],
)
def test_bad_zones_are_rejected_before_anything_is_registered(config_error, zone, why):
    nodes = [dict(r, zone=zone) if r["name"] == "api-chat" else r for r in DEV_NODES]
    err = config_error({"nodes": nodes})
    assert f"gitops-cluster:nodes[api-chat].zone = {zone!r}: " in str(err)
    assert why in str(err)


# --- the rule itself ------------------------------------------------------------------------


def spec(name: str, **kw: Any) -> NodeSpec:
    return NodeSpec(name, NodeRole.API, "t3.small", 30, **kw)


NAMES = [f"node-{i}" for i in range(600)]


def test_the_default_zone_depends_on_the_name_only():
    alone = place_nodes([spec("redis")], ZONES, REGION, "p")
    among = place_nodes([spec(n) for n in NAMES[:50]] + [spec("redis")], ZONES, REGION, "p")
    reversed_ = place_nodes([spec("redis"), *(spec(n) for n in reversed(NAMES[:50]))], ZONES, REGION, "p")
    assert alone["redis"] == among["redis"] == reversed_["redis"]


def test_the_default_spreads_many_names_evenly():
    counts = Counter(place_nodes([spec(n) for n in NAMES], ZONES, REGION, "p").values())
    assert set(counts) == set(ZONES)
    assert all(0.28 <= c / len(NAMES) <= 0.39 for c in counts.values()), counts


def test_adding_a_zone_moves_only_nodes_to_the_new_zone():
    three = place_nodes([spec(n) for n in NAMES], ZONES, REGION, "p")
    four = place_nodes([spec(n) for n in NAMES], (*ZONES, "ap-northeast-2d"), REGION, "p")
    moved = [n for n in NAMES if three[n] != four[n]]
    assert all(four[n] == "ap-northeast-2d" for n in moved)
    # About a quarter; `hash % azCount` would move about three quarters.
    assert 0.15 <= len(moved) / len(NAMES) <= 0.35, len(moved)


def test_pool_members_go_round_robin_over_the_pools_ranking():
    ranking = zone_ranking("edge", ZONES)
    assert sorted(ranking) == sorted(ZONES)
    members = [spec(f"edge-{k}", pool="edge", member=k) for k in range(1, 6)]
    assert [default_zone(m, ZONES) for m in members] == [*ranking, *ranking[:2]]
    # Growing the pool does not move existing members.
    small = place_nodes(members[:2], ZONES, REGION, "p")
    large = place_nodes(members, ZONES, REGION, "p")
    assert all(small[m] == large[m] for m in small)


def test_explicit_zones_win_and_are_checked_against_the_stack_zones():
    placed = place_nodes([spec("x", zone=1), spec("y", zone="c")], ZONES, REGION, "p")
    assert dict(placed) == {"x": ZONES[1], "y": ZONES[2]}
    with pytest.raises(ConfigError, match=r"p:nodes\[x\]\.zone = 3: an AZ index is 0 to 2"):
        place_nodes([spec("x", zone=3)], ZONES, REGION, "p")
    with pytest.raises(ValueError, match="no availability zones"):
        default_zone(spec("x"), ())


def test_zone_parsing_keeps_pool_identity():
    from tests.support.settings import dev_settings

    nodes = [*copy.deepcopy(DEV_NODES), row("edge", count=2, zone="b")]
    settings = dev_settings(nodes=nodes)
    edge = [n for n in settings.nodes if n.name.startswith("edge")]
    assert [(n.name, n.pool, n.member, n.zone) for n in edge] == [
        ("edge-1", "edge", 1, "b"),
        ("edge-2", "edge", 2, "b"),
    ]
    single = next(n for n in settings.nodes if n.name == "redis")
    assert (single.pool, single.member, single.zone) == (None, 0, None)
