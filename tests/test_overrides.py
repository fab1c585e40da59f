"""`--set PATH=VALUE` and `load(..., overrides=[...])`: one more layer after `extends`."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

import resnet_spec
from resnet_spec.cli.options import set_option
from resnet_spec.errors import SpecError, YamlError
from resnet_spec.spec.overrides import OverrideSyntaxError, parse_override


def load_error(spec: object, *overrides: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec, overrides)  # type: ignore[arg-type]
    return caught.value


# -- the syntax ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "path", "value"), [
    ("head.classes=10", ("head", "classes"), "10"),
    ("stages.1.depth=6", ("stages", 1, "depth"), "6"),
    ("norm={kind: group, groups: 32}", ("norm",), "{kind: group, groups: 32}"),
    ("description=a=b", ("description",), "a=b"),
    ("head=", ("head",), ""),
])
def test_path_and_value_are_split_at_the_first_equals(text: str, path: tuple, value: str
                                                      ) -> None:
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["head.classes", "=3", "head..classes=3", ".head=1", "head.=1"])
def test_a_malformed_option_is_a_syntax_error(text: str) -> None:
    with pytest.raises(OverrideSyntaxError):
        parse_override(text)


# -- what it sets ----------------------------------------------------------------------------


def test_values_are_set_after_extends_like_a_child_layer() -> None:
    spec = resnet_spec.load("resnet18", ["head.classes=10", "stages.1.depth=6",
                                         "norm={kind: group, groups: 32}", "stem.pool=none"])
    assert spec.head is not None and spec.head.classes == 10
    assert [s.depth for s in spec.stages] == [2, 6, 2, 2]
    assert (spec.norm.kind.value, spec.norm.groups) == ("group", 32)
    assert spec.stem.pool.value == "none"
    assert spec.stem.width == 64  # the rest of the mapping is kept


def test_later_overrides_win_and_shorthands_expand() -> None:
    spec = resnet_spec.load("resnet18", ["head.classes=3", "head.classes=4", "norm=group",
                                         "norm.groups=8"])
    assert spec.head is not None and spec.head.classes == 4
    assert (spec.norm.kind.value, spec.norm.groups) == ("group", 8)


def test_lists_and_null_are_yaml_values() -> None:
    spec = resnet_spec.load("resnet18", ["head=none", "features=[1, 2, 3, 4]",
                                         "output_stride=null"])
    assert spec.head is None and spec.features == [1, 2, 3, 4]
    assert spec.output_stride is None


def test_a_missing_mapping_is_created() -> None:
    spec = resnet_spec.load("resnet18", ["block.se.reduction=8"])
    assert spec.block.se is not None and spec.block.se.reduction == 8


def test_a_spec_object_takes_overrides_too() -> None:
    spec = resnet_spec.load("cifar_resnet20")
    changed = resnet_spec.load(spec, ["head.classes=7"])
    assert changed.head is not None and changed.head.classes == 7
    assert resnet_spec.load(spec) is spec


def test_one_string_is_refused_as_overrides() -> None:
    with pytest.raises(TypeError, match="sequence of 'PATH=VALUE' strings"):
        resnet_spec.load("resnet18", "head.classes=3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not dict"):
        resnet_spec.load("resnet18", [{"head.classes": 3}])  # type: ignore[list-item]


# -- errors, located at the option -----------------------------------------------------------


@pytest.mark.parametrize(("option", "message"), [
    ("stages.9.depth=6", "--set stages.9.depth=6: stage 9 does not exist; the spec has stages "
     "0..3"),
    ("head.classes=abc", '--set head.classes=abc: head.classes: expected a whole number, got '
     'string "abc"'),
    ("heda.classes=3", "--set heda.classes=3: heda: unknown key `heda` (did you mean `head`?)"),
    ("stages.1.dpth=3", "--set stages.1.dpth=3: stages[1].dpth: unknown key `dpth` (did you "
     "mean `depth`?)"),
    ("stages.x=1", "--set stages.x=1: `stages` is a list: name an item by its 0-based index, "
     "not `x`"),
    ("head.0=1", "--set head.0=1: `head` is a mapping: name a key, not the index 0"),
    ("features.2=1", "--set features.2=1: `features` is not set, so it has no item 2; set the "
     "list whole, e.g. --set 'features=[...]'"),
    ("stem.widths.5=1", "`stem.widths` is not set"),
    ("name.x=1", "--set name.x=1: `name` is `resnet18`, which has no fields; set it whole"),
    ("head=null", "--set head=null: head: expected a mapping of fields, or `none` for a "
     "backbone; got null"),
    ("head.classes=[1", "--set head.classes=[1: head.classes: invalid YAML: expected ',' or "
     "']'"),
    ("name=!!python/object:os.system x", "--set name=!!python/object:os.system x: name: the tag "
     "!!python/object:os.system is not allowed"),
    ("norm={kind: group, kind: batch}", "duplicate key `kind`"),
    ("head.classes=" + "[" * 70 + "]" * 70, "nested deeper than 64 levels"),
    ("noequals", "--set noequals: `noequals` is not PATH=VALUE"),
    ("extends=resnet50", "--set extends=resnet50: `extends` cannot be overridden"),
])
def test_errors_are_located_at_the_option(option: str, message: str) -> None:
    err = load_error("resnet18", option)
    assert str(err).startswith(message) or message in str(err), str(err)
    assert err.loc is not None and err.loc.file.startswith("--set ") and err.loc.line == 0


def test_a_value_is_bounded_as_a_file_is() -> None:
    err = load_error("resnet18", "description=" + "x" * 1_100_000)
    assert "VALUE is 1100000 characters long; a value may be at most 1048576" in str(err)


def test_a_bad_value_is_a_yaml_error_of_the_value() -> None:
    err = load_error("resnet18", "head.classes=[1")
    assert isinstance(err, YamlError)


def test_features_with_an_empty_list_name_no_stage() -> None:
    err = load_error({"name": "x", "stages": []}, "stages.0.depth=1")
    assert str(err) == "--set stages.0.depth=1: stage 0 does not exist; it has none"


# -- the CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["validate"], ["summary", "--json"], ["render"],
])
def test_the_front_end_commands_take_set(run_cli, command: list[str]) -> None:
    result = run_cli(*command, "cifar_resnet20", "--set", "head.classes=7", "--set",
                     "stages.0.depth=1")
    assert result.code == 0, result.err
    assert result.out != run_cli(*command, "cifar_resnet20").out  # the overrides took effect
    bad = run_cli(*command, "cifar_resnet20", "--set", "stages.5.depth=1")
    assert bad.code == 1
    assert bad.err.strip() == ("--set stages.5.depth=1: stage 5 does not exist; the spec has "
                               "stages 0..2")


def test_validate_applies_the_overrides_to_every_spec(run_cli) -> None:
    result = run_cli("validate", "resnet18", "cifar_resnet20", "--set", "head.classes=3")
    assert result.code == 0, result.err
    assert result.out.count("logits 3") == 2


def test_an_option_that_is_not_path_equals_value_is_a_usage_error(run_cli) -> None:
    for command in ("validate", "summary", "render", "build", "export"):
        result = run_cli(command, "resnet18", "--set", "head.classes", *(
            ["--to", "onnx"] if command == "export" else []))
        assert result.code == 2, (command, result.err)
        assert "is not PATH=VALUE" in result.err


def test_help_says_indices_are_zero_based(run_cli) -> None:
    for command in ("validate", "summary", "render", "build", "export"):
        result = run_cli(command, "--help")
        assert "--set PATH=VALUE" in result.out, command
        assert "0-based" in " ".join(result.out.split()), command


def test_set_option_is_a_plain_decorator_giving_overrides() -> None:
    @click.command()
    @set_option
    def show(overrides: tuple[str, ...]) -> None:
        click.echo(repr(overrides))

    result = CliRunner().invoke(show, ["--set", "a.b=1", "--set", "c=[1, 2]"])
    assert result.output.strip() == "('a.b=1', 'c=[1, 2]')"
    assert CliRunner().invoke(show, []).output.strip() == "()"


def test_build_with_a_bad_override_exits_1_and_writes_nothing(run_cli, tmp_path: Path) -> None:
    result = run_cli("build", "cifar_resnet20", "--out", str(tmp_path / "out"), "--set",
                     "shortcut=identity")
    assert result.code == 1
    assert result.err.splitlines()[-3].startswith("--set shortcut=identity: shortcut: block ")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_export_writes_the_overridden_spec_and_records_the_overrides(
        run_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("export", "cifar_resnet20", "--to", "pt2", "--out", str(out),
                     "--set", "head.classes=7", "--set", "stages.0.depth=1")
    assert result.code == 0, result.err
    resolved = yaml.safe_load((out / "spec.resolved.yaml").read_text())
    assert resolved["head"]["classes"] == 7
    assert [s["depth"] for s in resolved["stages"]] == [1, 3, 3]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"] == ["head.classes=7", "stages.0.depth=1"]
    assert manifest["spec"] == "cifar_resnet20"
