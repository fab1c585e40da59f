"""The built-in IR ops, one class each with every rule the front end needs (see `ir/op.py` for
the contract): shape, checkpoint entries, checks, cost, label, drawing family and flags."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from resnet_spec.ir.findings import Finding
from resnet_spec.ir.graph import OMIT_DEFAULT
from resnet_spec.ir.op import Op, Shape, dims, spatial
from resnet_spec.spec.schema import Activation, GlobalPool, NormKind, Shortcut

if TYPE_CHECKING:
    from resnet_spec.ir.graph import Graph


class InputNode(Op):
    op: Literal["input"] = "input"
    takes_map: ClassVar[bool] = False
    family: ClassVar[str] = "io"
    stores_output: ClassVar[bool] = False

    def infer(self, inputs: list[Shape]) -> Shape:
        return self.shape

    def label(self) -> str:
        return "input"


class ConvNode(Op):
    op: Literal["conv"] = "conv"
    can_shrink: ClassVar[bool] = True
    family: ClassVar[str] = "conv"
    brief: ClassVar[bool] = True
    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    bias: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        _, h, w = inputs[0]
        size = (self.kernel, self.stride, self.padding, self.dilation, False)
        return (self.out_channels, spatial(h, *size), spatial(w, *size))

    def params(self) -> dict[str, Shape]:
        weight = (self.out_channels, self.in_channels // self.groups, self.kernel, self.kernel)
        out = {f"{self.name}.weight": weight}
        if self.bias:
            out[f"{self.name}.bias"] = (self.out_channels,)
        return out

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        channels = inputs[0][0]
        found = []
        if channels != self.in_channels:
            found.append(self.error(f"`{self.name}` expects {self.in_channels} input channels, "
                                    f"its producer gives {channels}", "", "conv_channels"))
        for what, value in (("input", self.in_channels), ("output", self.out_channels)):
            if value % self.groups:
                found.append(self.error(f"groups={self.groups} does not divide the {value} "
                                        f"{what} channels of `{self.name}`",
                                        f"choose `groups` dividing {value}", "conv_groups"))
        return found

    def macs(self) -> int:
        # every output element is one dot product over a (in/groups) x k x k window
        return math.prod(self.shape) * (self.in_channels // self.groups) * self.kernel**2

    def window(self) -> tuple[int, int]:
        return self.dilation * (self.kernel - 1) + 1, self.stride

    def label(self) -> str:
        extras = [f"/{self.stride}" if self.stride > 1 else "",
                  f"g{self.groups}" if self.groups > 1 else "",
                  f"dil {self.dilation}" if self.dilation > 1 else "",
                  "+bias" if self.bias else ""]
        text = " ".join([f"conv {self.kernel}×{self.kernel}", *filter(None, extras)])
        return f"{text}, {self.out_channels}"


class NormNode(Op):
    op: Literal["norm"] = "norm"
    family: ClassVar[str] = "norm"
    kind: NormKind
    channels: int
    eps: float = 1e-5
    momentum: float = 0.1
    groups: int = 32
    zero_init: bool = False
    """Initialize the scale at zero (the last norm of a branch with `zero_init_last_norm`)."""

    def params(self) -> dict[str, Shape]:
        return {f"{self.name}.weight": (self.channels,), f"{self.name}.bias": (self.channels,)}

    def buffers(self) -> dict[str, Shape]:
        if self.kind is not NormKind.batch:
            return {}
        return {
            f"{self.name}.running_mean": (self.channels,),
            f"{self.name}.running_var": (self.channels,),
            f"{self.name}.num_batches_tracked": (),
        }

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        channels = inputs[0][0]
        if channels != self.channels:
            return [self.error(f"`{self.name}` normalizes {self.channels} channels, "
                               f"gets {channels}", "", "norm_channels")]
        if self.kind is NormKind.group and channels % self.groups:
            fitting = [g for g in (1, 2, 4, 8, 16, 32)
                       if channels % g == 0 and g <= self.groups]
            return [self.error(f"group norm with {self.groups} groups cannot split {channels} "
                               f"channels (`{self.name}`)",
                               f"set `norm.groups` to a divisor of every width, e.g. "
                               f"{fitting[-1]}", "norm_groups")]
        _, h, w = inputs[0]
        if self.kind is NormKind.group and channels // self.groups * h * w < 2:
            # torch refuses to normalize a single value
            return [self.error(f"group norm `{self.name}` would normalize groups of one value "
                               f"({channels} channels in {self.groups} groups on a {h}×{w} "
                               "map)", "fewer `norm.groups`, a larger `input`, or "
                               "`norm: batch`", "norm_single")]
        return []

    def label(self) -> str:
        text = f"{self.kind.value}norm"
        if self.kind is NormKind.group:
            text += f" g{self.groups}"
        return text + (" (zero init)" if self.zero_init else "")


class ActNode(Op):
    op: Literal["act"] = "act"
    family: ClassVar[str] = "act"
    kind: Activation

    def label(self) -> str:
        return self.kind.value

    def root_module(self) -> str | None:
        return "relu" if self.name == "stem.act" and self.kind is Activation.relu else None


class PoolNode(Op):
    """A windowed max or average pool (the stem's 3x3/2)."""

    op: Literal["pool"] = "pool"
    can_shrink: ClassVar[bool] = True
    family: ClassVar[str] = "pool"
    brief: ClassVar[bool] = True
    kind: Literal["max", "avg"]
    kernel: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    same: bool = Field(False, json_schema_extra=OMIT_DEFAULT)
    """At stride 1, the map zero-padded by kernel - 1 first, the larger half at its end (right
    and bottom), the zeros counted: the size kept, as timm's `AvgPool2dSame` in the avg-down
    shortcut of a dilated stage."""

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        if self.same:
            return (c, h, w)
        size = (self.kernel, self.stride, self.padding, 1, self.ceil_mode)
        return (c, spatial(h, *size), spatial(w, *size))

    def window(self) -> tuple[int, int]:
        return self.kernel, self.stride

    def label(self) -> str:
        text = f"{self.kind}pool {self.kernel}×{self.kernel} /{self.stride}"
        return text + (" ceil" if self.ceil_mode else "") + (" same" if self.same else "")

    def root_module(self) -> str | None:
        return "maxpool" if self.name == "stem.pool" and self.kind == "max" else None


class GlobalPoolNode(Op):
    """Global pooling over height and width, then flattening: (C, H, W) -> (C,)."""

    op: Literal["global_pool"] = "global_pool"
    family: ClassVar[str] = "pool"
    brief: ClassVar[bool] = True
    kind: GlobalPool

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0],)

    # no window: a global one would only say "the whole image", so the head reports the
    # last map's receptive field

    def label(self) -> str:
        return f"global {self.kind.value}pool"

    def root_module(self) -> str | None:
        return "avgpool" if self.name == "head.pool" and self.kind is GlobalPool.avg else None


