"""Fold each eval-mode batch norm into its conv inside an `ExportedProgram`, without re-tracing.

The deployment converters (`torch.onnx.export`, OpenVINO, torch-tensorrt) fold `conv -> norm`
themselves, but only after their own retrace of the whole program, whose time grows with the
number of nodes and weights: on ResNet-50 the 53 norms are half the nodes and most of the 320
weight inputs. Folding them first, by rewriting the graph and its weights, halves that retrace
and leaves the converters a program that computes the same thing (to float32 rounding; the
arithmetic is `fold_norm_into_conv`'s, in float64).

A pair is folded when the conv's output feeds only the norm, the norm is an inference-mode batch
norm with running statistics and an affine bias, and the conv's weight and the norm's bias are
weights of this program used nowhere else. The folded conv reuses those two inputs (same names,
new values), so the program's inputs only shrink; the norm's other weights and the conv's old
bias are dropped once nothing reads them. Anything else is left as it is.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx
from torch.export import ExportedProgram
from torch.export.graph_signature import ExportGraphSignature, InputKind

from resnet_spec.compiler.passes.fold_norm import fold_norm_into_conv

_aten = torch.ops.aten
_WEIGHT_KINDS = (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR)


@dataclass(frozen=True)
class _Norm:
    """An inference-mode batch norm call, whatever op the exporter spelled it with."""

    node: fx.Node
    """What the conv's users are moved to: the norm call, or the `getitem` of its result."""
    calls: tuple[fx.Node, ...]
    """Every node the fold erases (the norm call and, for the tuple form, its getitem)."""
    source: Any
    weight: Any
    bias: Any
    mean: Any
    var: Any
    eps: float


@dataclass(frozen=True)
class _Conv:
    node: fx.Node
    weight: Any
    bias: Any
    bias_index: int


def _as_norm(node: fx.Node) -> _Norm | None:
    if node.op != "call_function":
        return None
    if node.target is _aten.batch_norm.default:
        source, weight, bias, mean, var, training, _momentum, eps = node.args[:8]
        return None if training else _Norm(node, (node,), source, weight, bias, mean, var, eps)
    if node.target is _aten._native_batch_norm_legit_no_training.default:
        # returns (out, mean, rstd): foldable when only the output is read
        users = list(node.users)
        if len(users) != 1 or users[0].target is not operator.getitem or users[0].args[1] != 0:
            return None
        source, weight, bias, mean, var, _momentum, eps = node.args[:7]
        return _Norm(users[0], (users[0], node), source, weight, bias, mean, var, eps)
    return None


def _as_conv(node: Any) -> _Conv | None:
    if not isinstance(node, fx.Node) or node.op != "call_function":
        return None
    args = node.args
    if node.target is _aten.conv2d.default:
        return _Conv(node, args[1], args[2] if len(args) > 2 else None, 2)
    if node.target is _aten.convolution.default and not args[6]:  # not transposed
        return _Conv(node, args[1], args[2], 2)
    return None


