"""The rendered diff of a change: what each child Application would apply, base versus head.

For the PR comment. Given two checkouts of this repository (the pull request's base and head), it
renders every Application the root syncs - the root's own output (the child Applications in
`manifests/argocd/apps`), each Git child with `kubectl kustomize` (the build ArgoCD runs) and each
chart child with the pinned helm and the packaged chart at its pinned version (tools/charts.py) -
and for each Application whose output differs writes

- a compact summary: objects added (`+`), changed (`~`) and removed (`-`), by kind, namespace and
  name;
- a collapsible unified diff of those objects (`<details>`), YAML with sorted keys.

Secrets' `data` and `stringData` values never leave this tool: both sides are redacted before
anything is compared for display, each value replaced by `<redacted>` (or `<redacted, changed>` on
the head side when the value differs), so a changed password shows as changed and nothing else.
It runs offline: no cluster, no network, only the two checkouts, kubectl, helm and the charts.

An Application that cannot be rendered here (a chart that is not packaged in the charts
directory, a source in another repository) is listed with the reason instead of a diff; its
Application object's own change still shows under the root.

Exit codes: 0 the report was written (render errors are part of it), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools import charts

ROOT = Path(__file__).resolve().parent.parent.parent
APPS_PATH = "manifests/argocd/apps"
ROOT_APP = "root-app"
REPO_LABEL = ("gitops-cluster.io/repo", "platform")
REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted, changed>"
_FENCE = "```"

Key = tuple[str, str, str]  # kind, namespace, name
Objects = dict[Key, dict[str, Any]]


class RenderError(RuntimeError):
    """One Application could not be rendered; the message says why."""


@dataclass(frozen=True)
class Tools:
    kubectl: str
    helm: Path | None
    charts_dir: Path


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind", "?")), str(meta.get("namespace") or ""), str(meta.get("name", "?")))


def _label(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _objects(docs: Sequence[Mapping[str, Any]]) -> Objects:
    return {_key(d): dict(d) for d in docs if isinstance(d, Mapping) and d.get("kind")}


def kustomize(kubectl: str, path: Path) -> list[dict[str, Any]]:
    if not (path / "kustomization.yaml").is_file():
        raise RenderError(f"{path.name} has no kustomization.yaml")
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RenderError(f"kubectl kustomize failed: {proc.stderr.strip()[:500]}")
    try:
        return [d for d in yaml.safe_load_all(proc.stdout) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        raise RenderError(f"kubectl kustomize printed YAML that does not parse: {str(exc)[:300]}") from None


def _kube_version(checkout: Path) -> str:
    versions = yaml.safe_load((checkout / "versions.yaml").read_text(encoding="utf-8")) or {}
    if not versions.get("kubernetes"):
        raise RenderError("versions.yaml has no `kubernetes` version to render charts for")
    return str(versions["kubernetes"])


def render_application(app: Mapping[str, Any], checkout: Path, tools: Tools) -> list[dict[str, Any]]:
    """What `app` makes ArgoCD apply, rendered from `checkout`."""
    spec = app.get("spec") or {}
    source = spec.get("source") or {}
    has_chart = "chart" in source or any("chart" in s for s in spec.get("sources") or [])
    if has_chart:
        helm_source = charts.application_helm_source(app)
        if tools.helm is None:
            raise RenderError("helm is not available")
        try:
            archive = charts.chart_archive(helm_source["chart"], helm_source["targetRevision"], tools.charts_dir)
            return charts.render(
                archive,
                release=helm_source["releaseName"],
                namespace=helm_source["namespace"],
                values=helm_source["values"],
                kube_version=_kube_version(checkout),
                helm=tools.helm,
            )
        except charts.ChartError as exc:
            raise RenderError(str(exc)) from None
        except yaml.YAMLError as exc:
            raise RenderError(f"helm printed YAML that does not parse: {str(exc)[:300]}") from None
    labels = (app.get("metadata") or {}).get("labels") or {}
    if labels.get(REPO_LABEL[0]) != REPO_LABEL[1]:
        raise RenderError("its source is not this repository")
    path = str(source.get("path", ""))
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise RenderError(f"source path {path!r} is not a path inside the repository")
    return kustomize(tools.kubectl, checkout / path)


@dataclass
class Side:
    """One checkout's rendered Applications: name -> objects, or the reason it could not render."""

    sources: dict[str, str] = field(default_factory=dict)
    objects: dict[str, Objects] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def render_checkout(checkout: Path, tools: Tools) -> Side:
    side = Side(sources={ROOT_APP: APPS_PATH})
    try:
        children = kustomize(tools.kubectl, checkout / APPS_PATH)
    except RenderError as exc:
        side.errors[ROOT_APP] = str(exc)
        return side
    side.objects[ROOT_APP] = _objects(children)
    for app in children:
        if app.get("kind") != "Application":
            continue
        name = str(app["metadata"]["name"])
        source = app.get("spec", {}).get("source") or {}
        side.sources[name] = (
            f"chart {source['chart']} {source.get('targetRevision')}" if "chart" in source else str(source.get("path"))
        )
        try:
            side.objects[name] = _objects(render_application(app, checkout, tools))
        except RenderError as exc:
            side.errors[name] = str(exc)
    return side


def _redact_secret(obj: Mapping[str, Any], other: Mapping[str, Any] | None, *, head: bool) -> dict[str, Any]:
    out = dict(obj)
    for section in ("data", "stringData"):
        values = obj.get(section)
        if not isinstance(values, Mapping):
            continue
        theirs = (other or {}).get(section) or {}
        out[section] = {
            k: REDACTED_CHANGED if head and other is not None and k in theirs and theirs[k] != v else REDACTED
            for k, v in values.items()
        }
    return out