class ZeroPadNode(Op):
    """The paper's option A shortcut: subsample by `stride`, append zero channels."""

    op: Literal["zero_pad"] = "zero_pad"
    can_shrink: ClassVar[bool] = True
    family: ClassVar[str] = "shortcut"
    brief: ClassVar[bool] = True
    stride: int
    in_channels: int
    out_channels: int

    def infer(self, inputs: list[Shape]) -> Shape:
        _, h, w = inputs[0]
        return (self.out_channels, -(-h // self.stride), -(-w // self.stride))

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        channels = inputs[0][0]
        if self.out_channels >= channels:
            return []
        return [self.error(f"zero-padding shortcut cannot shrink {channels} channels to "
                           f"{self.out_channels}", "use shortcut: projection", "zero_pad")]

    def window(self) -> tuple[int, int]:
        return 1, self.stride

    def label(self) -> str:
        return f"subsample /{self.stride}, zero-pad to {self.out_channels}"


class AddNode(Op):
    """The residual addition: branch + shortcut. Its shape is the first input's."""

    op: Literal["add"] = "add"
    family: ClassVar[str] = "merge"

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        branch, shortcut = inputs
        if branch == shortcut:
            return []
        block = graph.block(self.scope.block) if self.scope.block else None
        policy = block.policy.value if block else "identity"
        return [self.error(
            f"block {self.scope.block}: shortcut `{policy}` cannot add {dims(shortcut)} to the "
            f"branch's {dims(branch)}",
            "policies that fit here: " + ", ".join(_fitting_policies(shortcut, branch)),
            "add_shapes",
        )]

    def label(self) -> str:
        return "+"


def _fitting_policies(before: Shape, after: Shape) -> list[str]:
    fits = []
    if after[0] >= before[0]:
        fits.append(Shortcut.zero_pad.value)
    fits += [Shortcut.projection.value, Shortcut.projection_all.value, Shortcut.avg_down.value,
             Shortcut.none.value]
    return fits


class DropoutNode(Op):
    op: Literal["dropout"] = "dropout"
    takes_map: ClassVar[bool] = False
    family: ClassVar[str] = "regularize"
    brief: ClassVar[bool] = True
    training_only: ClassVar[bool] = True
    p: float

    def label(self) -> str:
        return f"dropout {self.p:g}"

    def root_module(self) -> str | None:
        return "dropout" if self.name == "head.dropout" else None


class LinearNode(Op):
    op: Literal["linear"] = "linear"
    takes_map: ClassVar[bool] = False
    family: ClassVar[str] = "head"
    brief: ClassVar[bool] = True
    in_features: int
    out_features: int
    bias: bool = True

    def infer(self, inputs: list[Shape]) -> Shape:
        return (self.out_features,)

    def params(self) -> dict[str, Shape]:
        out = {f"{self.name}.weight": (self.out_features, self.in_features)}
        if self.bias:
            out[f"{self.name}.bias"] = (self.out_features,)
        return out

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        got = inputs[0][0]
        if got == self.in_features:
            return []
        return [self.error(f"`{self.name}` expects {self.in_features} features, gets {got}", "",
                           "linear_features")]

    def macs(self) -> int:
        return self.in_features * self.out_features

    def label(self) -> str:
        return f"fc {self.in_features}→{self.out_features}"


class SqueezeNode(Op):
    """Global average over height and width keeping a 1×1 map: (C, H, W) -> (C, 1, 1), the
    squeeze of squeeze-and-excitation."""

    op: Literal["squeeze"] = "squeeze"
    family: ClassVar[str] = "pool"

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0], 1, 1)

    # no window, as the global pool: the gate's values, not "the whole image"

    def label(self) -> str:
        return "squeeze: global avg, 1×1"


