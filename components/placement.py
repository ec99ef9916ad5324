"""Which availability zone each node lives in: a property of the node, never of its row position.

A node's AZ decides its subnet, and a changed subnet replaces the instance and the local volumes
on it (local-path data, the datastores included). So the zone of a node must not move when
other rows are added, removed or reordered:

- An explicit `zone` on a row wins: an index into the stack's zones (0 is the first of the
  `azCount` zones in name order) or a zone letter (`c` is `<region>c`). On a pool row it puts
  every member in that zone; a list on a pool row gives member k entry k-1 (round-robin), which
  is how members already running in different AZs are pinned (tools/pin_zones.py).
- Otherwise the zone is a stable function of the row's name: rendezvous (highest-random-weight)
  hashing ranks the stack's zones by sha256 of `<zone>/<row name>`, and a single node takes the
  first zone of its ranking. Unlike `hash % azCount`, raising `azCount` moves only the nodes whose
  ranking now puts the new zone first (about 1 in azCount+1), and lowering it moves only the nodes
  of the removed zones.
- Pool member k (`name-k`, 1-based) takes zone k-1 of the pool's ranking, round-robin: members of
  a pool land in different zones (three control-plane members in three AZs), and raising or
  lowering `count` never moves the other members.

A hash cannot promise an even spread for every small table. The dev table's names spread 5/5/4
over three zones (tests/unit/test_stack.py checks it, so a change of the rule that unbalances it
fails); a table whose spread matters more than that, say the members of one role, sets `zone`
on those rows. docs/deployment.md ("Moving a node to another AZ") says what a changed zone does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from components.settings.messages import ConfigError, Problem
from components.settings.model import NodeSpec


def zone_ranking(key: str, zones: Sequence[str]) -> tuple[str, ...]:
    """`zones` ordered by their rendezvous weight for `key`, heaviest first (ties by name)."""

    def weight(zone: str) -> int:
        return int.from_bytes(hashlib.sha256(f"{zone}/{key}".encode()).digest()[:8], "big")

    return tuple(sorted(zones, key=lambda z: (-weight(z), z)))


def default_zone(spec: NodeSpec, zones: Sequence[str]) -> str:
    """The zone of a node without an explicit `zone`: a function of its row name (and member index)."""
    if not zones:
        raise ValueError("no availability zones to place nodes in")
    if spec.pool is None:
        return zone_ranking(spec.name, zones)[0]
    ranking = zone_ranking(spec.pool, zones)
    return ranking[(spec.member - 1) % len(ranking)]


def _explicit_zone(spec: NodeSpec, zones: Sequence[str], region: str) -> str | Problem:
    zone = spec.zone
    row = spec.pool or spec.name
    key = f"nodes[{row}].zone"
    letters = ", ".join(repr(z.removeprefix(region)) for z in zones)
    if isinstance(zone, int):
        if 0 <= zone < len(zones):
            return zones[zone]
        return Problem(key, zone, f"an AZ index is 0 to {len(zones) - 1} (this stack's zones: {', '.join(zones)}).")
    name = f"{region}{zone}"
    if name in zones:
        return name
    return Problem(
        key,
        zone,
        f"{name} is not one of this stack's zones ({', '.join(zones)}); use one of {letters} or an index "
        f"0 to {len(zones) - 1}.",
    )


def place_nodes(nodes: Sequence[NodeSpec], zones: Sequence[str], region: str, project: str) -> Mapping[str, str]:
    """Node name -> availability zone, for every node. Raises ConfigError for a zone not in `zones`.

    The zone letters can only be checked against the region's zones once they are looked up;
    the caller does this right after the look-up, before any resource but the AWS provider.
    """
    placed: dict[str, str] = {}
    problems: list[Problem] = []
    for spec in nodes:
        if spec.zone is None:
            placed[spec.name] = default_zone(spec, zones)
            continue
        got = _explicit_zone(spec, zones, region)
        if isinstance(got, Problem):
            if got not in problems:  # one problem per pool row, not per member
                problems.append(got)
        else:
            placed[spec.name] = got
    if problems:
        raise ConfigError(problems, project)
    return MappingProxyType(placed)
