"""Messages in the spec language's words: no pydantic vocabulary reaches the user, and one
typo gives one error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.errors import SpecError, SpecErrors
from resnet_spec.spec.pydantic_words import without_jargon

PYDANTIC = re.compile(
    r"Input should|should be|should have|after validation|Value error|validation error|"
    r"model_type|dict_type|list_type|too_short|too_long|greater_than|less_than|literal_error|"
    r"string_pattern|extra_forbidden|pydantic|errors\.pydantic|type=|\[type|"
    r"String should|List should|Field required|Extra inputs")

BAD_VALUES = [
    "head: None", "head: NONE", "head: null", "head: []", "head: 3", "head: {classes: 0}",
    "head: {classes: 2000000}", "head: {dropout: 1.5}", "head: {pool: [avg]}",
    "stages: []", "stages: {}", "stages: abc", "stages: [abc]", "stages: [[1]]", "stages: [null]",
    "stages: [{depth: 0, width: 64}]", "stages: [{depth: 2, width: 100000}]",
    "stages: [{depth: 2}]", "stages: [{depht: 2, width: 64}]",
    "stages: [{depth: 2, width: 64, stride: 0}]", "stages: [{depth: 2, width: 64, dilation: 99}]",
    "stages: [{depth: 2, width: 64, shortcut: foo}]", "stages: [{depth: 2, width: 64, block: 3}]",
    "stages: [{depth: 2, width: 64, block: {kind: x}}]", "stages: [{depth: 2.0, width: 64}]",
    "norm: 3", "norm: [group]", "norm: batchh", "norm: {eps: 0}", "norm: {eps: 2}",
    "norm: {groups: 0}", "norm: {eps: .nan}", "norm: {momentum: true}",
    "stem: [1]", "stem: {kind: deep, widths: [1, 2]}", "stem: {kind: deep, widths: [1, 2, 3, 4]}",
    "stem: {kernel: 4}", "stem: {pool: maxx}", "stem: {stride: 9}", "stem: {widths: [8, 8, 8]}",
    "activation: rleu", "activation: 3", "activation: {a: 1}", "shortcut: {a: 1}",
    "name: Foo", "name: ''", "name: 5", "name: " + "a" * 200, "description: 5",
    "description: \"a\\x1bb\"", "output_stride: 12", "output_stride: '16'", "features: []",
    "features: [-1]", "features: 1", "features: [1]", "spec_version: 2", "spec_version: '1'",
    "input: 5", "input: {height: 0}", "input: {channels: 0}", "input: {height: 1e9}",
    "block: {se: 3}", "block: {se: {reduction: 0}}", "block: {groups: 2}",
    "block: {zero_init_last_norm: yes}", "block: {drop_path: 1}", "block: {drop_path: -1}",
    "block: {kind: bottlenek}", "block: {expansion: 0}", "blocks: {kind: basic}",
]


def errors(spec: object) -> list[SpecError]:
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)  # type: ignore[arg-type]
    err = caught.value
    return err.errors if isinstance(err, SpecErrors) else [err]


def messages(spec: object) -> list[str]:
    return [str(e) for e in errors(spec)]


def words(spec: object) -> list[str]:
    """What each error says, without the file name (a test's folder may hold any word)."""
    return [f"{e.loc.path if e.loc else ''}: {e.message} ({e.hint})" for e in errors(spec)]


@pytest.mark.parametrize("line", BAD_VALUES)
def test_no_pydantic_phrasing_in_any_message(tmp_path: Path, line: str) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(f"extends: resnet18\n{line}\n")
    for text in words(spec):
        assert not PYDANTIC.search(text), text


@pytest.mark.parametrize("value", [
    {"name": "x", "stages": [], "head": "None"}, {"name": 3, "stages": "x"},
    {"extends": "resnet18", "norm": {"kind": "x", "groups": -1}}, {"stages": [{"wdth": 2}]},
])
def test_no_pydantic_phrasing_for_dicts_either(value: dict) -> None:
    for text in words(value):
        assert not PYDANTIC.search(text), text


def test_the_phrasing_test_can_fail() -> None:
    """The pattern catches what pydantic says unreworded."""
    from pydantic import ValidationError

    from resnet_spec.spec.schema import Spec

    with pytest.raises(ValidationError) as caught:
        Spec.model_validate({"name": "x", "stages": [], "head": "None", "norm": 3})
    raw = [item["msg"] for item in caught.value.errors()]
    assert all(PYDANTIC.search(text) for text in raw), raw


@pytest.mark.parametrize(("line", "expected"), [
    ("head: None", 'head: expected a mapping of fields, or `none` for a backbone; got string '
     '"None" (write `none`, in lower case, for a backbone)'),
    ("head: null", "head: expected a mapping of fields, or `none` for a backbone; got null"),
    ("stages: []", "stages: needs at least 1 item, got none"),
    ("stages: {}", "stages: expected a list, got a mapping"),
    ("norm: 3", "norm: expected a mapping of fields, got number `3`"),
    ("stem: [1]", "stem: expected a mapping of fields, got a list"),
    ("stages: [abc]", 'stages[0]: expected a mapping of fields, got string "abc"'),
    ("activation: rleu", "activation: expected `relu`, `silu`, `gelu` or `leaky_relu`, got "
     "`rleu` (did you mean `relu`?)"),
    ("stages: [{depth: 0, width: 64}]", "stages[0].depth: must be at least 1, got `0`"),
    ("head: {dropout: 1.5}", "head.dropout: must be less than 1.0, got `1.5`"),
    ("stem: {kind: deep, widths: [1, 2]}", "stem.widths: needs at least 3 items, got 2"),
    ("output_stride: '16'", "output_stride: expected 8, 16 or 32, got `16` (write `16` without "
     "quotes)"),
    ("name: Foo", "name: `Foo` is not a valid name: a name is lower case letters, digits"),
])
def test_messages_read_as_written(tmp_path: Path, line: str, expected: str) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(f"extends: resnet18\n{line}\n")
    (text,) = messages(spec)
    assert expected in text


def test_one_typo_gives_one_error(tmp_path: Path) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text("extends: resnet18\nstages:\n  - {depht: 2, width: 64}\n")
    (text,) = messages(spec)
    assert text.startswith(f"{spec}:3:")
    assert text.endswith(": stages[0].depht: unknown key `depht` (did you mean `depth`?)")


def test_a_top_level_typo_of_a_required_field_is_one_error_too() -> None:
    (text,) = messages({"nmae": "x", "stages": [{"depth": 1, "width": 8}]})
    assert text == "<dict>: nmae: unknown key `nmae` (did you mean `name`?)"


def test_an_unrelated_unknown_key_leaves_the_missing_field_reported() -> None:
    texts = messages({"name": "x", "stages": [{"width": 8, "colour": 1}]})
    assert any("missing required field `depth`" in t for t in texts)
    assert any("unknown key `colour`" in t for t in texts)


def test_the_net_under_the_table_rewords_what_it_catches() -> None:
    assert without_jargon("Value error, bad") == "bad"
    assert without_jargon("Input should be a valid thing") == "expected a valid thing"
    assert without_jargon("List should have at least 2 items after validation, not 1") == \
        "should have at least 2 items, not 1"
