#!/usr/bin/python3
"""Stand-ins for the tools a simulated node cannot really run (tests/support/simulator).

One program, installed under each tool's name inside a simulated host (the tool is chosen by the
name it is called as): kubeadm, kubelet, kubectl and containerd arrive as .deb packages from the
simulator's apt repository; systemctl, sysctl, modprobe, swapon, swapoff, hostnamectl and
cloud-init are part of the host image. It runs under the host's /usr/bin/python3 with the
standard library and PyYAML only.

State:
- per host, under /var/lib/gitops-sim (units, sysctls, swap, hostname) and the host's own files
  (/etc/kubernetes, /var/lib/kubelet, /sys/module is a per-host tmpfs);
- per cluster, under /var/lib/gitops-sim-cluster/cluster.json, a directory every host of one
  simulated cluster shares: it plays the API server and etcd (nodes, objects, bootstrap tokens,
  uploaded certificate key, every join and every mutating kubectl call, in order, and the kubelets'
  serving CertificateSigningRequests: see the kubelet section).

Conditions of the simulated world (not test expectations) are files in /etc/gitops-sim/faults:
`init-timeout` (kubeadm init writes admin.conf, then the API never becomes healthy), `join-fails`
(kubeadm join writes kubelet.conf, then the TLS bootstrap times out). Each is consumed when it
fires: the next attempt behaves. Output formats follow the real tools; the recorded real outputs
under tests/fixtures/standins/ are what tests/simulator/test_node_simulator_standins.py compares them to.
"""

from __future__ import annotations

import calendar
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("GITOPS_SIM_ROOT", "/"))
HOST_STATE = ROOT / "var/lib/gitops-sim"
CLUSTER_DIR = ROOT / "var/lib/gitops-sim-cluster"
FAULTS = ROOT / "etc/gitops-sim/faults"
SHARE = ROOT / "usr/share/gitops-sim"
KUBERNETES = ROOT / "etc/kubernetes"
KUBELET_DIR = ROOT / "var/lib/kubelet"
REAL_KUBECTL = ROOT / "usr/lib/gitops-sim/kubectl-real"

STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher"
TOKEN_RE = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
HASH_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
KEY_RE = re.compile(r"^[a-f0-9]{64}$")


# --- small helpers ------------------------------------------------------------------------------


def _out(text: str) -> None:
    sys.stdout.write(text)


def _err(text: str) -> None:
    sys.stderr.write(text)


def _load_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def _save_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def _fault(name: str) -> bool:
    """True once when the world has this fault set (the file is consumed)."""
    path = FAULTS / name
    if path.exists():
        path.unlink()
        return True
    return False


@contextlib.contextmanager
def cluster() -> Iterator[dict[str, Any]]:
    """The shared cluster state, locked for one read-modify-write."""
    CLUSTER_DIR.mkdir(parents=True, exist_ok=True)
    with (CLUSTER_DIR / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = CLUSTER_DIR / "cluster.json"
        state = _load_json(path, {})
        state.setdefault("apiServerUp", False)
        state.setdefault("nodes", {})
        state.setdefault("objects", {})
        state.setdefault("tokens", [])
        state.setdefault("joins", [])
        state.setdefault("kubectl", [])
        yield state
        _save_json(path, state)


def _yaml_docs(text: str) -> list[dict[str, Any]]:
    import yaml

    # libyaml's loader where the host has it (python3-yaml does): Calico's operator-crds.yaml is 3 MB.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(text, Loader=loader) if isinstance(d, dict)]


def _flag(args: list[str], name: str) -> str | None:
    """The value of --name=value or --name value (and remove it from args)."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
            del args[i : i + 2]
            return value
        if a.startswith(name + "="):
            del args[i]
            return a.split("=", 1)[1]
    return None


def _switch(args: list[str], *names: str) -> bool:
    found = False
    for name in names:
        while name in args:
            args.remove(name)
            found = True
    return found


# --- kubeadm --------------------------------------------------------------------------------------


def _kubeadm_fail(message: str) -> int:
    _err(f"{message}\n{STACK_HINT}\n")
    return 1


def _read_kubeadm_config(path: str) -> dict[str, dict[str, Any]]:
    docs = _yaml_docs((ROOT / path.lstrip("/")).read_text())
    return {d.get("kind", ""): d for d in docs}


def _validate(path: str) -> list[str]:
    """Field errors in kubeadm's format ("<path>: Invalid value: ...")."""
    try:
        docs = _read_kubeadm_config(path)
    except FileNotFoundError:
        return [f"unable to read config from {path!r} : open {path}: no such file or directory"]
    errors: list[str] = []
    for kind, doc in docs.items():
        api = doc.get("apiVersion", "")
        if (
            kind in ("InitConfiguration", "ClusterConfiguration", "JoinConfiguration")
            and api != "kubeadm.k8s.io/v1beta4"
        ):
            errors.append(f'no kind "{kind}" is registered for version "{api}"')
    join = docs.get("JoinConfiguration")
    if join is not None:
        token = (join.get("discovery") or {}).get("bootstrapToken") or {}
        value = str(token.get("token") or "")
        if not TOKEN_RE.match(value):
            errors.append(f'discovery.bootstrapToken.token: Invalid value: "{value}": the bootstrap token is invalid')
        if not token.get("apiServerEndpoint"):
            errors.append("discovery.bootstrapToken.apiServerEndpoint: Required value: APIServerEndpoint is not set")
        hashes = token.get("caCertHashes") or []
        if not hashes:
            errors.append(
                'discovery.bootstrapToken: Invalid value: "": using token-based discovery without caCertHashes can '
                "be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass "
                "--discovery-token-unsafe-skip-ca-verification flag to continue"
            )
        for h in hashes:
            if not HASH_RE.match(str(h)):
                errors.append(f'discovery.bootstrapToken.caCertHashes: Invalid value: "{h}": invalid hash "{h}"')
        cp = join.get("controlPlane")
        if cp is not None:
            key = str(cp.get("certificateKey") or "")
            if not KEY_RE.match(key):
                errors.append(
                    f'controlPlane.certificateKey: Invalid value: "{key}": certificate key must be a 64-character '
                    "hex string"
                )
    init = docs.get("ClusterConfiguration")
    if init is not None:
        for key in ("podSubnet", "serviceSubnet"):
            cidr = str((init.get("networking") or {}).get(key) or "")
            if cidr and not re.match(r"^\d+\.\d+\.\d+\.\d+/\d+$", cidr):
                errors.append(f'networking.{key}: Invalid value: "{cidr}": couldn\'t parse subnet')
    return errors


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


# kubeadm's certs phase, service-account part (kubernetes/kubernetes v1.36.4,
# cmd/kubeadm/app/phases/certs/certs.go CreateServiceAccountKeyAndPublicKeyFiles; pkiutil in
# cmd/kubeadm/app/util/pkiutil/pki_helpers.go): an existing sa.key is kept ("Using the existing"),
# else pkiutil.NewPrivateKey makes an RSA 2048 key (the default encryptionAlgorithm RSA-2048),
# pkiutil.WriteKey writes it as PEM "RSA PRIVATE KEY" (keyutil.MarshalPrivateKeyToPEM: PKCS #1) and
# pkiutil.WritePublicKey the public half as PEM "PUBLIC KEY" (x509.MarshalPKIXPublicKey), both
# through keyutil.WriteKey: mode 0600. Made here by the host's openssl (genrsa writes PKCS #1 with
# -traditional; `rsa -pubout` writes PKIX), since the hosts have no Python crypto library.
SA_KEY = "pki/sa.key"
SA_PUB = "pki/sa.pub"


def _service_account_keys() -> str:
    """Write sa.key/sa.pub as kubeadm init does; the line kubeadm prints."""
    import subprocess

    key, pub = KUBERNETES / SA_KEY, KUBERNETES / SA_PUB
    if key.exists():
        return '[certs] Using the existing "sa" key\n'
    key.parent.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True, text=True, check=True)
    _write(key, made.stdout)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout"], capture_output=True, text=True, check=True)
    _write(pub, public.stdout)
    return '[certs] Generating "sa" key and public key\n'


def _kubeconfig(server: str, user: str) -> str:
    ca = hashlib.sha256(server.encode()).hexdigest()
    return (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {ca}\n    server: {server}\n  name: kubernetes\n"
        f"contexts:\n- context:\n    cluster: kubernetes\n    user: {user}\n  name: {user}@kubernetes\n"
        f"current-context: {user}@kubernetes\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n"
        f"  user:\n    client-certificate-data: {secrets.token_hex(16)}\n    client-key-data: {secrets.token_hex(16)}\n"
    )


def _node_object(name: str, labels: dict[str, str], taints: list[dict[str, str]], address: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **labels}},
        "spec": {"taints": taints} if taints else {},
        "status": {"addresses": [{"type": "InternalIP", "address": address}]},
    }


