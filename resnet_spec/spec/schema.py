"""The spec language as pydantic models (see docs/spec-reference.md, generated from this file).

Field names, defaults and meanings follow the language contract, version 1. Every field carries a
`description`: the JSON Schema for editors and the reference docs are generated from them.
Cross-field rules raise `PydanticCustomError`s whose context may name the field (`at`) that
caused them, so that the loader can point at the exact line.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from resnet_spec import limits

SPEC_VERSION = 1
SCHEMA_ID = "https://resnet-spec.dev/spec.schema.json"


class NormKind(str, Enum):
    batch = "batch"
    group = "group"


class Activation(str, Enum):
    relu = "relu"
    silu = "silu"
    gelu = "gelu"
    leaky_relu = "leaky_relu"


class StemKind(str, Enum):
    conv = "conv"
    deep = "deep"


class PoolKind(str, Enum):
    max = "max"
    avg = "avg"
    conv = "conv"
    none = "none"


class AntiAlias(str, Enum):
    blur = "blur"
    avg = "avg"
    none = "none"


class GlobalPool(str, Enum):
    avg = "avg"
    max = "max"


def block_kinds() -> dict[str, Any]:
    """The registered block kinds by name (`elaboration/blocks.py`): what `block.kind` takes."""
    # imported when a spec is validated, not here: the registrations' builders use this schema
    from resnet_spec.elaboration.blocks import BLOCK_KINDS

    return BLOCK_KINDS


def _in_words(names: list[str]) -> str:
    """pydantic's way of listing choices: `'a', 'b' or 'c'`."""
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _registered(kinds: Callable[[], Mapping[str, Any]], group: str, noun: str
                ) -> Callable[[Any], Any]:
    """A validator of names registered in `kinds()` (the built-ins and plugin entry points of
    `group`): a name whose package failed to register says why."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and value in kinds():
            return value
        if isinstance(value, str):
            from resnet_spec import plugins

            broken = plugins.refused(group, value)
            if broken is not None:
                raise PydanticCustomError(
                    "cross_field", "the {noun} `{kind}` of {source} is installed but not "
                    "registered: {problem}", {"noun": noun, "kind": value,
                                              "source": broken.source,
                                              "problem": broken.problem})
        # the error type of an enum, so that it is worded and hinted as every other choice
        raise PydanticCustomError("enum", "Input should be {expected}",
                                  {"expected": _in_words(sorted(kinds()))})

    return check


_registered_block_kind = _registered(block_kinds, "resnet_spec.blocks", "block kind")


def _block_kind_schema(schema: dict[str, Any]) -> None:
    # an override's is `anyOf: [string, null]`: the choices go on the string
    target = next((s for s in schema.get("anyOf", []) if s.get("type") == "string"), schema)
    target["enum"] = sorted(block_kinds())  # whatever order plugins registered them in


BlockKindName = Annotated[str, BeforeValidator(_registered_block_kind)]
"""A registered block kind's name."""


class StrideAt(str, Enum):
    first = "first"
    middle = "middle"


class Shortcut(str, Enum):
    identity = "identity"
    zero_pad = "zero_pad"
    projection = "projection"
    projection_all = "projection_all"
    avg_down = "avg_down"
    none = "none"


def _cross_field(message: str, at: str) -> PydanticCustomError:
    """An error of a rule between fields, located at field `at` of the model that raised it."""
    return PydanticCustomError("cross_field", message, {"at": at})


def _nested(err: ValidationError, at: str, fields: list[str]) -> PydanticCustomError:
    """The errors of a model validated inside a field (a kind's `options`), kept whole so that
    the loader reports each at its own line below `at`; `fields` are that model's keys, for
    "did you mean". Its own message is the first error's."""
    errors = err.errors()
    return PydanticCustomError("nested", "{first}", {"at": at, "nested": errors,
                                                     "fields": fields,
                                                     "first": errors[0]["msg"]})


class _Model(BaseModel):
    # strict: no coercion, so the tool accepts exactly what docs/spec.schema.json accepts: an
    # int field takes an int (not `true`, `"3"` or `2.0`), a float field an int or a float, a
    # bool field `true` or `false`, a string field a string. Enum fields opt out (`strict=False`)
    # because strict enums would want enum members where YAML gives their strings.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False, strict=True)


CONTROLS = r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f]"
"""The control characters text may not hold (C0, DEL, C1; tab and line feed are allowed): an
escape sequence in a description would reach terminals raw through `summary` and break DOT."""
NO_CONTROLS = rf"^[^{CONTROLS[1:-1]}]*$"

Text = Annotated[str, StringConstraints(pattern=NO_CONTROLS)]
PositiveInt = Annotated[int, Field(ge=1)]
Channels = Annotated[int, Field(ge=1, le=limits.MAX_CHANNELS)]


