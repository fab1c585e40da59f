"""Hypothesis strategies for valid specs, one table entry per stem, block kind and shortcut.

A new kind is one new entry: a stem in `STEMS`, a block kind in `BLOCKS`, a shortcut policy in
`SHORTCUTS` (with the rule saying where it fits). `test_fuzz_specs.py` checks that the tables
cover every value the language has, so a new kind without an entry here fails there.

Everything is kept tiny (widths up to 16, inputs up to 24 pixels, at most 4 stages of at most 3
blocks) so that one example compiles and runs in milliseconds. The budget of examples is fixed
in CI; `RESNET_SPEC_FUZZ_EXAMPLES=N` runs N examples per test instead, for a longer run, and
draws new examples rather than CI's fixed ones (see docs/guarantees.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ_ENV = "RESNET_SPEC_FUZZ_EXAMPLES"
MAX_WIDTH = 16
MAX_INPUT = 24


def budget(examples: int, deadline_ms: int | None = 2000) -> settings:
    """Hypothesis settings for `examples` examples in CI (the environment variable overrides),
    each bounded by `deadline_ms`. CI's runs are derandomized: the same examples every time."""
    override = os.environ.get(FUZZ_ENV)
    return settings(
        max_examples=int(override) if override else examples,
        deadline=timedelta(milliseconds=deadline_ms) if deadline_ms else None,
        derandomize=not override,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


# -- stems --------------------------------------------------------------------------------------

def _conv_stem(draw: st.DrawFn) -> dict[str, Any]:
    return {"kind": "conv", "width": draw(st.integers(1, MAX_WIDTH)),
            "kernel": draw(st.sampled_from([1, 3, 5, 7])), "stride": draw(st.integers(1, 2)),
            "pool": draw(st.sampled_from(["max", "avg", "none"]))}


def _deep_stem(draw: st.DrawFn) -> dict[str, Any]:
    out = {"kind": "deep", "stride": draw(st.integers(1, 2)),
           "pool": draw(st.sampled_from(["max", "avg", "none"]))}
    if draw(st.booleans()):
        out["widths"] = draw(st.lists(st.integers(1, MAX_WIDTH), min_size=3, max_size=3))
    else:  # the first two convs have width/2 channels: at least 1
        out["width"] = draw(st.integers(2, MAX_WIDTH))
    return out


STEMS: dict[str, Callable[[st.DrawFn], dict[str, Any]]] = {
    "conv": _conv_stem,
    "deep": _deep_stem,
}


def stem_widths(stem: dict[str, Any]) -> list[int]:
    """The channels of the stem's convs (each normed, except before pre-activation blocks)."""
    if stem["kind"] == "deep":
        width = stem.get("width", 64)
        return list(stem.get("widths", [width // 2, width // 2, width]))
    return [stem["width"]]


# -- block kinds --------------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockKind:
    """How to draw a block of one kind, and the channels it gives."""

    draw: Callable[[st.DrawFn], dict[str, Any]]
    expansion: int
    """Its default expansion."""
    bottleneck: bool
    normed: Callable[[int, dict[str, Any]], list[int]] | None = None
    """The inner channels its norms see, for a stage width and block settings, where they are
    not the bottleneck's one inner width."""
    width_multiple: Callable[[dict[str, Any]], int] | None = None
    """What a stage's width must be a multiple of, for block settings, where the kind splits
    its inner width further than `groups` does."""


def _common(draw: st.DrawFn) -> dict[str, Any]:
    optional = {"zero_init_last_norm": st.booleans(),
                "stride_at": st.sampled_from(["first", "middle"]),
                "expansion": st.integers(1, 4),
                "se": st.sampled_from([1, 2, 4, 16]).map(lambda r: {"reduction": r}),
                "drop_path": st.sampled_from([0.0, 0.1, 0.5]),
                "dropout": st.sampled_from([0.0, 0.3])}
    return {k: draw(v) for k, v in optional.items() if draw(st.booleans())}


def _anti_aliased(draw: st.DrawFn, block: dict[str, Any]) -> dict[str, Any]:
    """Sometimes `anti_alias` (it needs the stride on the 3x3: `stride_at: middle`). Only
    `avg`: the blur's reflect padding also needs a map of 2 or more, a rule this oracle does not
    model (tests/test_anti_alias.py holds it)."""
    if draw(st.booleans()):
        block = {**block, "anti_alias": "avg", "stride_at": "middle"}
    return block


def _basic_kind(kind: str, anti_alias: bool = False) -> Callable[[st.DrawFn], dict[str, Any]]:
    def draw_block(draw: st.DrawFn) -> dict[str, Any]:
        out = {"kind": kind, **_common(draw)}
        return _anti_aliased(draw, out) if anti_alias else out
    return draw_block


def _bottleneck_kind(kind: str, anti_alias: bool = False
                     ) -> Callable[[st.DrawFn], dict[str, Any]]:
    def draw_block(draw: st.DrawFn) -> dict[str, Any]:
        out = {"kind": kind, **_common(draw)}
        if anti_alias:
            out = _anti_aliased(draw, out)
        if draw(st.booleans()):
            out["groups"] = draw(st.sampled_from([1, 2, 4, 32]))
        if draw(st.booleans()):
            out["base_width"] = draw(st.sampled_from([4, 16, 64, 128, 256]))
        return out
    return draw_block


def _res2net(draw: st.DrawFn) -> dict[str, Any]:
    out = {"kind": "res2net", **_common(draw)}
    out.pop("anti_alias", None)
    for name, values in (("groups", [1, 2]), ("base_width", [16, 26, 64]), ("scale", [1, 2, 4])):
        if draw(st.booleans()):
            out[name] = draw(st.sampled_from(values))
    return out


def _res2net_normed(width: int, block: dict[str, Any]) -> list[int]:
    group = width * block.get("base_width", 64) // 64 * block.get("groups", 1)
    return [group * block.get("scale", 4), group]


def _split_attention(draw: st.DrawFn) -> dict[str, Any]:
    out = {"kind": "split_attention", **_common(draw)}
    out.pop("anti_alias", None)
    for name, values in (("groups", [1, 2]), ("base_width", [16, 64]), ("radix", [1, 2, 3]),
                         ("avd", [True, False]), ("avd_first", [True, False])):
        if draw(st.booleans()):
            out[name] = draw(st.sampled_from(values))
    return out


def _split_attention_normed(width: int, block: dict[str, Any]) -> list[int]:
    inner = width * block.get("base_width", 64) // 64 * block.get("groups", 1)
    radix = block.get("radix", 2)
    attention = max(32, int(inner * radix / 4 + 4) // 8 * 8)
    return [inner, inner * radix, attention]


def _split_attention_multiple(block: dict[str, Any]) -> int:
    # the grouped conv's groups * radix must divide the inner width (width * base_width / 64)
    return block.get("radix", 2) * 64 // block.get("base_width", 64)


def _sk_options(draw: st.DrawFn, out: dict[str, Any]) -> dict[str, Any]:
    for name, values in (("paths", [2, 3]), ("sk_reduction", [1, 4, 16]),
                         ("sk_divisor", [1, 2, 8])):
        if draw(st.booleans()):
            out[name] = draw(st.sampled_from(values))
    return out


def _sk_basic(draw: st.DrawFn) -> dict[str, Any]:
    # split_input divides the block's input among the paths: a block's input is the previous
    # stage's output, which this oracle does not choose, so the basic kind keeps its paths whole
    # (tests/test_selective_kernel.py holds the split's rule)
    return _sk_options(draw, {"kind": "sk_basic", **_common(draw), "split_input": False})


def _sk_bottleneck(draw: st.DrawFn) -> dict[str, Any]:
    out = {"kind": "sk_bottleneck", **_common(draw)}
    for name, values in (("groups", [1, 2]), ("base_width", [16, 64]),
                         ("split_input", [True, False])):
        if draw(st.booleans()):
            out[name] = draw(st.sampled_from(values))
    return _sk_options(draw, out)


def _sk_reduced(width: int, block: dict[str, Any]) -> int:
    divisor = block.get("sk_divisor", 8)
    exact = width / block.get("sk_reduction", 16)
    out = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * exact else out


def _sk_basic_normed(width: int, block: dict[str, Any]) -> list[int]:
    return [width, _sk_reduced(width, block)]


def _sk_bottleneck_normed(width: int, block: dict[str, Any]) -> list[int]:
    inner = width * block.get("base_width", 64) // 64 * block.get("groups", 1)
    return [inner, _sk_reduced(inner, block)]


def _sk_bottleneck_multiple(block: dict[str, Any]) -> int:
    # split inputs: each path's slice of the inner width must split into `groups` groups
    paths = block.get("paths", 2) if block.get("split_input", True) else 1
    return paths * 64 // block.get("base_width", 64)


BLOCKS: dict[str, BlockKind] = {
    "basic": BlockKind(_basic_kind("basic", anti_alias=True), expansion=1, bottleneck=False),
    "bottleneck": BlockKind(_bottleneck_kind("bottleneck", anti_alias=True), expansion=4,
                            bottleneck=True),
    "preact_basic": BlockKind(_basic_kind("preact_basic"), expansion=1, bottleneck=False),
    "preact_bottleneck": BlockKind(_bottleneck_kind("preact_bottleneck"), expansion=4,
                                   bottleneck=True),
    "res2net": BlockKind(_res2net, expansion=4, bottleneck=True, normed=_res2net_normed),
    "split_attention": BlockKind(_split_attention, expansion=4, bottleneck=True,
                                 normed=_split_attention_normed,
                                 width_multiple=_split_attention_multiple),
    "sk_basic": BlockKind(_sk_basic, expansion=1, bottleneck=False, normed=_sk_basic_normed),
    "sk_bottleneck": BlockKind(_sk_bottleneck, expansion=4, bottleneck=True,
                               normed=_sk_bottleneck_normed,
                               width_multiple=_sk_bottleneck_multiple),
}


# -- shortcut policies: where each fits (does the block change shape? shrink channels?) --------

SHORTCUTS: dict[str, Callable[[bool, bool], bool]] = {
    "identity": lambda changes, shrinks: not changes,
    "zero_pad": lambda changes, shrinks: not shrinks,
    "projection": lambda changes, shrinks: True,
    "projection_all": lambda changes, shrinks: True,
    "avg_down": lambda changes, shrinks: True,
    "none": lambda changes, shrinks: True,
}


# -- whole specs --------------------------------------------------------------------------------

@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec as plain data (what a YAML file would hold)."""
    stem = STEMS[draw(st.sampled_from(sorted(STEMS)))](draw)
    block_kind = draw(st.sampled_from(sorted(BLOCKS)))
    block = BLOCKS[block_kind].draw(draw)
    spec: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z][a-z0-9_.-]{0,11}", fullmatch=True)),
        "input": {"channels": draw(st.integers(1, 4)), "height": draw(st.integers(1, MAX_INPUT)),
                  "width": draw(st.integers(1, MAX_INPUT))},
        "activation": draw(st.sampled_from(["relu", "silu", "gelu", "leaky_relu"])),
        "stem": stem,
        "block": block,
        "shortcut": draw(st.sampled_from(sorted(SHORTCUTS))),
        "stages": [],
        "head": draw(st.sampled_from(["none", "head"])),
    }
    channels = stem_widths(stem)
    for _ in range(draw(st.integers(1, 4))):
        stage, out = _stage(draw, spec, channels[-1])
        spec["stages"].append(stage)
        channels += out
    if spec["head"] == "head":
        spec["head"] = {"pool": draw(st.sampled_from(["avg", "max"])),
                        "dropout": draw(st.sampled_from([0.0, 0.25])),
                        "classes": draw(st.integers(1, 10))}
    elif draw(st.booleans()):
        spec["features"] = _features(draw, len(spec["stages"]))
    _output_stride(draw, spec)
    spec["norm"] = _norm(draw, channels)
    return spec


def _features(draw: st.DrawFn, stages: int) -> list[int]:
    """Stage numbers a backbone returns: any of them (0 the stem), the last one always."""
    chosen = draw(st.sets(st.integers(0, stages - 1)))
    return [*sorted(chosen), stages]


def _output_stride(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """Sometimes an `output_stride` the strides meet exactly (no stage dilation then)."""
    if any("dilation" in stage for stage in spec["stages"]):
        return
    stem = spec["stem"]
    running = stem["stride"] * (1 if stem["pool"] == "none" else 2)
    reached = set()
    for stage in spec["stages"]:
        if running in (8, 16, 32):
            reached.add(running)
        running *= stage["stride"]
    reached |= {running} & {8, 16, 32}
    if reached and draw(st.booleans()):
        spec["output_stride"] = draw(st.sampled_from(sorted(reached)))


def _stage(draw: st.DrawFn, spec: dict[str, Any], in_channels: int
           ) -> tuple[dict[str, Any], list[int]]:
    """A stage that fits after `in_channels`, and the channel counts its norms see."""
    stage: dict[str, Any] = {"depth": draw(st.integers(1, 3)),
                             "width": draw(st.integers(1, MAX_WIDTH)),
                             "stride": draw(st.integers(1, 3))}
    if draw(st.integers(0, 3)) == 0:
        stage["dilation"] = draw(st.integers(2, 3))
    block = spec["block"]
    if draw(st.integers(0, 3)) == 0:  # a stage of another kind: every top-level key restated
        kind = draw(st.sampled_from(sorted(BLOCKS)))
        block = {"groups": 1, "base_width": 64, "anti_alias": "none", "scale": 4, "radix": 2,
                 "avd": True, "avd_first": False, "paths": 2, "split_input": True,
                 "sk_reduction": 16, "sk_divisor": 8, **BLOCKS[kind].draw(draw)}
        if not BLOCKS[kind].bottleneck:
            block["groups"], block["base_width"] = 1, 64
        stage["block"] = block
    kind = BLOCKS[block["kind"]]
    if kind.bottleneck:  # too narrow for its base_width: widen it
        stage["width"] = max(stage["width"], -(-64 // block.get("base_width", 64)))
    if kind.width_multiple:
        step = kind.width_multiple(block)
        stage["width"] = -(-stage["width"] // step) * step
    expansion = block.get("expansion", kind.expansion)
    # a stage's override keeps the top-level `se` unless it sets its own
    reduction = block.get("se", spec["block"].get("se", {})).get("reduction", 1)
    # squeeze-and-excitation needs at least `reduction` channels to squeeze
    stage["width"] = max(stage["width"], -(-reduction // expansion))
    out = stage["width"] * expansion
    inner = stage["width"]
    if kind.bottleneck:
        inner = stage["width"] * block.get("base_width", 64) // 64 * block.get("groups", 1)
    normed = kind.normed(stage["width"], block) if kind.normed else [inner]
    changes = stage["stride"] > 1 or in_channels != out
    fits = sorted(p for p, fit in SHORTCUTS.items() if fit(changes, out < in_channels))
    if spec["shortcut"] not in fits or draw(st.booleans()):  # else the top-level one applies
        stage["shortcut"] = draw(st.sampled_from(fits))
    return stage, [*normed, out]


def _norm(draw: st.DrawFn, channels: list[int]) -> Any:
    """A norm that fits every normed width: group norm's groups divide each of `channels` and
    leave at least two channels a group (one value a group, on a 1x1 map, is an error)."""
    divisor = math.gcd(*channels)
    groups = [g for g in (1, 2, 4, 8, 16, 32) if divisor % g == 0 and 2 * g <= min(channels)]
    choices = [st.just("batch"),
               st.builds(lambda eps, momentum: {"kind": "batch", "eps": eps, "momentum": momentum},
                         st.sampled_from([1e-5, 1e-3]), st.sampled_from([0.1, 0.01]))]
    if groups:
        choices.append(st.sampled_from(groups).map(lambda g: {"kind": "group", "groups": g}))
    if 32 in groups:
        choices.append(st.just("group"))  # the shorthand: 32 groups
    return draw(st.one_of(choices))
