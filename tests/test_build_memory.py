"""`build` judges from the IR whether it fits in memory, before torch allocates anything, and
refuses at the spec entry responsible: `input` for a huge example input, else the widest stage."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.errors import LimitError
from resnet_spec.ir.cost import analyze
from resnet_spec.pipeline import memory as build_memory
from resnet_spec.pipeline.memory import check_fits, estimate

HUGE = "extends: resnet18\nname: huge\ninput: {height: 16384, width: 16384}\n"
WIDE = ("name: wide\ninput: {height: 8, width: 8}\nstem: {width: 8, kernel: 3, pool: none}\n"
        "stages:\n  - {depth: 1, width: 8}\n  - {depth: 2, width: 4096, stride: 2}\n")


def _graph(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> resnet_spec.Graph:
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_text(text)
    return resnet_spec.elaborate("spec.yaml")


def test_the_estimate_adds_up_from_the_ir() -> None:
    graph = resnet_spec.elaborate("cifar_resnet20")
    cost = analyze(graph)
    need = estimate(graph, cost)
    state = sum(math.prod(s) for s in graph.state_shapes().values())
    assert need.weights == 2 * 4 * state  # the module and the exported program
    assert need.inputs == 3 * 4 * 3 * 32 * 32  # the check's batch of 3
    assert need.activations == 4 * 3 * 4 * 16 * 32 * 32  # the first stage's maps, 4 alive
    assert need.total == need.weights + need.inputs + need.activations + (900 << 20)


def test_a_huge_input_is_refused_at_input(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph(tmp_path, HUGE, monkeypatch)
    with pytest.raises(LimitError) as caught:
        check_fits(graph, analyze(graph), available=16 << 30)
    text = str(caught.value)
    assert text.startswith("spec.yaml:3:8: input: building needs about 202.0 GiB of memory, "
                           "16.0 GiB is available: the 3×16384×16384 input makes "
                           "activations of up to 16.0 GiB an image (`conv1`), and about 4 of "
                           "them are alive at once at batch 3")
    assert "a smaller `input` height and width" in caught.value.hint


def test_heavy_weights_are_refused_at_their_stage(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph(tmp_path, WIDE, monkeypatch)
    need = estimate(graph, analyze(graph))
    with pytest.raises(LimitError) as caught:
        check_fits(graph, analyze(graph), available=need.total - 1)
    assert str(caught.value).startswith("spec.yaml:6:5: stages[1]: building needs about ")
    assert "the weights take" in str(caught.value)
    assert check_fits(graph, analyze(graph), available=need.total) == need


def test_this_machine_reports_its_free_memory() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("read from /proc on Linux")
    free = build_memory.available_memory()
    assert free is not None and free > 0


def test_build_refuses_before_compiling_and_leaves_nothing(tmp_path: Path, run_cli,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "huge.yaml").write_text(HUGE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(build_memory, "available_memory", lambda: 24 << 30)
    result = run_cli("build", "huge.yaml", "--out", "out")
    assert result.code == 1
    assert "[6/8] compile    failed" in result.err
    assert "huge.yaml:3:8: input: building needs about 202.0 GiB of memory, 24.0 GiB is " \
           "available" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.yaml"]
