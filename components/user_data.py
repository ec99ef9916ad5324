"""The cloud-init user data every node boots with: node preparation while the graph is still growing.

An instance exists minutes before the playbook can run (the NAT gateway, the API load balancer and
the bastion are created around it, and the NLB takes 3-5 minutes to become active), so the slow,
version-pinned part of preparing a node happens at first boot instead: Docker's and pkgs.k8s.io's
apt repositories, the pinned containerd.io, kubeadm, kubelet and kubectl (held), and the images
the node will run pulled into containerd. The playbook then finds them installed and only checks,
configures and converges (ansible/roles/*; docs/bootstrap.md, "Node preparation at first boot").

Unattended-upgrades on a year-old AMI can hold the dpkg lock for minutes at first boot: the apt
timers are stopped in `bootcmd` (before they fire) and started again once the preparation is done.

User data acts once, when the instance is created. components/nodes.py ignores later changes to
it, so a version bump never stops, starts or replaces a running node; the playbook converges
existing nodes instead. Nothing here is secret: user data is readable by anyone who may describe
the instance.

The preparation is best effort: a failure is logged to /var/log/cloud-init-output.log and the
script still exits 0, because the playbook installs and configures whatever is missing (a failing
script would make `cloud-init status` report an error and stop the bootstrap for nothing).
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Mapping

import yaml

from components.settings.model import NodeRole

DOCKER_APT_URI = "https://download.docker.com/linux/ubuntu"
KUBERNETES_APT_URI = "https://pkgs.k8s.io/core:/stable:/v{minor}/deb/"
APT_TIMERS = ("apt-daily.timer", "apt-daily-upgrade.timer")
PREPARE_SCRIPT = "/usr/local/sbin/gitops-cluster-prepare"
# The package whose AuthorizedKeysCommand lets sshd accept the keys the kit pushes with EC2
# Instance Connect (docs/bootstrap.md, "The SSH path"); Ubuntu packages it in main (1.1.17 in
# noble, packages.ubuntu.com). The EC2 User Guide ("Connect to your EC2 instance") says it is
# pre-installed "only on certain AMIs", so the nodes' and the bastion's user data install it.
INSTANCE_CONNECT_PACKAGE = "ec2-instance-connect"

# Images a node of each kind runs from its first minute, beyond kubeadm's own list: Calico's
# per-node images (from quay.io, like every image the bootstrap pulls; see docs/bootstrap.md) and
# versions.yaml `calicoOperatorImage` (the operator runs on any node, host network).
CALICO_NODE_IMAGES = (
    "quay.io/calico/node",
    "quay.io/calico/cni",
    "quay.io/calico/pod2daemon-flexvol",
    "quay.io/calico/csi",
    "quay.io/calico/node-driver-registrar",
)


# Images a node pulls after the first minutes' ones: what its pods need minutes later. Argo CD's,
# on the workers, where its pods land (components/argocd.py PLACEMENT_AFFINITY prefers the worker
# label); versions.yaml keys, which tests/unit/test_user_data_images.py holds to the images of the
# argo-cd chart's render.
LATER_IMAGE_KEYS: Mapping[NodeRole, tuple[str, ...]] = {NodeRole.WORKER: ("argoCdImage", "argoCdRedisImage")}
# The transient systemd unit that pulls in the background, so cloud-init (which the playbook's
# first play waits for) does not wait for the pulls.
BACKGROUND_PULLS_UNIT = "gitops-cluster-image-pulls"
# Roles whose first minutes' images are pulled before cloud-init is done: a control plane's
# (the first one's `kubeadm init` follows its prepare play; a joining one's etcd and static pods).
# Every other node pulls them in the background too (issue 25): nothing of its playbook run needs
# them (kubeadm join's preflight pulls only for a control-plane join; the kubelet pulls pause and
# kube-proxy itself, and calico-node's pod waits for its images however they come), so the
# prepare command and the join start once the packages are installed, and the pulls overlap them.
FOREGROUND_PULL_ROLES = frozenset({NodeRole.CONTROL_PLANE})


def later_images(versions: Mapping[str, str], role: NodeRole) -> list[str]:
    """The images a node of `role` pre-pulls in the background, after its first minutes' ones."""
    return [versions[key] for key in LATER_IMAGE_KEYS.get(role, ())]


# The unit's script: its arguments are images, pulled all at once, each retried (bounded: the
# playbook's containerd role restarts containerd once on a new node, which breaks a pull under way;
# ctr resumes from the blobs it already fetched); `--then` waits for those before the next batch.
_BACKGROUND_PULLS = (
    'pull() { for _ in $(seq 30); do ctr --namespace k8s.io images pull --quiet "$1" >/dev/null && return 0; '
    'sleep 10; done; echo "gitops-cluster-prepare: could not pre-pull $1"; }; '
    'for image in "$@"; do if [ "$image" = --then ]; then wait; else pull "$image" & fi; done; wait'
)


