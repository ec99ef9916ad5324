"""Rules whose place in the list of problems was chosen: subnet capacity on the parsed node table,
the GitOps URL and path in one pass each."""

from __future__ import annotations

import pytest

from components.settings.messages import ConfigError
from tests.support.dev_stack import dev_node_rows, dev_settings

SMALL_PRIVATE = [f"10.0.{16 * i}.0/27" for i in range(1, 4)]  # 26 nodes each
PUBLIC = [f"10.0.{i}.0/24" for i in range(3)]


def _problems(**changes):
    with pytest.raises(ConfigError) as err:
        dev_settings(**changes)
    return err.value.problems


def _grown(count: int, **row):
    rows = dev_node_rows()
    worker = next(r for r in rows if r["role"] == "worker")
    return [*rows, {**worker, "name": "pool", "count": count, **row}]


def test_subnet_capacity_counts_the_parsed_nodes_pools_expanded():
    total = len(dev_settings().nodes) + 80
    rows = _grown(80, labels={"kubernetes.io/hostname": "x"})  # a row with a problem that keeps it
    problems = _problems(privateSubnetCidrs=SMALL_PRIVATE, publicSubnetCidrs=PUBLIC, nodes=rows)
    capacity = [p for p in problems if p.key == "privateSubnetCidrs"]
    assert len(capacity) == 3 and all(f"of the {total} go to each" in p.fix for p in capacity)
    # Listed after the node table's problems (a cross-section rule on the parsed table).
    assert [p.key for p in problems] == ["nodes[pool].labels.kubernetes.io/hostname", *["privateSubnetCidrs"] * 3]


def test_a_refused_row_is_not_counted_into_subnet_capacity():
    problems = _problems(
        privateSubnetCidrs=SMALL_PRIVATE, publicSubnetCidrs=PUBLIC, nodes=_grown(80, instanceType="nope")
    )
    assert [p.key for p in problems] == ["nodes[pool].instanceType"]


def test_the_gitops_url_is_one_problem_at_its_place():
    problems = _problems(gitopsRepoUrl="https://github.com/acme/x.git?ref=main", gitopsMode="follow")
    assert [p.key for p in problems] == ["gitopsRepoUrl", "gitopsMode"]
    assert "no query" in problems[0].fix


def test_a_url_with_credentials_is_one_problem_not_two():
    problems = _problems(gitopsRepoUrl="https://token@github.com/acme/x y.git")
    assert [(p.key, p.fix[:30]) for p in problems] == [("gitopsRepoUrl", "must be an https:// URL withou")]
