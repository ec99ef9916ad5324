"""Before `pulumi up`: which rows would move to another AZ, and the `zone` that keeps them put.

A node's zone comes from its own row (components/placement.py). A stack created before that
rule (when a node's AZ came from its position in the table) has most nodes elsewhere, and the
first `pulumi up` with the new rule would replace them, local volumes included. This tool
compares where each node runs today (`availabilityZone` in the `nodes` stack output) with where
the stack file would put it, and prints the `zone` to add to each row that would move:

    pulumi stack output --json --stack dev > outputs.json
    python -m tools.pin_zones --stack dev --outputs outputs.json

Exit code 0: nothing would move. 1: some rows would move; add the printed `zone` values to
Pulumi.<stack>.yaml (or accept the moves on purpose, docs/deployment.md). 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components.placement import place_nodes
from components.settings.keys import SECRET_KEYS, SecretInput, with_defaults
from components.settings.messages import ConfigError
from components.settings.model import NodeSpec, StackSettings
from components.settings.parse import parse_settings
from tools.mockrun import PROJECT_ROOT, stack_config


def settings_from_stack_file(stack: str, project: str = "gitops-cluster", root: Path = PROJECT_ROOT) -> StackSettings:
    """The stack's validated settings from Pulumi.<stack>.yaml, as the program reads them."""
    raw = stack_config(stack, root)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        namespace, _, bare = key.partition(":")
        if namespace == project:
            values[bare] = value
    # Offline, a secret's ciphertext cannot be read: validation learns only that it is set.
    secrets = {
        key: SecretInput(set=True, plaintext=not (isinstance(value, dict) and "secure" in value))
        for key in SECRET_KEYS
        if (value := values.pop(key, None)) is not None
    }
    values["awsRegion"] = raw.get("aws:region")
    return parse_settings(with_defaults(values), project=project, stack=stack, secrets=secrets)


def deployed_zones(outputs: Any) -> dict[str, str]:
    """Node name -> AZ from `pulumi stack output --json` (the whole object or just `nodes`)."""
    nodes = outputs.get("nodes") if isinstance(outputs, dict) else outputs
    if not isinstance(nodes, list) or not all(
        isinstance(n, dict) and isinstance(n.get("name"), str) and isinstance(n.get("availabilityZone"), str)
        for n in nodes
    ):
        raise ValueError("expected the stack outputs with a `nodes` list of {name, availabilityZone, ...}")
    return {n["name"]: n["availabilityZone"] for n in nodes}


def pins(
    nodes: Sequence[NodeSpec], deployed: Mapping[str, str], zones: Sequence[str], region: str, project: str
) -> dict[str, str | list[str]]:
    """Row name -> the `zone` value that keeps its deployed nodes where they are, for rows that would move.

    A single node gets its zone letter; a pool whose members run in one zone gets that letter,
    otherwise the list of its members' letters in member order (members not deployed yet get
    the zones the rule would give them).
    """
    planned = place_nodes(nodes, zones, region, project)
    rows: dict[str, list[NodeSpec]] = {}
    for spec in nodes:
        rows.setdefault(spec.pool or spec.name, []).append(spec)
    out: dict[str, str | list[str]] = {}
    for row, members in rows.items():
        if all(deployed.get(m.name, planned[m.name]) == planned[m.name] for m in members):
            continue
        letters = [deployed.get(m.name, planned[m.name]).removeprefix(region) for m in members]
        pool = members[0].pool is not None
        out[row] = letters if pool and len(set(letters)) > 1 else letters[0]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stack", default="dev", help="the stack whose Pulumi.<stack>.yaml is read (default: dev)")
    parser.add_argument(
        "--outputs", required=True, help="`pulumi stack output --json` of that stack, saved to a file ('-': stdin)"
    )
    parser.add_argument(
        "--zones",
        help="the stack's zones, comma-separated (default: the zones its nodes run in; needed when a zone "
        "of the stack holds no node)",
    )
    args = parser.parse_args(argv)
    try:
        settings = settings_from_stack_file(args.stack)
        text = sys.stdin.read() if args.outputs == "-" else Path(args.outputs).read_text(encoding="utf-8")
        deployed = deployed_zones(json.loads(text))
    except (ConfigError, OSError, ValueError) as exc:
        print(f"pin_zones: {exc}", file=sys.stderr)
        return 2
    zones = sorted(args.zones.split(",")) if args.zones else sorted(set(deployed.values()))
    if len(zones) != settings.az_count:
        print(
            f"pin_zones: the nodes run in {len(zones)} zones ({', '.join(zones)}) but azCount is "
            f"{settings.az_count}; name the stack's zones with --zones.",
            file=sys.stderr,
        )
        return 2
    try:
        found = pins(settings.nodes, deployed, zones, settings.region, settings.project)
    except ConfigError as exc:
        print(f"pin_zones: {exc}", file=sys.stderr)
        return 2
    if not found:
        print(f"No node of stack '{args.stack}' would change AZ.")
        return 0
    print(f"These rows of Pulumi.{args.stack}.yaml would move to another AZ (replacing their instances")
    print("and local volumes). Add the `zone` shown to each row to keep them where they run:")
    for row, zone in found.items():
        print(f"  - name: {row}\n    zone: {json.dumps(zone)}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
