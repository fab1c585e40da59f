"""Elaboration: a validated `Spec` into the graph IR, through registries of small builders.

    context    Cursor (the running tensor), BlockCtx, Ctx (adds nodes with scope and location)
    plan       each stage's stride and dilations, each block's drop-path rate
    stems      STEMS: `stem.kind` -> builder
    blocks     BLOCK_KINDS: `block.kind` -> its registration (builder, widths, names)
    shortcuts  SHORTCUTS: `shortcut` -> builder
    heads      ENDINGS: classifier, backbone -> builder of the outputs
    stages     the stage loop
    network    `elaborate_unchecked`: input, stem, stages, ending
"""

from resnet_spec.elaboration.network import elaborate_unchecked
from resnet_spec.ir import Graph
from resnet_spec.ir.check import verify
from resnet_spec.spec.schema import Spec

__all__ = ["elaborate", "elaborate_unchecked"]


def elaborate(spec: Spec) -> Graph:
    """The checked IR of a validated spec: `SpecError`s at the spec entries responsible,
    warnings kept in `graph.warnings`."""
    graph = elaborate_unchecked(spec)
    verify(graph, spec.source)
    return graph