def _background_pulls(first: str, later: list[str]) -> str:
    """The systemd-run line that pulls `first` (shell words, expanded in the script) and then `later`."""
    if not first and not later:
        return ""
    what = " then ".join(filter(None, ("this node's first images" if first else "", " ".join(later))))
    batches = " ".join(filter(None, (first, "--then" if first and later else "", " ".join(map(shlex.quote, later)))))
    return f"""  # Pulled in the background by a transient unit, so cloud-init (which the playbook waits for) does
  # not wait for them: {what}
  # shellcheck disable=SC2016 # the unit's script expands its own "$@" and $(seq)
  # shellcheck disable=SC2086 # $first_images is a list of words
  systemd-run --no-block --unit={BACKGROUND_PULLS_UNIT} --description="gitops-cluster image pulls" \\
    /bin/bash -c {shlex.quote(_BACKGROUND_PULLS)} pulls {batches} || log "could not start the background image pulls"
"""


def _pulls(versions: Mapping[str, str], role: NodeRole, kubeadm_filter: str, calico: list[str]) -> str:
    """The image pulls of a node of `role`: kubeadm's images of the role (`kubeadm_filter` on
    `kubeadm config images list`) and `calico`, then the later ones (LATER_IMAGE_KEYS)."""
    kubeadm = f"$(kubeadm config images list --kubernetes-version v{versions['kubernetes']} | {kubeadm_filter})"
    later = later_images(versions, role)
    if role not in FOREGROUND_PULL_ROLES:
        return f"""\
  local first_images
  first_images="{kubeadm} {" ".join(calico)}"
{_background_pulls("$first_images", later)}"""
    return f"""\
  # Every image at once: one pull at a time spends most of its time on round trips and on
  # unpacking while the link idles (docs/bootstrap.md, "Cold bootstrap"); `wait` is the join.
  local image
  for image in {kubeadm} \\
      {" ".join(calico)}; do
    ( ctr --namespace k8s.io images pull --quiet "$image" >/dev/null || log "could not pre-pull $image" ) &
  done
  wait
{_background_pulls("", later)}"""


def kubernetes_minor(version: str) -> str:
    """'1.36.4' -> '1.36' (pkgs.k8s.io has one repository per minor)."""
    major, minor, *_ = version.split(".")
    return f"{major}.{minor}"


