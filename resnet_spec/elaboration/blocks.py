"""The residual block kinds, one `BlockKind` registration each in `BLOCK_KINDS`: the built-ins
here, and those of installed packages (`resnet_spec.blocks` entry points, `plugins.py`).

A registration is everything the tool knows of a kind: its builder, which takes the block's
settings (`BlockCtx`) and input and returns what it built (`Built`: the output, the inner width,
what the shortcut produced, the squeeze's channels), its default expansion and inner-width rule,
which `block` fields only it uses, whether it pre-activates, and how the compiled module and the
diagrams name and colour it, and the model of its own settings (`block.options`). The schema
validates `block.kind` against these registrations, so a kind resolves only through what is
registered. Names follow torchvision's blocks: `conv1`,
`bn1`, ... `downsample.0`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from resnet_spec.elaboration import excite
from resnet_spec.elaboration.attention import Attended, attend, squeeze_channels
from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.elaboration.registry import lookup
from resnet_spec.elaboration.shortcuts import shortcut
from resnet_spec.errors import GraphError, Loc
from resnet_spec.ir import (
    AddNode,
    BlurPoolNode,
    ChannelSliceNode,
    ConcatNode,
    DropoutNode,
    PoolNode,
    RadixCombineNode,
    RadixSoftmaxNode,
    SqueezeNode,
)
from resnet_spec.plugins import Registry
from resnet_spec.spec.schema import AntiAlias, AttentionAt, BlockSpec, StrideAt


@dataclass(frozen=True)
class Built:
    """What a block builder built: its output and what it decided along the way."""

    output: Cursor
    inner: int
    """The width of its inner convs (`BlockInfo.inner`)."""
    shortcut: str
    """What the shortcut policy produced here (`BlockInfo.shortcut`)."""
    se: int = 0
    """The squeeze-and-excitation's reduced channels; 0 without one."""
    attention: str = ""
    """What `block.attention` built, in a few words (`ECA k5`); empty without it."""
    groups: int | None = None
    """Its grouped conv's groups, where they are not `block.groups` (`group_width`)."""


@dataclass(frozen=True)
class BlockKind:
    """One block kind: its builder and everything else that depends on the kind."""

    name: str
    """The value of `block.kind`."""
    build: Callable[[Ctx, BlockCtx, Cursor], Built]
    description: str
    """One line for the spec reference."""
    expansion: int = 1
    """Block output channels = stage width × this, unless `block.expansion` says otherwise."""
    inner_width: Callable[[int, BlockSpec], int] = lambda width, spec: width
    """Its inner convs' channels for a stage width and the block settings."""
    fields: tuple[str, ...] = ()
    """The `block` fields only some kinds use (`groups`, `base_width`); setting one for a kind
    that does not list it is an error. They also decide the kind's widths (error origins)."""
    preactivates: bool = False
    """Norm and act before each conv: the stem then has no norm or act, and a final norm and
    act follow the last block."""
    module_class: str = ""
    """What `print(model)` calls its blocks (torchvision's `Bottleneck`)."""
    family: str = "other"
    """The colour family of its boxes in diagrams (`render.palette.FAMILY_COLOURS`)."""
    torchvision_acts: bool = False
    """Its blocks are torchvision's layout: with ReLU and no squeeze-and-excitation, their
    activation modules take the names of torchvision's FX nodes (`relu`, `relu_1`, `relu_2`)."""
    places: tuple[str, ...] = ()
    """The `block` fields its builder places itself (`schema.PLACED_FIELDS`: `dropout` through
    `inner_dropout`, `anti_alias` through `downsample`); setting one for a kind that does not
    list it is an error rather than ignored."""
    options: type[BaseModel] | None = None
    """The pydantic model of its own settings, `block.options` (a plugin's kind); the builder
    reads them validated as `BlockCtx.options`. None: the kind takes no `options`."""

    def __call__(self, ctx: Ctx, block: BlockCtx, x: Cursor) -> Built:
        return self.build(ctx, block, x)


def bottleneck_width(width: int, block: BlockSpec) -> int:
    """A bottleneck's inner channels: round(output channels × bottleneck_ratio) where the
    block states it (RegNet; `group_width` alone means a ratio of 1), else torchvision's
    floor(width × base_width / 64) × groups."""
    if block.group_width is not None or block.bottleneck_ratio is not None:
        out = width * (block.expansion if block.expansion is not None else 4)
        return round(out * (block.bottleneck_ratio or 1.0))
    return width * block.base_width // 64 * block.groups


