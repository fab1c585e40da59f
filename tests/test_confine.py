"""Confined mode (issue 21): for specs from others, `extends` reads only the built-ins and files
below the named spec's folder, so an error can echo nothing from elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.errors import ExtendsError, SpecError
from resnet_spec.spec.confine import confined

OUTSIDE = ["/proc/self/environ", "../outside.yaml", "../../etc/passwd", "link.yaml",
           "sub/../../outside.yaml"]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outside.yaml").write_text("name: secret_value_42\nstages: []\n")
    spec = tmp_path / "pr"
    (spec / "sub").mkdir(parents=True)
    (spec / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    (spec / "parent.yaml").write_text("extends: resnet18\nname: parent\n")
    (spec / "sub" / "deep.yaml").write_text("extends: ../parent.yaml\nname: deep\n")
    return spec


@pytest.mark.parametrize("ref", OUTSIDE)
def test_extends_outside_the_folder_is_refused_before_reading(run_cli, folder: Path,
                                                              ref: str) -> None:
    (folder / "spec.yaml").write_text(f"extends: {ref}\nname: x\n")
    result = run_cli("--confine", "validate", "pr/spec.yaml")
    assert result.code == 1, result.err
    assert result.err.startswith(f"pr/spec.yaml:1:10: extends: `extends: {ref}` lies outside")
    assert "secret_value_42" not in result.err and "root:" not in result.err


def test_the_environment_variable_confines_too(run_cli, folder: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "spec.yaml").write_text("extends: ../outside.yaml\nname: x\n")
    monkeypatch.setenv("RESNET_SPEC_CONFINE", "1")
    assert "lies outside" in run_cli("validate", "pr/spec.yaml").err
    monkeypatch.setenv("RESNET_SPEC_CONFINE", "0")
    assert "lies outside" not in run_cli("validate", "pr/spec.yaml").err


def test_built_ins_and_files_below_are_allowed(run_cli, folder: Path) -> None:
    (folder / "spec.yaml").write_text("extends: sub/deep.yaml\nname: x\n")
    result = run_cli("--confine", "validate", "pr/spec.yaml")
    assert result.code == 0, result.err
    assert "RESNET_SPEC_CONFINE" not in os.environ, "the CLI puts the environment back"


def test_python_callers_confine_with_a_block(folder: Path) -> None:
    spec = {"extends": "../outside.yaml", "name": "x"}
    os.chdir(folder)
    with confined(), pytest.raises(ExtendsError, match="lies outside"):
        resnet_spec.load(spec)
    assert resnet_spec.load({"extends": "parent.yaml", "name": "y"}).name == "y"
    with pytest.raises(SpecError) as caught:
        resnet_spec.load(spec)  # unconfined: read, and refused for what it holds
    assert "outside.yaml:2:9: stages: needs at least 1 item" in str(caught.value)


def test_without_confinement_nothing_changes(run_cli, folder: Path) -> None:
    (folder / "spec.yaml").write_text("extends: ../outside.yaml\nname: x\n")
    result = run_cli("validate", "pr/spec.yaml")
    assert "lies outside" not in result.err
