"""Static checks of the IR, before any tensor exists.

`check_graph` re-infers every shape from the op rules and judges the result: additions join equal
shapes, convs and norms see the channels they were built for, groups divide what they group,
every size stays at least 1, and the graph is a DAG from one input whose every end is a declared
output. The rules of each op kind are its class's `check` (`ir/ops.py`). Each
finding is located at the spec entry of the node that caused it, with a hint of what would fit.
Call it after elaboration and after every pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from resnet_spec.errors import SpecErrors
from resnet_spec.ir import Finding, Graph, Shape

if TYPE_CHECKING:
    from resnet_spec.spec.yaml_source import SourceMap


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
            findings.append(node.error(f"IR node `{node.name}` records shape {node.shape} "
                                       f"but its op gives {shapes[node.name]}", "",
                                       "recorded_shape"))
    findings += _small_input_warnings(graph)
    findings += _group_width_warnings(graph)
    return findings


def verify(graph: Graph, source: SourceMap | None = None) -> None:
    """Run the checks: raise the errors, keep the warnings' messages in `graph.warnings`.

    With the spec's `source`, a finding whose cause was written in a later layer than the
    entry it is located at (the user's file over its `extends` parent, a `--set` over both)
    is reported there instead, once (`origin.relocate`)."""
    findings = _first_per_cause(check_graph(graph))
    if source is not None:
        from resnet_spec.ir.origin import relocate

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
    return out + _unregistered_ops(graph)


def _unregistered_ops(graph: Graph) -> list[Finding]:
    """Nodes of an op class no registration has (a plugin's block adding an op its package
    does not declare): nothing downstream (cost, drawing, lowering) would know them."""
    from resnet_spec.ir import OP_CLASSES

    out = []
    for node in graph.nodes():
        if OP_CLASSES.get(node.op) is not type(node):
            out.append(node.error(f"`{node.name}` is an op `{node.op}` ({type(node).__name__}) "
                                  "that no installed package registers",
                                  "declare it under the `resnet_spec.ops` entry points",
                                  "unregistered_op"))
            break
    return out


def _node_findings(graph: Graph, node: Any, inputs: list[Shape]) -> list[Finding]:
    if node.takes_map:
        for shape in inputs:
            if len(shape) != 3:
                return [node.error(f"`{node.name}` ({node.op}) needs a C×H×W input, gets "
                                   f"{shape}", "", "map_input")]
    found = node.check(graph, inputs)
    if node.can_shrink:
        found += _empty_map(node, inputs)
    return found


def _empty_map(node: Any, inputs: list[Shape]) -> list[Finding]:
    out = node.infer(inputs)
    if len(out) != 3 or min(out[1:]) >= 1:
        return []
    _, h, w = inputs[0]
    return [node.error(
        f"the input is too small: `{node.name}` gets {h}×{w} and would output an empty map",
        "use a larger `input`, fewer stride-2 stages, or `stem.pool: none`", "empty_map")]


def _degenerate_sizes(node: Any, shape: Shape) -> list[Finding]:
    """A layer of zero channels passes every op's own rule and fails only inside torch
    (e.g. a bottleneck whose floor(width × base_width / 64) is 0)."""
    if len(shape) != 3 or shape[0] >= 1:
        return []
    hint = ("a deep stem's first two widths are width/2 by default: set `stem.widths`"
            if node.scope.stage == "stem" else "bottleneck inner channels are floor(width × "
            "base_width / 64) × groups: raise `width` or `base_width`")
    return [node.error(f"`{node.name}` would have {shape[0]} channels; every layer needs at "
                       "least 1", hint, "zero_channels")]


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


def _group_width_warnings(graph: Graph) -> list[Finding]:
    """A warning per stage whose grouped blocks make each group as wide as the stage: the
    default `base_width` 64 with `groups` g gives an inner width of width × g, which a spec
    written as RegNet or "g groups of width/g" does not mean (ResNeXt states its base_width)."""
    out = []
    seen: set[str] = set()
    for block in graph.blocks:
        if block.groups == 1 or block.inner != block.width * block.groups or block.stage in seen:
            continue
        seen.add(block.stage)
        node = next((n for n in block.nodes if n.endswith(".conv2")), block.nodes[0])
        out.append(Finding(
            "warning",
            f"groups {block.groups} with base_width 64 builds an inner width of {block.inner} "
            f"= floor({block.width} × 64 / 64) × {block.groups} in stage {block.stage}: each "
            "group is as wide as the stage",
            block.loc, _group_width_hint(block.width, block.groups), node, "group_width"))
    return out


def _group_width_hint(width: int, groups: int) -> str:
    """How to write an inner width equal to the stage's, where a base_width gives it."""
    if width % groups:
        return (f"if {_in_groups(width, groups)} was meant, the stage width {width} must be a "
                f"multiple of the groups {groups}")
    per_group = width // groups
    base = next((b for b in range(1, 65) if width * b // 64 == per_group), None)
    if base is None:
        return f"no base_width gives {_in_groups(width, groups)}"
    return (f"for {_in_groups(width, groups)} set `base_width: {base}` (floor({width} × "
            f"{base} / 64) = {per_group} per group)")


def _in_groups(width: int, groups: int) -> str:
    """`an inner width of 24 (3 groups of 8)`."""
    return f"an inner width of {width} ({groups} groups of {width / groups:g})"
