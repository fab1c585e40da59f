"""A graph error caused by a value of the user's file (or a `--set`) in a stage its `extends`
parent defined is reported at the user's line, with the parent's line as a note, once."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.elaboration import stages
from resnet_spec.errors import GraphError, SpecError, SpecErrors
from resnet_spec.ir import check, origin
from resnet_spec.ir import ops as ir_ops
from resnet_spec.spec.loader import _annotation_at

PARENT = """\
name: parent
stem: {width: 16, kernel: 3, stride: 1, pool: none}
block: {kind: bottleneck}
norm: {kind: group, groups: 16}
stages:
  - {depth: 1, width: 16}
  - {depth: 1, width: 16, stride: 2}
"""

NARROWING = """\
name: narrowing
stages:
  - {depth: 1, width: 64}
  - {depth: 1, width: 32, stride: 2}
"""


def error_of(spec: object, overrides: tuple[str, ...] = ()) -> SpecError:
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec, overrides)  # type: ignore[arg-type]
    return caught.value


def test_the_reported_case_points_at_my_line_once(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("my.yaml").write_text("extends: resnet18\nname: mine\nnorm: {kind: group, groups: 48}\n")
    err = error_of("my.yaml")
    assert not isinstance(err, SpecErrors), str(err)
    assert isinstance(err, GraphError)
    assert (err.loc.file, err.loc.line, err.loc.column, err.loc.path) == (
        "my.yaml", 3, 29, "norm.groups")
    assert "group norm with 48 groups cannot split 64 channels" in err.message
    lines = str(err).splitlines()
    assert lines[0].startswith("my.yaml:3:29: norm.groups: group norm with 48 groups")
    assert lines[1].startswith("  ") and "resnet18.yaml:5:7: stem: the layers this breaks" \
        in lines[1]
    assert lines[2] == ("  and the same in stages[0], stages[1], stages[2] and stages[3] "
                        "(lines 9, 10, 11 and 12)")
    assert len(lines) == 3


@pytest.mark.parametrize(("parent", "child", "at", "message"), [
    (PARENT, "block: {base_width: 2}", (2, 21, "block.base_width"), "would have 0 channels"),
    (PARENT, "input: {height: 1, width: 1}", (2, 17, "input.height"), "groups of one value"),
    (PARENT, "shortcut: identity", (2, 11, "shortcut"), "shortcut `identity` cannot add"),
    (PARENT, "norm: {groups: 3}", (2, 16, "norm.groups"), "cannot split 16 channels"),
    (NARROWING, "shortcut: zero_pad", (2, 11, "shortcut"), "cannot shrink 64 channels to 32"),
], ids=["base_width", "input", "shortcut", "norm_groups", "zero_pad"])
def test_a_child_value_breaking_a_parent_stage_points_at_the_child(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parent: str, child: str,
        at: tuple[int, int, str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("parent.yaml").write_text(parent)
    Path("child.yaml").write_text(f"extends: parent.yaml\n{child}\n")
    err = error_of("child.yaml")
    first = err.errors[0] if isinstance(err, SpecErrors) else err
    assert (first.loc.file, first.loc.line, first.loc.column, first.loc.path) == ("child.yaml",
                                                                                 *at)
    assert message in first.message
    assert first.notes and first.notes[0].loc.file == "parent.yaml"
    assert "the layers this breaks are defined here" in str(first.notes[0])


def test_an_override_that_breaks_a_stage_points_at_the_option() -> None:
    err = error_of("resnet18", ("head.classes=10", "shortcut=identity"))
    assert str(err).startswith("--set shortcut=identity: shortcut: block layer2.0: shortcut "
                               "`identity` cannot add")
    assert "resnet18.yaml:10:5: stages[1]: the layers this breaks" in str(err)


def test_the_latest_layer_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A --set over the user's file over the parent: the --set is the newest cause."""
    monkeypatch.chdir(tmp_path)
    Path("parent.yaml").write_text(PARENT)
    Path("child.yaml").write_text("extends: parent.yaml\nnorm: {groups: 3}\n")
    err = error_of("child.yaml", ("norm.groups=5",))
    assert str(err).startswith("--set norm.groups=5: norm.groups: group norm with 5 groups")


def test_an_error_in_the_same_file_as_its_cause_stays_where_it_was(tmp_path: Path) -> None:
    spec = tmp_path / "one.yaml"
    spec.write_text(PARENT.replace("groups: 16", "groups: 3"))
    err = error_of(spec)
    assert isinstance(err, SpecErrors)
    assert [(e.loc.line, e.loc.path) for e in err.errors] == [
        (2, "stem"), (6, "stages[0]"), (7, "stages[1]")]
    assert all(not e.notes for e in err.errors)


def test_a_warning_caused_by_the_child_is_moved_too(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("small.yaml").write_text("extends: resnet18\ninput: {height: 16, width: 16}\n")
    warnings = resnet_spec.elaborate("small.yaml").warnings
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: small.yaml:2:17: input.height: stage layer3 sees")
    assert "resnet18.yaml:11:5: stages[2]: the layers it concerns are defined here" in warnings[0]


# -- the table -------------------------------------------------------------------------------


def _checks_named_in_the_code() -> set[str]:
    """Every check name `check.py` and the op classes give a finding (the `check` of
    `node.error`, `self.error` and `Finding`), and the elaboration's own checks name to
    `blamed`."""
    names = set()
    tree = ast.Module(body=[*ast.parse(inspect.getsource(check)).body,
                            *ast.parse(inspect.getsource(ir_ops)).body,
                            *ast.parse(inspect.getsource(stages)).body], type_ignores=[])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "error" and len(node.args) == 3):
            names.add(node.args[2].value)  # type: ignore[attr-defined]
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "blamed":
            names.add(node.args[1].value)  # type: ignore[attr-defined]
        if node.func.id == "_error" and len(node.args) == 4:
            names.add(node.args[3].value)  # type: ignore[attr-defined]
        if node.func.id == "Finding" and len(node.args) >= 6 and isinstance(
                node.args[5], ast.Constant):
            names.add(node.args[5].value)
        for keyword in node.keywords:
            if node.func.id == "Finding" and keyword.arg == "check":
                names.add(keyword.value.value)  # type: ignore[attr-defined]
    return names


def test_every_check_has_its_fields_listed() -> None:
    named = _checks_named_in_the_code()
    assert len(named) >= 12
    assert named == set(origin.CAUSES)


@pytest.mark.parametrize("field", sorted({f for fs in origin.CAUSES.values() for f in fs}))
def test_every_listed_field_is_a_field_of_the_language(field: str) -> None:
    path = origin.field_path(field, stage=0)
    assert path is not None
    assert _annotation_at(path) is not None, f"{field} names no field of the schema"


def test_stage_fields_are_skipped_outside_a_stage() -> None:
    assert origin.field_path("stages.*.width", stage=None) is None
    assert origin.field_path("stages.*.width", stage=2) == ("stages", 2, "width")
    assert origin.field_path("norm.groups", stage=None) == ("norm", "groups")


def test_an_error_raised_while_elaborating_is_moved_too() -> None:
    """The channel limit is checked while building a stage, not by `check.py`."""
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate({"extends": "resnet50", "block": {"base_width": 16384}})
    err = caught.value
    assert str(err).startswith("<dict>: block.base_width: the blocks' inner channels would be "
                               "131072; the limit is 65536")
    assert err.notes and err.notes[0].loc is not None and err.notes[0].loc.path == "stages[3]"
