"""The spec of a checkpoint: read its keys and shapes, propose the spec that has them, prove it.

A state dict says a network's layers and their shapes, nothing else. From this project's names
(torchvision's and timm's ResNet family; the other libraries' layouts of `layouts.py` renamed
first) it reads: the stem (a conv or timm's three-conv deep stem, its width and kernel, a conv
pool), the number of stages and their depths, each stage's block kind (from the layer names:
`conv3` bottleneck, `convs.i` Res2Net, `conv2.fc1` split attention, `paths.i` selective
kernels, a final `norm` pre-activation), its widths and groups (from the conv shapes), the
shortcut (`downsample.0` conv: projection; `downsample.1` conv after a pool: avg-down; none:
the option-A zero padding where the shape changes), attention (`se.fc1`, ECA's `se.conv`), the
norm kind, input channels and classes. Each proposal is elaborated and its checkpoint entries
compared with the file's, so what `infer` returns loads the file strictly.

What weights do not hold (strides, pools, dilation, anti-aliasing, dropout, the input size) is
the family's convention for the stem read, and `Inferred.assumed` says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from resnet_spec.elaboration import elaborate
from resnet_spec.errors import Loc, SpecError
from resnet_spec.ir import Shape
from resnet_spec.spec.loader import load

Shapes = dict[str, Shape]
_LAYER = re.compile(r"^layer(\d+)\.(\d+)\.(.+)$")
_STATS = ("running_mean", "running_var", "num_batches_tracked")


class InferError(SpecError):
    """No spec the language can write has the file's keys and shapes."""


@dataclass
class Inferred:
    """A spec that holds exactly the file's keys and shapes, and what it assumed."""

    spec: dict[str, Any]
    assumed: list[str] = field(default_factory=list)
    """What the weights do not say, and what was written for it."""
    layout: str | None = None
    """The other library's layout the keys were renamed from, if any."""


def infer(shapes: Mapping[str, Shape], *, name: str, source: str = "<weights>",
          layout: str | None = None) -> Inferred:
    """The spec whose checkpoint entries are exactly `shapes` (this project's names), or an
    InferError naming the keys no reading placed."""
    shapes = {k: tuple(v) for k, v in shapes.items()}
    where = Loc(source, line=0)
    try:
        stem, assumed, stem_stride = _stem(shapes, where)
        stages = _stages(shapes, where)
        preact = "norm.weight" in shapes
        per_stage = [_block(blocks, preact, where) for blocks in stages]
    except (KeyError, IndexError, ValueError, TypeError, ZeroDivisionError) as err:
        # the family's names with shapes no block of it has (a 2-d `conv1.weight`, a missing
        # half of a layer): one line, not a traceback
        raise InferError(f"the keys have the ResNet family's names but not its shapes "
                         f"({type(err).__name__}: {err})", where,
                         "infer reads torchvision's and timm's ResNet family") from None
    base: dict[str, Any] = {
        "name": name,
        "input": {"channels": _input_channels(shapes), "height": 32 if stem_stride == 1 else 224,
                  "width": 32 if stem_stride == 1 else 224},
        "stem": stem,
        "norm": _norm(shapes),
    }
    best: tuple[int, dict[str, Any]] | None = None
    for candidate in _candidates(base, per_stage, stages, shapes, stem_stride):
        got = _state_shapes(candidate)
        if got == shapes:
            return Inferred(candidate, assumed + _assumptions(candidate), layout)
        misfit = len(set(got) ^ set(shapes)) + sum(got[k] != shapes[k] for k in got
                                                    if k in shapes)
        if best is None or misfit < best[0]:
            best = (misfit, candidate)
    raise InferError(_misfit_message(shapes, best[1] if best else None), where,
                     "infer reads torchvision's and timm's ResNet family (and the layouts "
                     "`--weights` recognizes); write the spec by hand for other networks")


# -- the stem ------------------------------------------------------------------------------------

