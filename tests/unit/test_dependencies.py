"""Dependencies: one lock with hashes, a runtime that covers what `pulumi up` executes, Dependabot on every manifest.

What must hold, and why:
- every direct dependency in pyproject.toml is an exact pin, and uv.lock was written from exactly
  these pins (so `make venv`'s `uv sync --locked` installs what the review saw); every package the
  lock holds comes from the registry with a sha256 for each file, so a tampered download fails;
- the runtime dependencies (`[project] dependencies`, what `pulumi install` gives a fresh machine)
  cover every third-party module the program imports and the `ansible-playbook` the bootstrap runs,
  and the playbook uses no Ansible collection that ansible-core does not ship;
- the policy pack's requirements (policy/requirements.txt, what policy/venv is installed from) are
  exported from the lock's `policy` group: every package pinned with the lock's hashes;
- the pinned uv (tools/uv/requirements.txt) is the one pyproject.toml requires, hash-pinned;
- Pulumi.yaml's runtime runs the program with uv in the same .venv that `make venv` builds;
- Dependabot has an entry for every manifest of the repository, with the right ecosystem.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT
from tests.support.prereqs import require

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
UV_REQUIREMENTS = ROOT / "tools" / "uv" / "requirements.txt"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[Any]) -> dict[str, str]:
    pins = {}
    for req in requirements:
        if isinstance(req, dict):  # {include-group = "..."}
            pins.update(_pins(PYPROJECT["dependency-groups"][req["include-group"]]))
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+-]*)", req)
        assert match, f"pyproject.toml: {req!r} is not an exact pin `name==X.Y.Z`"
        pins[_norm(match[1])] = match[2]
    return pins


def _locked_packages() -> dict[str, dict[str, Any]]:
    return {_norm(p["name"]): p for p in LOCK["package"]}


def _root() -> dict[str, Any]:
    roots = [p for p in LOCK["package"] if p.get("source") == {"virtual": "."}]
    assert len(roots) == 1, "uv.lock has no entry for the project itself (run `uv lock`)"
    root: dict[str, Any] = roots[0]
    return root


def _closure(names: list[str]) -> set[str]:
    packages = _locked_packages()
    seen: set[str] = set()
    todo = [_norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_norm(d["name"]) for d in packages[name].get("dependencies", []))
    return seen


RUNTIME = _pins(PYPROJECT["project"]["dependencies"])
DEV = _pins(PYPROJECT["dependency-groups"]["dev"])
POLICY = _pins(PYPROJECT["dependency-groups"]["policy"])
POLICY_REQUIREMENTS = ROOT / "policy" / "requirements.txt"


def test_the_lock_was_written_from_exactly_these_pins() -> None:
    metadata = _root()["metadata"]
    locked_runtime = {_norm(r["name"]): r["specifier"] for r in metadata["requires-dist"]}
    locked_dev = {_norm(r["name"]): r["specifier"] for r in metadata["requires-dev"]["dev"]}
    locked_policy = {_norm(r["name"]): r["specifier"] for r in metadata["requires-dev"]["policy"]}
    assert locked_runtime == {n: f"=={v}" for n, v in RUNTIME.items()}, "uv.lock is stale: run `make lock`"
    assert locked_dev == {n: f"=={v}" for n, v in DEV.items()}, "uv.lock is stale: run `make lock`"
    assert locked_policy == {n: f"=={v}" for n, v in POLICY.items()}, "uv.lock is stale: run `make lock`"
    assert POLICY["pulumi"] == RUNTIME["pulumi"], "the policy pack and the program must speak one pulumi protocol"
    packages = _locked_packages()
    for name, version in {**RUNTIME, **DEV}.items():
        assert packages[name]["version"] == version, f"uv.lock holds {name} {packages[name]['version']}, not {version}"


def test_every_locked_package_comes_from_the_registry_with_a_hash_per_file() -> None:
    for name, package in _locked_packages().items():
        if package.get("source") == {"virtual": "."}:
            continue
        assert package["source"] == {"registry": "https://pypi.org/simple"}, f"{name}: {package['source']}"
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, f"{name}: no file in the lock"
        for file in files:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", file.get("hash", "")), f"{name}: {file['url']} has no sha256"


def test_the_lock_agrees_with_pyproject_as_uv_reads_it() -> None:
    # The same check `make venv` makes (`uv sync --locked`), with the pinned uv it installed.
    uv = os.environ.get("UV") or str(ROOT / ".cache" / f"uv-{_pinned_uv_version()}" / "bin" / "uv")
    require(Path(uv).is_file(), f"the pinned uv is not at {uv} (run `make venv`)")
    proc = subprocess.run(
        [uv, "lock", "--check", "--offline", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


def _requirement_hashes(text: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, hashes) of a hash-pinned requirements file."""
    found: dict[str, tuple[str, set[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2] if text.startswith("#") else text):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", block)
        assert match, f"not a pinned requirement: {block[:80]!r}"
        found[_norm(match[1])] = (match[2], set(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block)))
    return found


