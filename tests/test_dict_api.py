"""The Python API takes a spec as a dict (a spec file's content) or a `Spec`, as well as a
path or a built-in name; a dict's errors are located by field path."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.errors import SpecError

SMALL = {"extends": "cifar_resnet20", "name": "c20_10", "head": {"classes": 10}}


def test_load_and_elaborate_take_a_dict_with_extends() -> None:
    spec = resnet_spec.load(SMALL)
    assert spec.name == "c20_10" and spec.head is not None and spec.head.classes == 10
    assert len(spec.stages) == 3  # from the built-in parent
    graph = resnet_spec.elaborate(SMALL)
    assert graph.node(graph.outputs["logits"]).shape == (10,)


def test_a_whole_spec_as_a_dict() -> None:
    graph = resnet_spec.elaborate({"name": "tiny", "input": {"height": 32, "width": 32},
                                   "stages": ({"depth": 1, "width": 8},)})  # a tuple is a list
    assert len(graph.blocks) == 1


def test_the_dict_is_not_changed() -> None:
    given = copy.deepcopy(SMALL)
    resnet_spec.load(given, ["head.classes=3"])
    assert given == SMALL


def test_a_dicts_extends_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "base.yaml").write_text("extends: resnet18\nname: base\n")
    monkeypatch.chdir(tmp_path)
    assert resnet_spec.load({"extends": "base.yaml", "head": "none"}).head is None
    with pytest.raises(SpecError, match="neither a file in the working directory"):
        resnet_spec.load({"extends": "nothing.yaml"})


@pytest.mark.parametrize(("value", "message"), [
    ({"extends": "resnet18", "head": {"classes": "x"}},
     '<dict>: head.classes: expected a whole number, got string "x"'),
    ({"extends": "resnet18", "stages": [{"depht": 2, "width": 64}]},
     "<dict>: stages[0].depht: unknown key `depht` (did you mean `depth`?)"),
    ({"name": "x"}, "<dict>: stages: missing required field `stages`"),
])
def test_errors_of_a_dict_are_located_by_path(value: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(value)
    assert str(caught.value) == message


def test_a_graph_error_of_a_dict_value_points_at_it_first() -> None:
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate({"extends": "resnet18", "norm": {"kind": "group", "groups": 48}})
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("<dict>: norm.groups: group norm with 48 groups")
    assert "resnet18.yaml:5:7: stem: the layers this breaks are defined here" in lines[1]


def test_a_dict_that_holds_itself_is_an_error_not_a_crash() -> None:
    looped: dict = {"name": "x"}
    looped["stem"] = looped
    with pytest.raises(SpecError, match="nested deeper than 64 levels"):
        resnet_spec.load(looped)


def test_build_takes_a_dict_and_a_spec() -> None:
    from_dict = resnet_spec.build(SMALL)
    from_spec = resnet_spec.build(resnet_spec.load("cifar_resnet20"), overrides=[
        "head.classes=10"])
    assert from_dict.fc.out_features == from_spec.fc.out_features == 10


def test_the_pipeline_takes_a_dict(tmp_path: Path) -> None:
    from resnet_spec.pipeline.run import run_export

    result = run_export(SMALL, ["pt2"], tmp_path / "out", overrides=["stages.0.depth=1"])
    manifest = json.loads((result.out / "manifest.json").read_text())
    assert manifest["spec"] == "<dict>"
    assert manifest["overrides"] == ["stages.0.depth=1"]
    resolved = resnet_spec.load(result.out / "spec.resolved.yaml")
    assert resolved.head is not None and resolved.head.classes == 10
    assert resolved.stages[0].depth == 1
