"""What the simulated hosts download: stand-in .debs in signed apt repositories, and files, over HTTPS.

Built once per test process into a temporary directory, then served inside each simulated
cluster's network namespace by `serve.py` under the real host names (download.docker.com,
pkgs.k8s.io, raw.githubusercontent.com), which every host resolves through its /etc/hosts:

- a test CA (openssl) that signs the server certificate for those names; each host trusts it
  through its /etc/ssl/certs/ca-certificates.crt, so get_url and apt verify TLS as on a node;
- a signing key (gpg) and two repositories laid out as the real ones are: Docker's
  `dists/<release>/stable` repository with containerd.io, and pkgs.k8s.io's flat repository with
  kubeadm, kubelet and kubectl, at the versions of versions.yaml. The packages hold the stand-ins
  (tests/support/simulator/standins.py) under the real tools' paths and the units they ship;
- the release files the roles download from raw.githubusercontent.com at the tags versions.yaml
  pins (Calico's operator-crds.yaml and tigera-operator.yaml, local-path-provisioner's
  deploy/local-path-storage.yaml): the published files from ../shared/upstream, byte for byte,
  their sha256 checked against the table there (tests/support/simulator/upstream.py).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support import paths
from tests.support.simulator import upstream

HERE = Path(__file__).resolve().parent
FIXTURES = paths.FIXTURES / "standins"
STANDINS = HERE / "standins.py"
REPO_HOSTS = ("download.docker.com", "pkgs.k8s.io", "raw.githubusercontent.com")


@dataclass(frozen=True)
class World:
    """Files every simulated cluster of this process shares (read-only)."""

    dir: Path
    docroot: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    # The fingerprint of the key that signs the simulator's repositories (generated per world), which
    # the simulated hosts must trust instead of Docker's and pkgs.k8s.io's published ones.
    key_fingerprint: str = ""

    def key_overrides(self) -> dict[str, str]:
        """The apt key pins the simulator's inventory overrides (and nothing else does)."""
        return {
            "containerd_apt_key_fingerprint": self.key_fingerprint,
            "kubernetes_packages_key_fingerprint": self.key_fingerprint,
            "kubernetes_upgrade_key_fingerprint": self.key_fingerprint,
        }


def ubuntu_release(versions: Mapping[str, str]) -> tuple[str, str]:
    """(version, codename) of the Ubuntu the AMI pin names, e.g. ("24.04", "noble")."""
    m = re.search(r"ubuntu-([a-z]+)-(\d+\.\d+)-", versions["ubuntuAmiName"])
    if not m:
        raise ValueError(f"cannot read the Ubuntu release from ubuntuAmiName={versions['ubuntuAmiName']!r}")
    return m.group(2), m.group(1)


def containerd_package_version(versions: Mapping[str, str]) -> str:
    """containerd.io's version in Docker's repository: 2.x builds carry the distribution
    (2.3.4-1~ubuntu.24.04~noble), 1.x builds do not (1.7.25-1)."""
    pin = versions["containerd"]
    if int(pin.split(".")[0]) < 2:
        return pin
    release, codename = ubuntu_release(versions)
    return f"{pin}~ubuntu.{release}~{codename}"


def containerd_default_config(version: str) -> Path:
    """The `containerd config default` output of the pinned version's line.

    A recording under tests/fixtures/standins/ first; for containerd 2.x, the containerd role's
    own fixture (tests/fixtures/containerd/config-default-v<major>.toml, written from containerd's
    sources, see the README there) when no recording is kept here.
    """
    major_minor = ".".join(version.split("-")[0].split(".")[:2])
    path = FIXTURES / f"containerd-{major_minor}-config-default.toml"
    role_fixture = paths.FIXTURES / "containerd" / f"config-default-v{major_minor.split('.')[0]}.toml"
    if not path.exists() and role_fixture.exists():
        return role_fixture
    if not path.exists():
        raise FileNotFoundError(
            f"no recorded `containerd config default` for containerd {major_minor} (versions.yaml containerd="
            f"{version}): record the real output under {path.relative_to(paths.ROOT)} (see README there)"
        )
    return path