class InputSpec(_Model):
    channels: Channels = Field(3, description="Channels of the example input image.")
    height: int = Field(
        224, ge=1, le=limits.MAX_SPATIAL, description="Height of the example input, in pixels."
    )
    width: int = Field(
        224, ge=1, le=limits.MAX_SPATIAL, description="Width of the example input, in pixels."
    )


Finite = Annotated[float, Field(allow_inf_nan=False)]


class PreprocessSpec(_Model):
    """What the model expects done to an image before it: recorded with every deployed model
    and applied to `--calibration` images. Only informative for everything else."""

    mean: list[Finite] | None = Field(
        None, min_length=1, max_length=limits.MAX_CHANNELS,
        description="Per-channel mean subtracted after pixels are scaled to 0..1, one value a "
        "channel (ImageNet's: `[0.485, 0.456, 0.406]`); an RGB image's three values on another "
        "input are averaged for one channel and repeated for more, as the stem's weights are.",
    )
    std: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = Field(
        None, min_length=1, max_length=limits.MAX_CHANNELS,
        description="Per-channel standard deviation divided by after the mean, one positive "
        "value a channel (ImageNet's: `[0.229, 0.224, 0.225]`).",
    )
    resize: PositiveInt | None = Field(
        None, le=limits.MAX_SPATIAL,
        description="The image's shorter side is resized to this many pixels (bilinear, "
        "aspect kept) before the crop; none: not resized.",
    )
    crop: PositiveInt | list[PositiveInt] | None = Field(
        None,
        description="The center crop after the resize, `224` or `[height, width]`; none: the "
        "input's height and width.",
    )

    @model_validator(mode="after")
    def _rules(self) -> PreprocessSpec:
        if isinstance(self.crop, list) and len(self.crop) != 2:
            raise _cross_field(f"crop is one size or [height, width]; got {len(self.crop)} "
                               "values", "crop")
        crop = self.crop_size
        if crop is not None and self.resize is not None and max(crop) > self.resize:
            raise _cross_field(f"the crop {crop[0]}x{crop[1]} does not fit in an image whose "
                               f"shorter side is resized to {self.resize} (crop at most "
                               "`resize`)", "crop")
        return self

    def per_channel(self, name: str, channels: int) -> list[float] | None:
        """`mean` or `std` for an input of `channels`: as written, or an RGB image's three
        values adapted as timm adapts a 3-channel stem (`in_chans`): their average for one
        channel, repeated in turn for more (so `extends: resnet18` with a gray input keeps
        ImageNet's statistics in gray)."""
        values = getattr(self, name)
        if values is None or len(values) == channels:
            return values
        if channels == 1:
            return [sum(values) / len(values)]
        return [values[i % len(values)] for i in range(channels)]

    @property
    def crop_size(self) -> tuple[int, int] | None:
        """The crop as (height, width), or None when unset."""
        if self.crop is None:
            return None
        return (self.crop, self.crop) if isinstance(self.crop, int) else tuple(self.crop)


class NormSpec(_Model):
    kind: NormKind = Field(
        NormKind.batch,
        strict=False,
        description="`batch` (BatchNorm2d) or `group` (GroupNorm) after each conv.",
    )
    eps: float = Field(1e-5, gt=0, lt=1, description="Added to the variance for stability.")
    momentum: float = Field(
        0.1, ge=0, le=1, description="Running-statistics momentum (batch norm only)."
    )
    groups: PositiveInt = Field(
        32, description="Number of groups (group norm only); must divide every normed width."
    )


class StemSpec(_Model):
    kind: StemKind = Field(
        StemKind.conv,
        strict=False,
        description="`conv`: one conv + norm + act. `deep`: three 3x3 conv + norm + act, "
        "the first with `stride` (the ResNet-C deep stem).",
    )
    width: Channels = Field(64, description="Output channels of the stem.")
    widths: list[Channels] | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="`deep` only: the three convs' channels; default `[width/2, width/2, width]`. "
        "The last is the stem's output (`width` is then not used).",
    )
    kernel: PositiveInt = Field(
        7, le=31, description="`conv` only: kernel size, odd (a `deep` stem's convs are 3x3)."
    )
    stride: PositiveInt = Field(2, le=8, description="Stride of the (first) stem conv.")
    pool: PoolKind = Field(
        PoolKind.max,
        strict=False,
        description="`max`, `avg` or `none`: a 3x3, stride-2, padding-1 pooling after the stem; "
        "`conv`: a 3x3 stride-2 conv + norm + act in its place (ResNet-RS; timm's names "
        "`maxpool.0`, `.1`, `.2`).",
    )
    anti_alias: AntiAlias = Field(
        AntiAlias.none,
        strict=False,
        description="Anti-aliased stem downsampling (timm's `aa_layer`): with `pool: max`, "
        "`blur` keeps the max pool at stride 1 and blurs at stride 2 (`maxpool.0`, `.1`), and "
        "`avg` replaces it with a 2x2 average pool; with `pool: conv`, the conv runs at stride "
        "1 and `blur` or `avg` follows it, before its norm. `none`: plain.",
    )

    @model_validator(mode="after")
    def _rules(self) -> StemSpec:
        if self.kernel % 2 == 0:
            raise _cross_field(f"kernel must be odd, got {self.kernel}", "kernel")
        if self.widths is not None and self.kind is not StemKind.deep:
            raise _cross_field("`widths` applies only to `kind: deep`", "widths")
        if self.anti_alias is not AntiAlias.none and \
                self.pool not in (PoolKind.max, PoolKind.conv):
            raise _cross_field(f"`anti_alias` changes a `max` or `conv` stem pool, and this stem "
                               f"has `pool: {self.pool.value}` (use pool: max or conv, or "
                               "remove it)", "anti_alias")
        return self


