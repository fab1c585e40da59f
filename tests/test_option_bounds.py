"""Options and names at their extremes (issue 21): each is a one-line usage error (exit 2) or
spec error (exit 1), never an internal error, never work that grows without bound."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec import limits
from resnet_spec.errors import SchemaError, SpecError

LONG = "a" * 300


def _one_line(text: str) -> str:
    assert "internal error" not in text and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("parts", [limits.MAX_YAML_DEPTH + 1, 30_000])
def test_set_paths_are_bounded_in_the_cli_and_the_api(run_cli, parts: int) -> None:
    path = ".".join(["a"] * parts)
    result = run_cli("validate", "resnet18", "--set", f"{path}=1")
    assert result.code == 2 and f"has {parts} parts; a PATH has at most 64" in result.err
    with pytest.raises(SchemaError, match="a PATH has at most 64"):
        resnet_spec.load("resnet18", overrides=[f"{path}=1"])


@pytest.mark.parametrize("index", ["²", "٣", "1" * 101])
def test_set_indices_are_ascii_digits(run_cli, index: str) -> None:
    result = run_cli("validate", "resnet18", "--set", f"stages.{index}=1")
    assert result.code == 2 and "is not a list index" in _one_line(result.err)
    with pytest.raises(SchemaError, match="is not a list index"):
        resnet_spec.load("resnet18", overrides=[f"stages.{index}=1"])


@pytest.mark.parametrize("batch, says", [
    ("99999999999999999999999", "at most 65536"), ("65537", "at most 65536"),
    ("1:8:" + "9" * 5000, "at most 65536"), ("1:²:3", "expected MIN:OPT:MAX"),
])
def test_batch_is_bounded(run_cli, batch: str, says: str) -> None:
    result = run_cli("export", "cifar_resnet20", "--to", "onnx", "--batch", batch)
    assert result.code == 2 and says in _one_line(result.err)


def test_bench_threads_are_bounded_by_the_cores(run_cli) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result = run_cli("bench", "cifar_resnet20", "--threads", "10000")
    assert result.code == 2
    assert f"10000: this process may use {cores} cores; give at most {cores}" in result.err


def test_a_long_bare_name_is_no_builtin_not_a_crash(run_cli, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", LONG)
    assert result.code == 1 and "File name too long" in _one_line(result.err)
    Path("child.yaml").write_text(f"extends: {LONG}\nname: x\n")
    result = run_cli("validate", "child.yaml")
    assert result.code == 1 and result.err.startswith("child.yaml:1:10: extends: ")
    with pytest.raises(SpecError):
        resnet_spec.load({"extends": LONG, "name": "x"})


@pytest.mark.parametrize("command", ["render", "diff"])
def test_a_diagram_never_overwrites_an_input(run_cli, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             command: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("parent.dot").write_text("extends: cifar_resnet20\nname: p\n")
    Path("spec.dot").write_text("extends: parent.dot\nname: s\n")
    os.link("spec.dot", "hard.dot")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    specs = ["spec.dot"] if command == "render" else ["cifar_resnet20", "spec.dot"]
    for output in ("spec.dot", "./spec.dot", "parent.dot", "hard.dot"):
        result = run_cli(command, *specs, "-o", output)
        assert result.code == 1, output
        assert f"-o {output}: that is " in result.err and "never replaces its input" in result.err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("command", ["render", "diff"])
def test_a_place_that_cannot_be_written_is_one_line(run_cli, tmp_path: Path,
                                                    command: str) -> None:
    (tmp_path / "file").write_text("x")
    specs = ["cifar_resnet20"] if command == "render" else ["cifar_resnet20", "cifar_resnet20"]
    for output, why in ((f"{tmp_path}/file/x.dot", "a file on the way is not a folder"),
                        (f"{tmp_path}/{LONG}.dot", "File name too long"),
                        ("/proc/x.dot", "cannot write there")):
        result = run_cli(command, *specs, "-o", output)
        assert result.code == 1 and why in _one_line(result.err), result.err