def _run(argv: list[str], **kwargs: object) -> None:
    subprocess.run(argv, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def _deb(out: Path, name: str, version: str, files: Mapping[str, Path | str | None], description: str) -> Path:
    """A .deb holding `files` (dest -> source file, text, or None for a directory)."""
    tree = out / f"{name}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: gitops-cluster simulator "
        f"<sim@invalid>\nDescription: {description}\n"
    )
    conffiles = [dest for dest, source in files.items() if dest.startswith("/etc/") and source is not None]
    if conffiles:
        (tree / "DEBIAN" / "conffiles").write_text("".join(f"{c}\n" for c in conffiles))
    for dest, source in files.items():
        target = tree / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is None:
            target.mkdir(mode=0o755)
            continue
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        else:
            target.write_text(source)
        target.chmod(0o755 if dest.startswith(("/usr/bin/", "/usr/sbin/")) else 0o644)
    deb = out / f"{name}_{version}_amd64.deb"
    _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(deb)])
    shutil.rmtree(tree)
    return deb


def _release(directory: Path, files: list[Path], fields: str) -> str:
    lines = [fields.rstrip("\n"), "SHA256:"]
    for f in files:
        data = f.read_bytes()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {f.relative_to(directory).as_posix()}")
    return "\n".join(lines) + "\n"


def _sign(gnupg: Path, release: Path) -> None:
    _run(
        [
            "gpg",
            "--homedir",
            str(gnupg),
            "--batch",
            "--yes",
            "--clearsign",
            "-o",
            str(release.parent / "InRelease"),
            str(release),
        ]
    )


def _packages(repo_root: Path, pool: Path, target: Path) -> None:
    """Packages and Packages.gz of the debs under `pool`, with paths relative to `repo_root`."""
    result = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", pool.relative_to(repo_root).as_posix(), "/dev/null"],
        cwd=repo_root,
        check=True,
        capture_output=True,
        text=True,
    )
    target.mkdir(parents=True, exist_ok=True)
    (target / "Packages").write_text(result.stdout)
    (target / "Packages.gz").write_bytes(gzip.compress(result.stdout.encode(), mtime=0))


CONTAINERD_PACKAGE_CONFIG = """\
#   Copyright 2018-2022 Docker Inc.
#   (the /etc/containerd/config.toml that Docker's containerd.io package installs)
disabled_plugins = ["cri"]
"""


