"""The rendered diff in the PR comment (tools/ci/render_diff.py), on fixture pairs.

Each case copies the miniature checkout tests/fixtures/render_diff/repo as the base, edits a copy
into the head, renders both with the real kubectl kustomize and the pinned helm (the fixture chart
packaged at two versions) and checks the exact summary, the diff's changed lines, and that no
Secret value appears anywhere in the report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import paths
from tests.support.prereqs import require_helm, require_tool
from tools.ci import render_diff as rd

FIXTURES = paths.FIXTURES / "render_diff"
SECRET_VALUES = [
    "base-secret-value-7d1f",
    "head-secret-value-91ac",
    "YmFzZS10b2tlbi1kYXRhLTQ0YzI=",  # base64 of the base token
    "base-token-data-44c2",
    "aGVhZC10b2tlbi1kYXRhLWU1MGI=",
    "head-token-data-e50b",
]


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> rd.Tools:
    kubectl = require_tool("kubectl", "kubectl with its built-in kustomize; .ci/run installs it")
    helm = require_helm()
    charts_dir = tmp_path_factory.mktemp("charts")
    home = tmp_path_factory.mktemp("helm-home")
    for version in ("1.0.0", "1.1.0"):
        subprocess.run(
            [str(helm), "package", str(FIXTURES / "chart" / "demo"), "--version", version, "--destination",
             str(charts_dir)],
            check=True, capture_output=True, env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    return rd.Tools(kubectl, helm, charts_dir)


Edit = Callable[[Path], None]


def edit_file(rel: str, old: str, new: str) -> Edit:
    def apply(head: Path) -> None:
        path = head / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new), encoding="utf-8")

    return apply


def run_case(tmp_path: Path, tools: rd.Tools, *edits: Edit) -> tuple[list[rd.AppDiff], str]:
    base, head = tmp_path / "base", tmp_path / "head"
    shutil.copytree(FIXTURES / "repo", base)
    shutil.copytree(FIXTURES / "repo", head)
    for edit in edits:
        edit(head)
    diffs = rd.compare(rd.render_checkout(base, tools), rd.render_checkout(head, tools))
    report = rd.markdown(diffs)
    for value in SECRET_VALUES:
        assert value not in report
    return diffs, report


def changed_lines(diff: rd.AppDiff) -> list[str]:
    return [
        f"{line[0]} {line[1:].strip()}"
        for line in diff.diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def add_service(head: Path) -> None:
    (head / "manifests/web/service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n"
        "  ports:\n    - {name: http, port: 8000}\n",
        encoding="utf-8",
    )
    edit_file("manifests/web/kustomization.yaml", "  - secret.yaml\n", "  - secret.yaml\n  - service.yaml\n")(head)


def test_an_added_object(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, _ = run_case(tmp_path, tools, add_service)
    assert rd.summary_lines(diffs) == ["- `web` (manifests/web): 1 added", "  - `+` Service web/web"]
    assert "+ kind: Service" in changed_lines(diffs[0])
    assert all(line.startswith("+") for line in changed_lines(diffs[0]))


def test_a_changed_image(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, report = run_case(
        tmp_path,
        tools,
        edit_file("manifests/web/deployment.yaml", "ghcr.io/example-org/web:1.0.0", "ghcr.io/example-org/web:1.1.0"),
    )
    assert rd.summary_lines(diffs) == ["- `web` (manifests/web): 1 changed", "  - `~` Deployment web/web"]
    assert changed_lines(diffs[0]) == [
        "- - image: ghcr.io/example-org/web:1.0.0",
        "+ - image: ghcr.io/example-org/web:1.1.0",
    ]
    assert "<details><summary>Rendered diff of <code>web</code></summary>" in report
    assert "```diff\n--- base/Deployment web/web\n+++ head/Deployment web/web\n" in report


def test_a_removed_network_policy(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, _ = run_case(tmp_path, tools, edit_file("manifests/policies/kustomization.yaml", "  - allow-dns.yaml\n", ""))
    assert rd.summary_lines(diffs) == [
        "- `policies` (manifests/policies): 1 removed",
        "  - `-` NetworkPolicy web/allow-dns",
    ]
    assert all(line.startswith("-") for line in changed_lines(diffs[0]))


def test_a_chart_version_bump(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, _ = run_case(
        tmp_path, tools, edit_file("manifests/argocd/apps/demo.yaml", "targetRevision: 1.0.0", "targetRevision: 1.1.0")
    )
    assert rd.summary_lines(diffs) == [
        "- `root-app` (manifests/argocd/apps): 1 changed",
        "  - `~` Application argocd/demo",
        "- `demo` (chart demo 1.1.0): 1 changed",
        "  - `~` ConfigMap demo/demo-greeting",
    ]
    assert changed_lines(diffs[0]) == ["- targetRevision: 1.0.0", "+ targetRevision: 1.1.0"]
    assert changed_lines(diffs[1]) == ["- helm.sh/chart: demo-1.0.0", "+ helm.sh/chart: demo-1.1.0"]


def test_a_values_change_that_alters_a_rendered_configmap(tmp_path: Path, tools: rd.Tools) -> None:
    values = edit_file("manifests/argocd/apps/demo.yaml", "greeting: hello", "greeting: hi")
    diffs, _ = run_case(tmp_path, tools, values)
    assert rd.summary_lines(diffs) == [
        "- `root-app` (manifests/argocd/apps): 1 changed",
        "  - `~` Application argocd/demo",
        "- `demo` (chart demo 1.0.0): 1 changed",
        "  - `~` ConfigMap demo/demo-greeting",
    ]
    assert changed_lines(diffs[1]) == ["- greeting: hello", "+ greeting: hi"]


def test_a_secret_change_is_shown_redacted(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, report = run_case(
        tmp_path,
        tools,
        edit_file("manifests/web/secret.yaml", "base-secret-value-7d1f", "head-secret-value-91ac"),
        edit_file("manifests/web/secret.yaml", "YmFzZS10b2tlbi1kYXRhLTQ0YzI=", "aGVhZC10b2tlbi1kYXRhLWU1MGI="),
        edit_file("manifests/web/secret.yaml", "  username: web\n", "  username: web\n  extra: new-key-value\n"),
    )
    assert rd.summary_lines(diffs) == ["- `web` (manifests/web): 1 changed", "  - `~` Secret web/web-credentials"]
    assert changed_lines(diffs[0]) == [
        "- token: <redacted>",
        "+ token: <redacted, changed>",
        "- password: <redacted>",
        "+ extra: <redacted>",
        "+ password: <redacted, changed>",
    ]
    assert "new-key-value" not in report
    assert "   username: <redacted>" in diffs[0].diff.splitlines()  # unchanged: context, still redacted


def test_added_and_removed_secrets_are_redacted_too(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, _ = run_case(tmp_path, tools, edit_file("manifests/web/kustomization.yaml", "  - secret.yaml\n", ""))
    assert rd.summary_lines(diffs) == ["- `web` (manifests/web): 1 removed", "  - `-` Secret web/web-credentials"]
    assert "- password: <redacted>" in changed_lines(diffs[0])
    base_secret = rd._redact_secret({"apiVersion": "v1", "kind": "Secret", "data": {"a": "c2VjcmV0"}}, None, head=True)
    assert base_secret["data"] == {"a": "<redacted>"}


def test_no_change_says_so(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, report = run_case(tmp_path, tools)
    assert diffs == []
    assert report == "### Rendered changes\n\nNo Application's rendered output changes.\n"


def test_an_unpackaged_chart_is_listed_with_the_reason_only_when_it_changes(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, report = run_case(
        tmp_path, tools, edit_file("manifests/argocd/apps/demo.yaml", "targetRevision: 1.0.0", "targetRevision: 9.9.9")
    )
    assert [d.name for d in diffs] == ["root-app", "demo"]
    assert diffs[1].error is not None
    assert diffs[1].error.startswith("chart demo 9.9.9 is not packaged at ")
    assert "- `demo` (chart demo 9.9.9): not rendered: chart demo 9.9.9 is not packaged" in report
    assert "Rendered diff of <code>demo</code>" not in report
    # A chart nobody can render but nobody touched adds no noise.
    quiet = rd.Tools(tools.kubectl, tools.helm, tmp_path / "no-charts")
    base = rd.render_checkout(tmp_path / "base", quiet)
    assert rd.compare(base, base) == []


def test_a_new_application_shows_everything_it_adds(tmp_path: Path, tools: rd.Tools) -> None:
    def new_app(head: Path) -> None:
        app = (head / "manifests/argocd/apps/web.yaml").read_text(encoding="utf-8")
        (head / "manifests/argocd/apps/web2.yaml").write_text(app.replace("name: web", "name: web2"))
        edit_file("manifests/argocd/apps/kustomization.yaml", "  - demo.yaml\n", "  - demo.yaml\n  - web2.yaml\n")(head)

    diffs, _ = run_case(tmp_path, tools, new_app)
    assert rd.summary_lines(diffs) == [
        "- `root-app` (manifests/argocd/apps): 1 added",
        "  - `+` Application argocd/web2",
        "- `web2` (manifests/web): 2 added",
        "  - `+` Deployment web/web",
        "  - `+` Secret web/web-credentials",
    ]


def test_a_diff_cannot_close_the_code_fence() -> None:
    # A context line is " " + text; " ```" would be a closing fence (CommonMark allows 3 spaces).
    diff = rd.AppDiff("x", "p", (), (("ConfigMap", "a", "b"),), (), " ```\n+  after")
    report = rd.markdown([diff])
    assert re.findall(r"^ {0,3}```", report, re.M) == ["```", "```"]


def test_the_cli_writes_the_report(tmp_path: Path, tools: rd.Tools, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    shutil.copytree(FIXTURES / "repo", base)
    shutil.copytree(FIXTURES / "repo", head)
    edit_file("manifests/web/secret.yaml", "base-secret-value-7d1f", "head-secret-value-91ac")(head)
    out = tmp_path / "render-diff.md"
    argv = ["--base", str(base), "--head", str(head), "--out", str(out), "--charts-dir", str(tools.charts_dir),
            "--helm", str(tools.helm), "--kubectl", tools.kubectl]  # fmt: skip
    assert rd.main(argv) == 0
    printed = capsys.readouterr().out
    assert printed == "- `web` (manifests/web): 1 changed\n  - `~` Secret web/web-credentials\n"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("### Rendered changes\n\n1 Application changes what it applies (Secret values redacted):")
    for value in SECRET_VALUES:
        assert value not in text + printed
    assert rd.main(["--base", str(tmp_path), "--head", str(head), "--out", str(out)]) == 2


def test_what_cannot_render_is_named_with_the_reason(tmp_path: Path, tools: rd.Tools) -> None:
    def break_things(head: Path) -> None:
        # The web child loses its repo label (a source elsewhere); the policies kustomization breaks;
        # versions.yaml loses the Kubernetes version charts are rendered for.
        edit_file("manifests/argocd/apps/web.yaml", "    gitops-cluster.io/repo: platform\n", "")(head)
        edit_file("manifests/policies/kustomization.yaml", "  - allow-dns.yaml\n", "  - missing.yaml\n")(head)
        (head / "versions.yaml").write_text("other: 1\n", encoding="utf-8")

    diffs, _ = run_case(tmp_path, tools, break_things)
    errors = {d.name: d.error for d in diffs}
    assert errors["web"] == "its source is not this repository"
    assert errors["policies"] is not None and errors["policies"].startswith("kubectl kustomize failed: ")
    assert errors["demo"] == "versions.yaml has no `kubernetes` version to render charts for"
    assert errors["root-app"] is None  # the web Application's label change itself is a rendered diff


def test_a_broken_apps_directory_is_reported(tmp_path: Path, tools: rd.Tools) -> None:
    diffs, report = run_case(
        tmp_path, tools, edit_file("manifests/argocd/apps/kustomization.yaml", "  - demo.yaml\n", "  - gone.yaml\n")
    )
    assert [d.name for d in diffs] == ["root-app"]
    assert "- `root-app` (manifests/argocd/apps): not rendered: kubectl kustomize failed: " in report


def test_output_that_does_not_parse_is_a_render_error(tmp_path: Path) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\nprintf 'a: [unclosed\\n'\n", encoding="utf-8")
    fake.chmod(0o755)
    (tmp_path / "kustomization.yaml").write_text("resources: []\n", encoding="utf-8")
    with pytest.raises(rd.RenderError, match="kubectl kustomize printed YAML that does not parse"):
        rd.kustomize(str(fake), tmp_path)
