"""Fixtures of the playbook runs: the extra vars file, storage role results, pods as created."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.playbooks import ANSIBLE_DIR, render_extra_vars
from components.settings.keys import default_versions
from tests.support.paths import GOLDEN
from tests.support.prereqs import missing, require_tool


@pytest.fixture(scope="module")
def extra_vars(tmp_path_factory) -> Path:
    path = Path(tmp_path_factory.mktemp("vars")) / "extra-vars.json"
    path.write_text(render_extra_vars(default_versions()))
    return path


@pytest.fixture(scope="module")
def storage(tmp_path_factory, extra_vars) -> dict[str, Any]:
    """The storage kustomization built by kustomize (objects per render), and the manifest URL."""
    kubectl = require_tool("kubectl", "with its built-in kustomize; .ci/run installs the Debian package kubectl")
    out = Path(tmp_path_factory.mktemp("storage"))
    lookups = {
        render: "\n".join(
            f"            {name}: \"{{{{ lookup('ansible.builtin.template', templates ~ '/{name}.j2'{extra}) }}}}\""
            for name in STORAGE_FILES
        )
        for render, extra in (("default", ""), ("bumped", ", template_vars=bumped"))
    }
    play = out / "render.yml"
    play.write_text(STORAGE_RENDER_PLAY.format(roles=ANSIBLE_DIR / "roles", **lookups))
    result = run(
        [tool("ansible-playbook"), "-i", str(GOLDEN / "inventory-3cp.yml"), "-e", f"@{extra_vars}", str(play)],
        extra_env={
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree",
            "ANSIBLE_CALLBACK_TREE_DIR": str(out / "tree"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    msg = json.loads((out / "tree" / "localhost").read_text())["msg"]
    built: dict[str, Any] = {"url": msg["url"]}
    for render in ("default", "bumped"):
        (out / render).mkdir()
        for name, text in msg[render].items():
            (out / render / name).write_text(text)
        stand_in = UPSTREAM_STAND_IN.replace("VERSION", msg["version"])
        (out / render / f"local-path-storage-{msg['version']}.yaml").write_text(stand_in)
        build = subprocess.run([kubectl, "kustomize", str(out / render)], capture_output=True, text=True, timeout=60)
        assert build.returncode == 0, build.stderr
        built[render] = [d for d in yaml.safe_load_all(build.stdout) if d]
    return built


def helper_pod_as_created(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The helper pod the provisioner creates from the ConfigMap's template: it adds a hostPath
    volume `data` (the volume directory's parent, DirectoryOrCreate) and the ConfigMap's scripts as
    volume `script`, mounts both into the first container, and creates it in its own namespace
    (rancher/local-path-provisioner, provisioner.go, createHelperPod)."""
    config = one(objects, "ConfigMap")
    pod = yaml.safe_load(config["data"]["helperPod.yaml"])
    pod["metadata"]["namespace"] = config["metadata"]["namespace"]
    parent = json.loads(config["data"]["config.json"])["nodePathMap"][0]["paths"][0].rstrip("/") + "/"
    spec = pod["spec"]
    spec["volumes"] = [
        *spec.get("volumes", []),
        {"name": "data", "hostPath": {"path": parent, "type": "DirectoryOrCreate"}},
        {"name": "script", "configMap": {"name": config["metadata"]["name"]}},
    ]
    container = spec["containers"][0]
    container["volumeMounts"] = [
        *container.get("volumeMounts", []),
        {"name": "data", "mountPath": parent},
        {"name": "script", "mountPath": "/script"},
    ]
    return pod


def run(
    argv: list[str], *, cwd: Path = ANSIBLE_DIR, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        **(extra_env or {}),
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        missing(f"{name} is not installed in {BIN} (run `make venv`: it installs uv.lock)")
    return str(path)


STORAGE_FILES = (
    "config.json",
    "helperPod.yaml",
    "storage-class.yaml",
    "deployment.yaml",
    "namespace.yaml",
    "network-policy.yaml",
    "kustomization.yaml",
)


# The role's templates with its defaults and the rendered inventory, twice: as they are, and with
# another helper image (whose checksum annotation must differ, so the provisioner restarts).
STORAGE_RENDER_PLAY = """
- name: Render the storage role's files
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {roles}/storage/defaults/main.yml
  tasks:
    - name: Render the templates
      vars:
        templates: "{roles}/storage/templates"
        bumped: {{ storage_helper_image: docker.io/library/busybox:1.36.1 }}
      ansible.builtin.debug:
        msg:
          url: "{{{{ storage_manifest_url }}}}"
          version: "{{{{ storage_version }}}}"
          default:
{default}
          bumped:
{bumped}
"""


# A stand-in for upstream's deploy/local-path-storage.yaml (no network here): the objects, names
# and ConfigMap keys the kustomization patches, as upstream ships them, without a default mark.
UPSTREAM_STAND_IN = """
apiVersion: v1
kind: Namespace
metadata:
  name: local-path-storage
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: local-path-provisioner
  namespace: local-path-storage
spec:
  replicas: 1
  selector:
    matchLabels: {app: local-path-provisioner}
  template:
    metadata:
      labels: {app: local-path-provisioner}
    spec:
      serviceAccountName: local-path-provisioner-service-account
      containers:
        - name: local-path-provisioner
          image: rancher/local-path-provisioner:VERSION
          command: [local-path-provisioner, start, --config, /etc/config/config.json]
          volumeMounts:
            - {name: config-volume, mountPath: /etc/config/}
      volumes:
        - name: config-volume
          configMap: {name: local-path-config}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-path-config
  namespace: local-path-storage
data:
  config.json: |-
    {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["/opt/local-path-provisioner"]}]}
  setup: |-
    #!/bin/sh
    mkdir -m 0777 -p "$VOL_DIR"
  teardown: |-
    #!/bin/sh
    rm -rf "$VOL_DIR"
  helperPod.yaml: |-
    apiVersion: v1
    kind: Pod
    metadata:
      name: helper-pod
    spec:
      containers:
      - name: helper-pod
        image: busybox
"""


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


BIN = Path(sys.executable).parent
