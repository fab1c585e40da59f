"""Static checks of the IR, before any tensor exists.

`check_graph` re-infers every shape from the op rules and judges the result: additions join equal
shapes, convs and norms see the channels they were built for, groups divide what they group,
every size stays at least 1, and the graph is a DAG from one input whose every end is a declared
output. The rules of each op kind are its entry in `RULES`. Each
finding is located at the spec entry of the node that caused it, with a hint of what would fit.
Call it after elaboration and after every pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

from resnet_spec.errors import GraphError, Loc, Note, SpecError, SpecErrors
from resnet_spec.ir import Graph, Shape
from resnet_spec.schema import NormKind, Shortcut

if TYPE_CHECKING:
    from resnet_spec.yaml_source import SourceMap


@dataclass(frozen=True)
class Finding:
    """One result of the checks: an error makes the spec invalid, a warning does not."""

    severity: Literal["error", "warning"]
    message: str
    loc: Loc | None
    hint: str = ""
    node: str = ""
    check: str = ""
    """Which check found it: a key of `origin.CAUSES`, which lists the spec fields it reads."""
    notes: tuple[Note, ...] = ()

    def __str__(self) -> str:
        return str(self.as_error()) if self.severity == "error" else f"warning: {self.as_error()}"

    def as_error(self) -> SpecError:
        return GraphError(self.message, self.loc, self.hint, self.notes)


def check_graph(graph: Graph) -> list[Finding]:
    """Every error and warning the static checks find, in graph order."""
    findings = _structure(graph)
    if any(f.severity == "error" for f in findings):
        return findings
    shapes: dict[str, Shape] = {}
    for node in graph.nodes():
        inputs = [shapes[name] for name in node.inputs]
        findings += _node_findings(graph, node, inputs)
        shapes[node.name] = node.infer(inputs)
        findings += _degenerate_sizes(node, shapes[node.name])
        if shapes[node.name] != node.shape:
            findings.append(_error(node, f"IR node `{node.name}` records shape {node.shape} but "
                                   f"its op gives {shapes[node.name]}", "", "recorded_shape"))
    findings += _small_input_warnings(graph)
    return findings


def verify(graph: Graph, source: SourceMap | None = None) -> None:
    """Run the checks: raise the errors, keep the warnings' messages in `graph.warnings`.

    With the spec's `source`, a finding whose cause was written in a later layer than the
    entry it is located at (the user's file over its `extends` parent, a `--set` over both)
    is reported there instead, once (`origin.relocate`)."""
    findings = _first_per_cause(check_graph(graph))
    if source is not None:
        from resnet_spec.origin import relocate

        findings = relocate(findings, graph, source)
    raise_errors(findings)
    graph.warnings = [str(f) for f in findings if f.severity == "warning"]


def raise_errors(findings: list[Finding]) -> None:
    """Raise the errors among the findings (all of them, one per line)."""
    errors = [f.as_error() for f in _first_per_cause(findings) if f.severity == "error"]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SpecErrors(errors)


def _first_per_cause(findings: list[Finding]) -> list[Finding]:
    """One finding per spec entry and hint: a bad `norm.groups` breaks every norm of a stage,
    and one line per stage says it all."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for f in findings:
        cause = (f.severity, f.loc, f.hint or f.message)
        if cause not in seen:
            seen.add(cause)
            out.append(f)
    return out


def _error(node: Any, message: str, hint: str, check: str) -> Finding:
    return Finding("error", message, node.loc, hint, node.name, check)


def _structure(graph: Graph) -> list[Finding]:
    g = graph.nx
    out: list[Finding] = []
    where = graph.stages[0].loc if graph.stages else None
    if not nx.is_directed_acyclic_graph(g):
        out.append(Finding("error", "the graph has a cycle", where, check="structure"))
    sources = [n for n in g if g.in_degree(n) == 0]
    if sources != [graph.input]:
        out.append(Finding("error", f"the graph must have one input, found {sources}", where,
                           check="structure"))
    declared = set(graph.outputs.values())
    stray = sorted(n for n in g if g.out_degree(n) == 0 and n not in declared)
    if stray or not declared <= set(g) or not declared:
        out.append(Finding("error", f"the graph's ends {stray} are not among its declared "
                           f"outputs {sorted(declared)}", where, check="structure"))
    return out


def _node_findings(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    if node.takes_map:
        for shape in inputs:
            if len(shape) != 3:
                return [_error(node, f"`{node.name}` ({node.op}) needs a C×H×W input, gets "
                               f"{shape}", "", "map_input")]
    found = RULES[node.op](graph, node, inputs)
    if node.can_shrink:
        found += _empty_map(node, inputs)
    return found


def _empty_map(node: Any, inputs: list[Shape]) -> list[Finding]:
    out = node.infer(inputs)
    if len(out) != 3 or min(out[1:]) >= 1:
        return []
    _, h, w = inputs[0]
    return [_error(
        node, f"the input is too small: `{node.name}` gets {h}×{w} and would output an empty "
        "map", "use a larger `input`, fewer stride-2 stages, or `stem.pool: none`", "empty_map")]


def _degenerate_sizes(node: Any, shape: Shape) -> list[Finding]:
    """A layer of zero channels passes every op's own rule and fails only inside torch
    (e.g. a bottleneck whose floor(width × base_width / 64) is 0)."""
    if len(shape) != 3 or shape[0] >= 1:
        return []
    hint = ("a deep stem's first two widths are width/2 by default: set `stem.widths`"
            if node.scope.stage == "stem" else "bottleneck inner channels are floor(width × "
            "base_width / 64) × groups: raise `width` or `base_width`")
    return [_error(node, f"`{node.name}` would have {shape[0]} channels; every layer needs at "
                   "least 1", hint, "zero_channels")]


Rule = Callable[[Graph, Any, list[Shape]], list[Finding]]


def _nothing(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    return []


def _conv(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    channels = inputs[0][0]
    found = []
    if channels != node.in_channels:
        found.append(_error(node, f"`{node.name}` expects {node.in_channels} input channels, "
                            f"its producer gives {channels}", "", "conv_channels"))
    for what, value in (("input", node.in_channels), ("output", node.out_channels)):
        if value % node.groups:
            found.append(_error(node, f"groups={node.groups} does not divide the {value} "
                                f"{what} channels of `{node.name}`",
                                f"choose `groups` dividing {value}", "conv_groups"))
    return found


def _norm(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    channels = inputs[0][0]
    if channels != node.channels:
        return [_error(node, f"`{node.name}` normalizes {node.channels} channels, "
                       f"gets {channels}", "", "norm_channels")]
    if node.kind is NormKind.group and channels % node.groups:
        fitting = [g for g in (1, 2, 4, 8, 16, 32) if channels % g == 0 and g <= node.groups]
        return [_error(node, f"group norm with {node.groups} groups cannot split {channels} "
                       f"channels (`{node.name}`)",
                       f"set `norm.groups` to a divisor of every width, e.g. {fitting[-1]}",
                       "norm_groups")]
    _, h, w = inputs[0]
    if node.kind is NormKind.group and channels // node.groups * h * w < 2:
        # torch refuses to normalize a single value
        return [_error(node, f"group norm `{node.name}` would normalize groups of one value "
                       f"({channels} channels in {node.groups} groups on a {h}×{w} map)",
                       "fewer `norm.groups`, a larger `input`, or `norm: batch`", "norm_single")]
    return []


def _zero_pad(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    channels = inputs[0][0]
    if node.out_channels >= channels:
        return []
    return [_error(node, f"zero-padding shortcut cannot shrink {channels} channels to "
                   f"{node.out_channels}", "use shortcut: projection", "zero_pad")]


def _linear(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    got = inputs[0][0]
    if got == node.in_features:
        return []
    return [_error(node, f"`{node.name}` expects {node.in_features} features, gets {got}", "",
                   "linear_features")]


def _gate(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    (c, _, _), gate = inputs
    if gate == (c, 1, 1):
        return []
    return [_error(node, f"`{node.name}` gates a {_fmt(inputs[0])} map with a {_fmt(gate)} "
                   f"gate; it needs {c}×1×1", "", "gate_shape")]


def _add(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    branch, shortcut = inputs
    if branch == shortcut:
        return []
    block = graph.block(node.scope.block) if node.scope.block else None
    policy = block.policy.value if block else "identity"
    fits = _fitting_policies(shortcut, branch)
    return [_error(
        node,
        f"block {node.scope.block}: shortcut `{policy}` cannot add {_fmt(shortcut)} to the "
        f"branch's {_fmt(branch)}",
        "policies that fit here: " + ", ".join(fits),
        "add_shapes",
    )]


RULES: dict[str, Rule] = {
    "input": _nothing,
    "conv": _conv,
    "norm": _norm,
    "act": _nothing,
    "pool": _nothing,
    "global_pool": _nothing,
    "zero_pad": _zero_pad,
    "add": _add,
    "dropout": _nothing,
    "linear": _linear,
    "squeeze": _nothing,
    "gate": _gate,
    "drop_path": _nothing,
}
"""The checks of each IR op kind beyond its shape rule (the empty-map check comes from the
node's `can_shrink`, the C×H×W check from its `takes_map`)."""


def _fitting_policies(before: Shape, after: Shape) -> list[str]:
    fits = []
    if after[0] >= before[0]:
        fits.append(Shortcut.zero_pad.value)
    fits += [Shortcut.projection.value, Shortcut.projection_all.value, Shortcut.avg_down.value,
             Shortcut.none.value]
    return fits


def _fmt(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def _small_input_warnings(graph: Graph) -> list[Finding]:
    out = []
    for stage in graph.stages:
        shape = stage.out_shape
        if stage.kind == "stage" and len(shape) == 3 and shape[1:] == (1, 1):
            first_node = graph.node(stage.nodes[0]) if stage.nodes else None
            in_hw = "×".join(str(d) for d in stage.in_shape[1:])
            out.append(Finding(
                "warning",
                f"stage {stage.name} sees a 1×1 map (from {in_hw}); most of the network is "
                "wasted on this input size",
                stage.loc, "raise `input` height/width", first_node.name if first_node else "",
                "small_input"))
            break
    return out