def _script(versions: Mapping[str, str], role: NodeRole) -> str:
    kubernetes = versions["kubernetes"]
    package = f"{kubernetes}-{versions['kubernetesPackageRevision']}"
    minor = kubernetes_minor(kubernetes)
    repo = KUBERNETES_APT_URI.format(minor=minor)
    # Calico's per-node images and the operator that installs them (the image of the pinned
    # tigera-operator.yaml; tests/roles/test_ansible_roles_calico.py holds the pin to that file).
    calico = [f"{image}:{versions['calico']}" for image in CALICO_NODE_IMAGES] + [versions["calicoOperatorImage"]]
    # Control planes run every kubeadm image; other nodes only kube-proxy and the sandbox image.
    kubeadm_filter = "cat" if role is NodeRole.CONTROL_PLANE else "grep -E '/(kube-proxy|pause):'"
    q = shlex.quote
    return f"""#!/bin/bash
# Rendered by components/user_data.py: prepares a gitops-cluster node at first boot (best effort;
# the playbook converges whatever this did not do).
set -uo pipefail
log() {{ echo "gitops-cluster-prepare: $*"; }}

# The candidate version of package $1 that is pin $2 or starts with "$2~": Docker's package
# versions add the distribution (2.3.4-1~ubuntu.24.04~noble), as the containerd role matches it.
pinned_version() {{
  apt-cache madison "$1" | awk -v pin="$2" '$3 == pin || index($3, pin "~") == 1 {{ print $3; exit }}'
}}

# Refuses signing key $1 unless its primary key's fingerprint is $2: the key is removed and the
# preparation stops before any apt source names it (the playbook then stops with the reason).
check_key() {{
  local found
  found=$(gpg --batch --no-default-keyring --show-keys --with-colons "$1" | awk -F: '$1 == "fpr" {{ print $10; exit }}')
  if [ "$found" != "$2" ]; then
    rm -f "$1"
    log "$1 has fingerprint ${{found:-none}}, not the pinned $2: removed"
    return 1
  fi
}}

prepare() {{
  set -e
  export DEBIAN_FRONTEND=noninteractive
  local arch codename
  arch=$(dpkg --print-architecture)
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  # The same key files and one-line sources the containerd and kubernetes_packages roles write.
  install -d -m 0755 /etc/apt/keyrings
  # The node may boot before the NAT gateway routes. Until it does, a connection attempt gets no
  # answer and would wait for the kernel's SYN retries (about two minutes); bounded to 3 s and
  # retried every 3 s for up to ten minutes, the first fetch starts within seconds of the route.
  curl -fsSL --connect-timeout 3 --retry 200 --retry-delay 3 --retry-max-time 600 --retry-all-errors \\
    {q(DOCKER_APT_URI + "/gpg")} -o /etc/apt/keyrings/docker.asc
  curl -fsSL --connect-timeout 3 --retry 20 --retry-delay 3 --retry-all-errors {q(repo + "Release.key")} \\
    -o /etc/apt/keyrings/kubernetes-{minor}.asc
  # Each key must be the pinned one (versions.yaml), as the roles' common/apt_key.yml checks it.
  check_key /etc/apt/keyrings/docker.asc {q(versions["dockerAptKeyFingerprint"])}
  check_key /etc/apt/keyrings/kubernetes-{minor}.asc {q(versions["kubernetesAptKeyFingerprint"])}
  chmod 0644 /etc/apt/keyrings/docker.asc /etc/apt/keyrings/kubernetes-{minor}.asc
  echo "deb [arch=$arch signed-by=/etc/apt/keyrings/docker.asc] {DOCKER_APT_URI} $codename stable" \\
    > /etc/apt/sources.list.d/docker.list
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-{minor}.asc] {repo} /" > /etc/apt/sources.list.d/kubernetes.list
  apt-get -o Acquire::Retries=5 update -q
  local containerd
  containerd=$(pinned_version containerd.io {q(versions["containerd"])})
  # ec2-instance-connect (INSTANCE_CONNECT_PACKAGE, Ubuntu's archive; a no-op where the AMI
  # carries it): the kit reaches the node only with keys pushed by EC2 Instance Connect.
  apt-get -o Acquire::Retries=5 install -y -q --no-install-recommends \\
    "containerd.io=${{containerd:?containerd.io {versions["containerd"]} is not in the Docker apt repository}}" \\
    kubeadm={q(package)} kubelet={q(package)} kubectl={q(package)} {INSTANCE_CONNECT_PACKAGE}
  apt-mark hold containerd.io kubeadm kubelet kubectl
  systemctl enable --now containerd
{_pulls(versions, role, kubeadm_filter, calico)}}}

# A statement of its own: inside an `if`, `||` or `&&`, bash would ignore `set -e` in prepare.
( prepare )
status=$?
if [ "$status" -eq 0 ]; then
  log "node prepared: containerd.io {versions["containerd"]}, kubeadm/kubelet/kubectl {package}"
else
  log "preparation stopped early with status $status (the playbook will finish it)"
fi
systemctl start {" ".join(APT_TIMERS)} || true
exit 0
"""


def render_user_data(versions: Mapping[str, str], role: NodeRole) -> str:
    """The cloud-config of one node: stop the apt timers first thing, then prepare the node.

    Every node of a role gets the same bytes, so each (pins, role) is rendered once per process:
    PyYAML's pure-Python emitter made the 14 renders of the dev stack about a sixth of a warm run.
    (libyaml's C emitter folds long double-quoted scalars differently, so its bytes differ; see
    docs/benchmarks.md.)
    """
    return _render_user_data(tuple(sorted(versions.items())), role)


@functools.lru_cache(maxsize=64)
def _render_user_data(pins: tuple[tuple[str, str], ...], role: NodeRole) -> str:
    versions = dict(pins)
    stop = "systemctl stop " + " ".join((*APT_TIMERS, "apt-daily.service", "apt-daily-upgrade.service"))
    config = {
        # bootcmd runs early on every boot; cloud-init-per keeps it to the first.
        "bootcmd": [["cloud-init-per", "once", "gitops-cluster-stop-apt", "sh", "-c", stop + " || true"]],
        "write_files": [
            {"path": PREPARE_SCRIPT, "permissions": "0755", "owner": "root:root", "content": _script(versions, role)}
        ],
        "runcmd": [[PREPARE_SCRIPT]],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)


def render_bastion_user_data() -> str:
    """The bastion's cloud-config: only the Instance Connect package (cloud-init's package module,
    after an apt update; the bastion's public subnet reaches Ubuntu's archive at boot)."""
    config = {"package_update": True, "packages": [INSTANCE_CONNECT_PACKAGE]}
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)
