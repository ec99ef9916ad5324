"""What tools/up.sh asks of the state before it runs Pulumi: does the stack exist, is an operation pending.

Both read the CLI's own JSON on stdin, so up.sh shows the CLI's errors as they are and this module
never talks to a backend itself:

    pulumi stack ls --json | python -m tools.stack_state exists dev            # exit 0, or 1 naming the stacks
    pulumi stack export --stack dev | python -m tools.stack_state pending dev   # exit 0, or 1 with the recovery

Shapes as the CLI writes them and the Automation API of the pinned SDK (pulumi 3.272.0,
pulumi/automation/_local_workspace.py `list_stacks`, `export_stack`) reads them: `stack ls --json`
is a list of `{"name": ..., "current": ...}`; `stack export` is `{"version": 3, "deployment":
{"resources": [...], "pending_operations": [{"resource": {"urn": ..., "type": ...}, "type":
"creating"}]}}` (pulumi/pulumi sdk/go/common/apitype/core.go, DeploymentV3 and OperationV2).

An interrupted `pulumi up` leaves pending operations; the next `up` only warns and carries on
(pulumi/pulumi#9293), and a resource whose create was interrupted may exist in AWS without being
in the state, so a second create makes a duplicate. `make up` stops instead and prints the
recovery of https://www.pulumi.com/docs/iac/operations/troubleshooting/interrupted-updates/
with this stack's URNs (docs/deployment.md, "An interrupted make up").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def stack_names(listing: Any) -> list[str]:
    if not isinstance(listing, list):
        raise ValueError("`pulumi stack ls --json` did not print a list")
    return [str(item["name"]) for item in listing if isinstance(item, dict) and "name" in item]


def missing_stack_message(stack: str, names: Sequence[str], mode: str, backend: str) -> str:
    """One message for a stack that is not in the backend: what exists, and how to create it on purpose."""
    there = ", ".join(sorted(names)) if names else "none"
    lines = [
        f"make {mode}: the backend {backend} has no stack {stack!r} (nothing was created or changed).",
        f"  Stacks there: {there}.",
    ]
    if mode == "up":
        lines.append(
            f"  To create it: add Pulumi.{stack}.yaml (README, Configuration) and run `make up STACK={stack}`,"
            f" or run `make up STACK={stack} CREATE=1`."
        )
    else:
        lines.append(f"  Check the name (STACK={stack}) and the backend; only `make up` creates a stack.")
    return "\n".join(lines)


def pending_operations(export: Any) -> list[dict[str, str]]:
    deployment = export.get("deployment") if isinstance(export, dict) else None
    if not isinstance(deployment, dict):
        return []
    found = []
    for op in deployment.get("pending_operations") or []:
        resource = op.get("resource", {}) if isinstance(op, dict) else {}
        found.append(
            {"urn": str(resource.get("urn", "?")), "type": str(resource.get("type", "?")), "op": str(op.get("type"))}
        )
    return found


def recovery_message(stack: str, pending: Sequence[dict[str, str]]) -> str:
    creates = [p for p in pending if p["op"] == "creating"]
    lines = [
        f"make up: stack {stack!r} has {len(pending)} pending operation(s) from an interrupted run "
        "(nothing was changed):",
        *(f"  - {p['urn']} (interrupted while {p['op']})" for p in pending),
        "A new `pulumi up` would create duplicates of what was being created. Recover first:",
        "  1. In AWS (console or `aws ... describe-*`, by the Name tag in the URN), find whether each",
        "     resource above exists.",
    ]
    if creates:
        lines += [
            "  2. For each one that was being created and DOES exist, adopt it with its provider ID:",
            f"       pulumi refresh --stack {stack} --import-pending-creates '<URN>' --import-pending-creates '<ID>'",
            "     For those that do NOT exist, drop them from the state:",
            f"       pulumi refresh --stack {stack} --clear-pending-creates",
            "  3. Any other pending operation (updating, deleting) is cleared by a refresh:",
            f"       make refresh STACK={stack}",
        ]
    else:
        lines += [
            "  2. A refresh reads them back from AWS and clears them:",
            f"       make refresh STACK={stack}",
        ]
    lines.append(f"  Then run `make up STACK={stack}` again (docs/deployment.md, 'An interrupted make up').")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="check", required=True)
    exists = sub.add_parser("exists")
    exists.add_argument("stack")
    exists.add_argument("--mode", default="up")
    exists.add_argument("--backend", default="the current backend")
    pending = sub.add_parser("pending")
    pending.add_argument("stack")
    args = parser.parse_args(argv)
    try:
        document = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"tools.stack_state: the Pulumi CLI printed no JSON ({exc})", file=sys.stderr)
        return 2
    if args.check == "exists":
        names = stack_names(document)
        # The CLI lists stacks by their short name on a file backend and as org/project/stack on the
        # Pulumi Cloud; either way the last part is the name `--stack` takes.
        if args.stack in names or args.stack in (n.rsplit("/", 1)[-1] for n in names):
            return 0
        print(missing_stack_message(args.stack, names, args.mode, args.backend), file=sys.stderr)
        return 1
    found = pending_operations(document)
    if not found:
        return 0
    print(recovery_message(args.stack, found), file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
