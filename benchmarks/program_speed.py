"""How fast the program runs under the mock runtime, measured against issue 2's speed targets.

Targets (on the project's 2-core machine): the dev stack's program time at most 1.0 s and the
whole process, imports included, at most 1.5 s; a 300-node table at most 5 s, growing linearly
with the number of nodes; the whole test suite, install excluded, under 60 s.

Every measurement runs in a fresh interpreter (`sys.executable -c ...` from the project root), so
no run inherits another's imported modules or caches:

- whole process: `run_program("dev")` as a user's `python -c` would run it, wall clock from
  spawn to exit, and the CPU time the child used (user + sys, from the kernel's rusage);
- program time: inside a child, the time of `run_program` after its imports, reported for the
  first run (which pays pulumi_aws's lazy loading of its ec2/lb/iam submodules) and for a warm
  second run separately;
- growth: tables of 50/100/200/300 nodes made from the dev table (its control plane plus its
  other entries as pools with `count`), one child per size, a least-squares line through the
  warm times and the marginal cost per node between sizes;
- where the time goes: `python -X importtime` grouped by package, and cProfile of a warm run
  grouped by code area;
- with --suite, the whole suite as `make test` runs it: `python -m pytest` with the Makefile's
  PYTEST_WORKERS (`-n auto --dist loadgroup`), wall clock and the CPU of every worker
  (benchmarks/suite_speed.py measures the suite per test and per tier).

Every child imports tools/mockrun.py, which sets the collector's thresholds and freezes the heap at
exit; the figures include those settings, as every user of the harness gets them.

The machine is often shared (other jobs on 2 cores), so the report shows the load average and
the CPU time next to the wall time; a target is "met" when the median meets it, "borderline" when
only the fastest run does. Results print as Markdown and replace the generated block of
docs/benchmarks.md (the hand-written analysis around it stays).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import itertools
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python benchmarks/program_speed.py`
    sys.path.insert(0, str(ROOT))

from benchmarks import program_floor  # noqa: E402
from components.settings.schema import MAX_NODES  # noqa: E402 - needs the project root on sys.path

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- BEGIN GENERATED (make benchmark) -->"
END = "<!-- END GENERATED -->"

TARGET_PROGRAM_S = 1.0
TARGET_PROCESS_S = 1.5
TARGET_NODES = 300
TARGET_NODES_S = 5.0
TARGET_SUITE_S = 60.0
# Linear means: the line explains the times (R^2) and the last interval's cost per node is not
# much above the first's (a quadratic term would make it grow with every interval).
LINEAR_R2 = 0.99
LINEAR_MARGINAL_RATIO = 1.5

PROCESS_SNIPPET = "from tools.mockrun import run_program; run_program('dev')"

PROGRAM_SNIPPET = """\
import json, time
t0, c0 = time.perf_counter(), time.process_time()
from tools.mockrun import run_program
t1, c1 = time.perf_counter(), time.process_time()
run_program('dev')
t2, c2 = time.perf_counter(), time.process_time()
recording = run_program('dev')
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"imports": [t1 - t0, c1 - c0], "first": [t2 - t1, c2 - c1], "warm": [t3 - t2, c3 - c2],
                  "resources": len(recording.resources)}))
"""

SIZE_SNIPPET = """\
import json, sys, time
from tools.mockrun import run_program
table, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
runs = []
for _ in range(repeat + 1):
    t, c = time.perf_counter(), time.process_time()
    recording = run_program('dev', {'nodes': table})
    runs.append([time.perf_counter() - t, time.process_time() - c])
instances = sum(1 for r in recording.resources if r.type == 'aws:ec2/instance:Instance')
print(json.dumps({"first": runs[0], "warm": runs[1:], "resources": len(recording.resources),
                  "instances": instances}))
"""

PROFILE_SNIPPET = """\
import cProfile, json, pstats, time
from tools.mockrun import run_program
run_program('dev')
profiler = cProfile.Profile(time.process_time)
profiler.enable()
run_program('dev')
profiler.disable()
stats = pstats.Stats(profiler).stats
print(json.dumps([[file, tottime] for (file, _, _), (_, _, tottime, _, _) in stats.items()]))
"""


@dataclass(frozen=True)
class Sample:
    """One timing: wall clock and CPU seconds."""

    wall: float
    cpu: float


@dataclass(frozen=True)
class Stat:
    """Min and median of repeated samples."""

    wall_min: float
    wall_median: float
    cpu_min: float
    cpu_median: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Stat:
        walls = [s.wall for s in samples]
        cpus = [s.cpu for s in samples]
        return cls(min(walls), statistics.median(walls), min(cpus), statistics.median(cpus), len(samples))


@dataclass(frozen=True)
class SizeResult:
    nodes: int
    instances: int
    resources: int
    first: Sample
    warm: Stat
    bare_cpu: float  # warm CPU (min) of as many bare aws.ec2.Instances under the same mocks

    @property
    def bare_ratio(self) -> float:
        return self.warm.cpu_min / self.bare_cpu


# --- running children ---------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env["PYTHONHASHSEED"] = "0"  # same dict/set iteration in every child
    return env


def run_child(args: Sequence[str], timeout: float = 600) -> tuple[Sample, subprocess.CompletedProcess[str]]:
    """Run `sys.executable *args` from the project root; wall time and the child's own CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_child_env(), capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)[:80]}... exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return Sample(wall, cpu), proc