def _api_down_message(state: dict[str, Any]) -> str:
    endpoint = state.get("endpoint") or "localhost:6443"
    return f"The connection to the server {endpoint} was refused - did you specify the right host or port?"


def kubeadm_init(args: list[str]) -> int:
    config = _flag(args, "--config")
    if config is None:
        return _kubeadm_fail("this simulation runs kubeadm init only with --config")
    docs = _read_kubeadm_config(config)
    init, cluster_cfg = docs.get("InitConfiguration", {}), docs.get("ClusterConfiguration", {})
    version = cluster_cfg.get("kubernetesVersion", "")
    _out(f"[init] Using Kubernetes version: {version}\n[preflight] Running pre-flight checks\n")
    existing = [
        p
        for p in ("manifests/kube-apiserver.yaml", "manifests/kube-controller-manager.yaml", "admin.conf")
        if (KUBERNETES / p).exists()
    ]
    if existing:
        lines = "".join(
            f"\t[ERROR FileAvailable--etc-kubernetes-{p.replace('/', '-')}]: /etc/kubernetes/{p} already exists\n"
            for p in existing
        )
        return _kubeadm_fail(
            "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
            + lines
            + "\t[ERROR Port-6443]: Port 6443 is in use\n"
            "[preflight] If you know what you are doing, you can make a check non-fatal with "
            "`--ignore-preflight-errors=...`"
        )
    endpoint = str(cluster_cfg.get("controlPlaneEndpoint") or "")
    name = str((init.get("nodeRegistration") or {}).get("name") or "")
    address = str((init.get("localAPIEndpoint") or {}).get("advertiseAddress") or "")
    _write_static_pods(version)
    _write(KUBERNETES / "pki/ca.crt", f"simulated CA of {endpoint}\n", 0o644)
    sa_line = _service_account_keys()
    _write(KUBERNETES / "admin.conf", _kubeconfig(f"https://{endpoint}", "kubernetes-admin"))
    _write(KUBERNETES / "super-admin.conf", _kubeconfig(f"https://{endpoint}", "kubernetes-super-admin"))
    _write(KUBERNETES / "kubelet.conf", _kubeconfig(f"https://{endpoint}", f"system:node:{name}"))
    _kubelet_start_files(docs.get("KubeletConfiguration", {}), init.get("nodeRegistration") or {})
    _kubelet_started()
    _out(
        '[certs] Using certificateDir folder "/etc/kubernetes/pki"\n'
        + sa_line
        + '[kubeconfig] Writing "admin.conf" kubeconfig file\n'
        "[kubelet-start] Starting the kubelet\n"
        "[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory "
        '"/etc/kubernetes/manifests"\n'
        "[api-check] Waiting for a healthy API server. This can take up to 4m0s\n"
    )
    slow = FAULTS / "slow-init"
    if slow.exists():
        time.sleep(float(slow.read_text() or "1"))
    if _fault("init-timeout"):
        return _kubeadm_fail(
            "[api-check] The API server is not healthy after 4m0.000412s\n"
            "error execution phase wait-control-plane: could not initialize a Kubernetes cluster"
        )
    with cluster() as state:
        state.update(
            apiServerUp=True,
            endpoint=endpoint,
            caCertHash="sha256:" + secrets.token_hex(32),
            kubeadmConfig=(ROOT / config.lstrip("/")).read_text(),
            initNode=name,
        )
        # kubeadm's upload-config phase, near the end of init.
        for config_map, data in (
            ("kubeadm-config", cluster_cfg),
            ("kubelet-config", docs.get("KubeletConfiguration", {})),
        ):
            state["objects"][_key("", "ConfigMap", "kube-system", config_map)] = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": config_map, "namespace": "kube-system"},
                "data": {"ClusterConfiguration" if config_map == "kubeadm-config" else "kubelet": json.dumps(data)},
            }
        state["nodes"][name] = _node_object(
            name,
            {
                "node-role.kubernetes.io/control-plane": "",
                "node.kubernetes.io/exclude-from-external-load-balancers": "",
            },
            [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
            address,
        )
        kubelet_registered(state, name)
    _out(
        "[api-check] The API server is healthy after 10.501680087s\n"
        '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" '
        "Namespace\n"
        f"[mark-control-plane] Marking the node {name} as control-plane by adding the labels: "
        "[node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]\n"
        "[bootstrap-token] Using token: <value withheld>\n"
        "[addons] Applied essential addon: CoreDNS\n[addons] Applied essential addon: kube-proxy\n\n"
        "Your Kubernetes control-plane has initialized successfully!\n"
    )
    return 0


def _require_api(state: dict[str, Any]) -> str | None:
    if not (KUBERNETES / "admin.conf").exists():
        return "failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory"
    if not state["apiServerUp"]:
        return _api_down_message(state)
    return None


def kubeadm_token(args: list[str]) -> int:
    if not args or args[0] != "create":
        return _kubeadm_fail(f"this simulation supports `kubeadm token create` only, not {args}")
    ttl = _flag(args, "--ttl") or "24h0m0s"
    with cluster() as state:
        problem = _require_api(state)
        if problem:
            return _kubeadm_fail(problem)
        token = f"{secrets.token_hex(3)}.{secrets.token_hex(8)}"
        state["tokens"].append({"token": token, "ttl": ttl})
        endpoint, ca_hash = state["endpoint"], state["caCertHash"]
    if "--print-join-command" in args:
        # kubeadm renders its join template and strips the line continuations: one line, with
        # the space that followed the last hash.
        _out(f"kubeadm join {endpoint} --token {token} --discovery-token-ca-cert-hash {ca_hash} \n")
    else:
        _out(token + "\n")
    return 0


def kubeadm_upload_certs(args: list[str]) -> int:
    if "--upload-certs" not in args:
        return _kubeadm_fail("[upload-certs] Skipping phase. Please see --upload-certs")
    with cluster() as state:
        problem = _require_api(state)
        if problem:
            return _kubeadm_fail(problem)
        key = secrets.token_hex(32)
        state["certificateKey"] = key
        state["uploadedKeys"] = [*state.get("uploadedKeys", []), key]
        # The Secret kubeadm-certs holds the shared keys, the service-account pair among them
        # (cmd/kubeadm/app/phases/copycerts: certsToTransfer lists sa.key and sa.pub).
        state["kubeadmCerts"] = {
            name: (KUBERNETES / name).read_text() for name in (SA_KEY, SA_PUB) if (KUBERNETES / name).exists()
        }
    _out(
        '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n'
        f"[upload-certs] Using certificate key:\n{key}\n"
    )
    return 0


def kubeadm_join(args: list[str]) -> int:
    config = _flag(args, "--config")
    if config is None:
        return _kubeadm_fail("this simulation runs kubeadm join only with --config")
    errors = _validate(config)
    if errors:
        return _kubeadm_fail("\n".join(errors))
    join = _read_kubeadm_config(config)["JoinConfiguration"]
    discovery = join["discovery"]["bootstrapToken"]
    registration = join.get("nodeRegistration") or {}
    name = str(registration.get("name") or "")
    cp = join.get("controlPlane")
    _out("[preflight] Running pre-flight checks\n")
    if (KUBERNETES / "kubelet.conf").exists():
        return _kubeadm_fail(
            "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
            "\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists\n"
            "[preflight] If you know what you are doing, you can make a check non-fatal with "
            "`--ignore-preflight-errors=...`"
        )
    with cluster() as state:
        endpoint = discovery["apiServerEndpoint"]
        if not state["apiServerUp"] or endpoint != state.get("endpoint"):
            return _kubeadm_fail(
                "error execution phase preflight: couldn't validate the identity of the API Server: "
                f'Get "https://{endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": '
                "dial tcp: connect: connection refused"
            )
        token = discovery["token"]
        if token not in [t["token"] for t in state["tokens"]]:
            return _kubeadm_fail(
                "error execution phase preflight: couldn't validate the identity of the API Server: could not "
                f'find a JWS signature in the cluster-info ConfigMap for token ID "{token.split(".")[0]}"'
            )
        if state["caCertHash"] not in discovery["caCertHashes"]:
            return _kubeadm_fail(
                "error execution phase preflight: couldn't validate the identity of the API Server: cluster CA "
                f'found in cluster-info ConfigMap is invalid: none of the public keys "{state["caCertHash"]}" '
                "are pinned"
            )
        if cp is not None and cp.get("certificateKey") != state.get("certificateKey"):
            return _kubeadm_fail(
                "error execution phase control-plane-prepare/download-certs: error downloading certs: error "
                "decoding certificate key: cipher: message authentication failed"
            )
        _write(KUBERNETES / "bootstrap-kubelet.conf", _kubeconfig(f"https://{endpoint}", "tls-bootstrap-token-user"))
        _write(KUBERNETES / "kubelet.conf", _kubeconfig(f"https://{endpoint}", f"system:node:{name}"))
        kubelet_cm = state["objects"].get(_key("", "ConfigMap", "kube-system", "kubelet-config")) or {}
        _kubelet_start_files(json.loads((kubelet_cm.get("data") or {}).get("kubelet") or "{}"), registration)
        if _fault("join-fails"):
            state["failedJoins"] = [*state.get("failedJoins", []), name]
            return _kubeadm_fail(
                "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n"
                "error execution phase kubelet-start: timed out waiting for the condition"
            )
        address = str(((cp or {}).get("localAPIEndpoint") or {}).get("advertiseAddress") or "")
        labels: dict[str, str] = {}
        taints = [
            {k: str(v) for k, v in t.items() if k in ("key", "value", "effect")}
            for t in (registration.get("taints") or [])
        ]
        if cp is not None:
            labels = {
                "node-role.kubernetes.io/control-plane": "",
                "node.kubernetes.io/exclude-from-external-load-balancers": "",
            }
            taints = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
            _write_static_pods(_cluster_version(state))
            _write(KUBERNETES / "admin.conf", _kubeconfig(f"https://{endpoint}", "kubernetes-admin"))
            # download-certs: every control plane signs and verifies with the same service-account key.
            for cert_name, text in (state.get("kubeadmCerts") or {}).items():
                _write(KUBERNETES / cert_name, text)
        state["joins"].append(
            {
                "node": name,
                "token": token,
                "caCertHashes": list(discovery["caCertHashes"]),
                "controlPlane": cp is not None,
                "certificateKey": (cp or {}).get("certificateKey"),
                "taints": taints,
            }
        )
        state["nodes"][name] = _node_object(name, labels, taints, address)
        kubelet_registered(state, name)
    _kubelet_started()
    _out("[kubelet-start] Starting the kubelet\n\nThis node has joined the cluster:\n")
    return 0


def kubeadm_reset(args: list[str]) -> int:
    if not _switch(args, "-f", "--force"):
        return _kubeadm_fail("this simulation runs kubeadm reset only with --force")
    for path in ("admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf"):
        (KUBERNETES / path).unlink(missing_ok=True)
    for directory in (KUBERNETES / "manifests", KUBELET_DIR):
        if directory.is_dir():
            for child in directory.iterdir():
                if child.is_file():
                    child.unlink()
    _out("[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet]\n")
    return 0


# --- kubeadm upgrade -----------------------------------------------------------------------------
#
# What kubeadm's upgrade commands check and print (cmd/kubeadm/app/cmd/upgrade and
# phases/upgrade/policy.go in kubernetes/kubernetes; the guide "Upgrading kubeadm clusters"): the
# cluster's version is the kubeadm-config ConfigMap's kubernetesVersion; `apply` refuses a target
# above kubeadm's own version, more than one minor above the cluster, or at/below the cluster
# (a downgrade), and asks for confirmation unless --yes; `node` upgrades a control-plane
# instance's static pods to the cluster's version, or a worker's kubelet configuration. Every
# upgrade call, drain, uncordon and kubelet restart is appended to the cluster's `events`, in order.

STATIC_PODS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def _write_static_pods(version: str) -> None:
    for component in STATIC_PODS:
        image = "registry.k8s.io/etcd" if component == "etcd" else f"registry.k8s.io/{component}:{version}"
        _write(
            KUBERNETES / "manifests" / f"{component}.yaml", f"# static pod {component} {version}\n# image: {image}\n"
        )


def _kubeadm_config_map(cluster_cfg: dict[str, Any]) -> dict[str, Any]:
    """The kubeadm-config ConfigMap as init's upload-config phase writes it (kubeadm_init)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
        "data": {"ClusterConfiguration": json.dumps(cluster_cfg)},
    }


def _cluster_configuration(state: dict[str, Any]) -> dict[str, Any]:
    import yaml

    cm = state["objects"].get(_key("", "ConfigMap", "kube-system", "kubeadm-config")) or {}
    return dict(yaml.safe_load((cm.get("data") or {}).get("ClusterConfiguration") or "{}") or {})


def _cluster_version(state: dict[str, Any]) -> str:
    return str(_cluster_configuration(state).get("kubernetesVersion") or "")


def _semver(version: str) -> tuple[int, int, int]:
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)$", version)
    if not m:
        raise ValueError(version)
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _this_node() -> str:
    """The node name this host's kubelet registered as (kubeadm wrote it into kubelet.conf)."""
    conf = KUBERNETES / "kubelet.conf"
    m = re.search(r"system:node:(\S+)", conf.read_text()) if conf.exists() else None
    return m.group(1) if m else ""


def _kubelet_started() -> None:
    """kubeadm's kubelet-start phase (init, join) leaves the kubelet unit running."""
    path = HOST_STATE / "systemd.json"
    units = _load_json(path, {})
    unit = units.setdefault("kubelet.service", {"enabled": False, "active": False, "restarts": 0})
    unit["active"] = True
    _save_json(path, units)


def _event(state: dict[str, Any], call: str, node: str, version: str = "") -> None:
    state.setdefault("events", []).append({"call": call, "node": node, "version": version})


def _upgrade_policy(target: str, cluster_version: str) -> str | None:
    """kubeadm's version policy for an upgrade to `target`: the error, or None."""
    kubeadm_version = "v" + _package_version("kubeadm")
    t, c, k = _semver(target), _semver(cluster_version), _semver(kubeadm_version)
    if t > k:
        return (
            f'Specified version to upgrade to "{target}" is higher than the kubeadm version "{kubeadm_version}". '
            "Upgrade kubeadm first using the tool you used to install kubeadm"
        )
    if t <= c:
        return (
            f'Specified version to upgrade to "{target}" is equal to or lower than the cluster version '
            f'"{cluster_version}". Downgrades are not supported yet'
        )
    if t[0] != c[0] or t[1] - c[1] > 1:
        return (
            f'Specified version to upgrade to "{target}" is too high; '
            "kubeadm can upgrade only 1 minor version at a time"
        )
    return None


def _upgrade_preamble(state: dict[str, Any]) -> None:
    _out(
        "[preflight] Running pre-flight checks.\n"
        '[upgrade/config] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n'
        "[upgrade/config] Use 'kubeadm init phase upload-config --config your-config-file' to re-upload it.\n"
        "[upgrade] Running cluster health checks\n"
    )


def kubeadm_upgrade(args: list[str]) -> int:
    sub, rest = (args[0], args[1:]) if args else ("", [])
    if sub not in ("plan", "apply", "node"):
        return _kubeadm_fail(f"this simulation implements `kubeadm upgrade plan|apply|node`, not {sub!r}")
    if sub in ("plan", "apply") and not (KUBERNETES / "admin.conf").exists():
        return _kubeadm_fail(
            "[upgrade/init config] FATAL: failed to get config map: invalid configuration: "
            "no configuration has been provided"
        )
    with cluster() as state:
        if not state["apiServerUp"]:
            return _kubeadm_fail(_api_down_message(state))
        current = _cluster_version(state)
        if not current:
            return _kubeadm_fail(
                'the ConfigMap "kubeadm-config" in the "kube-system" namespace was not found; '
                "this is not a kubeadm cluster"
            )
        if sub == "node":
            return _kubeadm_upgrade_node(state, current)
        yes = _switch(rest, "--yes", "-y", "--force", "-f")
        target = rest[0] if rest else current
        if sub == "plan":
            _upgrade_preamble(state)
            kubeadm_version = "v" + _package_version("kubeadm")
            _out(
                "[upgrade] Fetching available versions to upgrade to\n"
                f"[upgrade/versions] Cluster version: {current}\n"
                f"[upgrade/versions] kubeadm version: {kubeadm_version}\n"
            )
            error = _upgrade_policy(target, current) if target != current else None
            if error:
                return _kubeadm_fail(f"[upgrade/version] FATAL: the version policy was not satisfied:\n\t- {error}")
            node = _this_node()
            _out(
                "\nUpgrade to the latest stable version:\n\nCOMPONENT                 NODE      CURRENT   TARGET\n"
                + "".join(f"{c:<25} {node:<9} {current:<9} {target}\n" for c in STATIC_PODS[1:])
                + "\nYou can now apply the upgrade by executing the following command:\n\n"
                + f"\tkubeadm upgrade apply {target}\n"
            )
            return 0
        _upgrade_preamble(state)
        try:
            error = _upgrade_policy(target, current)
        except ValueError:
            return _kubeadm_fail(f'unable to parse version "{target}"')
        if error:
            return _kubeadm_fail(f"[upgrade/version] FATAL: the version policy was not satisfied:\n\t- {error}")
        if not yes:
            _out("[upgrade] Are you sure you want to proceed? [y/N]: ")
            return _kubeadm_fail("won't proceed; the user didn't answer (Y|y) in order to continue")
        node = _this_node()
        config = _cluster_configuration(state)
        config["kubernetesVersion"] = target
        state["objects"][_key("", "ConfigMap", "kube-system", "kubeadm-config")] = _kubeadm_config_map(config)
        _write_static_pods(target)
        _event(state, "upgrade-apply", node, target)
    _out(
        f'[upgrade/staticpods] Moving new manifest to "/etc/kubernetes/manifests/kube-apiserver.yaml"\n'
        "[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!\n"
        "[addons] Applied essential addon: CoreDNS\n[addons] Applied essential addon: kube-proxy\n\n"
        f'[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "{target}".\n\n'
        "[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.\n"
    )
    return 0


def _kubeadm_upgrade_node(state: dict[str, Any], current: str) -> int:
    node = _this_node()
    if not node:
        return _kubeadm_fail("open /etc/kubernetes/kubelet.conf: no such file or directory")
    kubeadm_version = "v" + _package_version("kubeadm")
    if _semver(kubeadm_version)[:2] < _semver(current)[:2]:
        return _kubeadm_fail(
            f'the cluster runs "{current}" but this kubeadm is "{kubeadm_version}": upgrade kubeadm on this node first'
        )
    _out('[upgrade] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n')
    if (KUBERNETES / "manifests" / "kube-apiserver.yaml").exists():
        _write_static_pods(current)
        _out(
            "[upgrade] Upgrading your Static Pod-hosted control plane instance to version "
            f'"{current}"...\n[upgrade] The control plane instance for this node was successfully upgraded!\n'
        )
    else:
        _out("[upgrade] Skipping phase. Not a control plane node.\n")
    _event(state, "upgrade-node", node, current)
    _out(
        "[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!\n"
        "[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.\n"
    )
    return 0


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def kubeadm_kubeconfig_user(args: list[str]) -> int:
    """`kubeadm kubeconfig user`: a kubeconfig for a new client certificate signed by the cluster CA.

    As cmd/kubeadm/app/cmd/kubeconfig.go (kubernetes tag v1.36.4): --client-name is required,
    --org may repeat, --validity-period is a Go duration (default 8760h, one year), the CA comes
    from the certificates directory. The stand-in cannot sign X.509 (standard library only): the
    "certificate" is a JSON record of the subject and notAfter, and every mint is kept in the
    cluster state (`minted`) for the tests to read.
    """
    name = _flag(args, "--client-name")
    orgs = []
    while (org := _flag(args, "--org")) is not None:
        orgs.append(org)
    validity = _flag(args, "--validity-period") or "8760h"
    if not name:
        return _kubeadm_fail('required flag(s) "client-name" not set')
    match = _DURATION.match(validity)
    if not match or not any(match.groups()):
        return _kubeadm_fail(f'invalid argument "{validity}" for "--validity-period" flag: time: invalid duration')
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if not (KUBERNETES / "pki/ca.crt").exists():
        return _kubeadm_fail(
            "failure loading ca certificate: couldn't load the certificate file /etc/kubernetes/pki/ca.crt: "
            "open /etc/kubernetes/pki/ca.crt: no such file or directory"
        )
    not_after = time.time() + hours * 3600 + minutes * 60 + seconds
    record = {"simulated": True, "CN": name, "O": orgs, "notAfter": int(not_after)}
    with cluster() as state:
        state.setdefault("minted", []).append(record)
    data = json.dumps(record).encode().hex()
    ca = (KUBERNETES / "pki/ca.crt").read_text().encode().hex()
    _out(
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {ca}\n    server: https://127.0.0.1:6443\n  name: kubernetes\n"
        f"contexts:\n- context:\n    cluster: kubernetes\n    user: {name}\n  name: {name}@kubernetes\n"
        f"current-context: {name}@kubernetes\nkind: Config\npreferences: {{}}\nusers:\n- name: {name}\n"
        f"  user:\n    client-certificate-data: {data}\n    client-key-data: {secrets.token_hex(16)}\n"
    )
    return 0


def kubeadm(args: list[str]) -> int:
    if args[:1] == ["upgrade"]:
        return kubeadm_upgrade(args[1:])
    if args[:2] == ["config", "validate"]:
        config = _flag(args, "--config") or ""
        errors = _validate(config)
        if errors:
            return _kubeadm_fail("\n".join(errors))
        _out("ok\n")
        return 0
    if args[:3] == ["config", "images", "pull"]:
        config = _flag(args, "--config") or ""
        version = _read_kubeadm_config(config).get("ClusterConfiguration", {}).get("kubernetesVersion", "")
        for image in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
            _out(f"[config/images] Pulled registry.k8s.io/{image}:{version}\n")
        return 0
    if args[:3] == ["init", "phase", "upload-certs"]:
        return kubeadm_upload_certs(args[3:])
    if args[:1] == ["init"]:
        return kubeadm_init(args[1:])
    if args[:1] == ["join"]:
        return kubeadm_join(args[1:])
    if args[:1] == ["token"]:
        return kubeadm_token(args[1:])
    if args[:1] == ["reset"]:
        return kubeadm_reset(args[1:])
    if args[:2] == ["kubeconfig", "user"]:
        return kubeadm_kubeconfig_user(args[2:])
    if args[:1] == ["version"]:
        _out(f'kubeadm version: &version.Info{{GitVersion:"v{_package_version("kubeadm")}"}}\n')
        return 0
    return _kubeadm_fail(f"this simulation does not implement `kubeadm {' '.join(args)}`")


def _package_version(name: str) -> str:
    return (SHARE / f"{name}.version").read_text().strip().split("-")[0]


# --- kubectl --------------------------------------------------------------------------------------

# The API server's discovery: the built-in resources of Kubernetes 1.36 that the bootstrap and the
# upstream manifests it applies use, as `kubectl api-resources` lists them (name, short names,
# API group/version, namespaced, kind; kubernetes/kubernetes v1.36 pkg/controlplane and
# staging/src/k8s.io/api), plus one entry per CustomResourceDefinition that an applied document
# created (its spec.group, spec.names, spec.scope and served spec.versions), as the
# apiextensions-apiserver serves them. A kind neither lists is unknown, as on a real cluster.
# (group, versions, kind, plural, singular, short names, namespaced)
BUILTIN: tuple[tuple[str, tuple[str, ...], str, str, tuple[str, ...], bool], ...] = (
    ("", ("v1",), "Namespace", "namespaces", ("ns",), False),
    ("", ("v1",), "Node", "nodes", ("no",), False),
    ("", ("v1",), "ConfigMap", "configmaps", ("cm",), True),
    ("", ("v1",), "Secret", "secrets", (), True),
    ("", ("v1",), "Service", "services", ("svc",), True),
    ("", ("v1",), "ServiceAccount", "serviceaccounts", ("sa",), True),
    ("", ("v1",), "Pod", "pods", ("po",), True),
    ("", ("v1",), "PersistentVolume", "persistentvolumes", ("pv",), False),
    ("", ("v1",), "PersistentVolumeClaim", "persistentvolumeclaims", ("pvc",), True),
    ("", ("v1",), "ResourceQuota", "resourcequotas", ("quota",), True),
    ("", ("v1",), "LimitRange", "limitranges", ("limits",), True),
    ("apps", ("v1",), "Deployment", "deployments", ("deploy",), True),
    ("apps", ("v1",), "DaemonSet", "daemonsets", ("ds",), True),
    ("apps", ("v1",), "StatefulSet", "statefulsets", ("sts",), True),
    ("batch", ("v1",), "Job", "jobs", (), True),
    ("batch", ("v1",), "CronJob", "cronjobs", ("cj",), True),
    ("rbac.authorization.k8s.io", ("v1",), "ClusterRole", "clusterroles", (), False),
    ("rbac.authorization.k8s.io", ("v1",), "ClusterRoleBinding", "clusterrolebindings", (), False),
    ("rbac.authorization.k8s.io", ("v1",), "Role", "roles", (), True),
    ("rbac.authorization.k8s.io", ("v1",), "RoleBinding", "rolebindings", (), True),
    ("networking.k8s.io", ("v1",), "NetworkPolicy", "networkpolicies", ("netpol",), True),
    ("policy", ("v1",), "PodDisruptionBudget", "poddisruptionbudgets", ("pdb",), True),
    ("storage.k8s.io", ("v1",), "StorageClass", "storageclasses", ("sc",), False),
    ("storage.k8s.io", ("v1",), "CSIDriver", "csidrivers", (), False),
    ("scheduling.k8s.io", ("v1",), "PriorityClass", "priorityclasses", ("pc",), False),
    ("apiextensions.k8s.io", ("v1",), "CustomResourceDefinition", "customresourcedefinitions", ("crd", "crds"), False),
    ("apiregistration.k8s.io", ("v1",), "APIService", "apiservices", (), False),
    (
        "admissionregistration.k8s.io",
        ("v1",),
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        (),
        False,
    ),
    (
        "admissionregistration.k8s.io",
        ("v1",),
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        (),
        False,
    ),
    ("coordination.k8s.io", ("v1",), "Lease", "leases", (), True),
    ("certificates.k8s.io", ("v1",), "CertificateSigningRequest", "certificatesigningrequests", ("csr",), False),
)


# The namespaces an API server creates itself (kube-apiserver's system namespaces controller).
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Served:
    """One served resource: what `kubectl` resolves a name or a document's apiVersion/kind to."""

    def __init__(
        self, group: str, versions: tuple[str, ...], kind: str, plural: str, short: tuple[str, ...], namespaced: bool
    ) -> None:
        self.group, self.versions, self.kind, self.plural = group, versions, kind, plural
        self.short, self.namespaced = short, namespaced

    def names(self) -> list[str]:
        names = [self.plural, self.kind.lower(), *self.short]
        return names + [f"{n}.{self.group}" for n in names if self.group]


def _discovery(state: dict[str, Any]) -> list[Served]:
    """The resources the simulated API server serves now: the built-in ones and the created CRDs'."""
    served = [Served(*entry) for entry in BUILTIN]
    for key, crd in sorted(state["objects"].items()):
        if not key.startswith("apiextensions.k8s.io/CustomResourceDefinition/"):
            continue
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        versions = tuple(v["name"] for v in spec.get("versions") or [] if v.get("served", True))
        served.append(
            Served(
                str(spec.get("group", "")),
                versions,
                str(names.get("kind", "")),
                str(names.get("plural", "")),
                tuple(names.get("shortNames") or ()) + ((names["singular"],) if names.get("singular") else ()),
                spec.get("scope") == "Namespaced",
            )
        )
    return served


def _resolve(state: dict[str, Any], resource: str) -> tuple[str, str, bool]:
    """A resource name as typed (`installations.operator.tigera.io`, `crd`, `deploy`) -> (group, kind, namespaced)."""
    m = _served(state, resource)
    return m.group, m.kind, m.namespaced


def _served(state: dict[str, Any], resource: str) -> Served:
    for m in _discovery(state):
        if resource in m.names():
            return m
    raise RuntimeError(f'error: the server doesn\'t have a resource type "{resource.split(".")[0]}"')


def _not_found(state: dict[str, Any], resource: str, name: str) -> str:
    """The API server's NotFound, naming the resource as <plural>.<group>."""
    served = _served(state, resource)
    resource_name = served.plural + ("." + served.group if served.group else "")
    return f'Error from server (NotFound): {resource_name} "{name}" not found\n'


def _mapping(state: dict[str, Any], api_version: str, kind: str) -> Served | None:
    """The served resource of a document's apiVersion and kind, or None (no matches for kind)."""
    group, _, version = api_version.rpartition("/")
    for m in _discovery(state):
        if m.group == group and m.kind == kind and version in m.versions:
            return m
    return None


def _group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def _ref(group: str, kind: str, name: str) -> str:
    return f"{kind.lower()}{'.' + group if group else ''}/{name}"


def _key(group: str, kind: str, namespace: str | None, name: str) -> str:
    return f"{group}/{kind}/{namespace or ''}/{name}"


class JsonPath:
    """kubectl's JSONPath templates, the subset bootstrap uses: {range}/{end}, "literals", field
    paths with escaped dots, [*], [N] and [?(@.field=="value")] filters."""

    def __init__(self, template: str) -> None:
        self.tokens = re.findall(r"\{((?:[^{}\"]|\"(?:[^\"\\]|\\.)*\")*)\}|([^{}]+)", template)

    def render(self, data: Any) -> str:
        out: list[str] = []
        self._run(0, len(self.tokens), data, out)
        return "".join(out)

    def _run(self, start: int, stop: int, data: Any, out: list[str]) -> None:
        i = start
        while i < stop:
            expr, literal = self.tokens[i]
            if literal:
                out.append(literal)
            elif expr.startswith("range "):
                end = self._matching_end(i)
                for item in self.select(data, expr[len("range ") :].strip()):
                    self._run(i + 1, end, item, out)
                i = end
            elif expr.startswith('"'):
                out.append(json.loads(expr))
            else:
                out.append(" ".join(v if isinstance(v, str) else json.dumps(v) for v in self.select(data, expr)))
            i += 1

    def _matching_end(self, i: int) -> int:
        depth = 0
        for j in range(i + 1, len(self.tokens)):
            expr = self.tokens[j][0]
            if expr.startswith("range "):
                depth += 1
            elif expr == "end":
                if depth == 0:
                    return j
                depth -= 1
        raise ValueError("unclosed range")

    @staticmethod
    def select(data: Any, path: str) -> list[Any]:
        steps = re.findall(r"\.((?:[^.\[\\]|\\.)+)|\[([^\]]*)\]", path)
        values = [data]
        for name, index in steps:
            nxt: list[Any] = []
            for v in values:
                if name:
                    key = name.replace("\\.", ".")
                    if isinstance(v, dict) and key in v:
                        nxt.append(v[key])
                elif index == "*":
                    nxt.extend(v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else [])
                elif index.startswith("?("):
                    m = re.match(r'\?\(@\.([\w.]+)\s*==\s*["\']([^"\']*)["\']\)', index)
                    if m and isinstance(v, list):
                        nxt.extend(x for x in v if isinstance(x, dict) and str(x.get(m.group(1))) == m.group(2))
                elif isinstance(v, list) and index.lstrip("-").isdigit() and -len(v) <= int(index) < len(v):
                    nxt.append(v[int(index)])
            values = nxt
        return values


def _node_view(state: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A node as the API returns it: Ready once Calico runs (the operator's Installation exists)."""
    ready = _key("operator.tigera.io", "Installation", None, "default") in state["objects"]
    view: dict[str, Any] = json.loads(json.dumps(node))
    view.setdefault("status", {})["conditions"] = [
        {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
        }
    ]
    return view


def _objects_of(state: dict[str, Any], group: str, kind: str, namespace: str | None) -> list[dict[str, Any]]:
    if kind == "Node":
        return [_node_view(state, n) for _, n in sorted(state["nodes"].items())]
    found = []
    for key, obj in sorted(state["objects"].items()):
        g, k, ns, _ = key.split("/", 3)
        if g == group and k == kind and (namespace is None or ns == namespace):
            found.append(obj)
    return found


def _print_objects(objects: list[dict[str, Any]], output: str | None, group: str, kind: str, single: bool) -> None:
    if output == "name":
        for o in objects:
            _out(_ref(group, kind, o["metadata"]["name"]) + "\n")
    elif output == "json":
        if single:
            _out(json.dumps(objects[0], indent=4) + "\n")
        else:
            _out(
                json.dumps(
                    {"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}},
                    indent=4,
                )
                + "\n"
            )
    elif output and output.startswith("jsonpath="):
        data: Any = objects[0] if single else {"apiVersion": "v1", "items": objects, "kind": "List"}
        _out(JsonPath(output.split("=", 1)[1]).render(data))
    elif kind == "CertificateSigningRequest":
        _out(_csr_table(objects))
    else:
        _out("NAME\n" + "".join(o["metadata"]["name"] + "\n" for o in objects))


def _csr_table(objects: list[dict[str, Any]]) -> str:
    """`kubectl get csr`'s columns (kubernetes/kubernetes pkg/printers/internalversion printers.go,
    printCertificateSigningRequest): NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION."""
    rows = [("NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION")]
    for o in objects:
        spec, status = o["spec"], o.get("status") or {}
        created = calendar.timegm(time.strptime(o["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        age = max(0, int(time.time() - created))
        conditions = [c["type"] for c in status.get("conditions", []) if c.get("status", "True") == "True"]
        if status.get("certificate"):
            conditions.append("Issued")
        expiry = spec.get("expirationSeconds")
        rows.append(
            (
                o["metadata"]["name"],
                f"{age}s" if age < 120 else f"{age // 60}m",
                spec.get("signerName", ""),
                spec.get("username", ""),
                _duration(f"{expiry}s") if expiry else "<none>",
                ",".join(conditions) or "Pending",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows)


def _manifest_objects(args: list[str]) -> tuple[list[dict[str, Any]], str]:
    """The objects of -f FILE or -k DIR (built with the real kubectl's kustomize), and the source name."""
    files = _flag(args, "-f") or _flag(args, "--filename")
    if files:
        return _yaml_docs((ROOT / files.lstrip("/") if files.startswith("/") else Path(files)).read_text()), files
    kustomization = _flag(args, "-k") or _flag(args, "--kustomize")
    if kustomization:
        import subprocess

        built = subprocess.run([str(REAL_KUBECTL), "kustomize", kustomization], capture_output=True, text=True)
        if built.returncode != 0:
            raise RuntimeError(built.stderr.strip())
        return _yaml_docs(built.stdout), kustomization
    raise RuntimeError("error: must specify one of -f and -k")


def _identity(obj: dict[str, Any], namespace: str | None, namespaced: bool) -> tuple[str, str, str | None, str]:
    kind = obj.get("kind", "")
    group = _group_of(obj.get("apiVersion", ""))
    ns = (obj.get("metadata", {}).get("namespace") or namespace or "default") if namespaced else None
    return group, kind, ns, obj["metadata"]["name"]


def _mapped(
    state: dict[str, Any], objects: list[dict[str, Any]], source: str
) -> tuple[list[tuple[dict[str, Any], Served]], list[str]]:
    """Each document with its served resource, and the errors of those the server does not serve.

    As kubectl's resource builder (k8s.io/cli-runtime pkg/resource/mapper.go, infoForData), every
    document is mapped against discovery *before* anything is sent, so a custom resource in the same
    file as its CRD, or applied before it, fails: "resource mapping not found for name: %q namespace:
    %q from %q: %w\nensure CRDs are installed first", %w being apimachinery's NoKindMatchError
    (`no matches for kind "K" in version "g/v"`). kubectl continues with the other documents.
    """
    mapped, errors = [], []
    for obj in objects:
        m = _mapping(state, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if m is None:
            meta = obj.get("metadata") or {}
            errors.append(
                f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
                f'"{meta.get("namespace", "")}" from "{source}": no matches for kind "{obj.get("kind", "")}" in '
                f'version "{obj.get("apiVersion", "")}"\nensure CRDs are installed first'
            )
        else:
            mapped.append((obj, m))
    return mapped, errors


def kubectl(argv: list[str]) -> int:
    args = list(argv)
    kubeconfig = _flag(args, "--kubeconfig")
    namespace = _flag(args, "--namespace") or _flag(args, "-n")
    server = _flag(args, "--server") or _flag(args, "-s")
    _flag(args, "--request-timeout")
    if args[:1] == ["version"]:
        _out(f"Client Version: v{_package_version('kubectl')}\nKustomize Version: v5.4.2\n")
        return 0
    if args[:1] == ["kustomize"]:
        import subprocess

        return subprocess.run([str(REAL_KUBECTL), *args]).returncode
    config = ROOT / kubeconfig.lstrip("/") if kubeconfig else Path.home() / ".kube/config"
    if not config.exists():
        if kubeconfig:
            _err(f"error: stat {kubeconfig}: no such file or directory\n")
        else:
            _err("The connection to the server localhost:8080 was refused - did you specify the right host or port?\n")
        return 1
    verb, rest = (args[0], args[1:]) if args else ("", [])
    with cluster() as state:
        if not state["apiServerUp"]:
            found = re.search(r"server: https://(\S+)", config.read_text())
            endpoint = server.removeprefix("https://") if server else found.group(1) if found else None
            _err(_api_down_message({"endpoint": endpoint}) + "\n")
            return 1
        if server and not _serves(state, server.removeprefix("https://")):
            _err(_api_down_message({"endpoint": server.removeprefix("https://")}) + "\n")
            return 1
        try:
            if verb in ("apply", "create", "label", "taint", "drain", "cordon", "uncordon"):
                state["kubectl"].append(list(argv))
            handler = {
                "get": _kubectl_get,
                "apply": _kubectl_apply,
                "create": _kubectl_apply,
                "diff": _kubectl_diff,
                "wait": _kubectl_wait,
                "rollout": _kubectl_rollout,
                "label": _kubectl_label,
                "taint": _kubectl_taint,
                "drain": _kubectl_drain,
                "cordon": _kubectl_cordon,
                "uncordon": _kubectl_cordon,
            }.get(verb)
            if handler is None:
                _err(f"error: this simulation does not implement `kubectl {verb}`\n")
                return 1
            return handler(state, rest, namespace, verb)
        except (KeyError, RuntimeError) as e:
            _err(str(e.args[0] if e.args else e).strip() + "\n")
            return 1


def _serves(state: dict[str, Any], address: str) -> bool:
    """An API server answers at the cluster's endpoint and at each control plane's advertise address."""
    if address == state.get("endpoint"):
        return True
    host, _, port = address.rpartition(":")
    control_planes = [
        a["address"]
        for n in state["nodes"].values()
        if "node-role.kubernetes.io/control-plane" in n["metadata"].get("labels", {})
        for a in n.get("status", {}).get("addresses", [])
    ]
    return port == "6443" and host in control_planes


def _kubectl_get(state: dict[str, Any], args: list[str], namespace: str | None, _verb: str) -> int:
    output = _flag(args, "--output") or _flag(args, "-o")
    ignore = _switch(args, "--ignore-not-found")
    selector = _flag(args, "--field-selector")
    group, kind, namespaced = _resolve(state, args[0])
    ns = (namespace or "default") if namespaced else None
    objects = _objects_of(state, group, kind, ns)
    for term in (selector or "").split(","):
        if term:
            path, _, wanted = term.partition("=")
            objects = [o for o in objects if JsonPath.select(o, "." + path.lstrip(".")) == [wanted]]
    if len(args) > 1:
        wanted = set(args[1:])
        objects = [o for o in objects if o["metadata"]["name"] in wanted]
        if not objects:
            if ignore:
                return 0
            _err(_not_found(state, args[0], args[1]))
            return 1
    _print_objects(objects, output, group, kind, single=len(args) == 2)
    return 0


def _kubectl_apply(state: dict[str, Any], args: list[str], namespace: str | None, verb: str) -> int:
    objects, source = _manifest_objects(args)
    mapped, errors = _mapped(state, objects, source)
    for obj, served in mapped:
        group, kind, ns, name = _identity(obj, namespace, served.namespaced)
        key = _key(group, kind, ns, name)
        if verb == "create" and key in state["objects"]:
            errors.append(
                f'Error from server (AlreadyExists): error when creating "{source}": '
                f'{served.plural}{"." + group if group else ""} "{name}" already exists'
            )
            continue
        if ns is not None and ns not in SYSTEM_NAMESPACES and _key("", "Namespace", None, ns) not in state["objects"]:
            errors.append(f'Error from server (NotFound): error when creating "{source}": namespaces "{ns}" not found')
            continue
        state["objects"][key] = obj
        _out(f"{_ref(group, kind, name)} {'created' if verb == 'create' else 'serverside-applied'}\n")
    if errors:
        # kubectl's aggregate of the documents that failed, after applying the others (exit 1).
        _err("".join((e if e.startswith("Error from server") else f"error: {e}") + "\n" for e in errors))
        return 1
    return 0


def _kubectl_diff(state: dict[str, Any], args: list[str], namespace: str | None, _verb: str) -> int:
    """`kubectl diff`: exit 0 when the cluster matches, 1 when it differs, >1 on an error (CheckDiffErr)."""
    import difflib

    import yaml

    objects, source = _manifest_objects(args)
    mapped, errors = _mapped(state, objects, source)
    if errors:
        _err(f"error: {errors[0]}\n")
        return 2
    differs = False
    for obj, served in mapped:
        group, kind, ns, name = _identity(obj, namespace, served.namespaced)
        live = state["objects"].get(_key(group, kind, ns, name))
        if live != obj:
            differs = True
            old = yaml.safe_dump(live or {}, sort_keys=True).splitlines(keepends=True)
            new = yaml.safe_dump(obj, sort_keys=True).splitlines(keepends=True)
            path = f"/tmp/LIVE/{_ref(group, kind, name)}"
            _out("".join(difflib.unified_diff(old, new, path, path.replace("LIVE", "MERGED"))))
    return 1 if differs else 0


def _kubectl_wait(state: dict[str, Any], args: list[str], namespace: str | None, _verb: str) -> int:
    condition = _flag(args, "--for")
    _flag(args, "--timeout")
    resource, name = args[0].split("/", 1)
    group, kind, namespaced = _resolve(state, resource)
    if _key(group, kind, (namespace or "default") if namespaced else None, name) not in state["objects"]:
        _err(_not_found(state, resource, name))
        return 1
    if not (condition or "").startswith("condition="):
        _err(f"error: unrecognized condition: {condition!r}\n")
        return 1
    _out(f"{_ref(group, kind, name)} condition met\n")
    return 0


def _kubectl_rollout(state: dict[str, Any], args: list[str], namespace: str | None, _verb: str) -> int:
    _flag(args, "--timeout")
    if args[:1] != ["status"]:
        _err("error: this simulation implements `rollout status` only\n")
        return 1
    resource, name = args[1].split("/", 1)
    group, kind, _ = _resolve(state, resource)
    if _key(group, kind, namespace or "default", name) not in state["objects"]:
        _err(_not_found(state, resource, name))
        return 1
    _out(f'deployment "{name}" successfully rolled out\n')
    return 0


def _node(state: dict[str, Any], args: list[str]) -> tuple[dict[str, Any], list[str]]:
    if args[0] not in ("node", "nodes", "no"):
        raise RuntimeError(f"error: this simulation labels and taints nodes only, not {args[0]}")
    name = args[1]
    if name not in state["nodes"]:
        raise RuntimeError(f'Error from server (NotFound): nodes "{name}" not found')
    return state["nodes"][name], args[2:]


def _kubectl_label(state: dict[str, Any], args: list[str], _namespace: str | None, _verb: str) -> int:
    overwrite = _switch(args, "--overwrite")
    node, pairs = _node(state, args)
    labels = node["metadata"].setdefault("labels", {})
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key in labels and labels[key] != value and not overwrite:
            raise RuntimeError(f"error: '{key}' already has a value ({labels[key]}), and --overwrite is false")
        labels[key] = value
    _out(f"node/{node['metadata']['name']} labeled\n")
    return 0


def _kubectl_taint(state: dict[str, Any], args: list[str], _namespace: str | None, _verb: str) -> int:
    overwrite = _switch(args, "--overwrite")
    node, specs = _node(state, args)
    taints = node.setdefault("spec", {}).setdefault("taints", [])
    operation = "tainted"
    for spec in specs:
        m = re.match(r"^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$", spec)
        if not m:
            raise RuntimeError(f"error: invalid taint spec: {spec}")
        key, value, effect = m.group(1), m.group(2) or "", m.group(3)
        same = [t for t in taints if t["key"] == key and t["effect"] == effect]
        if same and not overwrite:
            raise RuntimeError(
                f"error: node {node['metadata']['name']} already has {key} taint(s) with same effect(s) "
                "and --overwrite is false"
            )
        if same:
            operation = "modified"
            taints.remove(same[0])
        taints.append({"key": key, "value": value, "effect": effect} if value else {"key": key, "effect": effect})
    _out(f"node/{node['metadata']['name']} {operation}\n")
    return 0


def _duration(text: str) -> str:
    """A Go duration as kubectl prints it ("600s" -> "10m0s")."""
    m = re.match(r"^(\d+)s$", text)
    if not m:
        return text
    seconds = int(m.group(1))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{seconds}s"


def _kubectl_drain(state: dict[str, Any], args: list[str], _namespace: str | None, _verb: str) -> int:
    """`kubectl drain`: cordon, then evict every pod but DaemonSet pods (which need --ignore-daemonsets).

    The world condition `drain-blocked` (a fault file on the host running kubectl, naming a node)
    is a pod on that node whose PodDisruptionBudget allows no disruption: evictions are refused
    until --timeout, as the eviction API does, and the fault is consumed.
    """
    timeout = _flag(args, "--timeout") or "0s"
    ignore_daemonsets = _switch(args, "--ignore-daemonsets")
    _switch(args, "--delete-emptydir-data")
    node, _ = _node(state, ["node", *args[:1]])
    name = node["metadata"]["name"]
    if not ignore_daemonsets:
        raise RuntimeError(
            f'error: unable to drain node "{name}" due to error: cannot delete DaemonSet-managed Pods '
            f"(use --ignore-daemonsets to ignore): kube-system/calico-node-{name[:5]}, continuing command..."
        )
    spec = node.setdefault("spec", {})
    _out(f"node/{name} {'already cordoned' if spec.get('unschedulable') else 'cordoned'}\n")
    spec["unschedulable"] = True
    _event(state, "drain", name)
    blocked = FAULTS / "drain-blocked"
    if blocked.exists() and blocked.read_text().strip() == name:
        blocked.unlink()
        _event(state, "drain-timeout", name)
        _out(
            'evicting pod data/postgresql-0\nerror when evicting pods/"postgresql-0" -n "data" (will retry after 5s): '
            "Cannot evict pod as it would violate the pod's disruption budget.\n"
        )
        _err(
            f'There are pending pods in node "{name}" when an error occurred: [error when waiting for pod '
            f'"postgresql-0" in namespace "data" to terminate: global timeout reached: {_duration(timeout)}]\n'
            f'error: unable to drain node "{name}" due to error: global timeout reached: {_duration(timeout)}, '
            f"continuing command...\nThere are pending nodes to be drained:\n {name}\n"
        )
        return 1
    _out(
        f"Warning: ignoring DaemonSet-managed Pods: kube-system/calico-node-{name[:5]}, "
        f"kube-system/kube-proxy-{name[:5]}\nnode/{name} drained\n"
    )
    return 0


def _kubectl_cordon(state: dict[str, Any], args: list[str], _namespace: str | None, verb: str) -> int:
    node, _ = _node(state, ["node", *args[:1]])
    name = node["metadata"]["name"]
    spec = node.setdefault("spec", {})
    wanted = verb == "cordon"
    done = "cordoned" if wanted else "uncordoned"
    _out(f"node/{name} {done if bool(spec.get('unschedulable')) != wanted else 'already ' + done}\n")
    if wanted:
        spec["unschedulable"] = True
    else:
        spec.pop("unschedulable", None)
    _event(state, verb, name)
    return 0


# --- node-level tools -----------------------------------------------------------------------------


def systemctl(args: list[str]) -> int:
    args = [a for a in args if not a.startswith("--") and a != "-l"]
    path = HOST_STATE / "systemd.json"
    units = _load_json(path, {})
    verb = args[0] if args else ""
    if verb in ("daemon-reload", "daemon-reexec", ""):
        return 0
    unit = args[1].strip("'") if len(args) > 1 else ""
    name = unit if "." in unit else unit + ".service"
    known = any(
        (ROOT / d / name).exists() for d in ("usr/lib/systemd/system", "lib/systemd/system", "etc/systemd/system")
    )
    u = units.setdefault(name, {"enabled": False, "active": False, "restarts": 0})
    if verb == "show":
        active = "active" if u["active"] else "inactive"
        _out(
            f"Id={name}\nNames={name}\nLoadState={'loaded' if known else 'not-found'}\nActiveState={active}\n"
            f"SubState={'running' if u['active'] else 'dead'}\n"
            f"UnitFileState={'enabled' if u['enabled'] else 'disabled'}\n"
        )
        return 0
    if not known:
        _err(f"Failed to {verb} {name}: Unit {name} not found.\n")
        return 1 if verb != "is-enabled" else 4
    if verb == "is-enabled":
        _out(("enabled" if u["enabled"] else "disabled") + "\n")
        return 0 if u["enabled"] else 1
    if verb == "is-active":
        _out(("active" if u["active"] else "inactive") + "\n")
        return 0 if u["active"] else 3
    if verb in ("enable", "disable"):
        u["enabled"] = verb == "enable"
    elif verb in ("start", "stop", "restart", "reload-or-restart", "try-restart"):
        u["active"] = verb != "stop"
        u["restarts"] += verb not in ("start", "stop")
        node = _this_node() if name == "kubelet.service" and verb != "stop" else ""
        if node:
            # The kubelet re-registers with the version of its binary (the node's kubeletVersion).
            version = "v" + _package_version("kubelet")
            with cluster() as state:
                _event(state, "kubelet-restart", node, version)
                if node in state["nodes"]:
                    state["nodes"][node].setdefault("status", {}).setdefault("nodeInfo", {})["kubeletVersion"] = version
                    kubelet_registered(state, node)
    else:
        _err(f"systemctl: this simulation does not implement {verb}\n")
        return 1
    _save_json(path, units)
    return 0


def sysctl(args: list[str]) -> int:
    path = HOST_STATE / "sysctl.json"
    values = _load_json(path, {})
    files = []
    if _switch(args, "--system"):
        files = sorted((ROOT / "etc/sysctl.d").glob("*.conf"))
    load = _flag(args, "--load") or _flag(args, "-p")
    if load:
        files.append(ROOT / load.lstrip("/"))
    for f in files:
        for line in f.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", ";")) and "=" in line:
                key, value = (s.strip() for s in line.split("=", 1))
                values[key] = value
                _out(f"{key} = {value}\n")
    if files:
        _save_json(path, values)
        return 0
    quiet = _switch(args, "-n")
    for key in args:
        _out(f"{values.get(key, '0')}\n" if quiet else f"{key} = {values.get(key, '0')}\n")
    return 0


def modprobe(args: list[str]) -> int:
    for name in [a for a in args if not a.startswith("-")]:
        (ROOT / "sys/module" / name).mkdir(parents=True, exist_ok=True)
        with (HOST_STATE / "modprobe.log").open("a") as log:
            log.write(name + "\n")
    return 0


def swapon(args: list[str]) -> int:
    path = HOST_STATE / "swap.json"
    active = _load_json(path, [])
    if any(a.startswith("--show") for a in args):
        if active and "--noheadings" not in args:
            _out("NAME\n")
        _out("".join(a + "\n" for a in active))
        return 0
    if "-a" in args or "--all" in args:
        for line in (ROOT / "etc/fstab").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and not fields[0].startswith("#") and fields[2] == "swap" and fields[0] not in active:
                active.append(fields[0])
    _save_json(path, active)
    return 0


def swapoff(args: list[str]) -> int:
    path = HOST_STATE / "swap.json"
    active = _load_json(path, [])
    active = [] if "-a" in args or "--all" in args else [a for a in active if a not in args]
    _save_json(path, active)
    return 0


def hostnamectl(args: list[str]) -> int:
    path = HOST_STATE / "hostname.json"
    names = _load_json(path, {"static": "localhost", "transient": "localhost"})
    kinds = [k for k in ("static", "transient", "pretty") if f"--{k}" in args]
    rest = [a for a in args if not a.startswith("--")]
    if rest[:1] == ["set-hostname"]:
        for k in kinds or ["static", "transient"]:
            names[k] = rest[1]
        if "static" in (kinds or ["static"]):
            (ROOT / "etc/hostname").write_text(rest[1] + "\n")
        _save_json(path, names)
        return 0
    _out(names.get((kinds or ["static"])[0], "") + "\n")
    return 0


def cloud_init(args: list[str]) -> int:
    if args[:1] == ["status"]:
        _out("status: done\n")
        return 0
    _err(f"cloud-init: this simulation implements `status` only, not {args}\n")
    return 1


def containerd(args: list[str]) -> int:
    if args[:2] == ["config", "default"]:
        _out((SHARE / "containerd-config-default.toml").read_text())
        return 0
    if args[:1] in (["--version"], ["-v"]):
        version = (SHARE / "containerd.io.version").read_text().strip()
        _out(f"containerd containerd.io {version.split('-')[0]} simulated\n")
        return 0
    _err(f"containerd: this simulation implements `config default` and `--version` only, not {args}\n")
    return 1


# --- kubelet ---------------------------------------------------------------------------------------
#
# What the kubelet does once kubeadm's kubelet-start phase has started it (kubernetes/kubernetes, the
# v1.36 line as stored in the search tool's index, read 2026-12-07):
# - its flags are kubeadm's /var/lib/kubelet/kubeadm-flags.env (cmd/kubeadm/app/phases/kubelet/flags.go
#   buildKubeletArgs: --container-runtime-endpoint from nodeRegistration.criSocket, --hostname-override
#   when nodeRegistration.name is not the host's name, then nodeRegistration.kubeletExtraArgs) and its
#   configuration /var/lib/kubelet/config.yaml (init: the KubeletConfiguration of the config file; join:
#   the kubelet-config ConfigMap init uploaded);
# - it registers its Node with the addresses pkg/kubelet/nodestatus/setters.go NodeAddress sets
#   without a cloud provider: InternalIP = --node-ip, then Hostname = its hostname;
# - with serverTLSBootstrap it does not self-sign its serving certificate but asks the cluster
#   (pkg/kubelet/certificate/kubelet.go NewKubeletServerCertificateManager, newGetTemplateFn,
#   addressesToHostnamesAndIPs): a fresh ECDSA P-256 key (client-go util/certificate
#   certificate_manager.go), a PKCS#10 request with subject O=system:nodes, CN=system:node:<name>,
#   the Hostname/InternalDNS/ExternalDNS addresses as sorted DNS names and the InternalIP/ExternalIP
#   ones as sorted IPs (none without at least one IP), filed as a CertificateSigningRequest named
#   csr-<random> with signer kubernetes.io/kubelet-serving and usages `digital signature`,
#   `server auth` (DefaultKubeletServingGetUsages: no key encipherment for an ECDSA key). The API
#   server fills in spec.username and spec.groups from the kubelet's client certificate. Until a
#   certificate is issued (kubelet-server-current.pem) each start asks again.
# The request is made by the host's openssl, the same structure Go's x509.CreateCertificateRequest
# writes (tests/simulator/test_node_simulator.py compares it with the approver model's builder).

KUBELET_SERVING = "kubernetes.io/kubelet-serving"
KUBELET_FLAGS = KUBELET_DIR / "kubeadm-flags.env"
KUBELET_SERVING_CERT = KUBELET_DIR / "pki/kubelet-server-current.pem"


def _kubelet_start_files(kubelet_config: dict[str, Any], registration: dict[str, Any]) -> None:
    """kubeadm's kubelet-start phase: the kubelet's configuration and flags files."""
    import yaml

    _write(KUBELET_DIR / "config.yaml", yaml.safe_dump(kubelet_config or {"kind": "KubeletConfiguration"}), 0o644)
    flags = {
        "container-runtime-endpoint": str(registration.get("criSocket") or "unix:///run/containerd/containerd.sock")
    }
    name = str(registration.get("name") or "")
    hostname = (ROOT / "etc/hostname").read_text().strip() if (ROOT / "etc/hostname").exists() else ""
    if name and name != hostname:
        flags["hostname-override"] = name
    for extra in registration.get("kubeletExtraArgs") or []:
        flags[str(extra["name"])] = str(extra.get("value", ""))
    args = " ".join(f"--{k}={v}" for k, v in flags.items())
    _write(KUBELET_FLAGS, f'KUBELET_KUBEADM_ARGS="{args}"\n', 0o644)


def _kubelet_flags() -> dict[str, str]:
    m = re.search(r'KUBELET_KUBEADM_ARGS="([^"]*)"', KUBELET_FLAGS.read_text()) if KUBELET_FLAGS.exists() else None
    return dict(a.removeprefix("--").split("=", 1) for a in (m.group(1).split() if m else []) if "=" in a)


def kubelet_registered(state: dict[str, Any], name: str) -> None:
    """The kubelet (re)started with its node registered: its addresses, and its serving-certificate request."""
    import yaml

    flags = _kubelet_flags()
    etc_hostname = ROOT / "etc/hostname"
    os_hostname = etc_hostname.read_text().strip().lower() if etc_hostname.exists() else name
    hostname = flags.get("hostname-override") or os_hostname
    node = state["nodes"][name]
    # Without --node-ip the kubelet takes the address of its default route's interface: here, the
    # one kubeadm registered (its advertise address).
    known = [a["address"] for a in node.get("status", {}).get("addresses", []) if a["type"] == "InternalIP"]
    ip = flags.get("node-ip") or next((a for a in known if a), "")
    addresses = [{"type": "InternalIP", "address": ip}] if ip else []
    addresses.append({"type": "Hostname", "address": hostname})
    node.setdefault("status", {})["addresses"] = addresses
    config_path = KUBELET_DIR / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    if not (config or {}).get("serverTLSBootstrap") or KUBELET_SERVING_CERT.exists():
        return
    dns = sorted({a["address"] for a in addresses if a["type"] in ("Hostname", "InternalDNS", "ExternalDNS")})
    ips = sorted({a["address"] for a in addresses if a["type"] in ("InternalIP", "ExternalIP")})
    if not ips:
        return  # the kubelet waits for an IP address before it asks (newGetTemplateFn)
    csr_name = "csr-" + "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    state["objects"][_key("certificates.k8s.io", "CertificateSigningRequest", None, csr_name)] = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {
            "name": csr_name,
            "generateName": "csr-",
            "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "spec": {
            "request": _pkcs10_request(f"system:node:{name}", dns, ips),
            "signerName": KUBELET_SERVING,
            "usages": ["digital signature", "server auth"],
            "username": f"system:node:{name}",
            "groups": ["system:nodes", "system:authenticated"],
        },
        "status": {},
    }


def _pkcs10_request(common_name: str, dns: list[str], ips: list[str]) -> str:
    """spec.request: base64 of the PEM request, its key made and kept on this host only."""
    import base64
    import subprocess
    import tempfile

    san = ",".join([*(f"DNS:{d}" for d in dns), *(f"IP:{i}" for i in ips)])
    with tempfile.TemporaryDirectory() as tmp:
        made = subprocess.run(
            [
                "openssl", "req", "-new", "-sha256", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", f"{tmp}/key.pem", "-subj", f"/O=system:nodes/CN={common_name}",
                "-addext", f"subjectAltName={san}",
            ],
            capture_output=True,
            check=True,
        )  # fmt: skip
    return base64.b64encode(made.stdout).decode()


def kubelet(args: list[str]) -> int:
    if "--version" in args:
        _out(f"Kubernetes v{_package_version('kubelet')}\n")
        return 0
    _err("kubelet: runs only as a unit in this simulation\n")
    return 1


TOOLS = {
    "kubeadm": kubeadm,
    "kubectl": kubectl,
    "kubelet": kubelet,
    "containerd": containerd,
    "systemctl": systemctl,
    "sysctl": sysctl,
    "modprobe": modprobe,
    "swapon": swapon,
    "swapoff": swapoff,
    "hostnamectl": hostnamectl,
    "cloud-init": cloud_init,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    tool = os.path.basename(argv[0])
    if tool not in TOOLS:
        _err(f"gitops-sim stand-in: unknown tool {tool!r}\n")
        return 127
    return TOOLS[tool](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
