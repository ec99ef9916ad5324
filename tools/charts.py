"""The Helm charts this stack deploys, rendered offline with the pinned helm, as tests and tools use them.

The charts at their exact versions, dependencies vendored, live in `../shared/charts/<name>-<version>.tgz`
(beside the checkout, as CI lays it out); helm is the pinned binary `make helm` unpacks
(tests/support/prereqs.py). Three things are offered:

- `chart_archive(name, version)`: the packaged chart, or a ChartError saying what is missing;
- `render(...)`: `helm template` with the values we pass, parsed into objects;
- `unknown_value_keys(archive, values)`: every key path we set that the chart (or the subchart it
  belongs to) does not have, so a misspelled value fails a test instead of being ignored by Helm.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _charts_dir() -> Path:
    """`$GITOPS_CHARTS_DIR`, else `shared/charts` beside the checkout, else beside the main checkout.

    A `git worktree` lives elsewhere than the checkout it belongs to; its `.git` file names the
    main checkout's git dir, and the charts sit beside that checkout as they do on CI.
    """
    if override := os.environ.get("GITOPS_CHARTS_DIR"):
        return Path(override)
    beside = ROOT.parent / "shared" / "charts"
    dotgit = ROOT / ".git"
    if not beside.is_dir() and dotgit.is_file():
        gitdir = Path(dotgit.read_text().split(":", 1)[1].strip())
        # <main>/.git/worktrees/<name> -> <main>
        main = gitdir.parent.parent.parent if gitdir.parent.name == "worktrees" else None
        if main is not None and (main.parent / "shared" / "charts").is_dir():
            return main.parent / "shared" / "charts"
    return beside


CHARTS_DIR = _charts_dir()


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1 resolves a bare `=` to the `value` tag, which the safe loaders cannot build;
    the Prometheus operator's CRDs list `=` among the label-matcher operators (a string)."""


_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


class ChartError(RuntimeError):
    """A chart that is not where it should be, or a render that helm refused."""


def chart_archive(name: str, version: str, charts_dir: Path = CHARTS_DIR) -> Path:
    """`<charts_dir>/<name>-<version>.tgz`; the error lists the versions that are there."""
    path = charts_dir / f"{name}-{version}.tgz"
    if not path.is_file():
        present = sorted(p.name for p in charts_dir.glob(f"{name}-*.tgz")) if charts_dir.is_dir() else []
        raise ChartError(
            f"chart {name} {version} is not packaged at {path} (present: {', '.join(present) or 'none'}); "
            "pin a version that ../shared/charts holds, or add the chart there"
        )
    return path


def _members(archive: Path) -> Mapping[str, bytes]:
    return _read_members(str(archive), archive.stat().st_mtime_ns)


@functools.cache
def _read_members(archive: str, _mtime: int) -> Mapping[str, bytes]:
    wanted = ("Chart.yaml", "values.yaml")
    out: dict[str, bytes] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(wanted):
                f = tar.extractfile(member)
                if f is not None:
                    out[member.name] = f.read()
    return out


def _chart_tree(archive: Path) -> dict[str, Any]:
    """{"values": ..., "subcharts": {values key: tree}} for the chart and its vendored dependencies."""
    members = _members(archive)

    def tree(prefix: str) -> dict[str, Any]:
        chart = yaml.safe_load(io.BytesIO(members[f"{prefix}Chart.yaml"])) or {}
        values = yaml.safe_load(io.BytesIO(members.get(f"{prefix}values.yaml", b""))) or {}
        subcharts: dict[str, Any] = {}
        for dep in chart.get("dependencies") or []:
            sub_prefix = f"{prefix}charts/{dep['name']}/"
            if f"{sub_prefix}Chart.yaml" in members:
                subcharts[dep.get("alias") or dep["name"]] = tree(sub_prefix)
        return {"name": chart.get("name"), "values": values, "subcharts": subcharts}

    top = next(n for n in members if n.count("/") == 1 and n.endswith("/Chart.yaml"))
    return tree(top.rsplit("/", 1)[0] + "/")


