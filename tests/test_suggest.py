""""Did you mean": only what is close in meaning as well as in spelling
(`resnet_spec/spec/suggest.py`), on a table of keys and values at their real places in the
schema."""

from __future__ import annotations

import pytest

import resnet_spec
from resnet_spec.spec.suggest import closest, edits

TOP = ["spec_version", "name", "description", "extends", "input", "norm", "activation", "stem",
       "block", "shortcut", "stages", "head", "features", "output_stride"]
BLOCK = ["kind", "groups", "base_width", "expansion", "stride_at", "se", "drop_path",
         "zero_init_last_norm"]
STAGE = ["depth", "width", "stride", "dilation", "block", "shortcut"]
SHORTCUTS = ["identity", "zero_pad", "projection", "projection_all", "avg_down", "none"]
HEAD = ["pool", "dropout", "classes"]


@pytest.mark.parametrize(("word", "valid", "suggested"), [
    # typos that must keep their suggestion
    ("depht", STAGE, "depth"), ("widht", STAGE, "width"), ("strid", STAGE, "stride"),
    ("strides", STAGE, "stride"), ("stirde", STAGE, "stride"), ("dilations", STAGE, "dilation"),
    ("gropus", BLOCK, "groups"), ("stage", TOP, "stages"), ("heda", TOP, "head"),
    ("nmae", TOP, "name"), ("feature", TOP, "features"), ("output_strides", TOP, "output_stride"),
    ("projektion", SHORTCUTS, "projection"), ("avgdown", SHORTCUTS, "avg_down"),
    ("zeropad", SHORTCUTS, "zero_pad"), ("rleu", ["relu", "silu", "gelu", "leaky_relu"], "relu"),
    ("bottlenek", ["basic", "bottleneck", "preact_basic", "preact_bottleneck"], "bottleneck"),
    ("clases", HEAD, "classes"), ("kernal", ["kind", "width", "widths", "kernel", "stride",
                                             "pool"], "kernel"),
    # the same thing under torchvision's, timm's or common names
    ("num_classes", HEAD, "classes"), ("layers", STAGE, "depth"), ("planes", STAGE, "width"),
    ("cardinality", BLOCK, "groups"), ("drop_path_rate", BLOCK, "drop_path"),
    ("drop_rate", HEAD, "dropout"), ("drop_rate", [*BLOCK, "dropout"], "dropout"),
    ("droput", [*BLOCK, "dropout"], "dropout"), ("conv", SHORTCUTS, "projection"),
    ("bn", ["batch", "group"], "batch"), ("GroupNorm", ["batch", "group"], "group"),
    # close in spelling, not in meaning: no suggestion
    ("strides", TOP, None), ("scale", BLOCK, None), ("conv", ["avg", "max"], None),
    ("conv", ["deep", "none"], None), ("dropout", BLOCK, None),
    ("sigmoid", ["relu", "silu", "gelu", "leaky_relu"], None), ("x", TOP, None),
    ("a" * 1000, TOP, None),
])
def test_suggestions(word: str, valid: list[str], suggested: str | None) -> None:
    assert closest(word, valid) == suggested


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("depht", "depth", 1), ("strides", "stages", 3), ("conv", "none", 2), ("", "abc", 3),
    ("dropout", "drop_path", 4), ("scale", "se", 3), ("abc", "abc", 0)])
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edits(a, b) == distance


@pytest.mark.parametrize(("option", "message"), [
    ("strides=[1, 2]", "unknown key `strides` (valid keys: "),
    ("stem.scale=2", "unknown key `scale` (valid keys: "),
    ("stem.dropout=0.1", "unknown key `dropout` (valid keys: "),
    ("block.drop_rate=0.1", "unknown key `drop_rate` (did you mean `dropout`?)"),
    ("shortcut=conv", "got `conv` (did you mean `projection`?)"),
    ("head.pool=conv", "got `conv`"),
    ("stages.0.depht=2", "unknown key `depht` (did you mean `depth`?)"),
    ("head.num_classes=10", "unknown key `num_classes` (did you mean `classes`?)"),
])
def test_the_loader_suggests_by_the_rule(option: str, message: str) -> None:
    with pytest.raises(resnet_spec.SpecError) as caught:
        resnet_spec.load("resnet18", overrides=[option])
    assert message in str(caught.value)
    if "did you mean" not in message:
        assert "did you mean" not in str(caught.value)