def fold_norms(program: ExportedProgram) -> ExportedProgram:
    """A new program that computes what `program` does with each `conv -> batch norm` pair as
    one conv and without the weights nothing reads; `program` is not changed. Returns
    `program` itself when there is nothing to fold or drop."""
    module = copy.deepcopy(program.graph_module)
    graph = module.graph
    specs = {spec.arg.name: spec for spec in program.graph_signature.input_specs
             if spec.kind in _WEIGHT_KINDS and hasattr(spec.arg, "name")}
    values = {name: _value(program, spec) for name, spec in specs.items()}
    new_values: dict[str, torch.Tensor] = {}

    def weight_of(arg: Any) -> torch.Tensor | None:
        """The tensor behind a placeholder that is one of the program's weights."""
        if isinstance(arg, fx.Node) and arg.op == "placeholder" and arg.name in values:
            return new_values.get(arg.name, values[arg.name])
        return None

    folded = 0
    for node in list(graph.nodes):
        norm = _as_norm(node)
        conv = _as_conv(norm.source) if norm is not None else None
        if norm is None or conv is None or len(conv.node.users) != 1:
            continue
        weight, bias = weight_of(conv.weight), weight_of(norm.bias)
        mean, var = weight_of(norm.mean), weight_of(norm.var)
        gamma = weight_of(norm.weight) if norm.weight is not None else None
        conv_bias = weight_of(conv.bias) if conv.bias is not None else None
        if (weight is None or bias is None or mean is None or var is None
                or (norm.weight is not None and gamma is None)
                or (conv.bias is not None and conv_bias is None)
                or len(conv.weight.users) != 1 or len(norm.bias.users) != 1):
            continue
        new_weight, new_bias = fold_norm_into_conv(weight, conv_bias, mean, var, float(norm.eps),
                                                   gamma, bias)
        new_values[conv.weight.name] = new_weight
        new_values[norm.bias.name] = new_bias
        args = list(conv.node.args)
        while len(args) <= conv.bias_index:
            args.append(None)
        old_bias = args[conv.bias_index]
        args[conv.bias_index] = norm.bias
        conv.node.args = tuple(args)
        norm.node.replace_all_uses_with(conv.node)
        for call in norm.calls:
            graph.erase_node(call)
        for dropped in (norm.weight, norm.mean, norm.var, old_bias):
            if isinstance(dropped, fx.Node) and dropped.op == "placeholder" and not dropped.users:
                graph.erase_node(dropped)
        folded += 1
    # weights nothing reads (a norm's `num_batches_tracked`) would still be traced as inputs;
    # a buffer the program writes back is kept whatever reads it
    written = {spec.target for spec in program.graph_signature.output_specs if spec.target}
    unused = [node for node in graph.nodes
              if node.op == "placeholder" and node.name in specs and not node.users
              and specs[node.name].target not in written]
    for node in unused:
        graph.erase_node(node)
    if not folded and not unused:
        return program
    graph.lint()
    module.recompile()
    return _rebuilt(program, module, new_values)


def _value(program: ExportedProgram, spec: Any) -> torch.Tensor:
    if spec.kind is InputKind.CONSTANT_TENSOR or (spec.kind is InputKind.BUFFER
                                                  and spec.persistent is False):
        return program.constants[spec.target]
    return program.state_dict[spec.target]


def _rebuilt(program: ExportedProgram, module: fx.GraphModule,
             new_values: dict[str, torch.Tensor]) -> ExportedProgram:
    """`program` with `module`'s graph: input specs of erased placeholders dropped, the
    rewritten weights stored under their old names."""
    kept = {node.name for node in module.graph.nodes if node.op == "placeholder"}
    input_specs, state_dict = [], dict(program.state_dict)
    constants = dict(program.constants)
    for spec in program.graph_signature.input_specs:
        name = getattr(spec.arg, "name", None)
        if name is not None and name not in kept:
            state_dict.pop(spec.target, None)
            constants.pop(spec.target, None)
            continue
        input_specs.append(spec)
        if name in new_values:
            value = new_values[name]
            if spec.target in program.state_dict:
                is_parameter = isinstance(program.state_dict[spec.target], torch.nn.Parameter)
                state_dict[spec.target] = (torch.nn.Parameter(value, requires_grad=False)
                                           if is_parameter else value)
            else:
                constants[spec.target] = value
    signature = ExportGraphSignature(input_specs=input_specs,
                                     output_specs=list(program.graph_signature.output_specs))
    # torch < 2.5 takes one `verifier`, later versions a list of `verifiers`
    verifier = ({"verifiers": list(program.verifiers)} if hasattr(program, "verifiers")
                else {"verifier": program.verifier})
    return ExportedProgram(
        root=module, graph=module.graph, graph_signature=signature, state_dict=state_dict,
        range_constraints=program.range_constraints,
        module_call_graph=copy.deepcopy(program.module_call_graph),
        example_inputs=program.example_inputs, constants=constants, **verifier,
    )