def _stem(shapes: Shapes, where: Loc) -> tuple[dict[str, Any], list[str], int]:
    """The stem, what its strides and pool were assumed to be, and its stride."""
    if "conv1.weight" in shapes:
        out, _, kernel, _ = shapes["conv1.weight"]
        stem: dict[str, Any] = {"kind": "conv", "width": out, "kernel": kernel}
    elif "conv1.0.weight" in shapes:
        widths = [shapes[f"conv1.{i}.weight"][0] for i in (0, 3, 6) if f"conv1.{i}.weight"
                  in shapes]
        if len(widths) != 3:
            raise InferError("the stem has `conv1.0` but not timm's deep stem's `conv1.3` and "
                             "`conv1.6`", where)
        stem = {"kind": "deep", "widths": widths}
        kernel, out = 3, widths[-1]
    else:
        first = next(iter(shapes), "")
        raise InferError(f"no stem conv: neither `conv1.weight` nor `conv1.0.weight` "
                         f"(the file's first key is `{first}`)", where,
                         "infer reads torchvision's and timm's ResNet family")
    if "maxpool.0.weight" in shapes:
        stem.update(stride=2, pool="conv")
        return stem, ["the stem: stride 2, then a stride-2 conv pool (ResNet-RS)"], 2
    if stem["kind"] == "deep" or kernel >= 5:
        stem.update(stride=2, pool="max")
        return stem, ["the stem: stride 2, then a 3x3 max pool (ImageNet's)"], 2
    if out <= 16:
        stem.update(stride=1, pool="none")
        return stem, ["the stem: stride 1 and no pool, a 32x32 input (CIFAR's)"], 1
    stem.update(stride=2, pool="none")
    return stem, ["the stem: stride 2 and no pool (RegNet's), every stage strided"], 2


def _input_channels(shapes: Shapes) -> int:
    key = "conv1.weight" if "conv1.weight" in shapes else "conv1.0.weight"
    return shapes[key][1]


def _norm(shapes: Shapes) -> Any:
    if any(k.endswith(".running_mean") for k in shapes):
        return "batch"
    # group norm keeps no statistics; its groups leave no trace in the weights
    return {"kind": "group", "groups": _group_norm_groups(shapes)}


def _group_norm_groups(shapes: Shapes) -> int:
    widths = [s[0] for k, s in shapes.items() if k.endswith(".weight") and len(s) == 1]
    divisor = math.gcd(*widths) if widths else 1
    return next(g for g in (32, 16, 8, 4, 2, 1) if divisor % g == 0)


# -- stages and blocks ---------------------------------------------------------------------------

Block = dict[str, Shape]
"""One block's entries, keyed by their names inside the block (`conv1.weight`)."""


def _stages(shapes: Shapes, where: Loc) -> list[list[Block]]:
    found: dict[int, dict[int, Block]] = {}
    for key, shape in shapes.items():
        match = _LAYER.match(key)
        if match:
            stage, block, inner = match.groups()
            found.setdefault(int(stage), {}).setdefault(int(block), {})[inner] = shape
    if not found:
        raise InferError("no residual stages: no key starts with `layer1.0.`", where)
    stages = []
    for number in range(1, max(found) + 1):
        blocks = found.get(number)
        if not blocks or sorted(blocks) != list(range(len(blocks))):
            raise InferError(f"the stages are not numbered layer1, layer2, ... with blocks "
                             f"0, 1, ...: layer{number} has blocks {sorted(blocks or [])}",
                             where)
        stages.append([blocks[i] for i in range(len(blocks))])
    return stages


@dataclass
class _Stage:
    """What one stage's blocks say: the block settings and its widths."""

    block: dict[str, Any]
    width: int
    in_channels: int
    out_channels: int
    shortcut: str | None
    """The shortcut its first block shows (`projection`, `avg_down`), None where it has none."""
    options: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    """Alternative settings (attention sizes) to try, in order."""


