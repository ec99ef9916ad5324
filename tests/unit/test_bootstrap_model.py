"""The bootstrap's timing figures have one source: benchmarks/bootstrap_model.py over its measured input.

docs/bootstrap.md's critical-path table is the model's `--markdown` output, byte for byte, between
its markers; README quotes the model's typical totals for a cold bootstrap and for adding a node;
the measured input (benchmarks/bootstrap_simulated.json) says when and under what load it was
measured, and every step of the model says where its figure comes from.
"""

from __future__ import annotations

import itertools
import re

import yaml

from benchmarks import bootstrap_model as model
from tests.support.paths import ROOT

DOCS = ROOT / "docs" / "bootstrap.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- bootstrap_model:begin -->", "<!-- bootstrap_model:end -->"


def test_the_docs_table_is_the_models_output():
    text = DOCS.read_text()
    assert BEGIN in text and END in text, f"{DOCS.name} lacks the model's markers"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    expected = model.markdown(model.load_measured())
    assert block.strip() == expected.strip(), (
        "docs/bootstrap.md's table differs from `python -m benchmarks.bootstrap_model --markdown`; paste its output"
    )


def test_the_readme_quotes_the_models_totals():
    r = model.report(model.load_measured())
    readme = README.read_text()
    cold, add = model.minutes(r["cold_typical_s"]), model.minutes(r["add_node_typical_s"])
    cold_slow = model.minutes(r["cold_slow_s"])
    assert f"**{cold} minutes** typical" in readme, f"README should quote the cold bootstrap's {cold} min"
    assert f"{cold_slow} slow" in readme
    assert f"adding a node in **{add} minutes**" in readme, f"README should quote adding a node's {add} min"
    benchmarks = (ROOT / "docs" / "benchmarks.md").read_text()
    assert f"{cold} min typical to a\nsynced root, {add} min to add a node" in benchmarks, (
        "docs/benchmarks.md's figures"
    )
    # No other figure for the same thing survives elsewhere in the two files.
    for stale in ("10–12 minutes", "8.5–9.5", "about 3–4 minutes", "3–4 min"):
        assert stale not in readme and stale not in DOCS.read_text(), f"an old estimate ({stale}) is still quoted"


def test_the_measured_input_says_when_and_how_loaded_and_covers_both_cases():
    measured = model.load_measured()
    machine = measured["machine_before"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", machine["date"])
    assert len(machine["load_average"]) == 3 and machine["cpus"] >= 1
    assert measured["table"] == 14, "the model is of the dev table's 14 hosts"
    for case in ("cold", "add_node"):
        for command in ("prepare", "cluster"):
            run = measured[case][command]
            assert run["returncode"] == 0 and run["plays"], (case, command)
    # One row added: the 14 nodes already prepared are checked and left out of the prepare plays.
    prepared = measured["add_node"]["prepare"]["tasks_per_host"]
    added = measured["added_row"]
    others = {h: n for h, n in prepared.items() if h != added}
    assert len(others) == 14 and max(others.values()) < prepared[added] / 5, prepared
    assert not any(measured["add_node"]["prepare"]["changed_per_host"][h] for h in others)


def test_every_step_says_where_its_figure_comes_from():
    measured = model.load_measured()
    for steps in (model.cold_steps(measured), model.add_node_steps(measured)):
        keys = [s.key for s in steps]
        assert len(set(keys)) == len(keys)
        for i, step in enumerate(steps):
            assert step.source.strip() and step.kind in {"measured", "AWS", "work", "program", "measured + work"}
            assert 0 < step.typical <= step.slow, step.key
            # Listed after what it waits for, so the model's one pass computes the earliest starts.
            assert set(step.after) <= set(keys[:i]), step.key


def test_the_sync_waves_are_read_from_the_child_applications():
    waves = model.sync_waves()
    named = {name for children in waves.values() for name, _ in children}
    files = {p.stem for p in model.APPS.glob("*.yaml") if "kind: Application\n" in p.read_text()}
    assert named == files
    gated = {name for children in waves.values() for name, gate in children if gate}
    assert gated <= set(model.GATE_SECONDS), f"no duration for the gates {sorted(gated - set(model.GATE_SECONDS))}"


def test_the_critical_path_is_the_longest_chain():
    steps = [
        model.Step("a", "a", 10, 20, (), "work", "x"),
        model.Step("b", "b", 30, 30, ("a",), "work", "x"),
        model.Step("c", "c", 5, 100, ("a",), "work", "x"),
        model.Step("d", "d", 1, 1, ("b", "c"), "work", "x"),
    ]
    total, path = model.critical_path(steps, "typical")
    assert total == 41 and [s.key for s, _, _ in path] == ["a", "b", "d"]
    total, path = model.critical_path(steps, "slow")
    assert total == 121 and [s.key for s, _, _ in path] == ["a", "c", "d"]


def test_the_model_reads_the_pre_pulls_the_read_triggers_and_the_play_order():
    """Issue 25's cuts come from the changed structure, not constants: Argo CD's images in the
    workers' user data, the reads' triggers on a row added, local-path before the wait for every node."""
    measured = model.load_measured()
    cold = {s.key: s for s in model.cold_steps(measured)}
    assert model.argocd_pre_pulled(model.default_versions())
    assert cold["argocd"].typical == model.ARGOCD_READY[0]
    assert not model.reads_rerun_on_a_row_added()
    assert "kubeconfig" not in {s.key for s in model.add_node_steps(measured)}
    assert cold["storage"].after == ("node_config",) and set(cold["ready"].after) == {"storage", "calico_ready"}


def test_adding_a_node_follows_the_cluster_commands_play_order_and_counts_each_play_once():
    """The cluster command's steps are cluster.yml's plays in their order, each counted once (their
    measured parts add up to the whole run's), and only what runs outside Ansible overlaps them:
    the new worker's background pulls (components/user_data.py) and its calico-node coming up."""
    measured = model.load_measured()
    steps = {s.key: s for s in model.add_node_steps(measured)}
    plays = [p["name"] for p in yaml.safe_load((ROOT / "ansible" / "cluster.yml").read_text())]
    order = [
        "Initialise",
        "Install Calico",
        "Join the other",
        "Join the other",
        "Apply the node table",
        "Install local-path",
        "Wait for every node",
    ]
    assert [next(o for o in order if name.startswith(o)) for name in plays] == order, plays
    chain = ["prepare", "control_plane_checks", "join", "node_config", "storage", "ready"]
    for before, after in itertools.pairwise(chain):
        assert before in steps[after].after, f"{after} must wait for {before}"
    assert model.added_node_pulls_in_background()
    assert steps["prepare"].after == ("user_data",) and steps["pulls"].after == ("user_data",)
    assert set(steps["calico_ready"].after) == {"join", "pulls"}
    assert set(steps["ready"].after) == {"storage", "calico_ready"}
    cluster = measured["add_node"]["cluster"]
    for which, join in (("typical", model.KUBEADM_JOIN[0]), ("slow", model.KUBEADM_JOIN[1])):
        counted = sum(getattr(steps[k], which) for k in chain[1:]) - join
        assert abs(counted - model.ansible_seconds(cluster, "", which)) < 0.5, which
    # The new worker's user data no longer holds its image pulls.
    assert steps["user_data"].typical == model.USER_DATA_PACKAGES[0]
