"""Weights files that fit by name and shape but not by number: integer, bool or complex dtypes
(one line, not one per tensor), NaN or infinity, negative running variances; and weights paths
that are not regular files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import resnet_spec
from resnet_spec.compiler import WeightsError, load_state_file


@pytest.fixture(scope="module")
def graph() -> resnet_spec.Graph:
    return resnet_spec.elaborate("cifar_resnet20")


@pytest.fixture(scope="module")
def state(graph: resnet_spec.Graph) -> dict[str, torch.Tensor]:
    return dict(resnet_spec.build(graph).state_dict())


def _build_with(graph: resnet_spec.Graph, state: dict[str, torch.Tensor], path: Path) -> str:
    """The one-line message of building with these tensors saved to `path`."""
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save(state, path)
    with pytest.raises(WeightsError) as caught:
        resnet_spec.build(graph, weights=path)
    text = str(caught.value)
    assert len(text.splitlines()) == 1
    return text


@pytest.mark.parametrize("dtype", [torch.int64, torch.int8, torch.bool, torch.complex64])
def test_a_file_of_another_dtype_is_one_line(tmp_path: Path, graph, state, dtype) -> None:
    cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    suffix = ".pt" if dtype.is_complex else ".safetensors"
    text = _build_with(graph, cast, tmp_path / f"w{suffix}")
    name = str(dtype).removeprefix("torch.")
    floats = sum(1 for v in state.values() if v.is_floating_point())
    assert f"{floats} tensors of dtype {name}: " in text
    assert (f"({floats - 5} more); parameters and statistics must be float16, bfloat16, "
            "float32 or float64") in text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused_naming_the_tensor(tmp_path: Path, graph, state,
                                                           value: float) -> None:
    broken = {k: v.clone() for k, v in state.items()}
    broken["layer2.1.conv1.weight"][0, 0, 0, 0] = value
    text = _build_with(graph, broken, tmp_path / "w.safetensors")
    assert text.endswith("1 tensors hold NaN or infinity: layer2.1.conv1.weight (a corrupted "
                         "file, or a training run that diverged)")


def test_a_negative_running_variance_is_refused(tmp_path: Path, graph, state) -> None:
    broken = {k: v.clone() for k, v in state.items()}
    broken["layer3.0.bn2.running_var"][5] = -0.5
    text = _build_with(graph, broken, tmp_path / "w.pt")
    assert "1 running variances below 0: layer3.0.bn2.running_var" in text


def test_an_integer_step_counter_is_fine(tmp_path: Path, graph, state) -> None:
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    assert state["bn1.num_batches_tracked"].dtype == torch.int64
    assert resnet_spec.build(graph, weights=path) is not None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_as_weights_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "w.pt"
    os.mkfifo(fifo)
    caught: list[BaseException] = []

    def attempt() -> None:
        try:
            load_state_file(fifo)
        except BaseException as err:  # reported to the test below
            caught.append(err)

    worker = threading.Thread(target=attempt, daemon=True)  # a regression blocks here
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert isinstance(caught[0], WeightsError)
    assert str(caught[0]) == (f"{fifo}: cannot read the weights file: it is a FIFO (named "
                              "pipe), not a regular file")


def test_large_finite_weights_whose_sum_overflows_are_accepted() -> None:
    """The finiteness test sums first (fast); a sum that overflows from finite values must not
    be taken for an infinity."""
    from resnet_spec.compiler.weights import check_numbers

    huge = torch.full((4, 4), 3e38)
    check_numbers({"fc.weight": huge}, source="w.safetensors")
    huge[1, 2] = float("nan")
    with pytest.raises(WeightsError, match=r"NaN or infinity: fc\.weight"):
        check_numbers({"fc.weight": huge}, source="w.safetensors")
