"""Run the Pulumi program under the SDK's mock runtime and record every registration.

Both the test suite (tests/conftest.py) and the offline preview (tools/offline_preview.py) use
this, so what the tests review is exactly what the preview prints. No Pulumi CLI, engine or cloud
credentials are involved: the SDK talks to an in-process monitor that answers with deterministic
fake outputs and remembers, for each resource, what a reviewer of `pulumi preview` looks at: type,
name, parent, provider, dependencies, inputs, and which inputs were secret.

Config comes from Pulumi.<stack>.yaml plus Pulumi.yaml's declared defaults (as the CLI would
merge them). It reaches the program the way the CLI's Python language host hands it over: the
whole map, with the list of secret keys, through `pulumi.runtime.set_all_config`, so the program
sees every key that is set (components/settings/keys.py refuses unknown ones). Encrypted values in a
stack file cannot be decrypted offline; pass them as `secrets`.

A run is a preview (`pulumi.runtime.is_dry_run()` is true) unless `preview=False` asks for the
update step of `pulumi up`, which refuses a little more (the placeholder GitOps repository).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextvars
import gc
import hashlib
import ipaddress
import json
import runpy
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack

from tools.cli_config import CliConfigError, check_project, check_stack, load_yaml
from tools.mock_pki import FAKE_CLUSTER_CA_PEM, FAKE_MINTED_KUBECONFIG

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_ROOT / "__main__.py"

_SECRET_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"

# base64 of 32 bytes ("MOCKETCDKEY..." decodes to bytes); a secret that must never appear in plain text.
FAKE_ENCRYPTION_KEY_BASE64 = "MOCKETCDKEYMOCKETCDKEYMOCKETCDKEYMOCKETCDKE="

FAKE_ADMIN_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: MOCK-CA-DATA
    server: https://10.0.16.10:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
users:
- name: kubernetes-admin
  user:
    client-certificate-data: MOCK-CLIENT-CERT
    client-key-data: MOCK-ADMIN-CLIENT-KEY
"""


# The SDK and pulumi_aws create ~160,000 long-lived objects (classes, type hints); with the
# default thresholds the collector rescans them again and again during a run and once more at
# exit. Fewer young-generation collections, and freezing what is left at exit, cut a dev-stack
# process from ~3.3 s to ~2.3 s (docs/benchmarks.md); nothing the program registers changes.
gc.set_threshold(20_000, 10, 10)
atexit.register(gc.freeze)

# The program's whole run happens inside this lock: the SDK keeps global settings.
_RUN_LOCK = threading.Lock()


