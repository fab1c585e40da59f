"""One loop from a validated `Spec` to the graph IR: input, stem, stages, ending.

Each step looks its builder up in a registry keyed by the spec's enums (`STEMS`, `BLOCKS`,
`SHORTCUTS`, `ENDINGS`); a value with no builder registered is refused at its line. The loop
never judges the graph: `check.check_graph` does, so that every structural error is found by one
set of rules and reported at its spec line.
"""

from __future__ import annotations

from resnet_spec.elaboration import plan
from resnet_spec.elaboration.context import Ctx, Cursor
from resnet_spec.elaboration.heads import ENDINGS, ending
from resnet_spec.elaboration.registry import lookup
from resnet_spec.elaboration.stages import build_stage
from resnet_spec.elaboration.stems import STEMS
from resnet_spec.errors import UnsupportedError
from resnet_spec.ir import Graph, InputNode, Scope, StageInfo
from resnet_spec.schema import Spec


def elaborate_unchecked(spec: Spec) -> Graph:
    """The IR of a spec, shapes inferred but not judged (see `check.check_graph`)."""
    _refuse_unsupported(spec)
    ctx = Ctx(spec, Graph(spec.name, spec.description))
    x = _input(ctx)
    x = _stem(ctx, x)
    rates = plan.drop_path_rates(spec)
    for index, stage_plan in enumerate(plan.stage_plans(spec)):
        x = build_stage(ctx, index, x, stage_plan, rates[index])
    ENDINGS[ending(spec)](ctx, x)
    return ctx.graph


def _input(ctx: Ctx) -> Cursor:
    shape = (ctx.spec.input.channels, ctx.spec.input.height, ctx.spec.input.width)
    with ctx.at(scope=Scope(stage="input"), loc=ctx.source("input")):
        return ctx.add(InputNode, "input", [], shape=shape)


def _stem(ctx: Ctx, x: Cursor) -> Cursor:
    stem = ctx.spec.stem
    build = lookup(STEMS, stem.kind, "the stem kind", ctx.key("stem", "kind"))
    info = StageInfo(name="stem", kind="stem", loc=ctx.source("stem"), in_shape=x.shape,
                     width=stem.width)
    start = len(ctx.added)
    with ctx.at(scope=Scope(stage="stem"), loc=info.loc):
        x = build(ctx, x)
    info.nodes = ctx.since(start)
    info.stride = _stride(ctx, info.nodes)
    info.out_shape = x.shape
    ctx.graph.stages.append(info)
    return x


def _stride(ctx: Ctx, names: list[str]) -> int:
    """How much the nodes stride their input, together."""
    stride = 1
    for name in names:
        stride *= getattr(ctx.graph.node(name), "stride", 1)
    return stride


def _refuse_unsupported(spec: Spec) -> None:
    """Fields the language has but this version cannot elaborate yet: a clear error, never a
    silently different model."""

    def refuse(what: str, *path: str | int) -> None:
        loc = spec.source.key(path) if spec.source else None
        raise UnsupportedError(f"{what} is not supported yet by this resnet-spec", loc)

    if spec.features is not None:
        refuse("`features`", "features")
    for i, stage in enumerate(spec.stages):
        block = spec.stage_block(i)
        where = ("stages", i, "block") if stage.block.model_dump(exclude_none=True) else ("block",)
        if block.se is not None:
            refuse("squeeze-and-excitation (`se`)", *where, "se")
        if block.drop_path > 0:
            refuse("stochastic depth (`drop_path`)", *where, "drop_path")
        if stage.dilation != 1:
            refuse("`dilation`", "stages", i, "dilation")
