"""Judge a `pulumi preview --json` with the default branch's policy pack, apart from the PR's code.

The PR preview job runs the pull request's program (it must: that is what is previewed), so any
file in its workspace - a checked-out "trusted" policy pack included - is the PR's to rewrite. The
pack is therefore not run there: the preview job only writes the engine's JSON digest
(`pulumi preview --json`), and a second job that checks out **only the default branch** and never
runs a build step of the pull request reads that JSON as data and evaluates every policy of
policy/policies.py on it (the same pure functions the pack wraps), plus the stack policy.

Input shape: Pulumi's `PreviewDigest` (pulumi/pulumi sdk/go/common/display/json.go: `steps[]`
with `op`, `urn`, `newState` = apitype.ResourceV3 `{urn, type, custom, inputs, parent, provider}`,
the provider a `<provider urn>::<id>` reference). Secret values arrive masked as `[secret]`: a
policy that needed a secret's value would see the mask, none here does.

Exit codes: 0 no violation, 1 violations (each printed `policy: message`), 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import PolicyCustomTimeouts, PolicyProviderResource, PolicyResourceOptions, ResourceValidationArgs

from policy import policies

# Steps whose new state is what the stack will hold; a delete leaves nothing to judge.
JUDGED_OPS = frozenset({"same", "create", "update", "replace", "create-replacement", "import", "refresh", "read"})


@dataclass(frozen=True)
class Resource:
    resource_type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider: str


def resources(digest: Mapping[str, Any]) -> list[Resource]:
    out = []
    for step in digest.get("steps") or []:
        state = step.get("newState")
        if step.get("op") not in JUDGED_OPS or not isinstance(state, Mapping) or not state.get("custom", True):
            continue
        urn = str(state.get("urn") or step.get("urn") or "")
        out.append(
            Resource(
                str(state.get("type") or ""),
                urn.rsplit("::", 1)[-1],
                urn,
                dict(state.get("inputs") or {}),
                str(state.get("provider") or step.get("provider") or ""),
            )
        )
    return out


def _provider(ref: str, by_urn: Mapping[str, Resource]) -> PolicyProviderResource | None:
    urn = ref.rsplit("::", 1)[0] if ref else ""
    found = by_urn.get(urn)
    if found is None:
        return None
    return PolicyProviderResource(found.resource_type, dict(found.props), found.urn, found.name)


def violations(digest: Mapping[str, Any]) -> list[str]:
    found = resources(digest)
    by_urn = {r.urn: r for r in found}
    out: list[str] = []
    for r in found:
        if r.resource_type.startswith("pulumi:providers:"):
            continue
        opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
        args = ResourceValidationArgs(
            r.resource_type, dict(r.props), r.urn, r.name, opts, _provider(r.provider, by_urn), {}
        )
        for policy, messages in policies.evaluate(args).items():
            out.extend(f"{policy}: {m}" for m in messages)
    out.extend(f"{policies.STACK_POLICY.name}: {m}" for m in policies.check_stack(found))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preview_json", type=Path, help="the output of `pulumi preview --json`")
    args = parser.parse_args(argv)
    try:
        digest = json.loads(args.preview_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"cannot read {args.preview_json}: {err}", file=sys.stderr)
        return 2
    if not isinstance(digest, Mapping) or not digest.get("steps"):
        print(f"{args.preview_json} holds no preview steps (did the preview fail?)", file=sys.stderr)
        return 2
    found = violations(digest)
    for line in found:
        print(line)
    print(f"{len(resources(digest))} resources judged by the default branch's policies: {len(found)} violation(s)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
