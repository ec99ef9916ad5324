"""The offline preview: the same program, printed by component, and a graph that cannot drift."""

from __future__ import annotations

import pytest

from tests.support.paths import ROOT
from tools.mockrun import run_program
from tools.offline_preview import BEGIN, END, main, mermaid, replace_generated_block


def test_prints_resources_by_component_with_dependencies(tmp_path, capsys):
    assert main(["--stack", "dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Offline preview of stack 'dev': ")
    for component in ("Network", "ClusterSecurity", "ClusterNodes", "ClusterAccess", "AnsibleBootstrap", "ArgoCd"):
        assert f":{component} gitops-dev (" in out
    assert "+ aws:ec2/subnet:Subnet gitops-dev-private-ap-northeast-2a  <- gitops-dev-vpc" in out
    assert "argocdAdminPassword [secret]" in out
    summary = (tmp_path / "preview-dev.md").read_text()
    assert "```mermaid\nflowchart LR" in summary
    assert (tmp_path / "graph-dev.mmd").read_text().startswith("flowchart LR")


def test_bad_config_fails_like_pulumi_up(tmp_path, capsys, monkeypatch):
    import tools.offline_preview as preview

    real = preview.run_program
    monkeypatch.setattr(preview, "run_program", lambda stack, **kw: real(stack, {"azCount": 1}, **kw))
    assert main(["--stack", "dev", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "azCount = 1: at least 2 availability zones" in captured.err
    assert "nothing was created" in captured.err
    assert captured.out == ""
    assert not (tmp_path / "preview-dev.md").exists()


def test_unknown_stack_is_a_clear_error(tmp_path, capsys):
    assert main(["--stack", "nope", "--out", str(tmp_path)]) == 1
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err


def test_graph_follows_the_resource_graph(dev):
    graph = mermaid(dev)
    for edge in (
        "ClusterSecurity --> Network",
        "ClusterNodes --> ClusterSecurity",
        "ClusterAccess --> ClusterNodes",
        "AnsibleBootstrap --> ClusterNodes",
        "AnsibleBootstrap --> ClusterAccess",
        "ArgoCd --> AnsibleBootstrap",
    ):
        assert f"  {edge}\n" in graph, f"missing {edge} in\n{graph}"
    assert "Network -->" not in graph, "the network depends on nothing"


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_docs_show_the_graph_the_program_generates(dev, doc):
    text = (ROOT / doc).read_text()
    assert BEGIN in text and END in text
    assert replace_generated_block(text, mermaid(dev)) == text, (
        f"{doc} shows a stale graph; run `python -m tools.offline_preview --update-docs`"
    )


def test_three_control_plane_preview_runs():
    import yaml

    nodes = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["gitops-cluster:nodes"]
    rec = run_program("dev", {"nodes": [dict(nodes[0], count=3), *nodes[1:]]})
    # Three control-plane nodes behind each of the two API endpoints (public and internal).
    api = [r for r in rec.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment") if "master" in r.name]
    assert len(api) == 6
    # (and the public entry's 3 target groups x 2 gateway nodes)
    assert len(rec.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")) == 12