class GateNode(Op):
    """Excitation: the first input times the sigmoid of the second, a C×1×1 map broadcast over
    height and width. Its shape is the first input's."""

    op: Literal["gate"] = "gate"
    family: ClassVar[str] = "merge"

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        (c, _, _), gate = inputs
        if gate == (c, 1, 1):
            return []
        return [self.error(f"`{self.name}` gates a {dims(inputs[0])} map with a {dims(gate)} "
                           f"gate; it needs {c}×1×1", "", "gate_shape")]

    def label(self) -> str:
        return "× sigmoid(gate)"


class DropPathNode(Op):
    """Stochastic depth on a residual branch: in training, each sample's branch is zeroed with
    probability `p` and the survivors scaled by 1/(1-p); an identity in eval."""

    op: Literal["drop_path"] = "drop_path"
    family: ClassVar[str] = "regularize"
    training_only: ClassVar[bool] = True
    p: float

    def label(self) -> str:
        return f"drop path {self.p:.3g}"


class BlurPoolNode(Op):
    """Anti-aliased downsampling (Zhang 2019, timm's `BlurPool2d`): each channel blurred by the
    fixed 3×3 binomial filter [1, 2, 1] ⊗ [1, 2, 1] / 16 over a reflect-padded map, sampled
    every `stride` pixels. The filter is a constant, not a parameter or a checkpoint entry."""

    op: Literal["blur_pool"] = "blur_pool"
    can_shrink: ClassVar[bool] = True
    family: ClassVar[str] = "pool"
    brief: ClassVar[bool] = True
    stride: int
    kernel: ClassVar[int] = 3

    @property
    def padding(self) -> int:
        """timm's `get_padding(3, stride)`: the map keeps ceil(size / stride) at stride 1, 2."""
        return (self.stride - 1 + self.kernel - 1) // 2

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        size = (self.kernel, self.stride, self.padding, 1, False)
        return (c, spatial(h, *size), spatial(w, *size))

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        _, h, w = inputs[0]
        if min(h, w) > self.padding:
            return []
        return [self.error(f"`{self.name}` reflect-pads its {h}×{w} input by {self.padding}, "
                           "which needs a map larger than the padding",
                           "use a larger `input` or fewer strides before it", "empty_map")]

    def macs(self) -> int:
        # a depthwise 3x3 conv: one 9-tap dot product per output element
        return math.prod(self.shape) * self.kernel**2

    def window(self) -> tuple[int, int]:
        return self.kernel, self.stride

    def label(self) -> str:
        return f"blur 3×3 /{self.stride}"