def _block(blocks: list[Block], preact: bool, where: Loc) -> _Stage:
    first = blocks[0]
    if "conv1.paths.0.conv.weight" in first:
        stage = _sk(first, "conv1", basic=True)
    elif "conv2.paths.0.conv.weight" in first:
        stage = _sk(first, "conv2", basic=False)
    elif "conv2.fc1.weight" in first:
        stage = _split_attention(first)
    elif "convs.0.weight" in first:
        stage = _res2net(first)
    elif "conv3.weight" in first:
        stage = _bottleneck(first, preact)
    elif "conv2.weight" in first and "conv1.weight" in first:
        out, width = first["conv2.weight"][0], first["conv1.weight"][0]
        block = {"kind": "preact_basic" if preact else "basic"}
        if out != width:
            block["expansion"] = out // width
        stage = _Stage(block, width, first["conv1.weight"][1], out, None)
    else:
        raise InferError(f"no block kind has the entries {', '.join(sorted(first)[:4])}...",
                         where)
    stage.shortcut = ("avg_down" if "downsample.1.weight" in first
                      and len(first["downsample.1.weight"]) == 4 else
                      "projection" if "downsample.0.weight" in first else None)
    if all(any(k.startswith("downsample.") for k in b) for b in blocks) and len(blocks) > 1:
        stage.shortcut = "projection_all"
    stage.options = _attention_options(first, stage)
    return stage


