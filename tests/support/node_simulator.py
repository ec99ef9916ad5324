"""What the node simulator scenarios share: stack values, prerequisites, recap and dpkg checks."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from components.settings.keys import with_defaults
from tests.support.paths import ROOT
from tests.support.prereqs import missing, require_root, require_tool
from tests.support.simulator.cluster import SimCluster

# Stand-ins take no time: the waits of the roles need not either.
FAST = {
    "cluster_ready_retries": 5,
    "cluster_ready_delay": 1,
    "node_config_register_retries": 5,
    "node_config_register_delay": 1,
}


def stack_values(nodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("gitops-cluster:")}
    values["awsRegion"] = config["aws:region"]
    if nodes is not None:
        values["nodes"] = nodes
    return with_defaults(values)


def prerequisites() -> None:
    require_root("network namespaces, overlay mounts and sshd privilege separation")
    if not Path("/usr/sbin/sshd").exists():
        missing("sshd is not installed (Debian package openssh-server; .ci/run installs it)")
    for tool, package in (
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
        ("sudo", "sudo"),
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("pivot_root", "util-linux"),
        ("gpg", "gpg"),
        ("openssl", "openssl"),
        ("dpkg-deb", "dpkg"),
        ("dpkg-scanpackages", "dpkg-dev"),
        ("kubectl", "kubectl (kustomize for -k)"),
    ):
        require_tool(tool, f"Debian package {package}; .ci/run installs it")
    probe = subprocess.run(["/usr/bin/python3", "-c", "import apt, yaml"], capture_output=True, check=False)
    if probe.returncode != 0:
        missing(
            "the system python3 lacks apt or yaml (Debian packages python3-apt, python3-yaml; .ci/run installs them)"
        )


def dpkg_status(sim: SimCluster, node: str) -> dict[str, dict[str, str]]:
    packages = {}
    for stanza in sim.hosts[node].read("/var/lib/dpkg/status").split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if "Package" in fields:
            packages[fields["Package"]] = fields
    return packages


def assert_recap(run, hosts: Sequence[str], **expected: int) -> None:
    assert sorted(run.recap) == sorted(hosts), run.output[-4000:]
    for host in hosts:
        for key, value in expected.items():
            assert run.recap[host][key] == value, f"{host}: {key}={run.recap[host][key]}\n{run.output[-6000:]}"
