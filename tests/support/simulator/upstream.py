"""Upstream release files as published, from ../shared/upstream, checked against its README's sha256.

`../shared/upstream/README.md` lists each file with the project and tag it was copied from, its path
in that repository and its sha256. The node simulator serves these files byte for byte under their
real URLs (raw.githubusercontent.com/<project>/<tag>/<path>), so what a simulated node applies is
what a real node downloads. A file whose checksum differs from the table, or a pin that
../shared/upstream does not hold, is an error that names the pin and the fix, never a silent
fallback to a hand-written stand-in.

The directory: `$GITOPS_UPSTREAM_DIR`, else `upstream` beside the packaged charts (tools/charts.py
finds `shared/` beside the checkout, or beside the main checkout of a git worktree).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.charts import CHARTS_DIR

UPSTREAM_DIR = Path(os.environ.get("GITOPS_UPSTREAM_DIR") or CHARTS_DIR.parent / "upstream")

# versions.yaml key -> the GitHub project whose release files the bootstrap downloads at that tag
# (ansible/roles/calico/defaults, ansible/roles/storage/defaults: calico_*_manifest_url, storage_manifest_url).
DOWNLOADED = {
    "calico": "projectcalico/calico",
    "localPathProvisioner": "rancher/local-path-provisioner",
}

_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*([\w.-]+/[\w.-]+)@(\S+)[^|]*\|\s*`([^`]+)`\s*\|\s*`([0-9a-f]{64})`\s*\|$")


class UpstreamError(RuntimeError):
    """A release file that is missing, altered, or not at the pinned tag."""


@dataclass(frozen=True)
class Artifact:
    """One published file: where it is here, and where the real one lives."""

    file: Path
    project: str
    tag: str
    path: str
    sha256: str

    @property
    def url_path(self) -> str:
        """The path under raw.githubusercontent.com that serves it."""
        return f"{self.project}/{self.tag}/{self.path}"


@functools.cache
def artifacts(directory: Path = UPSTREAM_DIR) -> tuple[Artifact, ...]:
    """Every row of the README's table, each file's checksum verified."""
    readme = directory / "README.md"
    if not readme.is_file():
        raise UpstreamError(
            f"the upstream release files are not at {directory} (shared/upstream beside the checkout, "
            "or $GITOPS_UPSTREAM_DIR): the node simulator serves them instead of stand-ins"
        )
    rows = []
    for line in readme.read_text().splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        name, project, tag, path, sha256 = m.groups()
        file = directory / name
        digest = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "missing"
        if digest != sha256:
            raise UpstreamError(
                f"{file}: sha256 is {digest}, but {readme} lists {sha256} for {project}@{tag} {path}; "
                "restore the file as published"
            )
        rows.append(Artifact(file, project, tag, path, sha256))
    if not rows:
        raise UpstreamError(f"{readme} lists no files (expected a | file | project@tag | path | sha256 | table)")
    return tuple(rows)


def release(key: str, versions: Mapping[str, str], directory: Path = UPSTREAM_DIR) -> tuple[Artifact, ...]:
    """The files of the release versions.yaml pins under `key` (e.g. calico -> projectcalico/calico@v3.32.1)."""
    project, tag = DOWNLOADED[key], versions[key]
    found = tuple(a for a in artifacts(directory) if a.project == project and a.tag == tag)
    if not found:
        held = sorted({a.tag for a in artifacts(directory) if a.project == project})
        raise UpstreamError(
            f"versions.yaml {key}: {tag!r}, but {directory} holds {project} at {', '.join(held) or 'no tag'} only: "
            f"pin a tag it holds, or add that release's files with their sha256 (README there)"
        )
    return found


def release_file(key: str, versions: Mapping[str, str], path: str, directory: Path = UPSTREAM_DIR) -> Path:
    """One file of the pinned release, by its path in the upstream repository."""
    for artifact in release(key, versions, directory):
        if artifact.path == path:
            return artifact.file
    raise UpstreamError(f"{DOWNLOADED[key]}@{versions[key]}: {path} is not among the files of {directory}")