def test_the_policy_packs_requirements_are_the_locks_policy_group_with_hashes() -> None:
    text = POLICY_REQUIREMENTS.read_text(encoding="utf-8")
    assert text.startswith("# This file was autogenerated by uv"), (
        "policy/requirements.txt is exported: run `make lock`"
    )
    exported = _requirement_hashes(re.sub(r"^#.*\n", "", text, flags=re.M))
    packages = _locked_packages()
    assert set(exported) == _closure(list(POLICY)), "policy/requirements.txt is stale: run `make lock`"
    for name, (version, hashes) in exported.items():
        locked = packages[name]
        files = [*locked.get("wheels", []), *([locked["sdist"]] if "sdist" in locked else [])]
        assert version == locked["version"], f"{name}: {version} exported, {locked['version']} locked"
        assert hashes and hashes == {f["hash"] for f in files}, f"{name}: the exported hashes are not the lock's"


@pytest.mark.parametrize("target", ["requirements.txt", "policy/requirements.txt"])
def test_the_exported_requirements_are_what_the_pinned_uv_exports_from_the_lock(target: str) -> None:
    """`make lock` writes each file with the pinned uv; the committed file is byte for byte that export."""
    uv = os.environ.get("UV") or str(ROOT / ".cache" / f"uv-{_pinned_uv_version()}" / "bin" / "uv")
    require(Path(uv).is_file(), f"the pinned uv is not at {uv} (run `make venv`)")
    make = subprocess.run(["make", "-n", "lock"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    exports = [line.split() for line in make.stdout.splitlines() if " export " in line]
    export = next(e for e in exports if e[-2:] == ["-o", target])
    assert "--frozen" in export and "requirements-txt" in export
    proc = subprocess.run([uv, *export[1:-2]], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)

    def body(text: str) -> str:  # without the header comment, which names the command line
        return re.sub(r"\A(#.*\n)+", "", text)

    assert body(proc.stdout) == body((ROOT / target).read_text(encoding="utf-8")), f"{target} is stale: run `make lock`"


def test_the_top_level_requirements_are_the_whole_lock_with_hashes() -> None:
    """requirements.txt installs with pip (`toolchain: pip`) what uv installs from the lock: every
    package of the runtime and dev closure, at the locked version, with every file's hash."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert text.startswith("# This file was autogenerated by uv"), "requirements.txt is exported: run `make lock`"
    exported = _requirement_hashes(re.sub(r"^#.*\n", "", text, flags=re.M))
    packages = _locked_packages()
    assert set(exported) == _closure([*RUNTIME, *DEV]), "requirements.txt is stale: run `make lock`"
    for name, (version, hashes) in exported.items():
        files = [*packages[name].get("wheels", []), *([packages[name]["sdist"]] if "sdist" in packages[name] else [])]
        assert version == packages[name]["version"]
        assert hashes and hashes == {f["hash"] for f in files}, f"{name}: the exported hashes are not the lock's"


def _pinned_uv_version() -> str:
    match = re.search(r"^uv==(\S+) \\$", UV_REQUIREMENTS.read_text(encoding="utf-8"), re.M)
    assert match, f"{UV_REQUIREMENTS}: no `uv==X.Y.Z \\` line"
    return match[1]


def test_the_pinned_uv_is_hash_pinned_and_the_one_pyproject_requires() -> None:
    text = UV_REQUIREMENTS.read_text(encoding="utf-8")
    hashes = re.findall(r"--hash=sha256:[0-9a-f]{64}", text)
    assert len(hashes) >= 4, "tools/uv/requirements.txt must hash every platform's wheel of uv"
    assert PYPROJECT["tool"]["uv"]["required-version"] == f">={_pinned_uv_version()}"
    assert PYPROJECT["tool"]["uv"]["package"] is False
    assert PYPROJECT["tool"]["uv"]["python-downloads"] == "never"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"\.cache/uv-([0-9.]+)/bin", readme)) == {_pinned_uv_version()}, "README names another uv"


def test_make_venv_installs_from_the_lock_only() -> None:
    proc = subprocess.run(
        ["make", "-n", "-B", "venv"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    commands = proc.stdout.splitlines()
    installs = [c for c in commands if re.search(r"\b(pip|uv)\b.*\b(install|sync)\b", c)]
    assert any("uv sync --locked" in c for c in installs), commands
    # The only pip installs are the pinned uv itself and the kit's botocore, hash-checked and
    # without dependency resolution (tools/eic/requirements.txt pins every package).
    pips = [c for c in installs if "pip install" in c]
    assert [next(f for f in ("tools/uv/requirements.txt", "tools/eic/requirements.txt") if f in c) for c in pips] == [
        "tools/uv/requirements.txt",
        "tools/eic/requirements.txt",
    ]
    assert all("--require-hashes" in c and "--no-deps" in c for c in pips), pips


def test_pulumi_runs_the_program_with_uv_in_the_same_virtualenv(tmp_path: Path) -> None:
    options = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["runtime"]["options"]
    assert options["toolchain"] == "uv"
    assert options["virtualenv"] == ".venv"
    # With toolchain uv the Pulumi CLI needs `uv` on PATH: CI jobs get the pinned one from the setup
    # action (tools/up.sh does the same for `make up`, tests/unit/test_newcomer.py).
    action = yaml.safe_load((ROOT / ".github" / "actions" / "setup-project" / "action.yml").read_text(encoding="utf-8"))
    step = next(s for s in action["runs"]["steps"] if "make venv" in str(s.get("run", "")))
    script = step["run"].split("make venv PYTHON=python\n", 1)[1]  # what runs after the install
    github_path = tmp_path / "github_path"
    subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env={**os.environ, "GITHUB_PATH": str(github_path)}, check=True, timeout=30
    )
    uv_bin = ROOT / ".cache" / f"uv-{_pinned_uv_version()}" / "bin"
    assert github_path.read_text(encoding="utf-8").splitlines() == [str(uv_bin)]
    # ... and `make test`, for the lifecycle test's Pulumi CLI.
    proc = subprocess.run(
        ["make", "-n", "test", "-o", "venv", "-o", "node-tools", "-o", ".cache/helm-v3.17.3/helm"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pytest_line = next(line for line in proc.stdout.splitlines() if "-m pytest" in line)
    assert f'PATH="{uv_bin}:$PATH"' in pytest_line


# --- what `pulumi up` executes is in the runtime dependencies -----------------------------------------


def _third_party_imports(paths: list[Path]) -> set[str]:
    local = {p.stem for p in ROOT.iterdir()} | {"components", "tools", "policy"}
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                    found.add(top)
    return found


def test_the_runtime_dependencies_cover_every_module_the_program_imports() -> None:
    program = [ROOT / "__main__.py", *sorted((ROOT / "components").glob("*.py"))]
    imports = _third_party_imports(program)
    assert {"pulumi", "pulumi_aws", "yaml"} <= imports
    distributions = importlib.metadata.packages_distributions()
    runtime = _closure(list(RUNTIME))
    for module in sorted(imports):
        owners = {_norm(d) for d in distributions.get(module, [])}
        assert owners, f"{module} is imported by the program but no installed distribution provides it"
        assert owners & runtime, (
            f"the program imports {module} ({', '.join(sorted(owners))}), which is not in pyproject.toml's "
            "[project] dependencies: `pulumi install` would not install it"
        )


def test_the_runtime_dependencies_hold_ansible_playbook() -> None:
    # components/bootstrap.py runs ansible-playbook from this environment.
    assert "ansible-playbook" in (ROOT / "components" / "bootstrap.py").read_text(encoding="utf-8")
    assert "ansible-core" in RUNTIME, "ansible-core (ansible-playbook) must be a runtime dependency"
    entry_points = importlib.metadata.distribution("ansible-core").entry_points
    assert "ansible-playbook" in {e.name for e in entry_points if e.group == "console_scripts"}


def _task_modules(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+", key):
                found.add(key)
            found |= _task_modules(value)
    elif isinstance(node, list):
        for item in node:
            found |= _task_modules(item)
    return found


def test_the_playbook_needs_no_collection_beyond_ansible_core() -> None:
    modules: set[str] = set()
    for path in sorted((ROOT / "ansible").rglob("*.yml")):
        if "/tasks/" in str(path) or "/handlers/" in str(path) or path.name == "site.yml":
            modules |= _task_modules(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert "ansible.builtin.command" in modules
    outside = sorted(m for m in modules if not m.startswith("ansible.builtin."))
    assert outside == [], (
        f"the playbook uses {outside}: add the collection to an ansible/requirements.yml installed by "
        "`make venv` and `pulumi install`, or use an ansible.builtin module"
    )


# --- Dependabot -------------------------------------------------------------------------------------


def _tracked_files() -> list[str]:
    proc = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    if proc.returncode == 0 and proc.stdout:
        return proc.stdout.splitlines()
    skip = {".git", ".venv", "node_modules", ".cache", "venv", "build"}
    return [
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
    ]


def _manifests() -> set[tuple[str, str]]:
    wanted: set[tuple[str, str]] = set()
    for rel in _tracked_files():
        path = Path(rel)
        folder = "/" if str(path.parent) == "." else "/" + str(path.parent)
        if path.name == "uv.lock":
            wanted.add(("uv", folder))
        elif re.fullmatch(r"requirements.*\.txt", path.name):
            exported = (ROOT / rel).read_text(encoding="utf-8").startswith("# This file was autogenerated by uv")
            # An export of uv.lock changes with it: the uv entry at the root covers it.
            wanted.add(("uv", "/") if exported else ("pip", folder))
        elif path.name == "package-lock.json":
            wanted.add(("npm", folder))
        elif rel.startswith(".github/workflows/"):
            wanted.add(("github-actions", "/"))
        elif rel.startswith(".github/actions/") and path.name == "action.yml":
            wanted.add(("github-actions", folder))
    return wanted


def _dependabot_entries() -> set[tuple[str, str]]:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    covered: set[tuple[str, str]] = set()
    for update in config["updates"]:
        folders = update.get("directories") or [update["directory"]]
        covered |= {(update["package-ecosystem"], folder.rstrip("/") or "/") for folder in folders}
        assert update["cooldown"]["default-days"] >= 7, update["package-ecosystem"]
    return covered


def test_dependabot_covers_every_manifest() -> None:
    wanted = _manifests()
    expected = {("uv", "/"), ("pip", "/tools/uv"), ("npm", "/tests/schemas"), ("npm", "/tools/ci")}
    assert expected <= wanted
    assert sorted(wanted - _dependabot_entries()) == []
    # Nothing at the root for pip: pyproject.toml is the uv ecosystem's, updated together with uv.lock.
    assert ("pip", "/") not in _dependabot_entries()


def test_an_install_from_requirements_txt_gives_the_environment_the_lock_gives() -> None:
    """What `pulumi install` with `toolchain: pip` installs (`pip install -r requirements.txt` into
    the virtualenv) is exactly the .venv `make venv` built from uv.lock: a hash-checked sync of the
    file into it, offline, changes nothing. (uv's pip interface stands in for pip here: pip has no
    offline dry run against an existing environment; both read the same hashes.)"""
    uv = os.environ.get("UV") or str(ROOT / ".cache" / f"uv-{_pinned_uv_version()}" / "bin" / "uv")
    require(Path(uv).is_file(), f"the pinned uv is not at {uv} (run `make venv`)")
    argv = [
        uv,
        "pip",
        "sync",
        "--dry-run",
        "--offline",
        "--require-hashes",
        "--python",
        str(ROOT / ".venv" / "bin" / "python"),
    ]
    proc = subprocess.run([*argv, "requirements.txt"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Would make no changes" in proc.stderr, proc.stderr
