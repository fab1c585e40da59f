"""`resnet-spec validate --json`: one JSON document on stdout and nothing else, each spec's
result with its errors located (null where the place is unknown), exit codes as without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BAD

KEYS = {"spec", "ok", "name", "blocks", "outputs", "warnings", "errors"}
ERROR_KEYS = {"file", "line", "column", "path", "message", "hint", "kind", "notes"}


def _document(run_cli, *args: str) -> tuple[int, dict, str]:
    result = run_cli("validate", "--json", *args)
    return result.code, json.loads(result.out), result.err


def test_valid_specs(run_cli) -> None:
    code, doc, err = _document(run_cli, "resnet18", "resnet50_os8")
    assert (code, err) == (0, "")
    assert doc["ok"] is True
    first, second = doc["specs"]
    assert set(first) == KEYS
    assert first == {"spec": "resnet18", "ok": True, "name": "resnet18", "blocks": 8,
                     "outputs": {"logits": [1000]}, "warnings": [], "errors": []}
    assert second["outputs"]["stage4"] == [2048, 28, 28]  # a backbone: every feature map


def test_an_invalid_spec_among_valid_ones(run_cli) -> None:
    bad = BAD / "graph_identity_shape_change.yaml"
    code, doc, err = _document(run_cli, "resnet18", str(bad))
    assert (code, err) == (1, "")
    assert doc["ok"] is False
    assert [s["ok"] for s in doc["specs"]] == [True, False]
    entry = doc["specs"][1]
    assert (entry["name"], entry["blocks"], entry["outputs"]) == (None, None, {})
    [error] = entry["errors"]
    assert set(error) == ERROR_KEYS
    assert (error["line"], error["column"], error["path"], error["kind"]) == (
        6, 5, "stages[1]", "graph")
    assert error["file"].endswith("graph_identity_shape_change.yaml")
    assert error["message"].startswith("block layer2.0: shortcut `identity` cannot add")
    assert error["hint"].startswith("policies that fit here: ")


def test_every_error_of_a_spec_is_listed(run_cli, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "two.yaml").write_text("name: t\nstages:\n  - {depth: 0, width: 64}\n"
                                       "head: {classes: 0}\n")
    monkeypatch.chdir(tmp_path)
    code, doc, _ = _document(run_cli, "two.yaml")
    assert code == 1
    errors = doc["specs"][0]["errors"]
    assert [(e["file"], e["line"], e["path"], e["kind"]) for e in errors] == [
        ("two.yaml", 3, "stages[0].depth", "schema"), ("two.yaml", 4, "head.classes", "schema")]
    assert errors[0]["hint"] is None


def test_unknown_places_are_null(run_cli) -> None:
    code, doc, _ = _document(run_cli, "resnet5")
    assert code == 1
    [error] = doc["specs"][0]["errors"]
    assert (error["file"], error["line"], error["column"]) == ("resnet5", None, None)
    assert error["kind"] == "spec" and "did you mean `resnet50`?" in error["message"]


def test_yaml_errors_have_their_kind(run_cli) -> None:
    _, doc, _ = _document(run_cli, str(BAD / "yaml_duplicate_key.yaml"))
    assert doc["specs"][0]["errors"][0]["kind"] == "yaml"


def test_warnings_go_into_the_document(run_cli, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny.yaml").write_text("extends: resnet18\nname: tiny\n"
                                        "input: {channels: 3, height: 16, width: 16}\n")
    monkeypatch.chdir(tmp_path)
    code, doc, err = _document(run_cli, "tiny.yaml")
    assert (code, err) == (0, "")
    [warning] = doc["specs"][0]["warnings"]
    assert warning.startswith("warning: ") and "sees a 1×1 map" in warning


def test_usage_errors_still_exit_2(run_cli) -> None:
    result = run_cli("validate", "--json")
    assert result.code == 2 and result.out == ""


def test_an_error_moved_to_the_users_line_keeps_the_parents_line_as_a_note(
        run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("my.yaml").write_text("extends: resnet18\nname: my18\nnorm: {kind: group, groups: 48}\n")
    code, doc, _ = _document(run_cli, "my.yaml")
    [error] = doc["specs"][0]["errors"]
    assert (code, error["file"], error["line"], error["path"]) == (1, "my.yaml", 3, "norm.groups")
    parent = error["notes"][0]
    assert parent["file"].endswith("resnet18.yaml") and parent["line"] > 0
    assert set(parent) == {"text", "file", "line", "column"}