def _widths(inner: int, out: int, groups: int, expansion: int = 4) -> dict[str, Any] | None:
    """`width`, `base_width` and `groups` giving a bottleneck of `inner` channels in `groups`
    groups and `out` outputs through torchvision's rule, if there are such."""
    if out % expansion or inner % groups:
        return None
    width, per_group = out // expansion, inner // groups
    base_width = -(-per_group * 64 // width)
    if width * base_width // 64 != per_group:
        return None
    return {"width": width, "base_width": base_width, "groups": groups}


def _bottleneck(first: Block, preact: bool) -> _Stage:
    inner, in_channels = first["conv1.weight"][:2]
    out = first["conv3.weight"][0]
    groups = inner // first["conv2.weight"][1]
    kind = "preact_bottleneck" if preact else "bottleneck"
    torchvision_rule = _widths(inner, out, groups)
    if torchvision_rule and not (groups > 1 and inner == out):
        width = torchvision_rule.pop("width")
        return _Stage({"kind": kind, **torchvision_rule}, width, in_channels, out, None)
    # RegNet's: the inner width and the group width stated
    block: dict[str, Any] = {"kind": kind, "expansion": 1,
                             "group_width": first["conv2.weight"][1]}
    if inner != out:
        block["bottleneck_ratio"] = inner / out
    return _Stage(block, out, in_channels, out, None)


def _res2net(first: Block) -> _Stage:
    group, per_group = first["convs.0.weight"][:2]
    scale = 1 + sum(1 for k in first if re.fullmatch(r"convs\.\d+\.weight", k))
    out = first["conv3.weight"][0]
    rule = _widths(group, out, group // per_group) or {}
    width = rule.pop("width", out // 4)
    return _Stage({"kind": "res2net", "scale": scale, **rule}, width,
                  first["conv1.weight"][1], out, None)


def _split_attention(first: Block) -> _Stage:
    inner, in_channels = first["conv1.weight"][:2]
    splits, per_group = first["conv2.conv.weight"][:2]
    radix = splits // inner
    cardinality = inner // per_group // radix
    out = first["conv3.weight"][0]
    rule = _widths(inner, out, cardinality) or {}
    width = rule.pop("width", out // 4)
    return _Stage({"kind": "split_attention", "radix": radix, **rule}, width, in_channels,
                  out, None)


def _sk(first: Block, name: str, *, basic: bool) -> _Stage:
    paths = sum(1 for k in first if re.fullmatch(rf"{name}\.paths\.\d+\.conv\.weight", k))
    path_out, path_in = first[f"{name}.paths.0.conv.weight"][:2]
    if basic:
        # one group per path (timm's): a path's conv sees its whole input, split or not
        out, in_channels = first["conv2.conv.weight"][0], _block_input(first)
        block: dict[str, Any] = {"kind": "sk_basic", "split_input": path_in != in_channels}
        width = path_out
        if out != width:
            block["expansion"] = out // width
    else:
        # a split input in g groups and a whole one in g * paths groups weigh alike: the whole
        # one (timm's skresnext) is read
        inner, in_channels = first["conv1.conv.weight"][:2]
        out = first["conv3.conv.weight"][0]
        rule = _widths(inner, out, inner // path_in) or {"width": out // 4}
        width = rule.pop("width")
        block = {"kind": "sk_bottleneck", "split_input": False, **rule}
    block["paths"] = paths
    return _Stage(block, width, in_channels, out, None)


def _block_input(first: Block) -> int:
    """A selective-kernel basic block's input channels: its shortcut's input where it has a
    projection, else its output (the block keeps the shape)."""
    for key in ("downsample.0.weight", "downsample.1.weight"):
        if key in first and len(first[key]) == 4:
            return first[key][1]
    return first["conv2.conv.weight"][0]


def _attention_options(first: Block, stage: _Stage) -> list[dict[str, Any]]:
    """The attention settings that may give the block's squeeze its size, most usual first.
    Every stage's list has the same readings in the same order (the candidates take the i-th
    of each), whichever of them fit."""
    if "se.conv.weight" in first:
        kernel = first["se.conv.weight"][-1]
        return [{"attention": {"kind": "eca"}}, {"attention": {"kind": "eca", "kernel": kernel}}]
    if "se.fc1.weight" not in first:
        return [{}]
    reduced, gated = first["se.fc1.weight"][:2]
    ratio = max(1, round(gated / reduced))
    of_input = max(1, round(stage.in_channels / reduced))
    # after the last norm, as SE-ResNet: `se` (floor) or timm's rounded form
    options: list[dict[str, Any]] = [{"se": {"reduction": r}} for r in (ratio, 16, 8, 4)]
    options += [{"attention": {"kind": "se", "reduction": r, "divisor": d}}
                for r in (ratio, 16, 8, 4) for d in (8, 1)]
    # in the middle, as RegNetY: sized from the block's input, or from the gated width
    options += [{"attention": {"kind": "se", "at": "middle", "of": "input", "reduction": r,
                               "divisor": 1}} for r in (of_input, 4)]
    options += [{"attention": {"kind": "se", "at": "middle", "reduction": r, "divisor": d}}
                for r in (ratio, 16, 4) for d in (8, 1)]
    return options


# -- proposals -----------------------------------------------------------------------------------

_SK_PAIRS = [(16, 8), (8, 16), (16, 32), (16, 16), (8, 8), (4, 8), (32, 8)]


def _candidates(base: dict[str, Any], per_stage: list[_Stage], stages: list[list[Block]],
                shapes: Shapes, stem_stride: int) -> Iterator[dict[str, Any]]:
    """Whole specs to try, the most usual reading first."""
    regnet_like = base["stem"]["kind"] == "conv" and base["stem"]["pool"] == "none" \
        and stem_stride == 2
    # the attention's width rule leaves no trace but its result: timm's pairs are tried
    sk_settings = ([{}] if not any("paths" in s.block for s in per_stage) else
                   [{"sk_reduction": r, "sk_divisor": d} for r, d in _SK_PAIRS]
                   + [{"sk_reduction": 1, "sk_divisor": 1}])
    option_lists = [s.options for s in per_stage]
    for sk_setting in sk_settings:
        for choice in range(max(len(o) for o in option_lists)):
            blocks = [{**stage.block, **(sk_setting if "paths" in stage.block else {}),
                       **options[min(choice, len(options) - 1)]}
                      for stage, options in zip(per_stage, option_lists, strict=True)]
            yield _assemble(base, per_stage, blocks, stages, shapes, regnet_like)


def _assemble(base: dict[str, Any], per_stage: list[_Stage], blocks: list[dict[str, Any]],
              stages: list[list[Block]], shapes: Shapes, regnet_like: bool) -> dict[str, Any]:
    top = blocks[0]
    shortcuts = [s.shortcut for s in per_stage]
    policy = next((s for s in shortcuts if s is not None), "zero_pad")
    spec = {**base, "block": dict(top), "shortcut": policy, "stages": []}
    for index, (stage, block, blocks_of) in enumerate(zip(per_stage, blocks, stages,
                                                          strict=True)):
        entry: dict[str, Any] = {"depth": len(blocks_of), "width": stage.width,
                                 "stride": 2 if index or regnet_like else 1}
        differs = {k: v for k, v in block.items() if top.get(k) != v}
        differs.update({k: None for k in top if k not in block})
        if differs:
            entry["block"] = ({"kind": block["kind"], **{k: v for k, v in block.items()
                                                        if k != "kind"}}
                              if "kind" in differs else differs)
        changes = entry["stride"] > 1 or stage.in_channels != stage.out_channels
        own = stage.shortcut or ("zero_pad" if changes else None)
        if own is not None and own != policy:
            entry["shortcut"] = own
        spec["stages"].append(entry)
    if "fc.weight" in shapes:
        spec["head"] = {"pool": "avg", "classes": shapes["fc.weight"][0]}
    else:
        spec["head"] = "none"
    return spec


def _state_shapes(spec: dict[str, Any]) -> Shapes:
    try:
        return dict(elaborate(load(spec)).state_shapes())
    except SpecError:
        return {}


def _assumptions(spec: dict[str, Any]) -> list[str]:
    strides = ("every stage strides by 2" if spec["stages"][0]["stride"] == 2 else
               "every stage but the first (which takes the stem's map) strides by 2")
    out = [f"{strides}; no dilation, no anti-aliasing, no dropout"]
    if isinstance(spec["norm"], dict):
        out.append(f"group norm with {spec['norm']['groups']} groups (a group norm's groups "
                   "leave no trace in the weights)")
    if spec["shortcut"] == "zero_pad" or any(s.get("shortcut") == "zero_pad"
                                             for s in spec["stages"]):
        out.append("where no shortcut conv is stored: option A's zero-padding shortcut (a "
                   "plain net without shortcuts has the same weights: `--set shortcut=none`)")
    if any(b.get("kind") == "split_attention" for b in _blocks_of(spec)):
        out.append("split attention: avd (the stride on an average pool after the conv)")
    return out


def _blocks_of(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield spec["block"]
    for stage in spec["stages"]:
        if isinstance(stage.get("block"), dict):
            yield stage["block"]


def _misfit_message(shapes: Shapes, closest: dict[str, Any] | None) -> str:
    if closest is None:
        return "no reading of the keys gives a spec"
    got = _state_shapes(closest)
    unplaced = [k for k in shapes if k not in got and not k.endswith(_STATS)]
    wrong = [k for k in shapes if k in got and got[k] != shapes[k]]
    missing = [k for k in got if k not in shapes]
    parts = []
    if unplaced:
        parts.append(f"{len(unplaced)} keys fit no reading, first {', '.join(unplaced[:3])}")
    if wrong:
        k = wrong[0]
        parts.append(f"{len(wrong)} shapes differ, first {k}: the file has "
                     f"{list(shapes[k])}, the closest spec {list(got[k])}")
    if missing:
        parts.append(f"the closest spec also needs {', '.join(missing[:3])}")
    recognized = f"read {len(closest['stages'])} stages of `{closest['block']['kind']}` blocks"
    return f"{recognized}, but {'; '.join(parts) or 'the spec does not elaborate'}"