@dataclass
class Registration:
    """One RegisterResource call, as the engine would receive it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    secret_paths: frozenset[str]
    additional_secret_outputs: list[str]
    delete_before_replace: bool
    protect: bool
    ignore_changes: list[str]
    retain_on_delete: bool = False
    # Each alias as the engine receives it (an AliasSpec: name, type, parentUrn ... or a URN).
    aliases: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    output_secret_paths: frozenset[str] = frozenset()

    @property
    def short(self) -> str:
        return f"{self.type}::{self.name}"

    def is_secret(self, key: str) -> bool:
        """Whether input `key` (or anything under it) was sent to the engine as a secret."""
        return any(p == key or p.startswith(f"{key}.") or p.startswith(f"{key}[") for p in self.secret_paths)


@dataclass
class Recording:
    """Everything one program run registered, in registration order."""

    resources: list[Registration]
    stack_outputs: dict[str, Any]
    stack_output_secret_paths: frozenset[str]
    invokes: list[tuple[str, dict[str, Any]]]

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise AssertionError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    @cached_property
    def _index(self) -> dict[str, Registration]:
        # A recording is complete when returned; look-ups by URN and by parent need no rescans.
        return {r.urn: r for r in self.resources}

    @cached_property
    def _children(self) -> dict[str, list[Registration]]:
        children: dict[str, list[Registration]] = {}
        for r in self.resources:
            children.setdefault(r.parent, []).append(r)
        return children

    def by_urn(self, urn: str) -> Registration:
        return self._index[urn]

    def children(self, parent: Registration) -> list[Registration]:
        return list(self._children.get(parent.urn, []))

    def ancestors(self, reg: Registration) -> Iterator[Registration]:
        while reg.parent in self._index:
            reg = self._index[reg.parent]
            yield reg

    def depends_on(self, reg: Registration, target: Registration) -> bool:
        """Direct or through a component: would the engine order `reg` after `target`?"""
        deps = set(reg.dependencies)
        for urns in reg.property_dependencies.values():
            deps.update(urns)
        if target.urn in deps:
            return True
        # A dependency on a component stands for all of its children.
        return any(target in self.descendants(self._index[u]) for u in deps if u in self._index)

    def descendants(self, reg: Registration) -> list[Registration]:
        out, frontier = [], [reg]
        while frontier:
            nxt = [child for f in frontier for child in self._children.get(f.urn, [])]
            out.extend(nxt)
            frontier = nxt
        return out


def _unwrap(value: Any, path: str, secrets: set[str]) -> Any:
    """Turn a protobuf-JSON property value into plain Python, noting secret paths."""
    if isinstance(value, dict):
        sig = value.get(_SECRET_SIG)
        if sig == _SECRET_VALUE:
            secrets.add(path)
            return _unwrap(value.get("value"), path, secrets)
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if value == _UNKNOWN:
        return None
    return value


def _struct_to_plain(struct: Any) -> tuple[dict[str, Any], frozenset[str]]:
    raw = json_format.MessageToDict(struct) if struct is not None else {}
    secrets: set[str] = set()
    plain = _unwrap(raw, "", secrets)
    return plain, frozenset(secrets)


# A real RSA 2048 public key made the way kubeadm makes sa.pub (tests/fixtures/kubeadm/README.md).
FAKE_SERVICE_ACCOUNT_PUBLIC_KEY = (PROJECT_ROOT / "tests" / "fixtures" / "kubeadm" / "sa.pub").read_text()


class FakeCloud(pulumi_mocks.Mocks):
    """Deterministic outputs for the resources and invokes the program uses."""

    # Private IPs derive from the resource name (the SDK registers from several threads, so a
    # counter would hand out addresses in a different order on every run).
    _PRIVATE_RANGE = ipaddress.IPv4Network("10.0.16.0/20")

    def __init__(self) -> None:
        self._taken: set[ipaddress.IPv4Address] = set()
        self._lock = threading.Lock()

    def _private_ip(self, name: str) -> str:
        size = self._PRIVATE_RANGE.num_addresses - 16
        slot = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % size
        while (ip := self._PRIVATE_RANGE.network_address + 10 + slot) in self._taken:
            slot = (slot + 1) % size
        self._taken.add(ip)
        return str(ip)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        t, name = args.typ, args.name
        with self._lock:
            if t == "aws:ec2/instance:Instance":
                state["privateIp"] = self._private_ip(name)
                state["arn"] = f"arn:aws:ec2:ap-northeast-2:123456789012:instance/i-{name}"
                if state.get("associatePublicIpAddress"):
                    state["publicIp"] = "198.51.100.10"
                    state["publicDns"] = "ec2-198-51-100-10.compute.amazonaws.com"
        if t == "aws:lb/loadBalancer:LoadBalancer":
            # AWS prefixes an internal load balancer's DNS name with `internal-`.
            prefix = "internal-" if state.get("internal") else ""
            state["dnsName"] = f"{prefix}{name}-0123456789.elb.ap-northeast-2.amazonaws.com"
            state["arn"] = f"arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/net/{name}/0123"
            # The region's ELB hosted zone (ap-northeast-2), the target of alias records.
            state["zoneId"] = "ZWKZPGTI48KDX"
        elif t == "aws:acm/certificate:Certificate":
            # What ACM answers: one CNAME per name, under the name (the value is ACM's own domain).
            names = [state.get("domainName", ""), *state.get("subjectAlternativeNames", [])]
            state["domainValidationOptions"] = [
                {
                    "domainName": n,
                    "resourceRecordName": f"_0mock.{n}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_0mock.{n}.acm-validations.aws.",
                }
                for n in names
            ]
        elif t == "aws:cloudfront/distribution:Distribution":
            # The media CDN keeps AWS's documentation example; the issuer's gets its own name.
            issuer = name.endswith("-issuer")
            state["domainName"] = (
                f"d{hashlib.sha256(name.encode()).hexdigest()[:13]}.cloudfront.net"
                if issuer
                else "d111111abcdef8.cloudfront.net"
            )
            state["hostedZoneId"] = "Z2FDTNDATAQYW2"
            state["arn"] = f"arn:aws:cloudfront::123456789012:distribution/E{name.upper()[-12:].replace('-', '')}"
        elif t == "aws:ec2/eip:Eip":
            state["publicIp"] = "198.51.100.20"
        elif t == "tls:index/privateKey:PrivateKey":
            state["privateKeyOpenssh"] = (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nMOCK-GENERATED-KEY\n-----END OPENSSH PRIVATE KEY-----\n"
            )
            state["publicKeyOpenssh"] = (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockGeneratedKeyForTestsOnly0000000000000 mock\n"
            )
        elif t == "random:index/randomPassword:RandomPassword":
            state["result"] = "mock-generated-password-0000"
            state["bcryptHash"] = "$2a$10$mockmockmockmockmockmuK7Yh1bX9oLq0m2X6Hc5k3nP4wQe0Zt2"
        elif t == "random:index/randomBytes:RandomBytes":
            # 32 bytes whose base64 carries a marker tests look for in plain text.
            state["base64"] = FAKE_ENCRYPTION_KEY_BASE64
            state["hex"] = base64.b64decode(FAKE_ENCRYPTION_KEY_BASE64).hex()
        elif t == "command:local:Command" and name.endswith("-cluster-ca"):
            # What `cat /etc/kubernetes/pki/ca.crt` prints on a kubeadm control plane (public).
            state["stdout"] = FAKE_CLUSTER_CA_PEM
        elif t == "command:local:Command" and name.endswith("-service-account-keys"):
            # What `cat /etc/kubernetes/pki/sa.pub` prints on a kubeadm control plane.
            state["stdout"] = FAKE_SERVICE_ACCOUNT_PUBLIC_KEY
        elif t == "command:local:Command" and name.endswith("-admin-mtime"):
            # What `date -u +%Y-%m-%dT%H:%M:%SZ` prints when the admin password is first set.
            state["stdout"] = "2026-11-30T12:00:00Z\n"
        elif t == "aws:ec2/keyPair:KeyPair":
            state.setdefault("keyName", name)
        elif t == "aws:s3/bucket:Bucket":
            # Auto-naming from bucket_prefix, as AWS would (a fixed suffix instead of a random one).
            state.setdefault("bucket", f"{state.get('bucketPrefix', name + '-')}20261130mock")
        if t.startswith("aws:"):
            # Auto-naming: the engine would add a random suffix; the logical name is enough here.
            state.setdefault("name", name)
            state.setdefault("arn", f"arn:aws:mock:ap-northeast-2:123456789012:{name}")
        return f"{name}-id", state

    # A bare dict is the SDK's documented no-failures form; its (dict, None) tuple form crashes.
    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c", "ap-northeast-2d"]
            return {"names": zones, "zoneIds": [f"apne2-az{i}" for i in range(1, 5)], "id": "ap-northeast-2"}
        if token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0mock0ubuntu2204", "imageId": "ami-0mock0ubuntu2204", "name": "mock"}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/mock", "userId": "mock"}
        if token == "aws:route53/getZone:getZone":
            zone = str(args.args.get("name", "")).rstrip(".")
            return {"zoneId": "Z0MOCKZONE", "name": zone, "id": "Z0MOCKZONE", "privateZone": False}
        if token == "command:local:run":
            # The per-run admin certificate (components/bootstrap.py, admin_credential_command).
            return {"stdout": FAKE_MINTED_KUBECONFIG, "stderr": "", "command": args.args.get("command", "")}
        if token == "aws:index/getRegion:getRegion":
            return {"name": "ap-northeast-2", "region": "ap-northeast-2", "id": "ap-northeast-2"}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, remembering each request the way the engine would see it."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.outputs: dict[str, tuple[dict[str, Any], frozenset[str]]] = {}
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            inputs, secret_paths = _struct_to_plain(request.object)
            reg = Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                custom=bool(request.custom),
                provider=request.provider,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                inputs=inputs,
                secret_paths=secret_paths,
                additional_secret_outputs=list(request.additionalSecretOutputs),
                delete_before_replace=bool(request.deleteBeforeReplace),
                protect=bool(request.protect),
                ignore_changes=list(request.ignoreChanges),
                retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                aliases=[json_format.MessageToDict(a) for a in request.aliases],
            )
            with self._lock:
                self.registrations.append(reg)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        with self._lock:
            self.outputs[request.urn] = _struct_to_plain(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def Invoke(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        args, _ = _struct_to_plain(request.args)
        with self._lock:
            self.invokes.append((request.tok, args))
        return super().Invoke(request)  # type: ignore[no-untyped-call]


def stack_config(stack: str, project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The stack's plain config as the CLI merges it: Pulumi.yaml's values for other namespaces
    (e.g. `pulumi:disable-default-providers`), then Pulumi.<stack>.yaml. Project keys' defaults
    are applied by components/settings/keys.py, as they are under the CLI.

    Raises CliConfigError where the CLI itself would stop before running the program (a declared
    key without a value, a secret in plain text, a type mismatch: tools/cli_config.py)."""
    path = project_root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}; create it with `pulumi stack init {stack}`")
    # Read as the CLI's go-yaml reads them: `yes`/`on` stay strings, so they fail here as they would there.
    project = load_yaml((project_root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    merged = {k: d["value"] for k, d in (project.get("config") or {}).items() if ":" in k and "value" in d}
    doc = load_yaml(path.read_text(encoding="utf-8")) or {}
    # The program reports unknown keys itself, with a did-you-mean; only the CLI's own rules here.
    refused = check_project(project) or check_stack(project, stack, doc, program_rule=False)
    if refused:
        raise CliConfigError(refused)
    merged.update(doc.get("config") or {})
    return merged


def _config_for_runtime(values: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Encode config as the engine hands it to a program: strings, JSON for structured values."""
    out: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict) and "secure" in value:
            # Ciphertext from `pulumi config set --secret`; offline runs need it given in `secrets`.
            continue
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = json.dumps(value)
    for key, value in secrets.items():
        out[key] = value
        secret_keys.append(key)
    return out, secret_keys


def run_program(
    stack: str = "dev",
    overrides: Mapping[str, Any] | None = None,
    *,
    secrets: Mapping[str, str] | None = None,
    project: str = "gitops-cluster",
    program: Callable[[], None] | None = None,
    preview: bool = True,
    mocks: pulumi_mocks.Mocks | None = None,
) -> Recording:
    """Run the program (or `program`) under mocks with the stack's config and record it.

    `mocks` replaces the FakeCloud answers (e.g. a bare test double). `preview=False` runs the
    update step of `pulumi up` instead of a preview.
    `overrides` maps config keys (with or without the `gitops-cluster:` prefix) to values; a
    value of None removes the key. Exceptions the program raises (e.g. ConfigError) propagate
    after the runtime has settled; anything registered before them is still recorded and
    available as `exc.recording`.
    """
    values = stack_config(stack)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if value is None:
            values.pop(full, None)
        else:
            values[full] = value
    full_secrets = {(k if ":" in k else f"{project}:{k}"): v for k, v in (secrets or {}).items()}
    config, secret_keys = _config_for_runtime(values, full_secrets)

    monitor = RecordingMonitor(mocks or FakeCloud())

    def body() -> None:
        features = set(monitor.GetDeploymentInfo(None).supportedFeatures)  # type: ignore[no-untyped-call]
        pulumi_settings.configure(
            pulumi_mocks.MockSettings(  # type: ignore[no-untyped-call]
                monitor=monitor,
                monitor_features=features,
                engine=pulumi_mocks.MockEngine(None),
                project=project,
                stack=stack,
                dry_run=preview,
                organization="organization",
                callbacks=None,
            )
        )
        set_all_config(config, secret_keys)

        def run_main() -> None:
            runpy.run_path(str(PROGRAM), run_name="__main__")

        run = program or run_main
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(run_in_stack(run))
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    error: BaseException | None = None
    with _RUN_LOCK:
        try:
            contextvars.Context().run(body)
        except BaseException as exc:  # noqa: BLE001 - re-raised below with the recording attached
            error = exc
        finally:
            pulumi_settings.SETTINGS.rpc_manager.clear()
            pulumi_settings.SETTINGS.outputs.clear()

    for reg in monitor.registrations:
        if reg.urn in monitor.outputs:
            reg.outputs, reg.output_secret_paths = monitor.outputs[reg.urn]
    stack_urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
    stack_outputs, stack_secrets = monitor.outputs.get(stack_urn, ({}, frozenset()))
    recording = Recording(monitor.registrations, stack_outputs, stack_secrets, monitor.invokes)
    if error is not None:
        error.recording = recording  # type: ignore[attr-defined]
        raise error
    return recording


__all__ = ["CliConfigError", "FakeCloud", "Recording", "Registration", "pulumi", "run_program", "stack_config"]
