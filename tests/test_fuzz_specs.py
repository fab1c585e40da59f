"""Fuzzing with valid specs (tests/spec_strategies.py): every one validates, and the compiled
module agrees with the IR on output shapes, parameter count and (through torch's own
FlopCounterMode) twice the IR's MACs. Budget: fixed in CI, RESNET_SPEC_FUZZ_EXAMPLES for more."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import yaml
from hypothesis import event, given
from spec_strategies import UNSUPPORTED, budget, valid_specs
from torch.utils.flop_counter import FlopCounterMode

import resnet_spec
from resnet_spec.cost import analyze
from resnet_spec.errors import UnsupportedError
from resnet_spec.loader import validate
from resnet_spec.yaml_source import parse_text


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny tensors: threads only add waiting on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _from_yaml(data: dict[str, Any]) -> resnet_spec.Spec:
    """The spec as a user would write it: YAML text, read back by the loader."""
    return validate(*parse_text(yaml.safe_dump(data, sort_keys=False), "fuzz.yaml"))


def _outputs(result: Any) -> list[torch.Tensor]:
    return [result[k] for k in sorted(result)] if isinstance(result, dict) else [result]


@budget(300, deadline_ms=10_000)
@given(valid_specs())
def test_valid_specs_compile_to_what_the_ir_says(data: dict[str, Any]) -> None:
    graph = resnet_spec.elaborate(_from_yaml(data))
    for what in _coverage(graph):  # for --hypothesis-show-statistics
        event(what)
    cost = analyze(graph)
    module = resnet_spec.build(graph, for_inference=True)
    assert sum(p.numel() for p in module.parameters()) == cost.params
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        result = module(torch.randn(1, *graph.input_shape))
    expected = [graph.node(graph.outputs[k]).shape for k in sorted(graph.outputs)]
    assert [tuple(t.shape[1:]) for t in _outputs(result)] == expected
    assert all(bool(torch.isfinite(t).all()) for t in _outputs(result))
    assert counter.get_total_flops() == 2 * cost.macs


def _coverage(graph: resnet_spec.Graph) -> set[str]:
    """What kinds of thing this example exercised."""
    out = {f"block {b.kind.value}" for b in graph.blocks}
    out |= {f"shortcut {b.shortcut}" for b in graph.blocks}
    out |= {f"{n.op} {n.kind.value}" for n in graph.nodes() if n.op == "norm"}
    out.add("classifier" if "logits" in graph.outputs else "backbone")
    return out


BASE: dict[str, Any] = {"name": "t", "input": {"channels": 3, "height": 16, "width": 16},
                        "stages": [{"depth": 1, "width": 8}]}


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("what", sorted(UNSUPPORTED))
def test_what_the_strategies_leave_out_is_still_refused(what: str) -> None:
    """When one of these starts working (issue 12), this fails: move it into the tables of
    tests/spec_strategies.py so that the fuzzing covers it."""
    spec = _from_yaml(_merged(BASE, UNSUPPORTED[what]))
    with pytest.raises(UnsupportedError, match="not supported yet"):
        resnet_spec.elaborate(spec)
