"""Fuzzing with valid specs (tests/spec_strategies.py): every one validates, and the compiled
module agrees with the IR on output shapes, parameter count and (through torch's own
FlopCounterMode) twice the IR's MACs. Budget: fixed in CI, RESNET_SPEC_FUZZ_EXAMPLES for more."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml
from hypothesis import event, given
from spec_strategies import BLOCKS, SHORTCUTS, STEMS, budget, valid_specs
from torch.utils.flop_counter import FlopCounterMode

import resnet_spec
from resnet_spec.elaboration.blocks import BUILTIN_BLOCK_KINDS
from resnet_spec.ir.cost import analyze
from resnet_spec.spec.loader import validate
from resnet_spec.spec.schema import Shortcut, StemKind, block_kinds
from resnet_spec.spec.yaml_source import parse_text

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _from_yaml(data: dict[str, Any]) -> resnet_spec.Spec:
    """The spec as a user would write it: YAML text, read back by the loader."""
    return validate(*parse_text(yaml.safe_dump(data, sort_keys=False), "fuzz.yaml"))


def _outputs(result: Any) -> list[torch.Tensor]:
    return [result[k] for k in sorted(result)] if isinstance(result, dict) else [result]


@budget(300, deadline_ms=10_000)
@given(valid_specs())
def test_valid_specs_compile_to_what_the_ir_says(data: dict[str, Any]) -> None:
    graph = resnet_spec.elaborate(_from_yaml(data))
    for what in _coverage(graph) | _features_used(data):  # --hypothesis-show-statistics
        event(what)
    cost = analyze(graph)
    module = resnet_spec.build(graph).eval()
    assert sum(p.numel() for p in module.parameters()) == cost.params
    counter = FlopCounterMode(display=False)
    x = torch.randn(1, *graph.input_shape)
    with counter, torch.no_grad():
        result = module(x)
    expected = [graph.node(graph.outputs[k]).shape for k in sorted(graph.outputs)]
    assert [tuple(t.shape[1:]) for t in _outputs(result)] == expected
    assert all(bool(torch.isfinite(t).all()) for t in _outputs(result))
    assert counter.get_total_flops() == 2 * cost.macs
    # the inference passes (folded norms, no dropout, channels_last) compute the same
    with torch.no_grad():
        folded = resnet_spec.build(graph, for_inference=True)(x)
    for want, got in zip(_outputs(result), _outputs(folded), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * max(1.0, want.abs().max()))


def _coverage(graph: resnet_spec.Graph) -> set[str]:
    """What kinds of thing this example exercised."""
    out = {f"block {b.kind}" for b in graph.blocks}
    out |= {f"shortcut {b.shortcut}" for b in graph.blocks}
    out |= {f"{n.op} {n.kind.value}" for n in graph.nodes() if n.op == "norm"}
    out.add("classifier" if "logits" in graph.outputs else "backbone")
    return out


def _features_used(data: dict[str, Any]) -> set[str]:
    """Which optional features of the language this example wrote."""
    blocks = [data["block"]] + [s["block"] for s in data["stages"] if "block" in s]
    out = {f"stem {data['stem']['kind']}"}
    out |= {f"block.{k}" for b in blocks for k in ("se", "drop_path") if k in b}
    out |= {f"spec {k}" for k in ("features", "output_stride") if k in data}
    if any("dilation" in s for s in data["stages"]):
        out.add("stage dilation")
    return out


def test_the_strategies_cover_every_value_of_the_language() -> None:
    """A stem, block kind or shortcut policy the language gains must be fuzzed too: add its
    entry to the tables of tests/spec_strategies.py. (A kind an installed plugin adds is the
    plugin's to test: docs/extending.md.)"""
    assert set(STEMS) == {k.value for k in StemKind}
    assert set(BLOCKS) == set(BUILTIN_BLOCK_KINDS) <= set(block_kinds())
    assert set(SHORTCUTS) == {k.value for k in Shortcut}
