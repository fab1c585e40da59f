"""`resnet-spec show SPEC`: the resolved spec as YAML that reads back as the same spec, or as
JSON; errors as `validate` prints them; a spec whose graph fails still shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BAD

from resnet_spec.spec.loader import load, validate
from resnet_spec.spec.resolved import resolved_dict
from resnet_spec.spec.yaml_source import parse_text

BAD_GRAPH = BAD / "graph_identity_shape_change.yaml"


@pytest.mark.parametrize("ref", ["resnet50d", "resnet34", "seresnext50_32x4d", "resnet50_os8",
                                 "cifar_preact_resnet164"])
def test_the_yaml_reads_back_as_the_same_spec(run_cli, ref: str) -> None:
    result = run_cli("show", ref)
    assert result.code == 0, result.err
    assert result.err == ""
    assert "\nextends:" not in result.out
    back = validate(*parse_text(result.out, "shown.yaml"))
    assert resolved_dict(back) == resolved_dict(load(ref))


def test_defaults_are_written_out(run_cli) -> None:
    out = run_cli("show", "resnet50d").out
    assert out.startswith("# resnet50d, resolved by resnet-spec ")
    assert "norm: {kind: batch, eps: 1.0e-05, momentum: 0.1" in out  # not in any resnet50 file
    assert "stem: {kind: deep," in out  # from resnet50c.yaml, two files up the chain
    assert "- {depth: 6, width: 256, stride: 2, dilation: 1, shortcut: avg_down}" in out


def test_json_is_the_same_spec(run_cli) -> None:
    result = run_cli("show", "resnext50_32x4d", "--json")
    assert result.code == 0
    data = json.loads(result.out)
    assert data == resolved_dict(load("resnext50_32x4d"))
    assert data["block"]["groups"] == 32 and "extends" not in data


def test_a_file_extending_a_builtin_is_merged(run_cli, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.yaml").write_text("extends: resnet18\nname: mine\nhead: {classes: 10}\n")
    monkeypatch.chdir(tmp_path)
    data = json.loads(run_cli("show", "mine.yaml", "--json").out)
    assert data["name"] == "mine" and data["head"]["classes"] == 10
    assert [s["depth"] for s in data["stages"]] == [2, 2, 2, 2]


def test_errors_are_located_as_validate_prints_them(run_cli, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.yaml").write_text("name: t\nstages:\n  - {depth: 0, width: 64}\n")
    monkeypatch.chdir(tmp_path)
    shown, validated = run_cli("show", "bad.yaml"), run_cli("validate", "bad.yaml")
    assert shown.code == validated.code == 1
    assert shown.out == ""
    assert shown.err == validated.err
    assert shown.err.startswith("bad.yaml:3:13: stages[0].depth: ")
    assert run_cli("show", "resnet5").err.startswith("resnet5: no spec file or built-in")


def test_a_spec_whose_graph_fails_still_shows(run_cli) -> None:
    result = run_cli("show", str(BAD_GRAPH))
    assert result.code == 0
    assert "shortcut: identity" in result.out
    assert run_cli("validate", str(BAD_GRAPH)).code == 1
