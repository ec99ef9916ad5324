"""A small evaluator of the Pod Security Standards (baseline, restricted) over pod specs.

It follows the rules of https://kubernetes.io/docs/concepts/security/pod-security-standards/ as
the API server's PodSecurity admission applies them at `enforce-version: latest` (1.31+ rules), for
the fields our charts and manifests set. `violations(spec, level)` lists what a pod spec breaks;
`strictest(spec)` is the strictest level it passes. Tests use it on every rendered pod to pick and
check each namespace's `pod-security.kubernetes.io/enforce` label.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

LEVELS = ("restricted", "baseline", "privileged")

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _baseline(spec: Mapping[str, Any]) -> Iterator[str]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"{field}: true"
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            yield f"hostPath volume {volume['name']}"
    pod_sc = spec.get("securityContext") or {}
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl['name']}"
    for c in containers(spec):
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            yield f"{name}: privileged"
        added = set((sc.get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            yield f"{name}: adds capabilities {sorted(added - BASELINE_CAPABILITIES)}"
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                yield f"{name}: hostPort {port['hostPort']}"
        if sc.get("procMount", "Default") != "Default":
            yield f"{name}: procMount {sc['procMount']}"
    for where, sc in [("pod", pod_sc), *((c["name"], c.get("securityContext") or {}) for c in containers(spec))]:
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            yield f"{where}: seccomp Unconfined"
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            yield f"{where}: AppArmor Unconfined"
        selinux = sc.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
            yield f"{where}: seLinuxOptions {selinux}"


def _restricted(spec: Mapping[str, Any]) -> Iterator[str]:
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            yield f"volume {volume['name']} of type {sorted(kinds)}"
    pod_sc = spec.get("securityContext") or {}
    if pod_sc.get("runAsUser") == 0:
        yield "pod: runAsUser 0"
    for c in containers(spec):
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"{name}: allowPrivilegeEscalation is not false"
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            yield f"{name}: runAsNonRoot is not true"
        if sc.get("runAsUser") == 0:
            yield f"{name}: runAsUser 0"
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"{name}: seccompProfile {seccomp}"
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"{name}: capabilities do not drop ALL"
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            yield f"{name}: adds capabilities beyond NET_BIND_SERVICE"


def violations(spec: Mapping[str, Any], level: str) -> list[str]:
    """What `spec` breaks at `level` (empty when it passes)."""
    if level == "privileged":
        return []
    found = list(_baseline(spec))
    if level == "restricted":
        found += list(_restricted(spec))
    return found


def strictest(spec: Mapping[str, Any]) -> str:
    """The strictest Pod Security level `spec` passes."""
    return next(level for level in LEVELS if not violations(spec, level))
