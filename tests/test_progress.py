"""Progress of long steps: what the pipeline tells its `on_progress` hook, in order, and how
the CLI shows it (in place on a terminal, one line each elsewhere, nothing with --quiet)."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from resnet_spec.cli import options
from resnet_spec.pipeline import run as pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def recorder() -> tuple[list[tuple], dict]:
    """One list of every hook call, in order, and the hooks that fill it."""
    events: list[tuple] = []
    hooks = {
        "on_step": lambda i, n, name, s: events.append(
            ("start" if s is None else "end", i, n, name)),
        "on_progress": lambda i, n, name, message: events.append(("progress", i, n, name,
                                                                   message)),
    }
    return events, hooks


def progress_of(events: list[tuple]) -> list[tuple]:
    return [e[1:] for e in events if e[0] == "progress"]


def test_export_reports_each_part_of_its_long_steps_inside_the_step(tmp_path: Path) -> None:
    events, hooks = recorder()
    pipeline.run_export("cifar_resnet20", ["pt2", "onnx"], tmp_path / "out", **hooks)
    assert progress_of(events) == [
        (6, 9, "trace", "exporting"),
        (7, 9, "pt2", "writing model.pt2"),
        (7, 9, "pt2", "loading model.pt2"),
        (7, 9, "pt2", "checking model.pt2 at batch 1"),
        (7, 9, "pt2", "checking model.pt2 at batch 3"),
        (8, 9, "onnx", "converting to ONNX"),
        (8, 9, "onnx", "loading model.onnx in onnxruntime"),
        (8, 9, "onnx", "checking model.onnx at batch 1"),
        (8, 9, "onnx", "checking model.onnx at batch 3"),
    ]
    for i, event in enumerate(events):  # every message between its step's start and end
        if event[0] == "progress":
            start = max(j for j in range(i) if events[j][0] == "start")
            assert events[start][3] == event[3]
            assert not any(e[0] == "end" for e in events[start:i])


def test_build_reports_the_pt2_export_and_its_checks(tmp_path: Path) -> None:
    events, hooks = recorder()
    pipeline.run_build("cifar_resnet20", tmp_path / "out", **hooks)
    assert progress_of(events) == [
        (7, 8, "export", "exporting"),
        (7, 8, "export", "writing model.pt2"),
        (7, 8, "export", "loading model.pt2"),
        (7, 8, "export", "checking model.pt2 at batch 1"),
        (7, 8, "export", "checking model.pt2 at batch 3"),
    ]


def test_the_pipeline_knows_nothing_of_click() -> None:
    tree = ast.parse(Path(pipeline.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert "click" not in imported


def test_cli_off_a_terminal_prints_one_plain_line_per_part(tmp_path: Path, run_cli) -> None:
    result = run_cli("export", "cifar_resnet20", "--to", "pt2", "--out", str(tmp_path / "o"))
    assert result.code == 0, result.err
    assert "\r" not in result.err and "\x1b" not in result.err
    lines = result.err.splitlines()
    assert lines[5:12] == [
        "[6/8] trace      exporting...",
        lines[6],
        "[7/8] pt2        writing model.pt2...",
        "[7/8] pt2        loading model.pt2...",
        "[7/8] pt2        checking model.pt2 at batch 1...",
        "[7/8] pt2        checking model.pt2 at batch 3...",
        lines[11],
    ]
    assert lines[6].startswith("[6/8] trace ") and lines[6].endswith(" s")
    assert lines[11].startswith("[7/8] pt2 ") and lines[11].endswith(" s")
    assert result.out.startswith("exported cifar_resnet20:")  # stdout: the closing line only
    assert len(result.out.splitlines()) == 1


def test_quiet_silences_progress_but_not_the_result(tmp_path: Path, run_cli) -> None:
    result = run_cli("export", "cifar_resnet20", "--to", "pt2", "-q", "--out",
                     str(tmp_path / "o"))
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out.startswith("exported cifar_resnet20:")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_step_line_is_redrawn_in_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    options.progress(7, 9, "onnx", None)
    options.step_progress(7, 9, "onnx", "converting to ONNX")
    options.step_progress(7, 9, "onnx", "checking model.onnx at batch 3")
    options.progress(7, 9, "onnx", 3.5)
    assert screen.getvalue() == (
        "[7/9] onnx          ..."
        "\r[7/9] onnx       converting to ONNX...\x1b[K"
        "\r[7/9] onnx       checking model.onnx at batch 3...\x1b[K"
        "\r[7/9] onnx         3.50 s\x1b[K\n"
    )
