"""The stand-in scenario: nodes running the recorded kubeadm/kubelet stand-ins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support import paths
from tests.support.paths import ROOT
from tests.support.simulator.upstream import release_file

FIXTURES = paths.FIXTURES / "standins"


class Node:
    """One simulated host's root for the stand-ins, with the cluster directory beside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for d in (
            "etc/kubernetes",
            "var/lib/gitops-sim",
            "usr/share/gitops-sim",
            "etc/gitops-sim/faults",
            "usr/lib/systemd/system",
        ):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "usr/share/gitops-sim/kubeadm.version").write_text("1.31.4-1.1\n")

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        code = f"import sys; sys.argv[0] = {tool!r}; exec(open({str(STANDINS)!r}).read())"
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "GITOPS_SIM_ROOT": str(self.root)},
            cwd=self.root,
            check=False,
        )

    def write(self, path: str, text: str) -> str:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return path

    def install_upstream(self, key: str, path: str) -> str:
        """The published file of the release versions.yaml pins under `key`, copied into this root."""
        source = release_file(key, VERSIONS, path)
        target = f"/upstream/{key}/{source.name}"
        (self.root / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, self.root / target.lstrip("/"))
        return target

    def cluster(self) -> dict:
        return json.loads((self.root / "var/lib/gitops-sim-cluster/cluster.json").read_text())


INIT = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: 10.0.1.10, bindPort: 6443}
nodeRegistration: {name: master}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.4
controlPlaneEndpoint: api.example:6443
networking: {podSubnet: 192.168.0.0/16, serviceSubnet: 10.96.0.0/12}
"""


STANDINS = paths.TESTS / "support" / "simulator" / "standins.py"


VERSIONS = yaml.safe_load((ROOT / "versions.yaml").read_text())