class SESpec(_Model):
    reduction: PositiveInt = Field(
        16,
        le=1024,
        description="The squeeze has the block's output channels / `reduction`, rounded to the "
        "nearest multiple of 8 and at least 8 (timm's rule); a reduction above the channels is "
        "an error.",
    )


def attention_kinds() -> dict[str, Any]:
    """The registered attention kinds by name (`elaboration/attention.py`)."""
    from resnet_spec.elaboration.attention import ATTENTION_KINDS

    return ATTENTION_KINDS


_registered_attention_kind = _registered(attention_kinds, "resnet_spec.attention",
                                         "attention kind")


def _attention_kind_schema(schema: dict[str, Any]) -> None:
    schema["enum"] = sorted(attention_kinds())


class AttentionAt(str, Enum):
    last_norm = "last_norm"
    middle = "middle"


class AttentionOf(str, Enum):
    gated = "gated"
    input = "input"


class AttentionSpec(_Model):
    kind: Annotated[str, BeforeValidator(_registered_attention_kind)] = Field(
        ...,
        description="`se` (squeeze-and-excitation: two 1x1 convs through a squeeze) or `eca` "
        "(efficient channel attention: a 1-D conv across the channels), or an installed "
        "package's kind.",
        json_schema_extra=_attention_kind_schema,
    )
    at: AttentionAt = Field(
        AttentionAt.last_norm,
        strict=False,
        description="`last_norm`: on the branch after its last norm, before the addition "
        "(SE-ResNet); `middle`: after the 3x3 conv's norm and act (RegNetY). `middle` needs a "
        "kind that places it (`basic`, `bottleneck`).",
    )
    reduction: PositiveInt | None = Field(
        None,
        le=1024,
        description="`se`: the squeeze has `of` channels / `reduction` (default 16), rounded to "
        "the nearest multiple of `divisor`, at least `min_channels`.",
    )
    of: AttentionOf | None = Field(
        None,
        strict=False,
        description="`se`: which width `reduction` divides: `gated` (default), the channels it "
        "gates, or `input`, the block's input width (RegNetY).",
    )
    divisor: PositiveInt | None = Field(
        None, le=1024, description="`se`: the squeeze's channels are a multiple of this "
        "(default 8, timm's rule; 1 rounds to the nearest integer).",
    )
    min_channels: PositiveInt | None = Field(
        None, le=limits.MAX_CHANNELS, description="`se`: the squeeze's least channels "
        "(default: `divisor`).",
    )
    kernel: PositiveInt | None = Field(
        None, le=31, description="`eca`: the odd kernel size of the 1-D conv; default from the "
        "channels C, as Wang et al.: the odd number nearest above (log2(C) + 1) / 2, at least 3.",
    )

    @model_validator(mode="after")
    def _rules(self) -> AttentionSpec:
        kind = attention_kinds()[self.kind]
        # every optional field belongs to the kinds that list it: a new field needs no entry here
        for name in [n for n in type(self).model_fields if n not in ("kind", "at")]:
            if getattr(self, name) is not None and name not in kind.fields:
                users = sorted(k for k, v in attention_kinds().items() if name in v.fields)
                raise _cross_field(f"`{name}` applies to the attention "
                                   f"{_kinds_in_words(users)}, not `{self.kind}` (remove it)",
                                   name)
        if self.kernel is not None and self.kernel % 2 == 0:
            raise _cross_field(f"kernel must be odd, got {self.kernel}", "kernel")
        return self


