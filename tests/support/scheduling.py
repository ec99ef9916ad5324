"""How the suite's long units are handed to pytest-xdist's workers (tests/conftest.py reads this
table; benchmarks/suite_speed.py computes the serial tail from it)."""

from __future__ import annotations

# The node simulator's scenario modules, longest first (CPU of the module on this machine, cgroup,
# benchmarks/suite_speed.py; docs/benchmarks.md "The suite, per tier"). Each module's tests all read
# one module-scoped scenario (a simulated cluster taken through a sequence of playbook runs), so each
# must run on one worker, or every worker that gets one of its tests builds the scenario again
# (minutes of CPU). xdist's `--dist loadgroup` would do this from an `xdist_group` mark, but with
# pytest 9.2 it silently stops grouping (it still rewrites the old `_nodeid` field;
# pytest-dev/pytest-xdist#1386, open), so the scheduler of tests/conftest.py groups by module.
SCENARIO_MODULES = (
    "tests/simulator/test_node_simulator_upgrade.py",
    "tests/simulator/test_node_simulator_faults.py",
    "tests/simulator/test_node_simulator.py",
)
ONE_WORKER_MODULES = frozenset(SCENARIO_MODULES)

# Single tests that run longer than most role modules (CPU on this machine, benchmarks/suite_speed.py,
# 2026-12-07: the CLI's typechecker over the whole project, cold, 69 s). They go out right after the
# scenarios, so none starts last and leaves one worker running it while the other idles.
LONG_TESTS = ("tests/unit/test_cli_checks.py::test_the_whole_project_passes_the_clis_typechecker",)