class ChannelConvNode(Op):
    """ECA's conv across the channels (Wang et al. 2020): a squeezed C×1×1 map read as one
    sequence of C values, convolved by one bias-free kernel of odd size `kernel` (zero-padded
    to keep C), back to C×1×1. Checkpoint entry `<name>.weight`, (1, 1, kernel), as torch's
    Conv1d(1, 1, kernel) that timm's `EcaModule` uses."""

    op: Literal["channel_conv"] = "channel_conv"
    takes_map: ClassVar[bool] = False
    family: ClassVar[str] = "conv"
    kernel: int

    def infer(self, inputs: list[Shape]) -> Shape:
        return inputs[0]

    def params(self) -> dict[str, Shape]:
        return {f"{self.name}.weight": (1, 1, self.kernel)}

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        if tuple(inputs[0][1:]) == (1, 1):
            return []
        return [self.error(f"`{self.name}` convolves across the channels of a squeezed "
                           f"C×1×1 map; its producer gives {dims(inputs[0])}", "",
                           "gate_shape")]

    def macs(self) -> int:
        return self.shape[0] * self.kernel

    def label(self) -> str:
        return f"conv1d k{self.kernel} over channels"


class ChannelSliceNode(Op):
    """Channels `start` to `start + channels` of a map (Res2Net's split of its 1x1 conv's
    output into `scale` groups): a view, no arithmetic."""

    op: Literal["channel_slice"] = "channel_slice"
    family: ClassVar[str] = "shortcut"
    stores_output: ClassVar[bool] = False
    start: int
    channels: int

    def infer(self, inputs: list[Shape]) -> Shape:
        return (self.channels, *inputs[0][1:])

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        if self.start + self.channels <= inputs[0][0]:
            return []
        return [self.error(f"`{self.name}` takes channels {self.start} to "
                           f"{self.start + self.channels} of a {dims(inputs[0])} map", "",
                           "slice_range")]

    def label(self) -> str:
        return f"channels {self.start}:{self.start + self.channels}"


class ConcatNode(Op):
    """Its inputs joined along the channels, in order (Res2Net's scales back into one map)."""

    op: Literal["concat"] = "concat"
    family: ClassVar[str] = "merge"

    def infer(self, inputs: list[Shape]) -> Shape:
        return (sum(shape[0] for shape in inputs), *inputs[0][1:])

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        sizes = {tuple(shape[1:]) for shape in inputs}
        if len(sizes) == 1:
            return []
        return [self.error(f"`{self.name}` joins maps of different sizes: "
                           + ", ".join(dims(shape) for shape in inputs), "", "concat_sizes")]

    def label(self) -> str:
        return "concat"


class RadixSoftmaxNode(Op):
    """Split attention's weights (ResNeSt, Zhang et al. 2020): the logits of `radix` splits of
    each of `cardinality` groups, softmax across the splits (a sigmoid for one split). Shape
    kept: (radix × C, 1, 1), split-major."""

    op: Literal["radix_softmax"] = "radix_softmax"
    family: ClassVar[str] = "merge"
    radix: int
    cardinality: int

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        c = inputs[0][0]
        if tuple(inputs[0][1:]) == (1, 1) and c % (self.radix * self.cardinality) == 0:
            return []
        return [self.error(f"`{self.name}` splits a {dims(inputs[0])} map into {self.radix} × "
                           f"{self.cardinality} groups of logits", "", "gate_shape")]

    def label(self) -> str:
        return f"softmax over {self.radix} splits" if self.radix > 1 else "sigmoid"


class RadixCombineNode(Op):
    """The splits of a (radix × C, H, W) map weighted by their (radix × C, 1, 1) weights and
    summed: (C, H, W)."""

    op: Literal["radix_combine"] = "radix_combine"
    family: ClassVar[str] = "merge"
    radix: int

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        return (c // self.radix, h, w)

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        (c, _, _), weights = inputs
        if c % self.radix == 0 and weights == (c, 1, 1):
            return []
        return [self.error(f"`{self.name}` weighs {self.radix} splits of a {dims(inputs[0])} "
                           f"map by a {dims(weights)} map", "", "gate_shape")]

    def label(self) -> str:
        return f"Σ of {self.radix} splits × weights"


BUILTIN_OPS: tuple[type[Op], ...] = (
    InputNode,
    ConvNode,
    NormNode,
    ActNode,
    PoolNode,
    GlobalPoolNode,
    ZeroPadNode,
    AddNode,
    DropoutNode,
    LinearNode,
    SqueezeNode,
    GateNode,
    DropPathNode,
    BlurPoolNode,
    ChannelConvNode,
    ChannelSliceNode,
    ConcatNode,
    RadixSoftmaxNode,
    RadixCombineNode,
)
"""Every built-in op: a new one is a class here (or a plugin's) and its compiler
registration."""
