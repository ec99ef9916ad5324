"""Compare two versions of the settings validation on many generated configurations.

    python -m tools.settings_compare --reference <checkout> [--count 4000] [--seed 1] [--show 20]

`--reference` is another checkout of this repository (e.g. `git worktree add --detach ../ref
<commit>`) whose validation is the yardstick: the old `components/config.py` or a
`components/settings/` package. Both are fed the same configurations, made from Pulumi.dev.yaml by
one to three random changes (bad types of every key Pulumi.yaml declares, good and bad values of
each section, out-of-range numbers, typos in keys, whitespace, unicode, YAML quirks, node rows,
labels, taints, zones, pools, subnet capacity, GitOps URLs, CIDRs, versions, SSH keys, SSO), with this
checkout's Pulumi.yaml and versions.yaml, so only the code differs. For each case the report says
whether both accept or both refuse, and whether the listed problems (key, masked value, fix) are
the same; it prints the figures and the first `--show` differences. Exit 1 when a configuration
one accepts is refused by the other.
"""

from __future__ import annotations

import argparse
import copy
import pickle
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
Values = dict[Any, Any]
Secrets = dict[str, str]
Case = tuple[Values, Secrets, bool]

# Runs inside one checkout: validates every case there and pickles (accepted, problem lines).
_RUNNER = r"""
import pickle, sys
root, cases_file, out_file, project_file, versions_file = sys.argv[1:6]
sys.path.insert(0, root)
from pathlib import Path
try:
    from components.settings import keys as keys_module
    from components.settings.keys import SecretInput, with_defaults
    from components.settings.messages import ConfigError
    from components.settings.parse import parse_settings
    new = True
except ImportError:
    import components.config as keys_module
    from components.config import ConfigError, parse_settings, with_defaults
    new = False
keys_module.PROJECT_FILE = Path(project_file)
keys_module.VERSIONS_FILE = Path(versions_file)
keys_module.declared_keys.cache_clear()
results = []
for values, secrets, deploying in pickle.loads(Path(cases_file).read_bytes()):
    values = dict(values)
    if new:
        kwargs = {"secrets": {k: SecretInput(set=True, value=v) for k, v in secrets.items()}}
    else:
        kwargs = {}
        for k, v in secrets.items():
            values[f"{k}Set"] = True
            values[f"{k}Value"] = v
    try:
        parse_settings(with_defaults(values), deploying=deploying, **kwargs)
    except ConfigError as exc:
        results.append((False, [line for line in str(exc).splitlines() if line.startswith("  ")]))
    except Exception as exc:  # a crash is a finding too
        results.append((False, [f"CRASH {type(exc).__name__}: {exc}"]))
    else:
        results.append((True, []))
Path(out_file).write_bytes(pickle.dumps(results))
"""

WEIRD: list[Any] = [
    None, True, False, 0, -1, 1, 3, 2**40, 1.5, 40.0, "", " ", "x", "3", " t3.small", "T3.SMALL", "ünïcode",
    "a" * 300, [], ["x"], {}, {"a": 1}, "0.0.0.0/0", "10.0.0.0/8", "10.0.0.1/16", "10.0.0.0/33", "yes",
]  # fmt: skip
NODE_FIELDS = ("name", "role", "instanceType", "rootVolumeGb", "labels", "taints", "count", "zone")


