"""`block.dropout` (Wide ResNet's dropout between a block's convs) and the warning for grouped
blocks whose base-width arithmetic makes each group as wide as the stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import resnet_spec

SMALL = {"name": "small", "input": {"height": 32, "width": 32}, "head": {"classes": 10},
         "stem": {"width": 16, "kernel": 3, "stride": 1, "pool": "none"},
         "stages": [{"depth": 2, "width": 16}, {"depth": 1, "width": 32, "stride": 2}]}


@pytest.mark.parametrize(("kind", "before"), [
    ("basic", "conv2"), ("bottleneck", "conv3"), ("preact_basic", "conv2"),
    ("preact_bottleneck", "conv3")])
def test_dropout_sits_before_each_blocks_last_conv(kind: str, before: str) -> None:
    graph = resnet_spec.elaborate({**SMALL, "block": {"kind": kind, "dropout": 0.25}})
    for block in graph.blocks:
        dropout = graph.node(f"{block.name}.dropout")
        assert dropout.p == 0.25
        assert graph.node(f"{block.name}.{before}").inputs == (dropout.name,)


def test_a_stage_overrides_the_rate_and_zero_adds_nothing() -> None:
    spec = {**SMALL, "block": {"kind": "basic", "dropout": 0.1}}
    spec["stages"] = [{**SMALL["stages"][0], "block": {"dropout": 0.0}}, SMALL["stages"][1]]
    graph = resnet_spec.elaborate(spec)
    names = [n.name for n in graph.nodes() if n.op == "dropout"]
    assert names == ["layer2.0.dropout"]
    plain = resnet_spec.elaborate({**SMALL, "block": {"kind": "basic"}})
    assert not [n for n in plain.nodes() if n.op == "dropout"]


def test_dropout_acts_in_training_only_and_is_gone_for_inference() -> None:
    spec = {**SMALL, "block": {"kind": "preact_basic", "dropout": 0.5}}
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        trained = resnet_spec.build(spec).train()
        assert isinstance(trained.layer1[0].dropout, torch.nn.Dropout)
        torch.manual_seed(0)
        first = trained(x)
        torch.manual_seed(1)
        assert not torch.equal(first, trained(x))
        torch.manual_seed(7)  # the same initial weights for both builds
        model = resnet_spec.build(spec).eval()
        reference = model(x)
        assert torch.equal(reference, model(x))
        torch.manual_seed(7)
        inference = resnet_spec.build(spec, for_inference=True)  # norms folded into convs
        assert not [m for m in inference.modules() if isinstance(m, torch.nn.Dropout)]
        torch.testing.assert_close(inference(x), reference, rtol=1e-5, atol=1e-5)


GROUPED = """\
name: grouped
input: {height: 32, width: 32}
block: {kind: bottleneck, expansion: 1}
stages:
  - {depth: 1, width: 24, block: {groups: 3}}
  - {depth: 1, width: 48, stride: 2}
"""


def test_groups_with_the_default_base_width_warn_with_what_was_likely_meant(
        tmp_path: Path, run_cli) -> None:
    spec = tmp_path / "grouped.yaml"
    spec.write_text(GROUPED)
    done = run_cli("validate", str(spec))
    assert done.code == 0
    assert done.err.strip() == (
        f"warning: {spec}:5:5: stages[0]: groups 3 with base_width 64 builds an inner width "
        "of 72 = floor(24 × 64 / 64) × 3 in stage layer1: each group is as wide as the stage "
        "(for an inner width of 24 (3 groups of 8) set `base_width: 22` (floor(24 × 22 / 64) "
        "= 8 per group))")
    meant = tmp_path / "meant.yaml"
    meant.write_text(GROUPED.replace("{groups: 3}", "{groups: 3, base_width: 22}"))
    graph = resnet_spec.elaborate(meant)
    assert graph.warnings == [] and graph.blocks[0].inner == 24


def test_groups_not_dividing_the_width_say_so() -> None:
    spec = yaml.safe_load(GROUPED.replace("width: 24", "width: 20").replace(
        "groups: 3", "groups: 3, expansion: 3"))
    (warning,) = resnet_spec.elaborate(spec).warnings
    assert warning.endswith("(if an inner width of 20 (3 groups of 6.66667) was meant, the "
                            "stage width 20 must be a multiple of the groups 3)")


@pytest.mark.parametrize("name", ["resnext50_32x4d", "seresnext50_32x4d", "wide_resnet50_2",
                                  "resnext101_64x4d"])
def test_resnext_and_wide_resnet_state_their_base_width_and_do_not_warn(name: str) -> None:
    assert resnet_spec.elaborate(name).warnings == []
