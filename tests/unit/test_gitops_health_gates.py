"""A Degraded or Unknown child never freezes the tree; the first install still goes wave by wave.

gitops-engine's rules, as Argo CD v3.4 applies them to the root's sync of its child Applications
(argoproj/argo-cd, gitops-engine/pkg/sync/sync_context.go, `(*syncContext).Sync`, the block from
"update status of any tasks that are running" to the wave split; the issue cites v3.4.4 lines
~529-583):

1. every task applied in an earlier call and still *running* gets the health of its live object
   (`health.GetResourceHealth` with the resource customizations): Healthy -> succeeded,
   Degraded -> failed; any other status leaves it running;
2. in a multi-wave sync, any running task makes the operation wait (`multiStep && running`);
3. any completed but unsuccessful task fails the operation ("one or more synchronization tasks
   completed unsuccessfully"); the root's retry policy then retries, and after its limit
   automated sync stops for that revision;
4. the pending tasks, minus with `ApplyOutOfSyncOnly=true` those whose live object exists and was
   not modified (`filterOutOfSyncTasks`), are split by phase and wave; the lowest wave is applied;
5. when no task is left after that wave, the operation succeeds "EVEN if those objects
   subsequently degrade" (the last wave is never health-checked).

`run_sync` below plays these rules over the real root: the children's waves and gate annotations
from manifests/argocd/apps, the root's syncOptions from components/gitops.py, and the health the
root sees from the real Lua health check of components/argocd.py, run by real Lua 5.1 (lupa;
Argo CD's gopher-lua is Lua 5.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from lupa import lua51

from components import gitops
from components.argocd import APPLICATION_HEALTH_LUA
from tests.support import children

STATES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
BAD = tuple(s for s in STATES if s != "Healthy")
APPS = children.applications()
WAVES = {
    name: int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))
    for name, app in APPS.items()
}
LAST_WAVE = max(WAVES.values())
ROOT = gitops.root_application("https://github.com/example-org/gitops.git", "0" * 40, "manifests/argocd/apps")


def root_health(child: Mapping[str, Any], status: str | None) -> str:
    """What the root sees for a child Application whose own health is `status` (the real Lua)."""
    lua = lua51.LuaRuntime()
    obj = {
        "metadata": {"name": child["metadata"]["name"], "annotations": dict(child["metadata"].get("annotations", {}))}
    }
    if status is not None:
        obj["status"] = {"health": {"status": status, "message": "m"}}
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(APPLICATION_HEALTH_LUA)
    return str(result["status"])


@dataclass
class Task:
    name: str
    wave: int
    exists: bool  # the child Application is in the cluster already
    changed: bool  # its manifest differs from the live one
    health: str  # the child's own health while this sync runs
    state: str = "pending"  # pending | running | succeeded | failed


def run_sync(tasks: list[Task], sync_options: list[str], calls: int = 50) -> tuple[str, list[int]]:
    """One sync operation of the root, Sync() called until it ends: (outcome, waves applied in order)."""
    out_of_sync_only = "ApplyOutOfSyncOnly=true" in sync_options
    multi_step = len({t.wave for t in tasks}) > 1
    applied: list[int] = []
    for _ in range(calls):
        for t in tasks:  # rule 1
            if t.state == "running":
                seen = root_health(APPS[t.name], t.health)
                t.state = {"Healthy": "succeeded", "Degraded": "failed"}.get(seen, "running")
        if multi_step and any(t.state == "running" for t in tasks):  # rule 2
            continue
        if any(t.state == "failed" for t in tasks):  # rule 3
            return "failed", applied
        pending = [t for t in tasks if t.state == "pending"]
        if out_of_sync_only:  # rule 4
            pending = [t for t in pending if t.changed or not t.exists]
        if not pending:
            return "succeeded", applied
        wave = min(t.wave for t in pending)
        for t in pending:
            if t.wave == wave:
                t.state = "running"
        applied.append(wave)
        if all(t.wave == wave for t in pending):  # rule 5
            return "succeeded", applied
    return "waiting", applied


def after_bootstrap(changed: set[str], health: Mapping[str, str]) -> list[Task]:
    return [Task(n, WAVES[n], True, n in changed, health.get(n, "Healthy")) for n in sorted(APPS)]


def test_the_root_applies_only_what_changed():
    assert "ApplyOutOfSyncOnly=true" in ROOT["spec"]["syncPolicy"]["syncOptions"]


@pytest.mark.parametrize("state", BAD)
@pytest.mark.parametrize("child", sorted(n for n in APPS if WAVES[n] < LAST_WAVE))
def test_a_child_in_a_bad_state_never_holds_a_change_in_the_last_wave(child, state):
    """After bootstrap, a change to a last-wave child is applied whatever an earlier child's health."""
    last = sorted(n for n in APPS if WAVES[n] == LAST_WAVE)
    outcome, applied = run_sync(after_bootstrap(set(last), {child: state}), ROOT["spec"]["syncPolicy"]["syncOptions"])
    assert (outcome, applied) == ("succeeded", [LAST_WAVE]), f"{child} {state} held wave {LAST_WAVE}"