def _keys(tmp: Path) -> dict[str, str]:
    """Real key pairs (ssh-keygen): an ED25519 pair, another, a short RSA one and an encrypted one."""
    made = {}
    for name, args in {
        "a": ["-t", "ed25519", "-N", ""],
        "b": ["-t", "ed25519", "-N", ""],
        "rsa1024": ["-t", "rsa", "-b", "1024", "-N", ""],
        "enc": ["-t", "ed25519", "-N", "passphrase"],
    }.items():
        path = tmp / name
        subprocess.run(["ssh-keygen", "-q", *args, "-f", str(path), "-C", "ops@example"], check=True)
        made[name] = path.read_text()
        made[f"{name}.pub"] = path.with_suffix(".pub").read_text().strip()
    # Damaged ones: data cut short, whole base64 that is no openssh-key-v1, a placeholder.
    made["cut.pub"] = made["a.pub"][:60]
    made["notopenssh"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n"
    made["placeholder"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nNOT-A-KEY\n-----END OPENSSH PRIVATE KEY-----\n"
    return made


def _row(rng: random.Random, values: Values) -> Values:
    return rng.choice([r for r in values["nodes"] if isinstance(r, dict)])


def _mutations(
    rng: random.Random, base: dict[str, Any], keys: dict[str, str]
) -> list[Callable[[Values, Secrets], None]]:
    # Every key Pulumi.yaml declares, not only those the dev stack sets.
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    scalar = sorted(
        {*(k for k in base if k not in ("nodes", "versions", "awsRegion")), *(k for k in project if ":" not in k)}
    )

    def set_scalar(v: Values, s: Secrets) -> None:
        v[rng.choice(scalar)] = rng.choice(WEIRD)

    def typo_key(v: Values, s: Secrets) -> None:
        key = rng.choice(scalar)
        i = rng.randrange(len(key))
        v[key[:i] + key[i + 1 :] if rng.random() < 0.5 else key.upper()] = v.get(key)

    def node_field(v: Values, s: Secrets) -> None:
        row = _row(rng, v)
        row[rng.choice(NODE_FIELDS)] = rng.choice(WEIRD)

    def node_drop(v: Values, s: Secrets) -> None:
        _row(rng, v).pop(rng.choice(NODE_FIELDS), None)

    def node_unknown(v: Values, s: Secrets) -> None:
        _row(rng, v)[rng.choice(["instancetype", "Name", "roles", "zones", "cnt", 7])] = "x"

    def node_count(v: Values, s: Secrets) -> None:
        _row(rng, v)["count"] = rng.choice([0, 1, 2, 3, 499, 500, 501, True, "2", 2.0])

    def node_label(v: Values, s: Secrets) -> None:
        k = rng.choice(["workload", "a/b", "kubernetes.io/hostname", "x" * 70, "-bad", 1, "ok.example.com/x"])
        _row(rng, v).setdefault("labels", {})[k] = rng.choice(["api", "", None, 1.3, True, "-x", "v" * 70])

    def node_taint(v: Values, s: Secrets) -> None:
        taint = {
            "key": rng.choice(["dedicated", "node.kubernetes.io/x", 3, ""]),
            "effect": rng.choice(["NoSchedule", "NoExecute", "PreferNoSchedule", "noschedule", None]),
        }
        if rng.random() < 0.5:
            taint["value"] = rng.choice(["x", "", None, 1, "-bad"])
        if rng.random() < 0.2:
            taint["extra"] = 1
        row = _row(rng, v)
        row["taints"] = [*(row.get("taints") or []), taint] if rng.random() < 0.8 else taint

    def node_zone(v: Values, s: Secrets) -> None:
        _row(rng, v)["zone"] = rng.choice([0, 1, 2, 3, -1, "a", "b", "z", "A", "1", [0, 1], [], ["a", 9]])

    def node_rows(v: Values, s: Secrets) -> None:
        choice = rng.randrange(5)
        if choice == 0:
            v["nodes"] = v["nodes"][: rng.randrange(len(v["nodes"]))]
        elif choice == 1:
            v["nodes"].append(copy.deepcopy(_row(rng, v)))
        elif choice == 2:
            v["nodes"] = [r for r in v["nodes"] if r.get("role") != "control-plane"]
        elif choice == 3:
            v["nodes"].append("not a row")
        else:
            v["nodes"] = rng.choice([None, {}, "nodes", [], 3])

    def version(v: Values, s: Secrets) -> None:
        key = rng.choice(["kubernetes", "calico", "argoCdChart", "argoCdChartRepo", "ubuntuAmiName", "nope"])
        v["versions"] = {key: rng.choice([1.3, "1.31.4", "latest", "v3.29.1", "http://x", " 1.31.4", "*", True])}

    def ssh(v: Values, s: Secrets) -> None:
        pub, priv = rng.choice(
            [("a.pub", "a"), ("a.pub", "b"), ("rsa1024.pub", "rsa1024"), ("enc.pub", "enc"), ("a.pub", None),
             (None, "a"), ("a", "a"), ("b.pub", "b"), ("cut.pub", "a"), ("a.pub", "notopenssh"),
             ("a.pub", "placeholder"), ("rsa1024.pub", "a")]
        )  # fmt: skip
        if pub:
            v["sshPublicKey"] = keys[pub]
        if priv:
            s["sshPrivateKey"] = keys[priv]

    def sso(v: Values, s: Secrets) -> None:
        for key, value in (("argocdGithubOrg", "acme"), ("argocdGithubAdminTeam", "admins"),
                           ("argocdGithubClientId", "Ov23li")):  # fmt: skip
            if rng.random() < 0.8:
                v[key] = value if rng.random() < 0.8 else rng.choice(WEIRD)
        if rng.random() < 0.8:
            s["argocdGithubClientSecret"] = "s3cr3t"

    def cidrs(v: Values, s: Secrets) -> None:
        key = rng.choice(["adminCidrs", "apiCidrs", "publicSubnetCidrs", "privateSubnetCidrs"])
        v[key] = rng.choice([["203.0.113.0/24"], ["0.0.0.0/0"], ["8.0.0.0/7"], ["10.0.0.0/28"] * 2, "1.2.3.4/32",
                             ["127.0.0.1/32"], [f"10.0.{i}.0/24" for i in range(3)], ["1.2.3.4"]])  # fmt: skip

    def good_scalar(v: Values, s: Secrets) -> None:
        """A plausible value a user sets: most are good, so accepted configurations are compared too."""
        key, value = rng.choice(GOOD_VALUES)
        if isinstance(key, tuple):
            v.update(zip(key, value, strict=True))
        else:
            v[key] = value

    def bad_scalar(v: Values, s: Secrets) -> None:
        """A value of the right type that a section's rules refuse (text where text is declared)."""
        key, value = rng.choice(BAD_VALUES)
        v[key] = value

    def gitops_url(v: Values, s: Secrets) -> None:
        v["gitopsRepoUrl"] = rng.choice(GITOPS_URLS)
        if rng.random() < 0.5:  # with another GitOps problem, so the order of the two is compared
            v[rng.choice(["gitopsMode", "gitopsRevision", "gitopsPath", "environment"])] = rng.choice(
                ["", "x y", "/abs", "../up", "pin", "HEAD", 3]
            )

    def node_capacity(v: Values, s: Secrets) -> None:
        """Small private subnets, sometimes with a pool and a bad row, so subnet capacity is compared."""
        v["vpcCidr"] = "10.0.0.0/16"
        v["privateSubnetCidrs"] = rng.choice([[f"10.0.{16 * i}.0/28" for i in range(1, 4)],
                                              [f"10.0.{16 * i}.0/27" for i in range(1, 4)],
                                              [f"10.0.{16 * i}.0/26" for i in range(1, 4)]])  # fmt: skip
        v["publicSubnetCidrs"] = [f"10.0.{i}.0/24" for i in range(3)]
        row = _row(rng, v)
        row["count"] = rng.choice([1, 5, 20, 40, 80, 600, "9"])
        if rng.random() < 0.4:
            _row(rng, v)[rng.choice(["instanceType", "rootVolumeGb", "name"])] = rng.choice(["nope", 3, "Bad_Name"])

    return [set_scalar, typo_key, node_field, node_drop, node_unknown, node_count, node_label, node_taint,
            node_zone, node_rows, version, ssh, sso, cidrs, good_scalar, good_scalar, bad_scalar, gitops_url,
            node_capacity]  # fmt: skip


SHA = "0123456789abcdef0123456789abcdef01234567"
GOOD_VALUES: list[tuple[Any, Any]] = [
    ("clusterName", "prod-1"), ("vpcCidr", "10.1.0.0/16"), ("azCount", 2), ("natGatewayPerAz", True),
    ("podCidr", "172.20.0.0/16"), ("serviceCidr", "10.100.0.0/16"), ("bastionInstanceType", "t3.small"),
    ("bastionInstanceType", "t4g.micro"), ("allowBroadAccessCidrs", True), ("adminCidrs", ["85.10.20.0/24"]),
    ("apiCidrs", ["85.10.20.0/24", "10.8.0.0/16"]), ("argocdDomain", "argocd.example.com"),
    ("argocdAdminPasswordVersion", 2), ("media", False), ("mediaCorsOrigins", ["https://app.example.com"]),
    ("mediaBucketDeleteOnDestroy", True), ("apiMinReplicas", 2), ("apiMaxReplicas", 10),
    (("dnsZone", "dnsDomain"), ("example.com", "dev.example.com")),
    (("gitopsMode", "environment", "gitopsRevision"), ("pin", "production", SHA)),
    ("gitopsPath", "manifests/argocd/apps"), ("versions", {"kubernetes": "1.36.4"}),
    (("argocdGithubOrg", "argocdGithubAdminTeam", "argocdGithubClientId"), ("acme", "admins", "Ov23li")),
]  # fmt: skip
BAD_VALUES: list[tuple[str, Any]] = [
    ("clusterName", "Prod_1"), ("vpcCidr", "10.0.0.0/8"), ("vpcCidr", "8.8.0.0/16"), ("azCount", 9),
    ("podCidr", "10.0.0.0/16"), ("serviceCidr", "10.96.0.0/8"), ("bastionInstanceType", "mac1.metal"),
    ("argocdDomain", "https://argocd.example.com"), ("argocdAdminPasswordVersion", 0), ("dnsZone", "Example.COM"),
    ("dnsDomain", "other.org"), ("mediaCorsOrigins", ["*"]), ("mediaCorsOrigins", ["https://a.example/x"]),
    ("apiMinReplicas", 0), ("apiMaxReplicas", 21), ("apiMaxReplicas", 0), ("sshPublicKey", "ssh-ed25519 AAAA"),
    ("gitopsPath", "a//b"), ("gitopsPath", "a/./b"), ("environment", "staging"), ("gitopsMode", "follow"),
    ("argocdGithubOrg", "https://github.com/acme"), ("argocdGithubAdminTeam", "acme/admins"),
    ("argocdGithubClientId", " Ov23li"), ("versions", {"kubernetes": "1.36"}), ("versions", {"calico": 3.3}),
    ("versions", {"redisImage": "redis:latest"}), ("versions", None), ("versions", ["x"]),
]  # fmt: skip
GITOPS_URLS = [
    "", "http://github.com/acme/x.git", "https://token@github.com/acme/x.git", "https://github.com/acme/x.git?ref=1",
    "https://github.com/acme/x.git#main", "https://github.com/acme/x y.git", "https://github.com/acme/../x.git",
    "https:///x.git", "https://github.com/ünï/x.git", "git@github.com:acme/x.git", "https://github.com/acme/x.git",
    "https://github.com/example-org/gitops-cluster.git",
]  # fmt: skip


def generate(count: int, seed: int, keys: dict[str, str]) -> list[Case]:
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]
    base = {k.partition(":")[2]: v for k, v in doc.items() if k.startswith("gitops-cluster:")}
    base["gitopsRepoUrl"] = "https://github.com/acme-platform/gitops-cluster.git"
    base["awsRegion"] = doc.get("aws:region", "ap-northeast-2")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    mutations = _mutations(rng, base, keys)
    cases: list[Case] = [(copy.deepcopy(base), {}, False)]
    for _ in range(count - 1):
        values, secrets = copy.deepcopy(base), Secrets()
        for mutate in rng.sample(mutations, rng.choice([1, 1, 2, 3])):
            rows = values.get("nodes")
            if mutate.__name__[:4] != "node" or (isinstance(rows, list) and any(isinstance(r, dict) for r in rows)):
                mutate(values, secrets)
        deploying = rng.random() < 0.5
        if deploying and rng.random() < 0.7:
            # The dev stack lists documentation ranges that `pulumi up` refuses: real ones instead,
            # so that deployable configurations are compared too.
            for key in ("adminCidrs", "apiCidrs"):
                if values.get(key) == base[key]:
                    values[key] = ["85.10.20.0/24"]
        cases.append((values, secrets, deploying))
    return cases


def run(tree: Path, cases_file: Path, tmp: Path) -> list[tuple[bool, list[str]]]:
    out = tmp / f"out-{tree.name}.pickle"
    subprocess.run(
        [sys.executable, "-c", _RUNNER, str(tree), str(cases_file), str(out), str(ROOT / "Pulumi.yaml"),
         str(ROOT / "versions.yaml")],
        check=True, cwd=tree,
    )  # fmt: skip
    return list(pickle.loads(out.read_bytes()))  # noqa: S301 - written just now by our own runner


def _key(line: str) -> str:
    """The key of a problem line, its index in brackets dropped (nodes[api-1].count -> nodes[].count)."""
    key = line.strip().removeprefix("- ").split(" = ", 1)[0]
    return re.sub(r"\[[^\]]*\]", "[]", key)


def _fix(line: str) -> str:
    """The start of a problem line's fix, its numbers as N (so one kind is counted once)."""
    return re.sub(r"[0-9]+", "N", line.split(": ", 1)[-1])[:70]


def _kinds_of_difference(old: list[tuple[bool, list[str]]], new: list[tuple[bool, list[str]]]) -> Counter[str]:
    """Each case whose problems differ, by kind: which key moved, or which (key, fix) came or went."""
    kinds: Counter[str] = Counter()
    for (_, a), (_, b) in zip(old, new, strict=True):
        if a == b:
            continue
        if sorted(a) == sorted(b):
            i = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
            kinds[f"other order: {_key(a[i])} -> {_key(b[i])}"] += 1
            continue
        gone = sorted({f"-{_key(x)}: {_fix(x)}" for x in set(a) - set(b)})
        came = sorted({f"+{_key(x)}: {_fix(x)}" for x in set(b) - set(a)})
        kinds[" ".join(gone + came)] += 1
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cases = generate(args.count, args.seed, _keys(tmp))
        cases_file = tmp / "cases.pickle"
        cases_file.write_bytes(pickle.dumps(cases))
        old, new = run(args.reference.resolve(), cases_file, tmp), run(ROOT, cases_file, tmp)
    figures = {"cases": len(cases), "both accept": 0, "both refuse, same problems": 0,
               "both refuse, problems differ": 0, "newly accepted": 0, "newly refused": 0}  # fmt: skip
    shown = 0
    for (ok_old, lines_old), (ok_new, lines_new) in zip(old, new, strict=True):
        if ok_old and ok_new:
            kind = "both accept"
        elif ok_old != ok_new:
            kind = "newly accepted" if ok_new else "newly refused"
        else:
            kind = "both refuse, same problems" if lines_old == lines_new else "both refuse, problems differ"
        figures[kind] += 1
        if kind not in ("both accept", "both refuse, same problems") and shown < args.show:
            shown += 1
            print(f"--- {kind}")
            for line in sorted(set(lines_old) - set(lines_new)):
                print(f"  old{line}")
            for line in sorted(set(lines_new) - set(lines_old)):
                print(f"  new{line}")
            if sorted(lines_old) == sorted(lines_new):
                print("  (same problems, other order)")
                for line in lines_old:
                    print(f"  old{line}")
                for line in lines_new:
                    print(f"  new{line}")
    kinds = _kinds_of_difference(old, new)
    if kinds:
        print("differences by kind (key as listed: old line -> new line; + added, - removed):")
        for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
            print(f"  {n:5d}  {kind}")
    crashes = sum(1 for _, lines in new if lines and lines[0].startswith("CRASH"))
    for kind, n in figures.items():
        print(f"{kind}: {n}")
    print(f"crashes (new): {crashes}")
    return 1 if figures["newly accepted"] or figures["newly refused"] or crashes else 0


if __name__ == "__main__":
    sys.exit(main())