def default_values(archive: Path) -> dict[str, Any]:
    """The chart's own values.yaml."""
    return dict(_chart_tree(archive)["values"])


# Keys every chart accepts without declaring them: Helm's own `global`, and subchart switches.
_ALWAYS_ALLOWED = {"global"}


def _unknown(values: Any, defaults: Any, path: str) -> Iterator[str]:
    if not isinstance(values, Mapping) or not isinstance(defaults, Mapping) or not defaults:
        # A leaf, a list, or a free-form map (the chart's default is {} or null): anything goes.
        return
    for key, value in values.items():
        here = f"{path}.{key}" if path else str(key)
        if key not in defaults:
            yield here
        else:
            yield from _unknown(value, defaults[key], here)


def unknown_value_keys(archive: Path, values: Mapping[str, Any]) -> list[str]:
    """Key paths in `values` that neither the chart nor the matching subchart declares."""

    def walk(tree: Mapping[str, Any], vals: Mapping[str, Any], path: str) -> Iterator[str]:
        own = {k: v for k, v in vals.items() if k not in tree["subcharts"] and k not in _ALWAYS_ALLOWED}
        yield from _unknown(own, tree["values"], path)
        for key, sub in tree["subcharts"].items():
            if isinstance(vals.get(key), Mapping):
                sub_vals = dict(vals[key])
                # `enabled` switches a dependency on or off from the parent (its condition).
                sub_vals.pop("enabled", None)
                # The parent may read keys under the subchart's name too (cloudnative-pg reads
                # `monitoring.podMonitorEnabled`, `monitoring` being its dashboards subchart's
                # alias): a key either declares is one the chart has.
                parents = tree["values"].get(key)
                if isinstance(parents, Mapping):
                    sub = {**sub, "values": _merged(sub["values"], parents)}
                yield from walk(sub, sub_vals, f"{path}.{key}" if path else key)

    return sorted(walk(_chart_tree(archive), values, ""))


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merged(out[key], value)
        elif key not in out:
            out[key] = value
    return out


def render(
    archive: Path,
    *,
    release: str,
    namespace: str,
    values: Mapping[str, Any],
    kube_version: str,
    helm: Path,
    api_versions: Sequence[str] = (),
    include_crds: bool = True,
) -> list[dict[str, Any]]:
    """`helm template` of `archive` with `values` (given on stdin, never on the command line)."""
    argv = [
        str(helm),
        "template",
        release,
        str(archive),
        "--namespace",
        namespace,
        "--kube-version",
        kube_version,
        "--values",
        "-",
    ]
    if include_crds:
        argv.append("--include-crds")
    for api in api_versions:
        argv += ["--api-versions", api]
    proc = subprocess.run(
        argv,
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=False,
        env={"HOME": "/nonexistent", "PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": "/nonexistent"},
    )
    if proc.returncode != 0:
        raise ChartError(f"helm template {archive.name} failed: {proc.stderr.strip()}")
    return [doc for doc in yaml.load_all(proc.stdout, Loader=_Loader) if isinstance(doc, dict)]


def application_helm_source(application: Mapping[str, Any]) -> dict[str, Any]:
    """(repoURL, chart, targetRevision, releaseName, namespace, values) of a Helm-sourced Application."""
    spec = application["spec"]
    source = spec.get("source") or next(s for s in spec.get("sources", []) if "chart" in s)
    helm = source.get("helm") or {}
    return {
        "repoURL": source["repoURL"],
        "chart": source["chart"],
        "targetRevision": str(source["targetRevision"]),
        "releaseName": helm.get("releaseName") or application["metadata"]["name"],
        "namespace": spec.get("destination", {}).get("namespace", "default"),
        "values": helm.get("valuesObject") or yaml.safe_load(helm.get("values") or "{}") or {},
    }