class BlockSpec(_Model):
    kind: BlockKindName = Field(
        "basic",
        description="`basic` (two 3x3), `bottleneck` (1x1, 3x3, 1x1), their pre-activation "
        "forms `preact_basic`, `preact_bottleneck`, `res2net` (Res2Net's multi-scale "
        "bottleneck), `split_attention` (ResNeSt's), `sk_basic` and `sk_bottleneck` (selective "
        "kernels), or an installed package's kind.",
        json_schema_extra=_block_kind_schema,
    )
    expansion: PositiveInt | None = Field(
        None,
        le=64,
        description="Block output channels = stage width x expansion; "
        "default 1 for basic kinds, 4 for bottleneck kinds.",
    )
    groups: PositiveInt = Field(
        1, le=limits.MAX_CHANNELS, description="Groups of the 3x3 conv (ResNeXt cardinality); "
        "bottleneck kinds only."
    )
    base_width: PositiveInt = Field(
        64,
        le=limits.MAX_CHANNELS,
        description="Width per group; bottleneck inner channels are "
        "floor(width x base_width / 64) x groups. Bottleneck kinds only.",
    )
    group_width: PositiveInt | None = Field(
        None,
        le=limits.MAX_CHANNELS,
        description="Channels per group of the 3x3 conv, stated directly (RegNet): groups = "
        "inner width / group_width, which must divide it. Bottleneck kinds only; instead of "
        "`groups` and `base_width`.",
    )
    bottleneck_ratio: float | None = Field(
        None,
        gt=0,
        le=64,
        allow_inf_nan=False,
        description="Inner width = round(output channels x this), stated directly (RegNet's "
        "bottleneck ratio; 1: as wide as the output). Bottleneck kinds only; instead of "
        "`base_width`. Default with `group_width`: 1.",
    )
    scale: PositiveInt = Field(
        4,
        le=64,
        description="`res2net` only: the 1x1 conv's output is split into `scale` groups of "
        "floor(width x base_width / 64) x groups channels, the 3x3 convs run on all but the "
        "last, each fed the previous one's output plus its own group (Gao et al. 2019).",
    )
    radix: PositiveInt = Field(
        2,
        le=16,
        description="`split_attention` only: the 3x3 conv computes `radix` splits of its "
        "output, weighed per channel by a softmax across them (ResNeSt; 1: a sigmoid gate).",
    )
    avd: bool = Field(
        True,
        description="`split_attention` only: where a block strides, a 3x3 average pool takes "
        "the stride instead of the 3x3 conv (ResNeSt's `avd`).",
    )
    avd_first: bool = Field(
        False,
        description="`split_attention` only, with `avd`: the pool before the 3x3 conv rather "
        "than after it.",
    )
    paths: int = Field(
        2,
        ge=2,
        le=8,
        description="`sk_basic`, `sk_bottleneck` only: the selective-kernel conv's paths, "
        "3x3 convs at dilations 1, 2, ... (Li et al. 2019's 3x3 and 5x5, as timm builds "
        "them), weighed per channel by a softmax across them.",
    )
    split_input: bool = Field(
        True,
        description="`sk_basic`, `sk_bottleneck` only: each path convolves its own "
        "1/paths of the input channels (timm's default) rather than all of them.",
    )
    sk_reduction: PositiveInt = Field(
        16,
        le=limits.MAX_CHANNELS,
        description="`sk_basic`, `sk_bottleneck` only: the selective-kernel attention's "
        "1x1 conv reduces the conv's width by this (timm's 1 / rd_ratio)...",
    )
    sk_divisor: PositiveInt = Field(
        8,
        le=limits.MAX_CHANNELS,
        description="`sk_basic`, `sk_bottleneck` only: ...to a multiple of this, at least "
        "this (timm's rd_divisor).",
    )
    stride_at: StrideAt = Field(
        StrideAt.middle,
        strict=False,
        description="Which bottleneck conv carries the stride: `first` (the 1x1, paper v1) or "
        "`middle` (the 3x3, v1.5). Basic blocks always stride their first conv.",
    )
    anti_alias: AntiAlias = Field(
        AntiAlias.none,
        strict=False,
        description="Anti-aliased downsampling where a block strides by 2 (Zhang 2019, timm's "
        "`aa_layer`): its strided 3x3 conv runs at stride 1 and is followed, after its norm and "
        "act, by `blur` (a 3x3 binomial blur of the reflect-padded map, sampled every 2 "
        "pixels) or `avg` (a 2x2 average pool). Module `aa`. `basic` and `bottleneck` kinds, "
        "with `stride_at: middle`; `none`: plain.",
    )
    se: SESpec | None = Field(
        None, description="Squeeze-and-excitation after the last norm, e.g. `{reduction: 16}`."
    )
    attention: AttentionSpec | None = Field(
        None, description="Channel attention in each block: its kind, where it sits and how "
        "wide it is, e.g. `{kind: eca}` or `{kind: se, at: middle, reduction: 4, of: input}`. "
        "`se` above is the short form of `{kind: se}`; a block has one or the other.",
    )
    drop_path: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Stochastic depth: the largest drop rate, reached by the last block of the "
        "network, rising linearly from 0 at the first over all blocks (timm's "
        "`drop_path_rate`); inactive in eval.",
    )
    dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout inside each block, before its last conv (Wide ResNet's dropout "
        "between the two 3x3 convs of a basic block; before the 1x1 expansion of a bottleneck); "
        "inactive in eval and removed for inference. 0: none.",
    )
    zero_init_last_norm: bool = Field(
        False, description="Start each residual branch's last norm at zero."
    )
    options: dict[str, Any] | None = Field(
        None,
        description="The settings of a block kind that declares its own (a plugin's, see "
        "docs/extending.md), checked by that kind's model; other kinds take none.",
    )

    @model_validator(mode="after")
    def _rules(self) -> BlockSpec:
        kinds = block_kinds()
        for name, field in type(self).model_fields.items():
            users = [k for k in kinds if name in kinds[k].fields]
            if users and self.kind not in users and getattr(self, name) != field.default:
                raise _cross_field(
                    f"`{name}` applies only to the block {_kinds_in_words(users)}, not "
                    f"`{self.kind}` (use kind: {users[0]}, or remove it)",
                    name,
                )
        direct = self.group_width is not None or self.bottleneck_ratio is not None
        if direct and self.base_width != 64:
            raise _cross_field("`base_width` is torchvision's way to a bottleneck's inner width "
                               "and `group_width` / `bottleneck_ratio` state it directly: use "
                               "one or the other", "base_width")
        if self.group_width is not None and self.groups != 1:
            raise _cross_field("`groups` follows from `group_width` (inner width / group_width): "
                               "set one of them", "groups")
        if self.se is not None and self.attention is not None:
            raise _cross_field("a block has `se` or `attention`, not both (`se: {reduction: r}` "
                               "is `attention: {kind: se, reduction: r}`)", "attention")
        if self.attention is not None and self.attention.at is AttentionAt.middle and \
                "attention" not in kinds[self.kind].places:
            takers = _kinds_in_words([k for k in kinds if "attention" in kinds[k].places],
                                     noun=False)
            raise _cross_field(f"the block kind `{self.kind}` has no middle place for "
                               f"attention (kinds that have: {takers}); use "
                               "at: last_norm", "attention")
        for name in PLACED_FIELDS:
            if getattr(self, name) != type(self).model_fields[name].default and \
                    name not in kinds[self.kind].places:
                takers = _kinds_in_words([k for k in kinds if name in kinds[k].places],
                                         noun=False)
                raise _cross_field(f"the block kind `{self.kind}` has no place for `{name}` "
                                   f"(kinds that take it: {takers}); remove it",
                                   name)
        if self.anti_alias is not AntiAlias.none and self.stride_at is StrideAt.first and \
                "base_width" in kinds[self.kind].fields:
            raise _cross_field("`anti_alias` moves the stride of the 3x3 conv, and `stride_at: "
                               "first` puts it on the 1x1 (use stride_at: middle)", "anti_alias")
        self.kind_options()
        return self

    def kind_options(self) -> BaseModel | None:
        """`options` validated by the kind's own model, defaults filled in (None for a kind
        without one); an error located inside `options` when they do not fit."""
        model = block_kinds()[self.kind].options
        if model is None:
            if self.options is not None:
                raise _cross_field(f"the block kind `{self.kind}` takes no `options` (only "
                                   "kinds that declare an options model do; remove them)",
                                   "options")
            return None
        try:
            return model.model_validate(self.options or {})
        except ValidationError as err:
            raise _nested(err, "options", list(model.model_fields)) from None

    @property
    def out_expansion(self) -> int:
        """Output channels over the stage width: `expansion`, else the kind's default."""
        if self.expansion is not None:
            return self.expansion
        return int(block_kinds()[self.kind].expansion)


