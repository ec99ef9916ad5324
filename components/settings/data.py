"""The data section: how the datastores are backed up beyond what always runs.

- ``postgresqlVolumeSnapshots``: CloudNativePG volume-snapshot backups (EBS snapshots through the
  VolumeSnapshot API) beside the object-store backups and the WAL archive, which always run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.settings.schema import DataKeys, section
from components.settings.values import BOOLEAN_FIX, Collector


def parse_data(c: Collector, values: Mapping[str, Any]) -> bool:
    """Whether PostgreSQL is also backed up as volume snapshots."""
    t = section(DataKeys, values)
    if not t.ok("postgresqlVolumeSnapshots"):
        c.add("postgresqlVolumeSnapshots", t["postgresqlVolumeSnapshots"], BOOLEAN_FIX)
        return False
    return bool(t["postgresqlVolumeSnapshots"])
