"""The loader: YAML 1.2 scalars, positions, `extends` merging, built-in names."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from resnet_spec import load
from resnet_spec.errors import ExtendsError, SchemaError, SpecError, YamlError
from resnet_spec.spec.loader import load_merged, resolve_spec_path
from resnet_spec.spec.schema import NormKind, Shortcut
from resnet_spec.spec.yaml_source import format_path, parse_text

STAGES = "stages:\n  - {depth: 1, width: 8}\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# YAML 1.2 scalars ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("no", "no"), ("on", "on"), ("off", "off"), ("yes", "yes"), ("y", "y"), ("n", "n"),
        ("true", True), ("False", False), ("~", None), ("null", None), ("", None),
        ("010", 10), ("0o17", 15), ("0x1F", 31), ("-3", -3), ("1_000", "1_000"),
        ("1e3", 1000.0), (".5", 0.5), ("1.", 1.0), ("-.inf", -math.inf),
        ("2001-01-01", "2001-01-01"),
        ("'7'", "7"), ('"no"', "no"), ("!!str 7", "7"), ("!!float 1", 1.0), ("!!int 0x10", 16),
    ],
)
def test_yaml_12_core_scalars(text: str, value: object) -> None:
    parsed, _ = parse_text(f"v: {text}\n", "t.yaml")
    assert parsed["v"] == value
    assert type(parsed["v"]) is type(value)


def test_nan_is_a_float() -> None:
    parsed, _ = parse_text("v: .nan\n", "t.yaml")
    assert math.isnan(parsed["v"])


def test_bad_explicit_tag_value() -> None:
    with pytest.raises(YamlError, match=r"t.yaml:1:4: `yes` is not a valid !!bool"):
        parse_text("v: !!bool yes\n", "t.yaml")


@pytest.mark.parametrize("word", ["no", "on", "off", "yes", "y"])
def test_name_that_yaml_11_would_make_a_bool(tmp_path: Path, word: str) -> None:
    spec = load(write(tmp_path, "s.yaml", f"name: {word}\n{STAGES}"))
    assert spec.name == word


def test_bool_for_a_string_field_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError,
                       match=r"s.yaml:1:7: name: expected a string, got boolean `true`"):
        load(write(tmp_path, "s.yaml", f"name: true\n{STAGES}"))


# Positions ------------------------------------------------------------------------------------


def test_positions_of_values_and_keys() -> None:
    text = "name: t\nstages:\n  - {depth: 1, width: 8}\n  - depth: 2\n    width: 16\n"
    _, source = parse_text(text, "p.yaml")
    assert str(source.value(("name",))) == "p.yaml:1:7"
    assert str(source.key(("stages",))) == "p.yaml:2:1"
    assert str(source.value(("stages", 0))) == "p.yaml:3:5"
    assert str(source.value(("stages", 0, "width"))) == "p.yaml:3:23"
    assert str(source.key(("stages", 1, "width"))) == "p.yaml:5:5"
    assert str(source.value(("stages", 1, "width"))) == "p.yaml:5:12"
    # A path with no entry of its own falls back to its nearest written ancestor.
    missing = source.value(("stages", 1, "block", "groups"))
    assert (missing.line, missing.column, missing.path) == (4, 5, "stages[1].block.groups")


def test_format_path() -> None:
    assert format_path(("stages", 2, "block", "kind")) == "stages[2].block.kind"
    assert format_path(()) == ""


def test_block_style_positions_in_errors(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = "name: t\nstages:\n  - depth: 1\n    width: 8\n  - depth: 1\n    width: -4\n"
    with pytest.raises(SchemaError) as caught:
        load(write(tmp_path, "s.yaml", text))
    assert str(caught.value).startswith("s.yaml:6:12: stages[1].width: ")


def test_several_schema_errors_are_all_reported_in_file_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = "name: T\nactivation: rleu\nstages:\n  - {depth: 0, width: 8}\n"
    with pytest.raises(SpecError) as caught:
        load(write(tmp_path, "s.yaml", text))
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == ["s.yaml:1:7", "s.yaml:2:13", "s.yaml:4:13"]


# extends --------------------------------------------------------------------------------------

PARENT = """\
name: parent
norm: {kind: batch, eps: 0.001}
block: {kind: bottleneck, groups: 32, base_width: 4}
stages:
  - {depth: 3, width: 64}
  - {depth: 4, width: 128, stride: 2}