def build_world(base: Path, versions: Mapping[str, str], upgrades: Sequence[str] = ()) -> World:
    """Build the CA, the signing key, both repositories and the manifests under `base`.

    `upgrades`: further Kubernetes versions the Kubernetes repositories offer (one repository per
    minor, as pkgs.k8s.io), for the upgrade tests.
    """
    base.mkdir(parents=True, exist_ok=True)
    docroot = base / "docroot"
    debs = base / "debs"
    debs.mkdir()

    # TLS: a CA and a certificate for the repository host names.
    ca_key, ca_cert = base / "ca.key", base / "ca.crt"
    _run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(ca_key),
            "-out",
            str(ca_cert),
            "-days",
            "2",
            "-subj",
            "/CN=gitops-cluster simulator CA",
        ]
    )
    key, csr, cert = base / "server.key", base / "server.csr", base / "server.crt"
    _run(
        [
            "openssl",
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            "/CN=download.docker.com",
        ]
    )
    (base / "san.ext").write_text("subjectAltName=" + ",".join(f"DNS:{h}" for h in REPO_HOSTS) + "\n")
    _run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_cert),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(cert),
            "-days",
            "2",
            "-extfile",
            str(base / "san.ext"),
        ]
    )

    # The repositories' signing key (no passphrase; the agent is stopped below).
    gnupg = base / "gnupg"
    gnupg.mkdir(mode=0o700)
    _run(
        [
            "gpg",
            "--homedir",
            str(gnupg),
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "gitops-cluster simulator <sim@invalid>",
            "ed25519",
            "sign",
            "never",
        ]
    )
    armored = subprocess.run(
        ["gpg", "--homedir", str(gnupg), "--armor", "--export"], check=True, capture_output=True, text=True
    ).stdout
    colons = subprocess.run(
        ["gpg", "--homedir", str(gnupg), "--with-colons", "--list-keys"], check=True, capture_output=True, text=True
    ).stdout
    fingerprint = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))

    containerd = containerd_package_version(versions)
    release = ubuntu_release(versions)[1]
    unit = (
        "[Unit]\nDescription={0} (simulated)\n[Service]\nExecStart=/usr/bin/{0}\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )

    docker = docroot / "linux" / "ubuntu"
    pool = docker / "pool" / "stable"
    pool.mkdir(parents=True)
    _deb(
        pool,
        "containerd.io",
        containerd,
        {
            "/usr/bin/containerd": STANDINS,
            "/usr/share/gitops-sim/containerd.io.version": containerd + "\n",
            "/usr/share/gitops-sim/containerd-config-default.toml": containerd_default_config(versions["containerd"]),
            "/usr/lib/systemd/system/containerd.service": unit.format("containerd"),
            # What containerd.io ships: a config with the CRI plugin disabled (the role replaces it).
            "/etc/containerd/config.toml": CONTAINERD_PACKAGE_CONFIG,
        },
        "containerd stand-in for the node simulator",
    )
    (docker / "gpg").write_text(armored)
    binary = docker / "dists" / release / "stable" / "binary-amd64"
    _packages(docker, pool, binary)
    dist = docker / "dists" / release
    (dist / "Release").write_text(
        _release(
            dist,
            sorted(binary.iterdir()),
            textwrap.dedent(f"""\
        Origin: Docker
        Label: Docker CE
        Suite: {release}
        Codename: {release}
        Architectures: amd64
        Components: stable
        Date: Mon, 30 Nov 2026 00:00:00 UTC
        """),
        )
    )
    _sign(gnupg, dist / "Release")

    _kubernetes_repository(docroot, gnupg, armored, versions["kubernetes"], versions["kubernetesPackageRevision"], unit)
    # Newer releases a test upgrades to (their own minor's repository, as on pkgs.k8s.io).
    for newer in upgrades:
        _kubernetes_repository(docroot, gnupg, armored, newer, versions["kubernetesPackageRevision"], unit)
    subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"], check=False, capture_output=True)

    # What the roles download from GitHub at run time, byte for byte as released (checksums checked).
    for pin in upstream.DOWNLOADED:
        for artifact in upstream.release(pin, versions):
            served = docroot / artifact.url_path
            served.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(artifact.file, served)
    return World(base, docroot, ca_cert, cert, key, fingerprint)


def _kubernetes_repository(docroot: Path, gnupg: Path, armored: str, version: str, revision: str, unit: str) -> None:
    """pkgs.k8s.io's repository of one minor (core:/stable:/v<minor>/deb) holding `version`."""
    k8s = f"{version}-{revision}"
    minor = ".".join(version.split(".")[:2])
    k8s_repo = docroot / "core:" / "stable:" / f"v{minor}" / "deb"
    k8s_repo.mkdir(parents=True)
    for name, extra in (
        ("kubeadm", {}),
        ("kubectl", {}),
        (
            "kubelet",
            {
                "/usr/lib/systemd/system/kubelet.service": unit.format("kubelet"),
                "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": "[Service]\nEnvironment=KUBELET_SIM=1\n",
                # As pkgs.k8s.io's kubelet package: the static-pod directory kubeadm writes into.
                "/etc/kubernetes/manifests": None,
            },
        ),
    ):
        _deb(
            k8s_repo,
            name,
            k8s,
            {
                f"/usr/bin/{name}": STANDINS,
                f"/usr/share/gitops-sim/{name}.version": k8s + "\n",
                **extra,
            },
            f"{name} stand-in for the node simulator",
        )
    _packages(k8s_repo, k8s_repo, k8s_repo)
    (k8s_repo / "Release").write_text(
        _release(
            k8s_repo,
            [k8s_repo / "Packages", k8s_repo / "Packages.gz"],
            textwrap.dedent(f"""\
        Origin: obs://build.opensuse.org/isv:kubernetes:core:stable:v{minor}/deb
        Label: isv:kubernetes:core:stable:v{minor}
        Architectures: amd64
        Date: Mon, 30 Nov 2026 00:00:00 UTC
        """),
        )
    )
    _sign(gnupg, k8s_repo / "Release")
    (k8s_repo / "Release.key").write_text(armored)
