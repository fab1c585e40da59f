"""Weights files that are not what they claim (issue 21): other files, corrupt torch archives,
zip bombs, tensors with no ordinary data, values beyond the build's dtype. Each is one
`WeightsError` line at the file, never an internal error, never gigabytes read."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

import resnet_spec
from resnet_spec.compiler import WeightsError, load_state_file
from resnet_spec.compiler.weights import check_numbers

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _message(path: Path, graph: str = "cifar_resnet20") -> str:
    with pytest.raises(WeightsError) as caught:
        resnet_spec.build(graph, weights=path)
    text = str(caught.value)
    assert len(text.splitlines()) == 1 and text.startswith(f"{path}: "), text
    return text


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n",
                                     b"extends: resnet18\nname: x\n", b"", b"PK\x03\x04junk",
                                     b"\x80\x02junk"])
def test_files_of_other_kinds_are_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(content)
    assert "not a safetensors or torch state dict file" in _message(path)


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/data/0", bytes(64 << 20))  # deflates to about 64 KiB
    assert path.stat().st_size < 1 << 20
    text = _message(path)
    assert "its records inflate to 64.0 MiB from a" in text
    assert "'archive/data/0' alone to 64.0 MiB" in text and "zip bomb" in text


def test_unpickling_anything_but_tensors_is_refused_without_torchs_advice(
        tmp_path: Path) -> None:
    path = tmp_path / "obj.pt"
    torch.save({"conv1.weight": torch.zeros(1), "x": io.BytesIO(b"a")}, path)
    text = _message(path)
    assert "pickled objects other than tensors" in text and "weights_only=False" not in text


@pytest.mark.parametrize("tensor, says", [
    (lambda: torch.zeros(3, dtype=torch.float8_e4m3fn), "tensors of dtype float8_e4m3fn"),
    (lambda: torch.zeros(3, device="meta"), "tensors without data (the meta device)"),
    (lambda: torch.eye(3).to_sparse(), "sparse or other non-dense tensors"),
])
def test_tensors_without_ordinary_data_are_named(tmp_path: Path, tensor, says: str) -> None:
    path = tmp_path / "odd.pt"
    torch.save({"conv1.weight": tensor()}, path)
    with pytest.raises(WeightsError) as caught:
        check_numbers(load_state_file(path), source=str(path))
    assert f"1 {says}: conv1.weight" in str(caught.value)


def test_float64_beyond_float32_is_refused_after_the_cast_naming_the_tensor(
        tmp_path: Path) -> None:
    state = {k: v.double() if v.is_floating_point() else v
             for k, v in resnet_spec.build("cifar_resnet20").state_dict().items()}
    state["fc.weight"][0, 0] = 1e300  # finite in the file, inf in float32
    path = tmp_path / "f64.pt"
    torch.save(state, path)
    text = _message(path)
    assert "1 tensors of float64 overflow float32 (beyond ±3.4e+38): fc.weight" in text
    resnet_spec.build("cifar_resnet20", weights=path, dtype=torch.float64)  # fits in float64


def test_byte_mutated_weights_files_give_weights_errors_only(tmp_path: Path) -> None:
    """300 mutations (bytes changed, cut, inserted) of a torch and a safetensors file."""
    state = {"conv.weight": torch.randn(4, 3, 3, 3), "bn.running_var": torch.ones(4),
             "bn.num_batches_tracked": torch.tensor(3), "fc.weight": torch.randn(2, 4).double()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    originals = (buffer.getvalue(), save(state))
    rng = random.Random(21)
    path = tmp_path / "m.pt"
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(300):
        data = bytearray(originals[i % 2])
        for _ in range(rng.choice((1, 1, 2, 4, 16))):
            at, pick = rng.randrange(len(data)), rng.random()
            if pick < 0.6:
                data[at] = rng.randrange(256)
            elif pick < 0.8:
                del data[at:at + rng.randrange(1, 64)]
            else:
                data[at:at] = rng.randbytes(rng.randrange(1, 16))
        path.write_bytes(bytes(data))
        try:
            check_numbers(load_state_file(path), source=str(path))
            outcomes["loaded"] += 1
        except WeightsError as err:
            assert len(str(err).splitlines()) == 1
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100 and outcomes["loaded"] > 10, outcomes
