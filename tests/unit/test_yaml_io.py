"""components/yaml_io.py reads YAML as `yaml.safe_load` does, with libyaml's parser.

Every YAML file of the repository (what the program reads is among them: playbooks, role task
files, the child Applications, the stack files) must give the same objects both ways, and the C
loader must stay a safe one.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components import PROJECT_ROOT, yaml_io


def repository_yaml_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.yaml", "*.yml"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name)


def test_the_lock_s_pyyaml_carries_libyaml() -> None:
    assert yaml.__with_libyaml__, "PyYAML was built without libyaml: the program would parse YAML in pure Python"
    assert yaml_io.SafeLoader is yaml.CSafeLoader


def test_every_repository_yaml_file_reads_the_same_both_ways() -> None:
    files = repository_yaml_files()
    assert len(files) > 100, files  # the repository's playbooks, roles and manifests are all found
    compared = 0
    for name in files:
        text = (PROJECT_ROOT / name).read_text(encoding="utf-8")
        try:
            expected = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            with pytest.raises(yaml.YAMLError):
                list(yaml_io.load_all(text))
            continue
        assert list(yaml_io.load_all(text)) == expected, name
        if len(expected) == 1:
            assert yaml_io.load(text) == expected[0], name
        compared += 1
    assert compared > 100


@pytest.mark.parametrize(
    "text",
    ["!!python/object/apply:os.system ['true']", "!!python/name:os.system", "a: !!python/tuple [1, 2]"],
)
def test_the_c_loader_refuses_python_tags(text: str) -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml_io.load(text)


def test_the_types_a_safe_load_gives() -> None:
    text = "a: 1\nb: 1.5\nc: true\nd: null\ne: 2026-12-07\nf: '010'\ng: 0o10\nh: [x, {y: z}]\n"
    doc = yaml_io.load(text)
    assert doc == yaml.safe_load(text)
    names = ["int", "float", "bool", "NoneType", "date", "str", "str", "list"]
    assert [type(doc[k]).__name__ for k in "abcdefgh"] == names