PLACED_FIELDS = ("dropout", "anti_alias")
"""`block` fields a kind's builder must place itself (`BlockKind.places`): set for a kind that
does not, they are an error rather than silently ignored."""


def _kinds_in_words(names: list[str], noun: bool = True) -> str:
    """`kind `a`` or `kinds `a`, `b` and `c`` (without the noun where `noun` is false),
    sorted: a message does not change with the order kinds register in."""
    quoted = [f"`{name}`" for name in sorted(names)]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
    if not noun:
        return listed
    return f"kind {listed}" if len(quoted) == 1 else f"kinds {listed}"


_OVERRIDE_NOTES = {
    "drop_path": "Each of the stage's blocks keeps its place on the network-wide line, scaled "
    "to this value (0 turns stochastic depth off here).",
}
"""What an override of a `block` field means beyond replacing it, by field."""


def _overrides_of(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """A model of `model`'s fields, each optional (None: not overridden), with the same types
    and ranges: the per-stage overrides, derived so that a field is declared once."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        optional = copy.copy(info)  # keeps the ranges, strictness and schema extras
        optional.default, optional.default_factory = None, None
        note = _OVERRIDE_NOTES.get(field_name)
        optional.description = (f"Overrides `block.{field_name}` for this stage."
                                + (f" {note}" if note else ""))
        fields[field_name] = (info.annotation | None, optional)
    return create_model(name, __base__=_Model, __doc__=doc, **fields)


BlockOverride = _overrides_of(
    BlockSpec, "BlockOverride",
    "A stage's overrides of the top-level `block`: the same fields, each optional.")


class StageSpec(_Model):
    depth: PositiveInt = Field(
        ..., le=limits.MAX_BLOCKS, description="Blocks in the stage, 1 or more."
    )
    width: Channels = Field(..., description="The stage's base channels (torchvision's `planes`).")
    stride: PositiveInt = Field(1, le=8, description="Stride of the stage's first block.")
    dilation: PositiveInt = Field(
        1,
        le=64,
        description="Dilation of the stage's 3x3 convs, for dense-prediction backbones: write "
        "`stride: 1, dilation: 2` where a stage would halve the resolution. The stage's first "
        "block keeps the previous stage's dilation in its first 3x3 (torchvision's "
        "`replace_stride_with_dilation`). Or let `output_stride` set it.",
    )
    block: BlockOverride = Field(
        default_factory=BlockOverride, description="Overrides of the top-level `block`."
    )
    shortcut: Shortcut | None = Field(
        None, strict=False, description="Overrides the top-level shortcut policy for this stage."
    )


class RegNetSpec(_Model):
    depth: PositiveInt = Field(..., le=limits.MAX_BLOCKS, description="Blocks in all.")
    w0: PositiveInt = Field(..., le=limits.MAX_CHANNELS,
                            description="The first block's width, a multiple of `quant`.")
    wa: float = Field(..., ge=0, le=limits.MAX_CHANNELS, allow_inf_nan=False,
                      description="The slope: block j's continuous width is w0 + wa × j.")
    wm: float = Field(..., gt=1, le=64, allow_inf_nan=False,
                      description="The ratio between the quantized widths of one stage and "
                      "the next.")
    group_width: PositiveInt = Field(..., le=limits.MAX_CHANNELS,
                                     description="Channels per group of the 3x3 convs.")
    bottleneck_ratio: float = Field(1.0, gt=0, le=64, allow_inf_nan=False,
                                    description="Inner width over block width.")
    se_ratio: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False,
                            description="RegNetY: squeeze-and-excitation after the 3x3 conv, "
                            "of this fraction of the block's input width (written out as "
                            "`block.attention`); 0: none (RegNetX).")
    quant: PositiveInt = Field(8, le=1024, description="Widths are multiples of this.")

    @model_validator(mode="after")
    def _rules(self) -> RegNetSpec:
        if self.w0 % self.quant:
            raise _cross_field(f"w0 {self.w0} is not a multiple of quant {self.quant}", "w0")
        if self.se_ratio and (1 / self.se_ratio) % 1:
            raise _cross_field(f"se_ratio {self.se_ratio:g} is not 1/n for a whole n (the "
                               "squeeze is the input width / n)", "se_ratio")
        return self

    def expanded(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The stages it generates and the block settings it implies, as spec data."""
        from resnet_spec.spec.regnet import regnet_stages

        stages = regnet_stages(self.depth, self.w0, self.wa, self.wm, self.group_width,
                               self.bottleneck_ratio, self.quant)
        block: dict[str, Any] = {"kind": "bottleneck", "expansion": 1,
                                 "group_width": self.group_width,
                                 "bottleneck_ratio": self.bottleneck_ratio}
        if self.se_ratio:
            block["attention"] = {"kind": "se", "at": "middle", "of": "input", "divisor": 1,
                                  "reduction": round(1 / self.se_ratio)}
        data = []
        for stage in stages:
            entry: dict[str, Any] = {"depth": stage.depth, "width": stage.width, "stride": 2}
            if stage.group_width != self.group_width:
                entry["block"] = {"group_width": stage.group_width}
            data.append(entry)
        return data, block


def _expand_regnet(raw: Any) -> Any:
    """`regnet:` written out as the `stages` it generates, and its block settings under the
    spec's own `block` (whose fields win); an error where `stages` is written too."""
    if not isinstance(raw, dict) or not isinstance(raw.get("regnet"), dict):
        return raw
    if "stages" in raw:
        raise _cross_field("a spec has `regnet` or `stages`, not both (`regnet` generates the "
                           "stages; `regnet: null` drops an inherited one)", "stages")
    try:
        stages, block = RegNetSpec.model_validate(raw["regnet"]).expanded()
    except ValidationError:
        return {**raw, "stages": [{"depth": 1, "width": 8}]}  # only regnet's own errors show
    own = raw.get("block")
    return {**raw, "stages": stages,
            "block": {**block, **own} if isinstance(own, dict) else own or block}


class HeadSpec(_Model):
    pool: GlobalPool = Field(
        GlobalPool.avg, strict=False, description="Global `avg` or `max` pooling."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before the classifier.")
    classes: PositiveInt = Field(1000, le=1_000_000, description="Output logits.")


def _kind_shorthand(value: Any) -> Any:
    """`norm: group` means `norm: {kind: group}`."""
    return {"kind": value} if isinstance(value, str) else value


def _head_shorthand(value: Any) -> Any:
    """`head: none` (a YAML 1.2 string) means no classifier; null is refused, as the JSON
    Schema refuses it, rather than read as a silent `none`."""
    if value is None:
        raise ValueError("expected a mapping of fields, or `none` for a backbone; got null "
                         "(no value)")
    return None if value == "none" else value


class Spec(_Model):
    """A whole network. Mappings given in YAML become these models after `extends` is merged."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="resnet-spec",
    )

    spec_version: int = Field(SPEC_VERSION, description="Language version; only 1 exists.")
    name: str = Field(
        ...,
        pattern=r"^[a-z][a-z0-9_.-]*$",
        max_length=128,
        description="Model name: lower case, digits, `_`, `.`, `-`; names output folders.",
    )
    description: Text = Field(
        "", max_length=4096, description="Free text for summaries and titles; no control "
        "characters but tabs and line breaks."
    )
    extends: Text | None = Field(
        None,
        description="A spec file relative to this one, or a built-in spec's name, to start from. "
        "Mappings merge deeply (this file wins); lists and scalars are replaced whole.",
    )
    input: InputSpec = Field(
        default_factory=InputSpec, description="The example input shapes are checked against."
    )
    norm: NormSpec = Field(
        default_factory=NormSpec,
        description="`batch`, `group`, or `{kind, eps, momentum, groups}`: the norm after each "
        "conv.",
    )
    activation: Activation = Field(
        Activation.relu, strict=False, description="The nonlinearity everywhere."
    )
    stem: StemSpec = Field(default_factory=StemSpec, description="The layers before stage 1.")
    block: BlockSpec = Field(
        default_factory=BlockSpec, description="Defaults for every block; stages may override."
    )
    shortcut: Shortcut = Field(
        Shortcut.projection,
        strict=False,
        description="How a block's input reaches its addition: identity, zero_pad, projection, "
        "projection_all, avg_down or none.",
    )
    regnet: RegNetSpec | None = Field(
        None,
        description="RegNet's design space instead of `stages`: depth, w0, wa, wm, group_width "
        "(and bottleneck_ratio, se_ratio) expand by the quantized linear rule into the stages "
        "of bottleneck blocks they describe, which `resnet-spec show` writes out.",
    )
    stages: list[StageSpec] = Field(
        ..., min_length=1, max_length=64, description="The residual stages, in order (or "
        "generated by `regnet`)."
    )
    head: HeadSpec | None = Field(
        default_factory=HeadSpec, description="The classifier, or `none` for a backbone."
    )
    features: list[Annotated[int, Field(ge=0)]] | None = Field(
        None,
        min_length=1,
        description="Stage numbers (1-based; 0 is the stem, before its pool) whose outputs a "
        "backbone returns as a dict `{stem, stage1, ...}`, as timm's `out_indices`; only with "
        "`head: none`.",
    )
    output_stride: Literal[8, 16, 32] | None = Field(
        None,
        description="The total stride of the last map: once the stem and stages have strided "
        "the input this much, every later stage's stride becomes dilation (timm's and "
        "torchvision's rule). A stage's own `dilation` above 1 then conflicts.",
    )
    preprocess: PreprocessSpec | None = Field(
        None,
        description="What is done to an image before the model: `{mean, std, resize, crop}`, "
        "recorded in every export and used on `--calibration` images; none: not said.",
    )

    # Where each field was written (a yaml_source.SourceMap); None for specs built in Python.
    _source: Any = PrivateAttr(default=None)

    _regnet = model_validator(mode="before")(_expand_regnet)
    _norm_shorthand = field_validator("norm", mode="before")(_kind_shorthand)
    _head_shorthand = field_validator("head", mode="before")(_head_shorthand)

    @field_validator("spec_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SPEC_VERSION:
            raise ValueError(f"unknown spec_version {value}; this resnet-spec reads version 1")
        return value

    @model_validator(mode="after")
    def _rules(self) -> Spec:
        blocks = sum(stage.depth for stage in self.stages)
        if blocks > limits.MAX_BLOCKS:
            raise _cross_field(
                f"{blocks} blocks in all; the limit is {limits.MAX_BLOCKS}", "stages"
            )
        if self.features is not None:
            if self.head is not None:
                raise _cross_field("`features` needs `head: none` (a backbone)", "features")
            for i, number in enumerate(self.features):
                if number > len(self.stages):
                    raise _cross_field(
                        f"stage {number} does not exist; stages are 1 to {len(self.stages)} "
                        "(0 is the stem)",
                        f"features.{i}",
                    )
                if number in self.features[:i]:
                    raise _cross_field(f"stage {number} is listed twice", f"features.{i}")
        for i in range(len(self.stages)):
            self.stage_block(i)
        if self.preprocess is not None:
            for name in ("mean", "std"):
                values = getattr(self.preprocess, name)
                if values is not None and len(values) not in (self.input.channels, 3):
                    raise _cross_field(
                        f"{len(values)} values for {self.input.channels} input channels (one "
                        "value a channel, or an RGB image's three)", f"preprocess.{name}")
        return self

    def stage_block(self, index: int) -> BlockSpec:
        """The block settings of stage `index` (0-based): top-level `block` plus overrides."""
        overrides = self.stages[index].block.model_dump(exclude_none=True)
        if not overrides:
            return self.block
        merged = {**self.block.model_dump(exclude_unset=True), **overrides}
        if "kind" in overrides and "expansion" not in overrides:
            merged.pop("expansion", None)
        if overrides.get("kind", self.block.kind) != self.block.kind and "options" not in overrides:
            merged.pop("options", None)  # another kind's settings
        try:
            return BlockSpec.model_validate(merged)
        except ValueError as err:
            at = f"stages.{index}.block"
            first = err.errors()[0] if hasattr(err, "errors") else {"msg": str(err)}
            inner = (first.get("ctx") or {}).get("at")
            if first["type"] == "nested" and inner in overrides:
                raise PydanticCustomError("nested", "{first}",
                                          {**first["ctx"], "at": f"{at}.{inner}"}) from None
            raise _cross_field(
                f"with this stage's overrides: {first['msg']}",
                f"{at}.{inner}" if inner and inner in overrides else at,
            ) from None

    def stage_shortcut(self, index: int) -> Shortcut:
        return self.stages[index].shortcut or self.shortcut

    @property
    def source(self) -> Any:
        """The `SourceMap` of the file(s) this spec was loaded from (None if built in Python)."""
        return self._source


def _schema_shorthands(schema: dict[str, Any]) -> None:
    """Let editors accept the string shorthands that the validators accept."""
    props = schema["properties"]
    props["norm"] = {
        "description": props["norm"].get("description", ""),
        "anyOf": [{"enum": [k.value for k in NormKind]}, {"$ref": "#/$defs/NormSpec"}],
        "default": NormKind.batch.value,
    }
    props["head"] = {
        "description": props["head"].get("description", ""),
        "anyOf": [{"$ref": "#/$defs/HeadSpec"}, {"const": "none"}],
    }


def _schema_extends(schema: dict[str, Any]) -> None:
    """A file with `extends` may leave required fields to its parent (resnext50_32x4d.yaml
    writes no `stages`): require them only in a file without `extends`."""
    required = schema.pop("required", [])
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": [name for name in required if name != "stages"],
                      # `regnet` generates the stages
                      "oneOf": [{"required": ["stages"]}, {"required": ["regnet"]}]}


def _schema_kind_options(schema: dict[str, Any]) -> None:
    """The options of each installed kind that declares a model (a plugin's): checked by editors
    where the top-level `block` names that kind (a stage's override cannot say which kind it
    inherits, so its `options` stay any mapping)."""
    kinds = block_kinds()
    rules = []
    for name in sorted(kinds):
        model = kinds[name].options
        if model is None:
            continue
        options = model.model_json_schema(ref_template="#/$defs/{model}")
        schema.setdefault("$defs", {}).update(options.pop("$defs", {}))
        options["type"] = ["object", "null"]  # unset: the model's defaults
        rules.append({"if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                      "then": {"properties": {"options": options}}})
    if rules:
        schema["$defs"]["BlockSpec"]["allOf"] = rules


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec language, as committed in docs/spec.schema.json."""
    schema = Spec.model_json_schema()
    _schema_shorthands(schema)
    _schema_extends(schema)
    _schema_kind_options(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
