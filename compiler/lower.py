"""Lowering: the checked IR into a tree of torch modules, each op by its registration in
`compiler/ops.py`.

The tree is torchvision's (`compiler/tree.py` plans it from the IR's names): the root calls
`conv1, bn1, relu, maxpool, layer1 ... layer4, avgpool, fc`; each `layerN` is an
`nn.Sequential` of blocks; each block is a small `torch.fx.GraphModule` with its own forward
(`print(model.layer1[0].code)`), holding its modules at the IR's names (`conv1`, `downsample`).
A part whose modules simply run one after another (`downsample`, a deep stem's `conv1`) is an
`nn.Sequential`. So the state_dict keys are exactly the IR's parameter and buffer names, and
torchvision's and timm's checkpoints load with `strict=True`; hooks, indexing and replacing a
child (`model.fc = nn.Linear(2048, 10)`) work as on torchvision's model. The generated code is
straight-line and `torch.export`, ONNX and torch-tensorrt take it as it is; nothing walks the
IR at forward time.

Modules are created on the device the caller names, usually `meta`: the caller then either
loads weights with `assign=True` or allocates and initializes each tensor once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from resnet_spec.compiler.tree import Part, plan
from resnet_spec.elaboration.blocks import BLOCK_KINDS
from resnet_spec.ir import Graph

INPUT_NAME = "x"


def zero_pad(x: torch.Tensor, stride: int, extra_channels: int) -> torch.Tensor:
    """The option-A shortcut: keep every `stride`-th pixel, append `extra_channels` zeros."""
    if stride > 1:
        x = x[:, :, ::stride, ::stride]
    # F.pad's tuple runs from the last dim backwards: (W left, W right, H ..., C before, after)
    return F.pad(x, (0, 0, 0, 0, 0, extra_channels))


class DropPath(nn.Module):
    """Stochastic depth: in training, zero each sample's residual branch with probability `p`
    and scale the kept ones by 1/(1-p), so the expected output is unchanged; in eval, nothing."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BlurPool(nn.Module):
    """Anti-aliased downsampling: a depthwise 3x3 binomial blur of the reflect-padded map,
    sampled every `stride` pixels. The filter is made from the input's dtype and device at each
    call (nine numbers), so the module holds no tensor: it is never left behind on the meta
    device by a build that assigns loaded weights, and checkpoints have no entry for it, as
    timm's (a non-persistent buffer) have none."""

    def __init__(self, stride: int, padding: int) -> None:
        super().__init__()
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = x.new_tensor([0.25, 0.5, 0.25])
        kernel = (taps[:, None] * taps[None, :]).expand(x.shape[1], 1, 3, 3)
        padded = nn.functional.pad(x, [self.padding] * 4, mode="reflect")
        return nn.functional.conv2d(padded, kernel, stride=self.stride, groups=x.shape[1])

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