def bottleneck_groups(ctx: Ctx, b: BlockCtx, inner: int) -> int:
    """The 3x3 conv's groups: inner / group_width where the block states its group width (an
    error at the field where that does not divide), else `groups`."""
    width = b.spec.group_width
    if width is None:
        return b.spec.groups
    if inner % width:
        raise GraphError(f"group_width {width} does not divide the inner width {inner} of "
                         f"block {b.name}", ctx.source(*ctx.block_field(b.stage_index,
                                                                        "group_width")),
                         "choose a group_width dividing it, or the stage width to fit")
    return inner // width


def basic(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """Two 3x3 conv + norm, the first strided, then the addition and the act."""
    y = ctx.conv_norm(x, "conv1", "bn1", b.width, kernel=3, stride=conv_stride(b),
                      dilation=b.first_dilation)
    y, middle = middle_attention(ctx, b, anti_alias(ctx, b, ctx.act(y, "act1")), x)
    y = inner_dropout(ctx, b, y)
    y = ctx.conv_norm(y, "conv2", "bn2", b.out_channels, kernel=3, dilation=b.dilation,
                      zero_init=b.spec.zero_init_last_norm)
    return residual(ctx, b, x, y, inner=b.width, last_act="act2", middle=middle)


def bottleneck(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """1x1 reduce, 3x3 (grouped), 1x1 expand, each + norm; the stride on the 1x1 or the 3x3."""
    inner = bottleneck_width(b.width, b.spec)
    groups = bottleneck_groups(ctx, b, inner)
    s1, s2 = (b.stride, 1) if b.spec.stride_at is StrideAt.first else (1, conv_stride(b))
    y = ctx.conv_norm(x, "conv1", "bn1", inner, kernel=1, stride=s1)
    y = ctx.act(y, "act1")
    y = ctx.conv_norm(y, "conv2", "bn2", inner, kernel=3, stride=s2,
                      dilation=b.first_dilation, groups=groups)
    y, middle = middle_attention(ctx, b, anti_alias(ctx, b, ctx.act(y, "act2")), x)
    y = inner_dropout(ctx, b, y)
    y = ctx.conv_norm(y, "conv3", "bn3", b.out_channels, kernel=1,
                      zero_init=b.spec.zero_init_last_norm)
    return residual(ctx, b, x, y, inner=inner, last_act="act3", middle=middle, groups=groups)


def preact_basic(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """He et al. 2016: norm + act, 3x3 conv (strided), norm + act, 3x3 conv; no act after the
    addition."""
    pre = _norm_act(ctx, x, "1")
    y = ctx.conv(pre, "conv1", b.width, kernel=3, stride=b.stride, dilation=b.first_dilation)
    y = inner_dropout(ctx, b, _norm_act(ctx, y, "2", zero_init=b.spec.zero_init_last_norm))
    y = ctx.conv(y, "conv2", b.out_channels, kernel=3, dilation=b.dilation)
    return residual(ctx, b, x, y, inner=b.width, preact=pre)


def preact_bottleneck(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """He et al. 2016: (norm + act, conv) three times: 1x1 reduce, 3x3 (grouped), 1x1 expand."""
    inner = bottleneck_width(b.width, b.spec)
    groups = bottleneck_groups(ctx, b, inner)
    s1, s2 = (b.stride, 1) if b.spec.stride_at is StrideAt.first else (1, b.stride)
    pre = _norm_act(ctx, x, "1")
    y = ctx.conv(pre, "conv1", inner, kernel=1, stride=s1)
    y = _norm_act(ctx, y, "2")
    y = ctx.conv(y, "conv2", inner, kernel=3, stride=s2, dilation=b.first_dilation,
                 groups=groups)
    y = inner_dropout(ctx, b, _norm_act(ctx, y, "3", zero_init=b.spec.zero_init_last_norm))
    y = ctx.conv(y, "conv3", b.out_channels, kernel=1)
    return residual(ctx, b, x, y, inner=inner, preact=pre, groups=groups)


def res2net_width(width: int, block: BlockSpec) -> int:
    """Res2Net's inner channels: `scale` groups of floor(width × base_width / 64) × groups."""
    return width * block.base_width // 64 * block.groups * block.scale


def res2net(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """Gao et al. 2019: 1x1 conv to `scale` groups of channels; 3x3 conv + norm + act on each
    group but the last, each after the first also fed the previous one's output (a stage's
    first block, which strides or widens, feeds each group alone and average-pools the last);
    the groups joined, then the 1x1 expansion. timm's names: `convs.i`, `bns.i`, `pool`."""
    group = b.width * b.spec.base_width // 64 * b.spec.groups
    scale = b.spec.scale
    y = ctx.conv_norm(x, "conv1", "bn1", group * scale, kernel=1)
    y = ctx.act(y, "act1")
    first = b.stride > 1 or x.shape[0] != b.out_channels
    parts = [ctx.add(ChannelSliceNode, f"split.{i}", [y], start=i * group, channels=group)
             for i in range(scale)]
    outs: list[Cursor] = []
    for i in range(max(1, scale - 1)):
        sp = parts[i] if i == 0 or first else ctx.add(AddNode, f"sum.{i}", [outs[-1], parts[i]])
        sp = ctx.conv_norm(sp, f"convs.{i}", f"bns.{i}", group, kernel=3, stride=b.stride,
                           dilation=b.first_dilation, groups=b.spec.groups)
        outs.append(ctx.act(sp, f"act2.{i}"))
    if scale > 1:
        last = parts[-1]
        if first:
            last = ctx.add(PoolNode, "pool", [last], kind="avg", kernel=3, stride=b.stride,
                           padding=1)
        outs.append(last)
    y = inner_dropout(ctx, b, ctx.add(ConcatNode, "cat", outs))
    y = ctx.conv_norm(y, "conv3", "bn3", b.out_channels, kernel=1,
                      zero_init=b.spec.zero_init_last_norm)
    return residual(ctx, b, x, y, inner=group * scale, last_act="act3")


def split_attention(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """ResNeSt (Zhang et al. 2020): the bottleneck whose 3x3 conv is split attention. The conv
    gives `radix` splits (groups × radix groups), each normed and activated; their sum is
    squeezed, through a grouped 1x1 conv + norm + act and a grouped 1x1 conv back to one logit
    per split and channel, softmax across the splits; the splits weighed and summed. Where the
    block strides (`avd`), a 3x3 average pool takes the stride, after the conv or before it
    (`avd_first`). timm's names: `conv2.conv`, `conv2.bn0`, `conv2.fc1`, `conv2.bn1`,
    `conv2.fc2`, `avd_last` / `avd_first`."""
    inner = bottleneck_width(b.width, b.spec)
    radix, cardinality = b.spec.radix, b.spec.groups
    avd = b.spec.avd and b.stride > 1
    y = ctx.conv_norm(x, "conv1", "bn1", inner, kernel=1)
    y = ctx.act(y, "act1")
    pool = {"kind": "avg", "kernel": 3, "stride": b.stride, "padding": 1}
    if avd and b.spec.avd_first:
        y = ctx.add(PoolNode, "avd_first", [y], **pool)
    y = ctx.conv_norm(y, "conv2.conv", "conv2.bn0", inner * radix, kernel=3,
                      stride=1 if avd else b.stride, dilation=b.first_dilation,
                      groups=cardinality * radix)
    splits = ctx.act(y, "conv2.act0")
    total = ctx.add(ChannelSliceNode, "conv2.split.0", [splits], start=0, channels=inner)
    for r in range(1, radix):
        part = ctx.add(ChannelSliceNode, f"conv2.split.{r}", [splits], start=r * inner,
                       channels=inner)
        total = ctx.add(AddNode, f"conv2.sum.{r}", [total, part])
    reduced = squeeze_channels(inner * radix, 4, 8, 32, round_limit=0.9)
    s = split_weights(ctx, total, "conv2", ("pool", "fc1", "bn1", "act1", "fc2", "softmax"),
                      reduced, radix, cardinality, bias=True)
    y = ctx.add(RadixCombineNode, "conv2.combine", [splits, s], radix=radix)
    if avd and not b.spec.avd_first:
        y = ctx.add(PoolNode, "avd_last", [y], **pool)
    y = inner_dropout(ctx, b, y)
    y = ctx.conv_norm(y, "conv3", "bn3", b.out_channels, kernel=1,
                      zero_init=b.spec.zero_init_last_norm)
    return residual(ctx, b, x, y, inner=inner, last_act="act3")


def split_weights(ctx: Ctx, total: Cursor, prefix: str, names: tuple[str, str, str, str, str, str],
                  reduced: int, splits: int, cardinality: int, *, bias: bool) -> Cursor:
    """The weights split attention and selective kernels give their `splits` maps: `total`
    (the maps' sum) squeezed, a 1x1 conv down to `reduced` + norm + act, a 1x1 conv to one
    logit per split and channel, softmax across the splits; convs in `cardinality` groups.
    `names`: the pool, reduce conv, norm, act, select conv and softmax under `prefix`, as timm
    names them in each."""
    pool, down, norm, act, up, softmax = (f"{prefix}.{n}" for n in names)
    s = ctx.add(SqueezeNode, pool, [total])
    s = ctx.conv(s, down, reduced, kernel=1, groups=cardinality, bias=bias)
    s = ctx.act(ctx.norm(s, norm), act)
    s = ctx.conv(s, up, total.shape[0] * splits, kernel=1, groups=cardinality, bias=bias)
    return ctx.add(RadixSoftmaxNode, softmax, [s], radix=splits, cardinality=cardinality)


def selective_kernel(ctx: Ctx, b: BlockCtx, x: Cursor, name: str, out: int, *, stride: int,
                     groups: int = 1) -> Cursor:
    """Li et al. 2019, as timm builds it: `paths` 3x3 conv + norm + act at dilations 1, 2, ...
    (the paper's larger kernels as dilated 3x3s), each on all of `x` or on its own 1/paths of
    the channels (`split_input`); their sum squeezed through a 1x1 conv + norm + act
    (out / sk_reduction, a multiple of sk_divisor) and a 1x1 conv to one logit per path and
    channel, softmax across the paths; the paths weighed and summed. timm's names under
    `name`: `paths.i.conv`, `paths.i.bn`, `attn.fc_reduce`, `attn.bn`, `attn.fc_select`."""
    paths = b.spec.paths
    part = x.shape[0]
    if b.spec.split_input:
        if part % paths:
            raise GraphError(f"`{b.name}.{name}` splits its {part} input channels among "
                             f"{paths} paths (split_input), and {paths} does not divide {part}",
                             ctx.source(*ctx.block_field(b.stage_index, "paths")),
                             "use split_input: false, or widths that `paths` divides")
        part //= paths
    outs: list[Cursor] = []
    for i in range(paths):
        y = x
        if b.spec.split_input:
            y = ctx.add(ChannelSliceNode, f"{name}.split.{i}", [x], start=i * part,
                        channels=part)
        y = ctx.conv_norm(y, f"{name}.paths.{i}.conv", f"{name}.paths.{i}.bn", out,
                          kernel=3, stride=stride, dilation=b.first_dilation * (i + 1),
                          groups=min(out, groups))
        outs.append(ctx.act(y, f"{name}.paths.{i}.act"))
    total = outs[0]
    for i in range(1, paths):
        total = ctx.add(AddNode, f"{name}.sum.{i}", [total, outs[i]])
    reduced = squeeze_channels(out, b.spec.sk_reduction, b.spec.sk_divisor, round_limit=0.9)
    weights = split_weights(ctx, total, f"{name}.attn",
                            ("pool", "fc_reduce", "bn", "act", "fc_select", "softmax"),
                            reduced, paths, 1, bias=False)
    stacked = ctx.add(ConcatNode, f"{name}.stack", outs)
    return ctx.add(RadixCombineNode, f"{name}.combine", [stacked, weights], radix=paths)


def sk_basic(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """timm's SelectiveKernelBasic: a selective-kernel conv (strided), then a 3x3 conv +
    norm, the addition and the act. Names `conv1.*` (`selective_kernel`), `conv2.conv`,
    `conv2.bn`."""
    y = selective_kernel(ctx, b, x, "conv1", b.width, stride=b.stride)
    y = inner_dropout(ctx, b, y)
    y = ctx.conv_norm(y, "conv2.conv", "conv2.bn", b.out_channels, kernel=3,
                      dilation=b.dilation, zero_init=b.spec.zero_init_last_norm)
    return residual(ctx, b, x, y, inner=b.width, last_act="act")


def sk_bottleneck(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    """timm's SelectiveKernelBottleneck: 1x1 conv + norm + act, a selective-kernel conv
    (strided, `groups` groups per path), 1x1 conv + norm, the addition and the act. Names
    `conv1.conv`, `conv1.bn`, `conv2.*` (`selective_kernel`), `conv3.conv`, `conv3.bn`."""
    inner = bottleneck_width(b.width, b.spec)
    y = ctx.act(ctx.conv_norm(x, "conv1.conv", "conv1.bn", inner, kernel=1), "conv1.act")
    y = selective_kernel(ctx, b, y, "conv2", inner, stride=b.stride, groups=b.spec.groups)
    y = inner_dropout(ctx, b, y)
    y = ctx.conv_norm(y, "conv3.conv", "conv3.bn", b.out_channels, kernel=1,
                      zero_init=b.spec.zero_init_last_norm)
    return residual(ctx, b, x, y, inner=inner, last_act="act")


def residual(ctx: Ctx, b: BlockCtx, x: Cursor, branch: Cursor, *, inner: int,
             preact: Cursor | None = None, last_act: str | None = None,
             middle: Attended | None = None, groups: int | None = None) -> Built:
    """The branch, through its squeeze-and-excitation and drop-path where the block has them,
    plus the shortcut of the block's input (of its pre-activated input, `preact`, for a
    projection of a pre-activation block), then the activation `last_act` if named. `middle`:
    what the builder's attention in the middle of the branch built (`middle_attention`);
    `groups`: its grouped conv's groups where they are not `block.groups`."""
    branch, se = excite.squeeze_excite(ctx, b, branch)
    branch, attended = attend(ctx, b, branch, x, AttentionAt.last_norm)
    branch = excite.drop_path(ctx, b, branch)
    short = shortcut(ctx, b, x, preact)
    out = branch if short.tensor is None else ctx.add(AddNode, "add", [branch, short.tensor])
    if last_act is not None:
        out = ctx.act(out, last_act)
    attended = attended or middle
    if attended is not None:
        se = se or attended.squeeze
    return Built(out, inner, short.produced, se, attended.text if attended else "", groups)


def anti_alias(ctx: Ctx, b: BlockCtx, x: Cursor) -> Cursor:
    """`x` downsampled by 2 through the block's `anti_alias` (`<block>.aa`), if it has one and
    strides by 2; else `x`. Its conv then runs at stride 1 (`conv_stride`). A blur also stays,
    at stride 1, in the first block of a dilated stage (whose stride the dilation took), as
    timm keeps it there: its checkpoints then give its outputs at any `output_stride`."""
    dilated_blur = (b.spec.anti_alias is AntiAlias.blur and b.stride == 1
                    and b.first_dilation != b.dilation)
    if conv_stride(b) == b.stride and not dilated_blur:
        return x
    with ctx.at(loc=ctx.source(*ctx.block_field(b.stage_index, "anti_alias"))):
        return anti_alias_node(ctx, x, b.spec.anti_alias, "aa", b.stride)


def anti_alias_node(ctx: Ctx, x: Cursor, aa: AntiAlias, name: str, stride: int) -> Cursor:
    """`x` through a blur (`aa: blur`) or an average pool over `stride` x `stride` (`avg`) at
    `stride`, named `name`: timm's `aa_layer`, in blocks and in the stem alike."""
    if aa is AntiAlias.blur:
        return ctx.add(BlurPoolNode, name, [x], stride=stride)
    # ceil mode, as `avg_down`: an odd map keeps the size the shortcut gives (timm's
    # floor-mode pool fails there, and agrees everywhere else)
    return ctx.add(PoolNode, name, [x], kind="avg", kernel=stride, stride=stride,
                   ceil_mode=True, count_include_pad=False)


def conv_stride(b: BlockCtx) -> int:
    """The stride of the block's strided conv: 1 where `anti_alias` takes the stride (stride
    2 only, as timm: the blur's padding keeps the conv's output size at stride 2 alone)."""
    return 1 if b.spec.anti_alias is not AntiAlias.none and b.stride == 2 else b.stride


def middle_attention(ctx: Ctx, b: BlockCtx, y: Cursor, x: Cursor
                     ) -> tuple[Cursor, Attended | None]:
    """`y`, the branch after its 3x3 conv's act, gated by the block's `attention` where it sits
    in the middle (`at: middle`, RegNetY), with what it built; `x` is the block's input."""
    return attend(ctx, b, y, x, AttentionAt.middle)


def inner_dropout(ctx: Ctx, b: BlockCtx, x: Cursor) -> Cursor:
    """`x` through the block's `dropout` (`<block>.dropout`), if above 0; else `x`."""
    if b.spec.dropout <= 0:
        return x
    with ctx.at(loc=ctx.source(*ctx.block_field(b.stage_index, "dropout"))):
        return ctx.add(DropoutNode, "dropout", [x], p=b.spec.dropout)


def _norm_act(ctx: Ctx, x: Cursor, n: str, *, zero_init: bool = False) -> Cursor:
    return ctx.act(ctx.norm(x, f"bn{n}", zero_init=zero_init), f"act{n}")


_BOTTLENECK_FIELDS = ("groups", "base_width", "group_width", "bottleneck_ratio")
_PLACED = ("dropout", "anti_alias", "attention")
_SK_FIELDS = ("paths", "split_input", "sk_reduction", "sk_divisor")

BUILTIN_BLOCK_KINDS: dict[str, BlockKind] = {kind.name: kind for kind in (
    BlockKind("basic", basic, "two 3x3", module_class="BasicBlock", family="conv",
              torchvision_acts=True, places=_PLACED),
    BlockKind("bottleneck", bottleneck, "1x1, 3x3, 1x1", expansion=4,
              inner_width=bottleneck_width, fields=_BOTTLENECK_FIELDS,
              module_class="Bottleneck", family="norm", torchvision_acts=True,
              places=_PLACED),
    BlockKind("preact_basic", preact_basic, "the pre-activation form of `basic`",
              preactivates=True, module_class="PreActBasicBlock", family="conv",
              places=("dropout",)),
    BlockKind("preact_bottleneck", preact_bottleneck,
              "the pre-activation form of `bottleneck`", expansion=4,
              inner_width=bottleneck_width, fields=_BOTTLENECK_FIELDS, preactivates=True,
              module_class="PreActBottleneck", family="norm", places=("dropout",)),
    BlockKind("res2net", res2net, "Res2Net's multi-scale bottleneck (`scale` groups)",
              expansion=4, inner_width=res2net_width, fields=("groups", "base_width", "scale"),
              module_class="Bottle2neck", family="norm", places=("dropout",)),
    BlockKind("split_attention", split_attention,
              "ResNeSt's bottleneck: a split-attention 3x3 (`radix` splits)", expansion=4,
              inner_width=bottleneck_width,
              fields=("groups", "base_width", "radix", "avd", "avd_first"),
              module_class="ResNestBottleneck", family="norm", places=("dropout",)),
    BlockKind("sk_basic", sk_basic,
              "a selective-kernel conv (`paths` dilated 3x3s, softmax-weighed), then a 3x3",
              fields=_SK_FIELDS, module_class="SelectiveKernelBasic", family="conv",
              places=("dropout",)),
    BlockKind("sk_bottleneck", sk_bottleneck,
              "1x1, a selective-kernel conv in place of the 3x3, 1x1", expansion=4,
              inner_width=bottleneck_width, fields=("groups", "base_width", *_SK_FIELDS),
              module_class="SelectiveKernelBottleneck", family="norm", places=("dropout",)),
)}
"""The built-in block kinds by name."""

BLOCK_KINDS: Registry[BlockKind] = Registry("resnet_spec.blocks", BUILTIN_BLOCK_KINDS)
"""`block.kind` -> its registration: the built-ins and the installed packages' kinds."""


def width_fields() -> tuple[str, ...]:
    """Every `block` field some kind lists in its `fields`, once each, in order."""
    return tuple(dict.fromkeys(f for kind in BLOCK_KINDS.values() for f in kind.fields))


def block_kind(name: str, loc: Loc | None) -> BlockKind:
    """The registration of the block kind `name`, or an `UnsupportedError` at `loc`."""
    return lookup(BLOCK_KINDS, name, "the block kind", loc)
