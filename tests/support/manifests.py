"""manifests/ as ArgoCD builds it (kubectl kustomize): renders, the rendered-tree fixtures, strict schemas, pods."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.children import from_upstream_git
from tests.support.paths import ROOT


def render(path: Path) -> list[Doc]:
    """Rendered objects of one kustomization (a fresh copy, callers may mutate it)."""
    return copy.deepcopy(list(_parsed(str(path))))


def app_roots() -> list[Path]:
    """The kustomizations ArgoCD builds: the root's path and every Git child's path.

    Read from the source files (collection time, before kubectl runs); the tests below check
    that every other kustomization is built as part of one of these.
    """
    roots = [APPS_DIR]
    for f in sorted(APPS_DIR.glob("*.yaml")):
        if f.name != "kustomization.yaml":
            app = yaml.safe_load(f.read_text())
            path = app["spec"]["source"].get("path")
            if path is not None and not from_upstream_git(app):
                roots.append(ROOT / path)
    return roots


def kind_of(doc: Mapping[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata'].get('namespace', '')}/{doc['metadata']['name']}"


@pytest.fixture(scope="module")
def apps() -> dict[str, Doc]:
    return {a["metadata"]["name"]: a for a in render(APPS_DIR)}


@pytest.fixture(scope="module")
def app_objects(apps: dict[str, Doc]) -> dict[str, list[Doc]]:
    """What each child Application built from this repository deploys."""
    return {
        name: render(ROOT / app["spec"]["source"]["path"])
        for name, app in apps.items()
        if "path" in app["spec"]["source"] and not from_upstream_git(app)
    }


@pytest.fixture(scope="module")
def cluster_objects(app_objects: dict[str, list[Doc]]) -> list[Doc]:
    return [doc for docs in app_objects.values() for doc in docs]


def validate_core(doc: Doc, version: str) -> list[str]:
    validator = _core_validator(doc["apiVersion"], doc["kind"], version)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def strict_schema(schema: Any) -> Any:
    """Reject unknown fields like the API server's strict field validation does.

    The published schemas are the CRDs' openAPIV3Schema, which never says
    additionalProperties: false (the API server prunes or, in strict mode, rejects unknown
    fields instead). An object schema that lists properties and has no additionalProperties is
    closed here; one with no properties (x-kubernetes-preserve-unknown-fields in the CRD, such as
    Helm valuesObject) or with an additionalProperties schema (maps) stays open, as in the CRD.
    """
    if isinstance(schema, dict):
        if schema.get("properties") and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for sub in (schema.get("properties") or {}).values():
            strict_schema(sub)
        for key in ("items", "additionalProperties", "not"):
            if isinstance(schema.get(key), dict | list):
                strict_schema(schema[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key, []):
                strict_schema(sub)
    elif isinstance(schema, list):
        for sub in schema:
            strict_schema(sub)
    return schema


MANIFESTS = ROOT / "manifests"


APPS_DIR = MANIFESTS / "argocd" / "apps"


@cache
def _parsed(path: str) -> tuple[Doc, ...]:
    return tuple(d for d in yaml.load_all(render_cached(path), Loader=_LOADER) if d)


@cache
def _core_validator(api_version: str, kind: str, version: str) -> Any:
    """kubernetes-validate's own strict schema for the kind, compiled once.

    Same schema files and the same Draft 2020-12 validation as ``kubernetes_validate.validate``
    (which re-reads the multi-megabyte definitions file on every call), cached per kind.
    """
    from jsonschema import Draft202012Validator
    from kubernetes_validate.utils import schema_contents
    from referencing import Registry, Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    schema = schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", version)
    definitions = schema_contents(f"{schema_dir}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return Draft202012Validator(schema, registry=registry)


Doc = dict[str, Any]


@cache
def render_cached(path: str) -> str:
    assert KUBECTL is not None
    result = subprocess.run([KUBECTL, "kustomize", path], capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {path} failed:\n{result.stderr}")
    return result.stdout


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


KUBECTL = shutil.which("kubectl")


def pod_template(doc: Mapping[str, Any]) -> Doc | None:
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        template: Doc = doc["spec"]["template"]
        return template
    if doc["kind"] == "CronJob":
        template = doc["spec"]["jobTemplate"]["spec"]["template"]
        return template
    return None


def pod_spec(doc: Mapping[str, Any]) -> Doc | None:
    template = pod_template(doc)
    return None if template is None else template["spec"]


def workloads(objects: Iterable[Doc]) -> list[Doc]:
    return [d for d in objects if pod_spec(d) is not None]