class ChannelConv(nn.Module):
    """ECA's conv across channels: (N, C, 1, 1) read as N sequences of C values, one bias-free
    kernel of odd size, zero-padded to keep C. Its weight is (1, 1, k), torch's Conv1d layout,
    so timm's `se.conv.weight` loads as it is."""

    def __init__(self, kernel: int, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, 1, kernel, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.weight.shape[-1]
        y = nn.functional.conv1d(x.flatten(1).unsqueeze(1), self.weight,
                                 padding=(kernel - 1) // 2)
        return y.view_as(x)

    def extra_repr(self) -> str:
        return f"kernel={self.weight.shape[-1]}"


class SameAvgPool(nn.Module):
    """A stride-1 average pool that keeps the size: the map zero-padded by kernel - 1, the
    larger half at its end (right and bottom), the zeros counted in the average. timm's
    `AvgPool2dSame` at stride 1, where the avg-down shortcut of a dilated stage uses it."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        before = (self.kernel - 1) // 2
        after = self.kernel - 1 - before
        padded = nn.functional.pad(x, [before, after, before, after])
        return nn.functional.avg_pool2d(padded, self.kernel, 1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel}, stride=1, same"


def radix_softmax(logits: torch.Tensor, radix: int, cardinality: int) -> torch.Tensor:
    """Split attention's weights: (N, radix × C, 1, 1) logits laid out group-major (as the
    grouped conv gives them) to softmax weights across the splits, laid out split-major."""
    if radix == 1:
        return torch.sigmoid(logits)
    batch = logits.shape[0]
    grouped = logits.reshape(batch, cardinality, radix, -1).transpose(1, 2)
    return torch.softmax(grouped, dim=1).reshape(batch, -1, 1, 1)


def radix_combine(x: torch.Tensor, weights: torch.Tensor, radix: int) -> torch.Tensor:
    """The `radix` splits of `x` (N, radix × C, H, W) weighted and summed: (N, C, H, W)."""
    batch, channels, height, width = x.shape
    splits = x.reshape(batch, radix, channels // radix, height, width)
    return (splits * weights.reshape(batch, radix, channels // radix, 1, 1)).sum(dim=1)


def gate(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Squeeze-and-excitation's excitation: `x` scaled per channel by the sigmoid of `logits`."""
    return x * torch.sigmoid(logits)


class PartModule(fx.GraphModule):
    """A GraphModule that prints as torchvision's modules do (the tree, without the code:
    that is `.code`) and keeps its class name (`Bottleneck`) through `copy.deepcopy`, which
    EMA and fine-tuning code use."""

    def __str__(self) -> str:
        return nn.Module.__repr__(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> PartModule:
        copied = super().__deepcopy__(memo)
        type(copied).__name__ = type(self).__name__
        return copied


class Stage(nn.Sequential):
    """A residual stage: an `nn.Sequential` of blocks (printed as one) that, once
    `grad_checkpointing` is set (`model.set_grad_checkpointing()`), runs each block under
    `torch.utils.checkpoint` while training with gradients, keeping only block inputs for the
    backward pass. A batch norm inside then updates its running statistics twice per step, as
    under timm's checkpointing."""

    grad_checkpointing: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            for block in self:
                x = checkpoint(block, x, use_reentrant=False)
            return x
        return super().forward(x)

    def _get_name(self) -> str:
        return "Sequential"


class _SharedCodeGraph(fx.Graph):
    """An fx graph whose generated Python is shared with every graph of the same nodes: a
    ResNet repeats one block dozens of times (ResNet-1202: 600), and generating its code
    again for each was most of the time lowering took."""

    def python_code(self, root_module: str, **options: Any) -> Any:
        key = (root_module, tuple(sorted(options.items(), key=lambda item: item[0])),
               _structure(self))
        code = _GENERATED.get(key)
        if code is None:
            code = super().python_code(root_module, **options)
            if len(_GENERATED) >= _GENERATED_KEPT:
                _GENERATED.pop(next(iter(_GENERATED)))
            _GENERATED[key] = code
        return code


_GENERATED: dict[Any, Any] = {}
_GENERATED_KEPT = 256
"""How many distinct graphs' code is kept (oldest dropped first): a network has a few."""


def _structure(graph: fx.Graph) -> tuple[Any, ...]:
    """What the generated code depends on: each node's kind, name, target and arguments."""
    def plain(value: Any) -> Any:
        if isinstance(value, fx.Node):
            return ("node", value.name)
        if isinstance(value, (tuple, list)):
            return (type(value).__name__, *map(plain, value))
        if isinstance(value, dict):
            return ("dict", *((k, plain(v)) for k, v in value.items()))
        return value

    return tuple((n.op, n.name, n.target, plain(n.args), plain(n.kwargs), n.type)
                 for n in graph.nodes)


@dataclass
class Lowering:
    """One part being written: its fx graph, the modules it calls, the value of each IR node."""

    ir: Graph
    part: Part
    graph: fx.Graph
    factory: dict[str, Any]
    """`device=` and `dtype=` for every module created."""
    modules: dict[str, nn.Module] = field(default_factory=dict)
    """The part's modules by their path below it, in the order the graph calls them."""
    renamed: dict[str, str] = field(default_factory=dict)
    """IR node name -> module path, where the module is not named after the node
    (`TORCHVISION_ACTS`)."""
    values: dict[str, fx.Node] = field(default_factory=dict)

    def call(self, op: str, target: Any, args: tuple[Any, ...], name: str,
             kwargs: dict[str, Any] | None = None) -> fx.Node:
        # fx turns the dotted name into a valid identifier for the generated code
        local = self.part.local(name).replace(".", "_")
        return self.graph.create_node(op, target, args, kwargs or {}, name=local)

    def owns_input(self, node: Any) -> bool:
        """Whether `node` may overwrite its one input: nothing else reads it, the caller did
        not pass it in, and it is no output of the model."""
        source = node.inputs[0]
        return (self.ir.users(source) == [node.name] and source != self.part.input
                and source not in self.ir.outputs.values()
                and self.ir.node(source).op != "input")

    def module(self, name: str, module: nn.Module, args: tuple[Any, ...]) -> fx.Node:
        path = self.renamed.get(name) or self.part.local(name)
        if not self.part.path and "." in path and _holds_no_state(module):
            # torchvision's names for the parameter-free modules at the top, which the IR
            # groups under `stem.` and `head.` (the op class says which: `relu`, `maxpool`)
            root = self.ir.node(name).root_module() if name in self.ir.nx else None
            path = root or path.replace(".", "_")
        if path in self.modules:
            raise ValueError(f"two modules of {self.part.path or 'the model'} named {path!r}")
        self.modules[path] = module
        return self.graph.create_node("call_module", path, args, {},
                                      name=path.replace(".", "_"))


def _holds_no_state(module: nn.Module) -> bool:
    return next(module.parameters(), None) is None and next(module.buffers(), None) is None


def lower(graph: Graph, *, device: Any = "meta", dtype: torch.dtype | None = None
          ) -> fx.GraphModule:
    """The IR as a tree of modules whose parameters sit at the IR's parameter names.

    The forward takes one batch `x` and returns the IR's one output as a tensor, or a dict of
    tensors keyed by output name where the IR says so (`graph.output_dict`: a backbone's
    `features`). Parameters are created on `device` (default `meta`: nothing allocated) and are
    NOT initialized: see `resnet_spec.compiler.init`.
    """
    factory = {"device": device, "dtype": dtype}
    blocks = {b.name: b for b in graph.blocks}
    lo = Lowering(graph, plan(graph), _SharedCodeGraph(), factory)
    _lower_items(lo, blocks)
    outputs = {name: lo.values[node] for name, node in graph.outputs.items()}
    lo.graph.output(outputs if graph.output_dict else next(iter(outputs.values())))
    lo.graph.lint()
    from resnet_spec.compiler.model_api import Network, describe

    root = Network(_nest(lo.modules), lo.graph, class_name=_class_name(graph.name))
    root.meta[Network.FACTS] = describe(graph, {ir: node.name for ir, node in lo.values.items()})
    return root


def _lower_items(lo: Lowering, blocks: dict[str, Any]) -> None:
    """Append each node and nested part of `lo.part` to its graph, in order."""
    # the registrations import this module's runtime functions (`zero_pad`, `gate`), whose
    # module path the generated code names, so they are looked up here rather than at the top
    from resnet_spec.compiler.ops import BACKENDS

    for item in lo.part.items:
        if isinstance(item, Part):
            child = _lower_part(lo.ir, item, lo.factory, blocks)
            entry = lo.values[item.input]
            lo.values[item.output] = lo.module(item.path, child, (entry,))
        else:
            args = [lo.values[name] for name in item.inputs]
            lo.values[item.name] = BACKENDS[item.op].lower(item, args, lo)


def _lower_part(graph: Graph, part: Part, factory: dict[str, Any], blocks: dict[str, Any]
                ) -> nn.Module:
    """One part as its own module: an `nn.Sequential` when its modules just run in turn (a
    `Stage` for a stage)."""
    lo = Lowering(graph, part, _SharedCodeGraph(), factory,
                  renamed=torchvision_acts(graph, blocks.get(part.path)))
    lo.values[part.input] = lo.graph.placeholder(INPUT_NAME)
    _lower_items(lo, blocks)
    lo.graph.output(lo.values[part.output])
    lo.graph.lint()
    if _is_chain(lo.graph) and all(path.isdigit() for path in lo.modules):
        stage = any(s.name == part.path and s.kind == "stage" for s in graph.stages)
        return (Stage if stage else nn.Sequential)(OrderedDict(lo.modules))
    return PartModule(_nest(lo.modules), lo.graph, class_name=_part_class(part, blocks))


def _is_chain(graph: fx.Graph) -> bool:
    """Whether the graph is x -> module -> module ... -> output, each call taking the last."""
    previous: fx.Node | None = None
    for node in graph.nodes:
        if node.op == "placeholder":
            previous = node
        elif node.op == "call_module":
            if node.args != (previous,) or node.kwargs:
                return False
            previous = node
        elif node.op == "output":
            return node.args == (previous,)
        else:
            return False
    return False


TORCHVISION_ACTS = ("relu", "relu_1", "relu_2")
"""What a block of torchvision's layout calls its activations, in the order it runs them:
torchvision calls one shared `relu` module two or three times, which fx names `relu`,
`relu_1`, `relu_2` (`create_feature_extractor(model, {"layer4.2.relu_2": ...})`); here each is
its own module under that name, so a hook on one still fires once per call."""


def torchvision_acts(graph: Graph, block: Any) -> dict[str, str]:
    """IR act name -> torchvision's name, for a block of torchvision's layout (its kind's
    registration says `torchvision_acts`; ReLU; no squeeze-and-excitation); empty for any other
    (which keeps the IR's names, timm's `act1`, `act2`, `act3`)."""
    if block is None or not BLOCK_KINDS[block.kind].torchvision_acts or block.se:
        return {}
    acts = [graph.node(n) for n in block.nodes if graph.node(n).op == "act"
            and graph.node(n).scope.block == block.name]
    if len(acts) > len(TORCHVISION_ACTS) or any(a.kind.value != "relu" for a in acts):
        return {}
    return {act.name: new for act, new in zip(acts, TORCHVISION_ACTS, strict=False)}


_PART_CLASSES = {"se": "SqueezeExcite", "downsample": "Downsample"}


def _part_class(part: Part, blocks: dict[str, Any]) -> str:
    """What `print(model)` calls a part: torchvision's block names, else what it is."""
    if part.path in blocks:
        kind = blocks[part.path].kind
        return BLOCK_KINDS[kind].module_class or _class_name(kind.title())
    atom = part.path.rsplit(".", 1)[-1]
    return _PART_CLASSES.get(atom, _class_name(atom.title()))


def _nest(modules: dict[str, nn.Module]) -> nn.Module:
    """One root holding each module at its dotted path, containers created in graph order.

    (Given the flat dict, GraphModule would register shallow paths first, putting `fc` before
    `layer1` in the state_dict; torchvision's order is the graph's.)
    """
    root = nn.Module()
    for path, module in modules.items():
        parent = root
        *outer, leaf = path.split(".")
        for atom in outer:
            if not hasattr(parent, atom):
                parent.add_module(atom, nn.Module())
            parent = getattr(parent, atom)
        parent.add_module(leaf, module)
    return root


def _class_name(name: str) -> str:
    """A Python identifier from a spec name (`resnet50`, `my-net.v2` -> `my_net_v2`)."""
    return "".join(c if c.isalnum() else "_" for c in name) or "Model"
