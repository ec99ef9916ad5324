"""What README.md and docs/ say about config, outputs and adding nodes, held against the program.

Each claim that a read against the code found false (issue 9 item 7) has a test here, so the next
change to the behaviour fails a test until the sentence is rewritten with it.
"""

from __future__ import annotations

import re

from components.stack import OUTPUT_KEYS, SECRET_OUTPUT_KEYS
from tests.support.dev_stack import dev_node_rows
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
GITOPS = (ROOT / "docs" / "gitops-practices.md").read_text(encoding="utf-8")
UP_SCRIPT = (ROOT / "tools" / "up.sh").read_text(encoding="utf-8")


def _output_nodes(recording) -> list[str]:
    return [n["name"] for n in recording.stack_outputs["nodes"]]


def test_nodes_output_order_is_the_one_readme_gives(run_stack):
    assert "`nodes` lists the control-plane nodes first, then the others, each in table order" in README
    rows = dev_node_rows()
    master, rest = rows[0], rows[1:]
    pool = {"name": "batch", "role": "worker", "instanceType": "t3.small", "rootVolumeGb": 40, "count": 2}
    table = [*rest[:3], pool, *rest[3:], master]  # the control plane last, a pool in the middle
    recording = run_stack({"nodes": table})
    expected = ["master", *(r["name"] for r in rest[:3]), "batch-1", "batch-2", *(r["name"] for r in rest[3:])]
    assert _output_nodes(recording) == expected


def _placement(recording) -> dict[str, dict[str, object]]:
    """Per instance, every input whose change would replace it on AWS."""
    replace_on = (
        "ami",
        "subnetId",
        "availabilityZone",
        "privateIp",
        "instanceType",
        "userData",
        "userDataBase64",
        "keyName",
        "rootBlockDevice",
    )
    return {r.name: {k: r.inputs.get(k) for k in replace_on} for r in recording.of_type("aws:ec2/instance:Instance")}


def test_appending_a_row_changes_no_existing_instance(dev, run_stack):
    """docs/deployment.md, "Adding a node": a new row leaves every other node alone (inserting and
    reordering are covered by tests/unit/test_placement.py)."""
    assert "Add the row anywhere in the table" in DEPLOYMENT
    extra = {"name": "worker-extra", "role": "worker", "instanceType": "t3.small", "rootVolumeGb": 40}
    before, after = _placement(dev), _placement(run_stack({"nodes": [*dev_node_rows(), extra]}))
    assert set(after) - set(before) == {n for n in after if n.endswith("worker-extra")}
    assert all(inputs["subnetId"] and inputs["ami"] for inputs in before.values())
    changed = [name for name, inputs in before.items() if after[name] != inputs]
    assert changed == [], f"appending a row would replace {changed}"


def test_make_up_and_the_docs_agree_on_the_policy_pack():
    """`make up` runs `pulumi up` without the policy pack; the docs say so and point to what runs it."""
    up_line = next(line for line in UP_SCRIPT.splitlines() if line.strip().startswith("up)"))
    preview_line = next(line for line in UP_SCRIPT.splitlines() if line.strip().startswith("preview)"))
    assert "--policy-pack" in preview_line
    if "--policy-pack" in up_line:  # the day `make up` applies it, the docs must stop saying otherwise
        assert "without the policy pack" not in DEPLOYMENT + GITOPS + README
    else:
        assert "`make up` runs `pulumi up` without the policy pack" in DEPLOYMENT
        assert "`make up` runs `pulumi up` without the policy pack" in GITOPS


def test_published_outputs_are_every_plain_output():
    """The bootstrap workflow publishes every output that is not secret; the list in the docs is that set."""
    match = re.search(r"Publishes the stack outputs without secrets \(([^)]*)\)", GITOPS)
    assert match, "docs/gitops-practices.md no longer lists the published outputs"
    listed = re.findall(r"`([A-Za-z]+)`", match.group(1))
    assert sorted(listed) == sorted(OUTPUT_KEYS)
    assert not set(listed) & set(SECRET_OUTPUT_KEYS)


def test_readme_outputs_contract_lists_every_output_in_order():
    block = README.split("## Outputs contract", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    keys = re.findall(r'^  "([A-Za-z]+)":', block, flags=re.MULTILINE)
    assert keys == [*OUTPUT_KEYS, *SECRET_OUTPUT_KEYS]