head: {classes: 10}
"""


def test_mappings_merge_deeply_and_the_child_wins(tmp_path: Path) -> None:
    write(tmp_path, "parent.yaml", PARENT)
    child = write(tmp_path, "child.yaml",
                  "extends: parent.yaml\nname: child\nblock: {base_width: 8}\nnorm: {eps: 0.01}\n")
    spec = load(child)
    assert spec.name == "child"
    assert spec.block.kind == "bottleneck" and spec.block.groups == 32
    assert spec.block.base_width == 8
    assert (spec.norm.kind, spec.norm.eps) == (NormKind.batch, 0.01)
    assert spec.head is not None and spec.head.classes == 10
    assert spec.extends is None  # resolved away


def test_lists_are_replaced_whole(tmp_path: Path) -> None:
    write(tmp_path, "parent.yaml", PARENT)
    child = write(tmp_path, "child.yaml",
                  "extends: parent.yaml\nname: child\nstages:\n  - {depth: 2, width: 32}\n")
    spec = load(child)
    assert [(s.depth, s.width, s.stride) for s in spec.stages] == [(2, 32, 1)]


def test_a_scalar_replaces_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "parent.yaml", PARENT)
    spec = load(write(tmp_path, "child.yaml", "extends: parent.yaml\nname: c\nhead: none\n"
                      "norm: group\n"))
    assert spec.head is None
    assert spec.norm.kind is NormKind.group and spec.norm.eps == 1e-5  # parent's eps dropped


def test_merged_positions_point_into_the_file_that_wrote_them(tmp_path: Path) -> None:
    write(tmp_path, "parent.yaml", PARENT)
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nname: child\n"
                  "block: {base_width: 8}\n")
    _, source = load_merged(child)
    assert source.value(("name",)).file.endswith("child.yaml")
    assert source.value(("block", "base_width")).file.endswith("child.yaml")
    kind = source.value(("block", "kind"))
    assert kind.file.endswith("parent.yaml") and (kind.line, kind.column) == (3, 15)
    assert source.value(("stages", 1, "stride")).file.endswith("parent.yaml")


def test_replaced_list_forgets_the_parents_positions(tmp_path: Path) -> None:
    write(tmp_path, "parent.yaml", PARENT)
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nname: c\n"
                  "stages:\n  - {depth: 1, width: 8}\n")
    _, source = load_merged(child)
    assert ("stages", 1) not in source.values
    assert source.value(("stages", 0, "width")).file.endswith("child.yaml")


def test_error_in_a_parent_is_reported_at_the_parent(tmp_path: Path) -> None:
    write(tmp_path, "parent.yaml", "name: parent\nstages:\n  - {depth: 1, width: 8}\n"
          "  - {depth: 1, width: 8, shortcut: identy}\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nname: child\n")
    with pytest.raises(SchemaError) as caught:
        load(child)
    assert caught.value.loc is not None
    assert caught.value.loc.file.endswith("parent.yaml")
    assert (caught.value.loc.line, caught.value.loc.column) == (4, 36)
    assert "did you mean `identity`?" in str(caught.value)


def test_a_child_may_complete_an_incomplete_parent(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "block: {kind: bottleneck}\nshortcut: projection_all\n")
    spec = load(write(tmp_path, "net.yaml", f"extends: base.yaml\nname: net\n{STAGES}"))
    assert spec.block.kind == "bottleneck"
    assert spec.shortcut is Shortcut.projection_all


def test_extends_is_relative_to_the_file_not_the_cwd(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lib").mkdir()
    write(tmp_path / "lib", "base.yaml", f"name: base\n{STAGES}")
    write(tmp_path / "lib", "mid.yaml", "extends: base.yaml\nname: mid\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load(tmp_path / "lib" / "mid.yaml").name == "mid"


def test_missing_parent(tmp_path: Path) -> None:
    child = write(tmp_path, "child.yaml", "name: c\nextends: ../nowhere.yaml\n")
    with pytest.raises(ExtendsError, match=r"child.yaml:2:10: extends: `extends: ../nowhere"):
        load(child)


# Built-in names -------------------------------------------------------------------------------


def test_builtin_by_name() -> None:
    spec = load("resnet50")
    assert spec.name == "resnet50" and len(spec.stages) == 4


def test_extends_a_builtin_by_name(tmp_path: Path) -> None:
    spec = load(write(tmp_path, "mine.yaml", "extends: resnet50\nname: mine\n"
                      "head: {classes: 10}\n"))
    assert spec.block.kind == "bottleneck"
    assert [s.depth for s in spec.stages] == [3, 4, 6, 3]
    assert spec.head is not None and spec.head.classes == 10


def test_a_file_next_to_the_child_wins_over_a_builtin(tmp_path: Path) -> None:
    write(tmp_path, "resnet50", f"name: local\n{STAGES}")
    spec = load(write(tmp_path, "mine.yaml", "extends: resnet50\nname: mine\n"))
    assert len(spec.stages) == 1


def test_extends_chain_through_builtins(tmp_path: Path) -> None:
    # resnext101_32x8d -> resnet101 -> resnet50, then this file on top.
    spec = load(write(tmp_path, "mine.yaml", "extends: resnext101_32x8d\nname: mine\n"))
    assert (spec.block.groups, spec.block.base_width) == (32, 8)
    assert [s.depth for s in spec.stages] == [3, 4, 23, 3]


def test_unknown_builtin_suggests_the_nearest() -> None:
    with pytest.raises(SpecError, match=r"no spec file or built-in spec named `resnet05`; "
                       r"did you mean `resnet50`\?"):
        resolve_spec_path("resnet05")


def test_a_path_is_a_path_even_when_it_looks_like_a_name(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "resnet18", f"name: shadow\n{STAGES}")
    monkeypatch.chdir(tmp_path)
    assert load("resnet18").name == "shadow"
