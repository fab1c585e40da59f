"""The torch back end on every built-in spec: forward, backward, shapes, state names, init,
weights files and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import resnet_spec
from resnet_spec.compiler import WeightsError, compile_graph, load_state_file
from resnet_spec.errors import SpecError
from resnet_spec.spec.schema import InputSpec

SPECS = sorted(Path(resnet_spec.__file__).parent.parent.joinpath("specs").glob("*.yaml"))
SMALL = 32
"""Inputs are cut to at most this size, so that every spec runs in a fraction of a second."""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_graph(path: Path | str, size: int = SMALL) -> resnet_spec.Graph:
    """The spec's IR with its example input no larger than `size` x `size`."""
    spec = resnet_spec.load(path)
    shape = InputSpec(channels=spec.input.channels, height=min(size, spec.input.height),
                      width=min(size, spec.input.width))
    return resnet_spec.elaborate(spec.model_copy(update={"input": shape}))


def outputs(graph: resnet_spec.Graph, out: object) -> dict[str, torch.Tensor]:
    """The forward's result by output name: a dict where the graph returns one, else its one
    tensor under the one output's name."""
    if graph.output_dict:
        assert isinstance(out, dict)
        return out
    assert isinstance(out, torch.Tensor)
    return {next(iter(graph.outputs)): out}


def expected_shapes(graph: resnet_spec.Graph, n: int) -> dict[str, tuple[int, ...]]:
    return {name: (n, *graph.node(node).shape) for name, node in graph.outputs.items()}


def batch(graph: resnet_spec.Graph, n: int = 2, **kw: object) -> torch.Tensor:
    return torch.randn(n, *graph.input_shape, generator=torch.Generator().manual_seed(1), **kw)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_compiles_runs_and_trains(path: Path) -> None:
    graph = small_graph(path)
    model = compile_graph(graph)
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert state == graph.state_shapes()
    assert list(state) == list(graph.state_shapes())
    x = batch(graph)
    assert model.training
    out = outputs(graph, model(x))
    assert {k: tuple(v.shape) for k, v in out.items()} == expected_shapes(graph, 2)
    sum(v.square().mean() for v in out.values()).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    with torch.no_grad():
        model.eval()
        again = outputs(graph, model(x))
    assert {k: tuple(v.shape) for k, v in again.items()} == expected_shapes(graph, 2)
    assert all(torch.isfinite(v).all() for v in again.values())


def test_generated_code_is_straight_line_and_names_follow_torchvision() -> None:
    model = compile_graph(small_graph("resnet18"), device="meta")
    code = model.code
    assert "for " not in code and "graph" not in code
    assert "self.conv1(x)" in code
    assert isinstance(model, torch.fx.GraphModule)
    names = dict(model.named_modules())
    assert isinstance(names["layer2.0.downsample.0"], torch.nn.Conv2d)
    assert isinstance(names["layer2.0.downsample.1"], torch.nn.BatchNorm2d)
    assert isinstance(names["fc"], torch.nn.Linear)


def test_zero_pad_shortcut_subsamples_and_appends_zero_channels() -> None:
    from resnet_spec.compiler.lower import zero_pad

    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    y = zero_pad(x, 2, 4)
    assert y.shape == (2, 7, 3, 3)
    assert torch.equal(y[:, :3], x[:, :, ::2, ::2])
    assert not y[:, 3:].any()


def test_same_seed_gives_identical_bytes_and_another_seed_differs() -> None:
    graph = small_graph("resnet18")
    a, b = compile_graph(graph, seed=3).state_dict(), compile_graph(graph, seed=3).state_dict()
    c = compile_graph(graph, seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
    assert not torch.equal(a["fc.weight"], c["fc.weight"])


def test_init_follows_torchvision() -> None:
    graph = small_graph("resnet50")
    model = compile_graph(graph)
    conv = model.get_submodule("layer3.0.conv2").weight  # fan-out = 256 * 9
    assert conv.std().item() == pytest.approx((2 / (256 * 9)) ** 0.5, rel=0.02)
    bn = model.get_submodule("layer3.0.bn3")
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))
    assert not bn.bias.any() and not bn.running_mean.any()
    assert torch.equal(bn.running_var, torch.ones_like(bn.running_var))
    bound = 1 / 2048**0.5
    assert model.fc.weight.abs().max() <= bound and model.fc.bias.abs().max() <= bound
    assert model.fc.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.05)


