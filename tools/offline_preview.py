"""Offline preview: what a stack would create, with no Pulumi CLI and no cloud credentials.

Runs the program under the SDK's mock runtime (tools/mockrun.py, the harness the tests use) with
Pulumi.<stack>.yaml, and prints the resources grouped by component with what each depends on.
It writes build/preview-<stack>.md (the same text plus a Mermaid graph, posted as the PR job
summary) and build/graph-<stack>.mmd. `--update-docs` rewrites the generated graph in README.md
and docs/architecture.md, and a test fails when those drift from the program.

Bad config fails here exactly as in `pulumi preview`: the same message, exit code 1, nothing
shown as created. Like any preview it only warns about what `pulumi up` alone refuses (the
placeholder GitOps repository). Encrypted values in the stack file cannot be decrypted offline;
they are replaced by placeholder secrets (the preview only needs to know they are set).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from components.settings.messages import ConfigError
from tools.mockrun import PROJECT_ROOT, CliConfigError, Recording, Registration, run_program, stack_config

BEGIN = "<!-- BEGIN GENERATED GRAPH (python -m tools.offline_preview --update-docs) -->"
END = "<!-- END GENERATED GRAPH -->"
DOCS_WITH_GRAPH = ("README.md", "docs/architecture.md")
PLACEHOLDER_SECRET = "offline-preview-placeholder"


def top_component(rec: Recording, reg: Registration) -> Registration | None:
    """The component directly under the stack that owns `reg` (itself, if it is one)."""
    chain = [reg, *rec.ancestors(reg)]
    components = [r for r in chain if not r.custom]
    return components[-1] if components else None


def _label(reg: Registration) -> str:
    return reg.type.rsplit(":", 1)[-1]


def component_edges(rec: Recording) -> dict[str, set[str]]:
    """Component -> the components it depends on (through any of its resources)."""
    edges: dict[str, set[str]] = defaultdict(set)
    by_urn = {r.urn: r for r in rec.resources}
    for reg in rec.resources:
        src = top_component(rec, reg)
        if src is None:
            continue
        deps = set(reg.dependencies)
        for urns in reg.property_dependencies.values():
            deps.update(urns)
        for urn in deps:
            target = by_urn.get(urn)
            dst = top_component(rec, target) if target is not None else None
            if dst is not None and dst.urn != src.urn:
                edges[_label(src)].add(_label(dst))
    return edges


def _contents(rec: Recording, comp: Registration) -> Counter[str]:
    return Counter(
        r.type.split(":")[-1] for r in rec.descendants(comp) if r.custom and not r.type.startswith("pulumi:providers:")
    )


def ordered_components(rec: Recording) -> list[Registration]:
    """Top-level components, dependencies first (ties by name): stable across runs.

    Registration order is not: the SDK registers resources from several threads.
    """
    components = {_label(r): r for r in rec.resources if not r.custom and top_component(rec, r) is r}
    edges = component_edges(rec)
    ordered: list[Registration] = []
    remaining = set(components)
    while remaining:
        ready = sorted(c for c in remaining if not (edges.get(c, set()) & remaining)) or sorted(remaining)
        ordered.append(components[ready[0]])
        remaining.remove(ready[0])
    return ordered


def mermaid(rec: Recording) -> str:
    """A Mermaid flowchart of the components, what each holds, and their dependencies."""
    components = ordered_components(rec)
    lines = ["flowchart LR"]
    for comp in components:
        counts = _contents(rec, comp)
        held = "<br/>".join(f"{n} × {t}" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f'  {_label(comp)}["<b>{_label(comp)}</b><br/>{held}"]')
    for src, dsts in sorted(component_edges(rec).items()):
        for dst in sorted(dsts):
            lines.append(f"  {src} --> {dst}")
    return "\n".join(lines) + "\n"


def _short(urn: str, by_urn: dict[str, Registration]) -> str:
    reg = by_urn.get(urn)
    return reg.name if reg is not None else urn.rsplit("::", 1)[-1]


def text_report(rec: Recording, stack: str) -> str:
    by_urn = {r.urn: r for r in rec.resources}
    out = [f"Offline preview of stack '{stack}': {sum(r.custom for r in rec.resources)} resources would be created."]
    roots = ordered_components(rec)
    loose = [r for r in rec.resources if r.custom and top_component(rec, r) is None]
    for comp in roots:
        members = sorted((r for r in rec.descendants(comp) if r.custom), key=lambda r: (r.type, r.name))
        out.append("")
        out.append(f"{comp.type} {comp.name} ({len(members)} resources)")
        for r in members:
            deps = sorted({_short(u, by_urn) for u in r.dependencies if u in by_urn})
            secret = (
                f"  [secret: {', '.join(sorted({p.split('.')[0].split('[')[0] for p in r.secret_paths}))}]"
                if r.secret_paths
                else ""
            )
            after = f"  <- {', '.join(deps)}" if deps else ""
            out.append(f"  + {r.type} {r.name}{secret}{after}")
    if loose:
        out.append("")
        out.append("Stack-level")
        out.extend(f"  + {r.type} {r.name}" for r in loose)
    out.append("")
    out.append(
        "Outputs: "
        + ", ".join(f"{k} [secret]" if k in rec.stack_output_secret_paths else k for k in sorted(rec.stack_outputs))
    )
    return "\n".join(out) + "\n"


def replace_generated_block(text: str, graph: str) -> str:
    block = f"{BEGIN}\n```mermaid\n{graph}```\n{END}"
    start, end = text.find(BEGIN), text.find(END)
    if start == -1 or end == -1:
        raise ValueError("no generated-graph markers")
    return text[:start] + block + text[end + len(END) :]


def placeholder_secrets(stack: str) -> dict[str, str]:
    return {k: PLACEHOLDER_SECRET for k, v in stack_config(stack).items() if isinstance(v, dict) and "secure" in v}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml is used (default: dev)")
    parser.add_argument(
        "--out",
        type=Path,
        default=PROJECT_ROOT / "build",
        help="directory for preview-<stack>.md and graph-<stack>.mmd",
    )
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite the generated graph in README.md and docs/architecture.md"
    )
    args = parser.parse_args(argv)

    try:
        rec = run_program(args.stack, secrets=placeholder_secrets(args.stack))
    except (ConfigError, CliConfigError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"offline preview: {exc}", file=sys.stderr)
        return 1

    report, graph = text_report(rec, args.stack), mermaid(rec)
    print(report, end="")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"graph-{args.stack}.mmd").write_text(graph, encoding="utf-8")
    (args.out / f"preview-{args.stack}.md").write_text(
        f"## Offline preview: `{args.stack}`\n\n```mermaid\n{graph}```\n\n<details><summary>Resources</summary>\n\n"
        f"```\n{report}```\n\n</details>\n",
        encoding="utf-8",
    )
    if args.update_docs:
        for name in DOCS_WITH_GRAPH:
            path = PROJECT_ROOT / name
            path.write_text(replace_generated_block(path.read_text(encoding="utf-8"), graph), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