@pytest.mark.parametrize("state", BAD)
def test_a_degraded_wave_3_child_cannot_block_wave_5_even_when_both_change(state):
    """The case of the issue: etcd-backup (wave 3, one failed snapshot) and a change in wave 5."""
    assert WAVES["etcd-backup"] == 3 and WAVES["api-services"] == 5
    tasks = after_bootstrap({"etcd-backup", "api-services"}, {"etcd-backup": state})
    outcome, applied = run_sync(tasks, ROOT["spec"]["syncPolicy"]["syncOptions"])
    assert outcome == "succeeded" and applied[-1] == 5, (outcome, applied)


def test_the_first_install_goes_wave_by_wave_behind_every_gate():
    """At bootstrap each gate holds every later wave until it is Healthy, and a Healthy tree installs in order."""
    fresh = [Task(n, WAVES[n], False, True, "Healthy") for n in sorted(APPS)]
    assert run_sync(fresh, ROOT["spec"]["syncPolicy"]["syncOptions"]) == ("succeeded", sorted(set(WAVES.values())))
    gates = [n for n, a in APPS.items() if a["metadata"].get("annotations", {}).get(gitops.GATE_ANNOTATION) == "true"]
    assert gates
    for gate in gates:
        for state in ("Progressing", "Missing", "Unknown", "Suspended"):
            tasks = [Task(n, WAVES[n], False, True, state if n == gate else "Healthy") for n in sorted(APPS)]
            outcome, applied = run_sync(tasks, ROOT["spec"]["syncPolicy"]["syncOptions"])
            assert outcome == "waiting" and max(applied) == WAVES[gate], (gate, state, applied)
        tasks = [Task(n, WAVES[n], False, True, "Degraded" if n == gate else "Healthy") for n in sorted(APPS)]
        assert run_sync(tasks, ROOT["spec"]["syncPolicy"]["syncOptions"])[0] == "failed", gate


def test_every_child_that_provides_a_later_childs_kinds_is_a_gate():
    """A child whose CRDs a later-wave child uses must gate that wave (CRDs before their users)."""
    provides: dict[tuple[str, str], str] = {}
    uses: dict[str, set[tuple[str, str]]] = {}
    for name, app in APPS.items():
        docs = children.render_child(app)
        for d in docs:
            if d.get("kind") == "CustomResourceDefinition":
                provides[(d["spec"]["group"], d["spec"]["names"]["kind"])] = name
        uses[name] = {(str(d.get("apiVersion", "")).rpartition("/")[0], str(d.get("kind"))) for d in docs}
    gates = {n for n, a in APPS.items() if a["metadata"].get("annotations", {}).get(gitops.GATE_ANNOTATION) == "true"}
    missing = sorted(
        (provider, user)
        for user, kinds in uses.items()
        for kind in kinds
        if (provider := provides.get(kind)) is not None
        and provider != user
        and WAVES[provider] < WAVES[user]
        and provider not in gates
    )
    assert not missing, f"(provider, user) pairs whose provider is not a gate: {missing}"


def test_the_health_check_reports_gates_as_they_are_and_others_as_healthy():
    gate = next(a for a in APPS.values() if a["metadata"].get("annotations", {}).get(gitops.GATE_ANNOTATION) == "true")
    other = APPS["etcd-backup"]
    for state in STATES:
        assert root_health(other, state) == "Healthy"
        assert root_health(gate, state) == (state if state in ("Healthy", "Degraded") else "Progressing")
    assert root_health(gate, None) == "Progressing" and root_health(other, None) == "Healthy"