def test_zero_init_last_norm_starts_each_branch_at_zero(tmp_path: Path) -> None:
    spec = tmp_path / "z.yaml"
    spec.write_text("extends: resnet50\nname: z\nblock: {zero_init_last_norm: true}\n")
    model = compile_graph(small_graph(spec))
    assert not model.get_submodule("layer1.0.bn3").weight.any()
    assert not model.get_submodule("layer4.2.bn3").weight.any()
    assert model.get_submodule("layer1.0.bn2").weight.all()
    assert model.get_submodule("layer1.0.downsample.1").weight.all()


def test_device_and_dtype_are_honoured() -> None:
    graph = small_graph("cifar_resnet20")
    model = compile_graph(graph, dtype=torch.float64).eval()
    assert not model.training
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert model.get_submodule("bn1").num_batches_tracked.dtype == torch.int64
    assert model(batch(graph, dtype=torch.float64)).dtype == torch.float64
    meta = compile_graph(graph, device="meta")
    assert all(p.is_meta for p in meta.parameters())
    assert compile_graph(graph, dtype="bfloat16").conv1.weight.dtype == torch.bfloat16


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".weights"])
def test_weights_round_trip_through_files(tmp_path: Path, suffix: str) -> None:
    graph = small_graph("cifar_resnet20")
    model = compile_graph(graph, seed=7).eval()
    file = tmp_path / f"w{suffix}"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, file) if suffix == ".safetensors" else torch.save(state, file)
    loaded = resnet_spec.build(graph, weights=file).eval()
    x = batch(graph)
    assert torch.equal(loaded(x), model(x))
    assert all(p.requires_grad for p in loaded.parameters())
    double = compile_graph(graph, weights=file, dtype=torch.float64)
    assert double.conv1.weight.dtype == torch.float64


def test_weights_of_another_architecture_are_listed(tmp_path: Path) -> None:
    file = tmp_path / "r18.safetensors"
    save_file(compile_graph(small_graph("resnet18")).state_dict(), file)
    spec = tmp_path / "r18_10.yaml"
    spec.write_text("extends: resnet18\nname: r18_10\nhead: {classes: 10}\n")
    with pytest.raises(WeightsError) as err:
        compile_graph(small_graph(spec), weights=file)
    text = str(err.value)
    assert str(file) in text and "2 wrongly shaped" in text
    assert "fc.weight (file (1000, 512), model (10, 512))" in text
    with pytest.raises(WeightsError) as err:
        compile_graph(small_graph("resnet34"), weights=file)
    text = str(err.value)
    assert "missing: layer1.2.conv1.weight" in text and "more)" in text
    assert "unexpected" not in text and "shaped" not in text
    with pytest.raises(WeightsError) as err:
        compile_graph(small_graph("cifar_resnet20"), weights=file)
    assert "unexpected" in str(err.value) and "missing" in str(err.value)


def test_unreadable_weights_files_are_spec_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"certainly not a checkpoint")
    nested = tmp_path / "nested.pt"
    torch.save({"epoch": 3, "state_dict": {"w": torch.zeros(1)}}, nested)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    for file, words in [(tmp_path / "absent.pt", "cannot read"), (junk, "not a safetensors"),
                        (nested, "under 'state_dict'"), (listed, "holds a list")]:
        with pytest.raises(WeightsError, match=words) as err:
            load_state_file(file)
        assert isinstance(err.value, SpecError) and err.value.loc.file == str(file)


def test_pickled_code_is_never_run(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "f": Path}, evil)  # a class: plain pickle would import it
    with pytest.raises(WeightsError):
        load_state_file(evil)


def test_torch_export_takes_the_module_with_a_dynamic_batch() -> None:
    graph = small_graph("cifar_resnet20")  # has option-A zero_pad shortcuts
    model = compile_graph(graph, for_inference=True)
    x = batch(graph, 3)
    program = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x[:2]), model(x[:2]))