def _json_out(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_process(runs: int) -> Stat:
    return Stat.of([run_child(["-c", PROCESS_SNIPPET])[0] for _ in range(runs)])


def measure_program(runs: int) -> dict[str, Any]:
    docs = [_json_out(run_child(["-c", PROGRAM_SNIPPET])[1]) for _ in range(runs)]
    out: dict[str, Any] = {phase: Stat.of([Sample(*d[phase]) for d in docs]) for phase in ("imports", "first", "warm")}
    out["resources"] = docs[0]["resources"]
    return out


def scaled_node_table(nodes: Sequence[Mapping[str, Any]], total: int) -> list[dict[str, Any]]:
    """`total` nodes: the table's control plane as is, the other entries as pools sharing the rest."""
    control = [dict(n) for n in nodes if n.get("role") == "control-plane"]
    others = [dict(n) for n in nodes if n.get("role") != "control-plane"]
    rest = total - sum(int(n.get("count", 1)) for n in control)
    if rest < len(others):
        raise ValueError(f"{total} nodes cannot hold the {len(control)} control-plane and {len(others)} pool entries")
    share, extra = divmod(rest, len(others))
    pools = [{**entry, "count": share + (1 if i < extra else 0)} for i, entry in enumerate(others)]
    return control + pools


def dev_nodes() -> list[dict[str, Any]]:
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    nodes: list[dict[str, Any]] = doc["config"]["gitops-cluster:nodes"]
    return nodes


def measure_size(total: int, repeat: int) -> SizeResult:
    table = scaled_node_table(dev_nodes(), total)
    _, proc = run_child(["-c", SIZE_SNIPPET, json.dumps(table), str(repeat)])
    doc = _json_out(proc)
    bare_cpu, _ = program_floor.measure_bare(run_child, int(doc["resources"]) - 1, repeat)  # minus the stack
    # One instance per node plus the bastion: proof the generated table really has `total` nodes.
    if doc["instances"] != total + 1:
        raise RuntimeError(f"a {total}-node table registered {doc['instances']} instances, expected {total + 1}")
    return SizeResult(
        nodes=total,
        instances=doc["instances"],
        resources=doc["resources"],
        first=Sample(*doc["first"]),
        warm=Stat.of([Sample(*w) for w in doc["warm"]]),
        bare_cpu=min(bare_cpu),
    )


@dataclass(frozen=True)
class Fit:
    intercept: float
    slope: float
    r2: float
    marginal: tuple[float, ...]  # seconds per node between consecutive sizes

    @property
    def marginal_ratio(self) -> float:
        return self.marginal[-1] / self.marginal[0] if self.marginal and self.marginal[0] > 0 else float("inf")

    @property
    def linear(self) -> bool:
        return self.r2 >= LINEAR_R2 and self.marginal_ratio <= LINEAR_MARGINAL_RATIO


def fit_line(points: Sequence[tuple[float, float]]) -> Fit:
    """Least squares t = a + b*n, its R^2, and the per-node cost of each interval."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in points)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    ordered = sorted(points)
    marginal = tuple((b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(ordered))
    return Fit(intercept, slope, r2, marginal)


def _import_group(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("pulumi_aws", "pulumi_kubernetes") and len(parts) > 1 and not parts[1].startswith("_"):
        return ".".join(parts[:2])
    if parts[0] == "google" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def import_breakdown() -> tuple[float, list[tuple[str, float]]]:
    """Self time of every import during `run_program("dev")`, summed per package (-X importtime)."""
    _, proc = run_child(["-X", "importtime", "-c", PROCESS_SNIPPET])
    groups: dict[str, float] = {}
    line = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")
    for raw in proc.stderr.splitlines():
        m = line.match(raw)
        if m:
            key = _import_group(m.group(2))
            groups[key] = groups.get(key, 0.0) + int(m.group(1)) / 1e6
    total = sum(groups.values())
    return total, sorted(groups.items(), key=lambda kv: -kv[1])


_STDLIB = Path(os.__file__).resolve().parent


def _area(path: str) -> str:
    """A profile entry's file as a package, a project directory or a stdlib module."""
    if path == "~":
        return "C builtins (isinstance, len, ...)"
    if path.startswith("<frozen"):
        return "import system"
    site = "site-packages/"
    if site in path:
        return path.split(site, 1)[1].split("/", 1)[0].removesuffix(".py")
    p = Path(path)
    if p.is_absolute() and ROOT in p.parents:
        return str(p.relative_to(ROOT).parent if p.parent != ROOT else p.name) + "/ (project)"
    if p.is_absolute() and _STDLIB in p.parents:
        return "stdlib " + p.relative_to(_STDLIB).parts[0].removesuffix(".py")
    return path


def warm_profile() -> tuple[float, list[tuple[str, float]]]:
    """cProfile (CPU clock) of a warm dev run, own time summed per package or project directory."""
    _, proc = run_child(["-c", PROFILE_SNIPPET])
    areas: dict[str, float] = {}
    for file, tottime in _json_out(proc):
        key = _area(file)
        areas[key] = areas.get(key, 0.0) + tottime
    total = sum(areas.values())
    return total, sorted(areas.items(), key=lambda kv: -kv[1])


@dataclass(frozen=True)
class SuiteResult:
    wall: float
    cpu: float
    summary: str
    slowest: list[str]
    command: str
    addopts: str
    workers: int | None  # pytest-xdist workers, None when the run was not distributed


# What `make test` adds to pyproject's addopts (the Makefile's PYTEST_WORKERS default).
MAKE_TEST_WORKERS = ("-n", "auto", "--dist", "loadgroup")


def pytest_addopts(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The options every `pytest` of the project gets from pyproject.toml (for the report)."""
    with pyproject.open("rb") as f:
        ini = tomllib.load(f).get("tool", {}).get("pytest", {}).get("ini_options", {})
    addopts = ini.get("addopts", "")
    return " ".join(addopts) if isinstance(addopts, list) else str(addopts)


def measure_suite(extra: Sequence[str] = ()) -> SuiteResult:
    """The suite as `make test` runs it: pyproject's addopts plus the Makefile's PYTEST_WORKERS.

    `--durations` only adds a report; no cache provider so the run neither reads nor leaves
    .pytest_cache (nothing in `make test` uses --lf/--ff, so the order is the same)."""
    args = ["-m", "pytest", *MAKE_TEST_WORKERS, "-p", "no:cacheprovider", "--durations=8", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_child_env(), capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - start
    # RUSAGE_CHILDREN includes the xdist workers: pytest waits for them before it exits.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = lines[-1].strip("= ") if lines else f"pytest exited {proc.returncode}"
    if proc.returncode != 0:
        summary = f"exit {proc.returncode}: {summary}"
    workers_seen = re.search(r"^(\d+) workers \[", proc.stdout, re.MULTILINE)
    slowest: list[str] = []
    collecting = False
    for ln in lines:
        if "slowest" in ln and "durations" in ln:
            collecting = True
            continue
        if collecting:
            if not re.match(r"^\d+\.\d+s ", ln):
                break
            slowest.append(ln.strip())
    return SuiteResult(
        wall,
        cpu,
        summary,
        slowest,
        " ".join(["python", *args]),
        pytest_addopts(),
        int(workers_seen.group(1)) if workers_seen else None,
    )


# --- report -----------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for ln in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("pulumi", "pulumi-aws"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "absent"
    return {
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "pulumi": versions["pulumi"],
        "pulumi-aws": versions["pulumi-aws"],
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def verdict(stat_min: float, stat_median: float, target: float) -> str:
    if stat_median <= target:
        return "met"
    if stat_min <= target:
        return "borderline (fastest run only)"
    return "**missed**"


def _s(x: float) -> str:
    return f"{x:.2f} s"


@dataclass(frozen=True)
class Results:
    """Everything one benchmark run measured."""

    info: Mapping[str, str]
    load: tuple[tuple[float, ...], tuple[float, ...]]
    process: Stat
    program: Mapping[str, Any]
    sizes: Sequence[SizeResult]
    fit: Fit
    imports: tuple[float, list[tuple[str, float]]]
    profile: tuple[float, list[tuple[str, float]]]
    floor: program_floor.FloorResult
    subpackages: Sequence[program_floor.Subpackage]
    node_costs: Sequence[program_floor.NodeCost]
    suite: SuiteResult | None = None


def _row(label: str, st: Stat, target: float | None) -> str:
    judged = f"≤ {target:g} s | {verdict(st.wall_min, st.wall_median, target)}" if target else " | "
    return f"| {label} | {_s(st.wall_min)} | {_s(st.wall_median)} | {_s(st.cpu_median)} | {judged} |"


def _load(values: tuple[float, ...]) -> str:
    return "/".join(f"{x:.2f}" for x in values)


def render(r: Results) -> str:
    info, program = r.info, r.program
    big = next((s for s in r.sizes if s.nodes == TARGET_NODES), r.sizes[-1])
    lines = [
        f"Measured {info['date']} on {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"pulumi {info['pulumi']}, pulumi-aws {info['pulumi-aws']}. Load average (1/5/15 min) "
        f"{_load(r.load[0])} at the start, {_load(r.load[1])} at the end; above ~0.5, other work shared "
        "the CPUs and wall times are inflated (CPU times much less so).",
        "",
        *program_floor.render_floor(r.floor, r.subpackages, r.node_costs),
        "",
        "### Issue 2's targets",
        "",
        f"The dev stack registers {program['resources']} resources. Process and program figures are "
        f"min / median of {r.process.runs} fresh interpreters; a target is met when the median meets it.",
        "",
        "| Measure | wall min | wall median | CPU median | target | verdict |",
        "|---|---|---|---|---|---|",
        _row(f'Whole process, dev stack: `python -c "{PROCESS_SNIPPET}"`', r.process, TARGET_PROCESS_S),
        _row("… of which importing `tools.mockrun` (pulumi SDK, grpc, protobuf)", program["imports"], None),
        _row(
            "Program time, first run (pays the lazy `pulumi_aws.ec2`/`lb`/`iam` imports)",
            program["first"],
            TARGET_PROGRAM_S,
        ),
        _row("Program time, warm second run in the same process", program["warm"], TARGET_PROGRAM_S),
        f"| {big.nodes} nodes, first run in a fresh process ({big.resources} resources) | {_s(big.first.wall)} | – "
        f"| {_s(big.first.cpu)} | ≤ {TARGET_NODES_S:g} s | {verdict(big.first.wall, big.first.wall, TARGET_NODES_S)} |",
        _row(f"{big.nodes} nodes, warm (min / median of {big.warm.runs})", big.warm, TARGET_NODES_S),
    ]
    if r.suite is not None:
        suite = r.suite
        ok = "met" if suite.wall < TARGET_SUITE_S else "**missed**"
        where = f"{suite.workers} xdist workers" if suite.workers else "serial, not on xdist workers"
        lines.append(
            f"| Whole test suite as `make test` runs it: `{suite.command}` with pyproject's addopts "
            f"`{suite.addopts}`, {where} ({suite.summary}) | {_s(suite.wall)} | – | {_s(suite.cpu)} "
            f"| < {TARGET_SUITE_S:g} s | {ok} |"
        )
    else:
        lines.append(f"| Whole test suite | not measured (run with `--suite`) | | | < {TARGET_SUITE_S:g} s | – |")
    fit = r.fit
    shape = "**linear**" if fit.linear else f"**not linear** (want R² ≥ {LINEAR_R2}, ratio ≤ {LINEAR_MARGINAL_RATIO})"
    lines += [
        "",
        "### Growth with the number of nodes",
        "",
        "Tables made from the dev table (its control plane as is, its other 13 entries as pools with `count`); "
        "warm program time, fastest of the repeats in one fresh process per size. The SDK's bare cost: the "
        "same number of plain `aws.ec2.Instance`s (two inputs each) registered under the same mocks, warm, "
        f"fastest of as many repeats (benchmarks/program_floor.py); target ≤ {program_floor.TARGET_RATIO}× "
        f"at {TARGET_NODES} nodes.",
        "",
        "| nodes | instances | resources | warm wall | warm CPU | SDK bare CPU | program / bare "
        "| per added node (CPU) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    previous: SizeResult | None = None
    for size in r.sizes:
        marginal = "–"
        if previous is not None:
            per_node = (size.warm.cpu_min - previous.warm.cpu_min) / (size.nodes - previous.nodes)
            marginal = f"{per_node * 1000:.1f} ms"
        lines.append(
            f"| {size.nodes} | {size.instances} | {size.resources} | {_s(size.warm.wall_min)} "
            f"| {_s(size.warm.cpu_min)} | {_s(size.bare_cpu)} | {size.bare_ratio:.2f} | {marginal} |"
        )
        previous = size
    lines += [
        "",
        f"Least squares: t ≈ {fit.intercept:.3f} s + {fit.slope * 1000:.2f} ms × nodes, R² = {fit.r2:.4f}; "
        f"cost per node of the last interval / the first = {fit.marginal_ratio:.2f}: {shape}. "
        f"At the config's limit of {MAX_NODES} nodes that line gives {fit.intercept + fit.slope * MAX_NODES:.1f} s.",
        "",
        "### Where the time goes",
        "",
        f"Imports during one dev run (`python -X importtime`, self time summed per package, top 10 of "
        f"{_s(r.imports[0])}; the instrumentation adds to it):",
        "",
        "| package | self time | share |",
        "|---|---|---|",
        *(f"| `{name}` | {_s(t)} | {t / r.imports[0]:.0%} |" for name, t in r.imports[1][:10]),
        "",
        f"A warm dev run under cProfile (CPU clock, own time per package, project directory or stdlib "
        f"module; {_s(r.profile[0])} in all). cProfile charges every Python call, so it exaggerates code "
        "made of many small calls; read it for proportions, not seconds:",
        "",
        "| area | own time | share |",
        "|---|---|---|",
        *(f"| {name} | {_s(t)} | {t / r.profile[0]:.0%} |" for name, t in r.profile[1][:10]),
    ]
    if r.suite is not None and r.suite.slowest:
        lines += ["", "Slowest tests (`--durations=8`):", "", "```", *r.suite.slowest, "```"]
    return "\n".join(lines) + "\n"


def write_doc(block: str, path: Path = DOC) -> None:
    """Replace the generated block of `path`, keeping the hand-written text around it."""
    generated = f"{BEGIN}\n{block}{END}"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + generated + tail, encoding="utf-8")
            return
        path.write_text(text.rstrip("\n") + "\n\n" + generated + "\n", encoding="utf-8")
        return
    path.write_text(f"# Benchmarks\n\n{generated}\n", encoding="utf-8")


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated node counts, got {text!r}") from None
    if len(sizes) < 2 or sizes[0] < 14 or sizes[-1] > MAX_NODES:
        raise argparse.ArgumentTypeError(f"give at least two sizes between 14 and {MAX_NODES}")
    return sizes


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="program_speed", description="Measure the program under the mock runtime against issue 2's targets."
    )
    parser.add_argument("--runs", type=_positive, default=5, help="fresh interpreters per dev measurement (default 5)")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[14, 50, 150, 300],
        help="node counts for the growth check and the SDK's bare cost (default 14,50,150,300)",
    )
    parser.add_argument("--repeat", type=_positive, default=3, help="warm runs per size, the min is kept (default 3)")
    parser.add_argument(
        "--suite",
        action="store_true",
        help="also time the whole test suite as `make test` runs it (-n auto --dist loadgroup)",
    )
    parser.add_argument(
        "--suite-args",
        type=shlex.split,
        default=[],
        metavar="ARGS",
        help="pytest arguments after make test's for --suite (default none, as make test); "
        "e.g. '-n 0' to compare with a serial run",
    )
    parser.add_argument("--no-write", action="store_true", help=f"print only; do not update {DOC.relative_to(ROOT)}")
    parser.add_argument("--out", type=Path, default=DOC, help="Markdown file whose generated block is replaced")
    return parser


def _step(what: str) -> None:
    print(f"program_speed: {what}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> Results:
    load_start = os.getloadavg()
    _step(f"offline preview against its import floor x{args.runs}")
    floor, modules = program_floor.measure_floor(run_child, args.runs)
    _step("SDK subpackages and the resources per added node")
    subpackages = program_floor.measure_subpackages(run_child, modules)
    node_costs = program_floor.measure_node_costs(run_child, dev_nodes())
    _step(f"whole process x{args.runs}")
    process = measure_process(args.runs)
    _step(f"program time x{args.runs}")
    program = measure_program(args.runs)
    sizes = []
    for n in args.sizes:
        _step(f"{n} nodes")
        sizes.append(measure_size(n, args.repeat))
    _step("import and warm-run profiles")
    imports = import_breakdown()
    profile = warm_profile()
    suite = None
    if args.suite:
        _step("test suite")
        suite = measure_suite(args.suite_args)
    fit = fit_line([(s.nodes, s.warm.cpu_min) for s in sizes])
    return Results(
        machine(),
        (load_start, os.getloadavg()),
        process,
        program,
        sizes,
        fit,
        imports,
        profile,
        floor,
        subpackages,
        node_costs,
        suite,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        results = measure(args)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"program_speed: error: {exc}", file=sys.stderr)
        return 1
    block = render(results)
    print(block)
    if not args.no_write:
        write_doc(block, args.out)
        print(f"program_speed: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