def _is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and str(obj.get("apiVersion", "")) == "v1"


def _dump(obj: Mapping[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False).splitlines()


@dataclass(frozen=True)
class AppDiff:
    name: str
    source: str
    added: tuple[Key, ...]
    changed: tuple[Key, ...]
    removed: tuple[Key, ...]
    diff: str
    error: str | None = None


def diff_app(name: str, source: str, base: Objects, head: Objects) -> AppDiff | None:
    """The difference of one Application's output, Secrets redacted; None when nothing differs."""
    added = tuple(sorted(k for k in head if k not in base))
    removed = tuple(sorted(k for k in base if k not in head))
    changed = tuple(sorted(k for k in head if k in base and head[k] != base[k]))
    if not (added or removed or changed):
        return None
    chunks: list[str] = []
    for key in sorted({*added, *removed, *changed}):
        old, new = base.get(key), head.get(key)
        if any(o is not None and _is_secret(o) for o in (old, new)):
            old, new = (
                _redact_secret(old, new, head=False) if old is not None else None,
                _redact_secret(new, old, head=True) if new is not None else None,
            )
        chunks.extend(
            difflib.unified_diff(_dump(old), _dump(new), f"base/{_label(key)}", f"head/{_label(key)}", lineterm="")
        )
    return AppDiff(name, source, added, changed, removed, "\n".join(chunks))


def _application(side: Side, name: str) -> dict[str, Any] | None:
    return next(
        (o for (kind, _, n), o in side.objects.get(ROOT_APP, {}).items() if kind == "Application" and n == name), None
    )


def compare(base: Side, head: Side) -> list[AppDiff]:
    """Every Application whose rendered output differs, the root first, then by name."""
    if ROOT_APP in head.errors or ROOT_APP in base.errors:
        # Without the list of children on both sides, every child would look added or removed.
        error = head.errors.get(ROOT_APP) or f"on the base: {base.errors[ROOT_APP]}"
        return [AppDiff(ROOT_APP, APPS_PATH, (), (), (), "", error)]
    out: list[AppDiff] = []
    names = sorted({*base.sources, *head.sources}, key=lambda n: (n != ROOT_APP, n))
    for name in names:
        source = head.sources.get(name) or base.sources.get(name, "")
        head_error, base_error = head.errors.get(name), base.errors.get(name)
        if head_error is not None or base_error is not None:
            # Unrenderable on one side: say so when something about it changed, else stay quiet.
            if head_error != base_error or _application(base, name) != _application(head, name):
                out.append(AppDiff(name, source, (), (), (), "", head_error or f"on the base: {base_error}"))
            continue
        found = diff_app(name, source, base.objects.get(name, {}), head.objects.get(name, {}))
        if found is not None:
            out.append(found)
    return out


def _counts(d: AppDiff) -> str:
    parts = [
        f"{len(keys)} {word}"
        for keys, word in ((d.added, "added"), (d.changed, "changed"), (d.removed, "removed"))
        if keys
    ]
    return ", ".join(parts)


def summary_lines(diffs: Sequence[AppDiff]) -> list[str]:
    """The compact summary: one heading line per Application, one line per object."""
    lines: list[str] = []
    for d in diffs:
        if d.error is not None:
            lines.append(f"- `{d.name}` ({d.source}): not rendered: {d.error}")
            continue
        lines.append(f"- `{d.name}` ({d.source}): {_counts(d)}")
        for mark, keys in (("+", d.added), ("~", d.changed), ("-", d.removed)):
            lines.extend(f"  - `{mark}` {_label(k)}" for k in keys)
    return lines


def _what_changes(n: int) -> str:
    return "1 Application changes what it applies" if n == 1 else f"{n} Applications change what they apply"


def markdown(diffs: Sequence[AppDiff]) -> str:
    if not diffs:
        return "### Rendered changes\n\nNo Application's rendered output changes.\n"
    rendered = [d for d in diffs if d.error is None]
    lines = [
        "### Rendered changes",
        "",
        f"{_what_changes(len(rendered))} (Secret values redacted):",
        "",
        *summary_lines(diffs),
    ]
    for d in rendered:
        text = d.diff.replace(_FENCE, "`\u200b``")
        lines += [
            "",
            f"<details><summary>Rendered diff of <code>{d.name}</code></summary>",
            "",
            f"{_FENCE}diff",
            text,
            _FENCE,
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", type=Path, required=True, help="checkout of the pull request's base")
    parser.add_argument("--head", type=Path, required=True, help="checkout of the pull request's head")
    parser.add_argument("--out", type=Path, required=True, help="write the Markdown report here")
    parser.add_argument(
        "--charts-dir", type=Path, default=charts.CHARTS_DIR, help="packaged charts, <name>-<version>.tgz"
    )
    parser.add_argument("--helm", type=Path, help="the pinned helm binary (default: .cache/helm-*/helm of --head)")
    parser.add_argument("--kubectl", default=shutil.which("kubectl"), help="kubectl with its built-in kustomize")
    args = parser.parse_args(argv)
    if not args.kubectl:
        print("render_diff: kubectl is not on PATH (it renders the kustomizations)", file=sys.stderr)
        return 2
    for side in (args.base, args.head):
        if not (side / APPS_PATH).is_dir():
            print(f"render_diff: {side} is not a checkout of this repository (no {APPS_PATH})", file=sys.stderr)
            return 2
    helm = args.helm or next(iter(sorted(args.head.glob(".cache/helm-*/helm"))), None)
    tools = Tools(args.kubectl, helm, args.charts_dir)
    diffs = compare(render_checkout(args.base, tools), render_checkout(args.head, tools))
    args.out.write_text(markdown(diffs), encoding="utf-8")
    print("\n".join(summary_lines(diffs)) or "no Application's rendered output changes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
