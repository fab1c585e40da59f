"""One loop from a validated `Spec` to the graph IR: input, stem, stages, ending.

Each step looks its builder up in a registry keyed by the spec's values (`STEMS`,
`BLOCK_KINDS`, `SHORTCUTS`, `ENDINGS`); a value with no builder registered is refused at its
line. The loop
never judges the graph: `check.check_graph` does, so that every structural error is found by one
set of rules and reported at its spec line.
"""

from __future__ import annotations

from resnet_spec.elaboration import plan
from resnet_spec.elaboration.context import Ctx, Cursor
from resnet_spec.elaboration.heads import ENDINGS, Ending, ending, final_norm
from resnet_spec.elaboration.registry import lookup
from resnet_spec.elaboration.stages import build_stage, stage_kind
from resnet_spec.elaboration.stems import STEMS
from resnet_spec.ir import Graph, InputNode, Scope, StageInfo
from resnet_spec.spec.schema import Spec


def elaborate_unchecked(spec: Spec) -> Graph:
    """The IR of a spec, shapes inferred but not judged (see `check.check_graph`)."""
    ctx = Ctx(spec, Graph(spec.name, spec.description))
    ctx.graph.preprocess = spec.preprocess
    kinds = [stage_kind(ctx, index) for index in range(len(spec.stages))]
    x = _input(ctx)
    x = _stem(ctx, x)
    rates = plan.drop_path_rates(spec)
    for index, stage_plan in enumerate(plan.stage_plans(ctx)):
        x = build_stage(ctx, index, x, stage_plan, rates[index], kinds[index])
    end = ending(spec)
    if kinds[-1].preactivates and end is not Ending.features:
        x = final_norm(ctx, x)
    ENDINGS[end](ctx, x)
    return ctx.graph


def _input(ctx: Ctx) -> Cursor:
    shape = (ctx.spec.input.channels, ctx.spec.input.height, ctx.spec.input.width)
    with ctx.at(scope=Scope(stage="input"), loc=ctx.source("input")):
        return ctx.add(InputNode, "input", [], shape=shape)


def _stem(ctx: Ctx, x: Cursor) -> Cursor:
    stem = ctx.spec.stem
    build = lookup(STEMS, stem.kind, "the stem kind", ctx.key("stem", "kind"))
    info = StageInfo(name="stem", kind="stem", loc=ctx.source("stem"), in_shape=x.shape)
    start = len(ctx.added)
    with ctx.at(scope=Scope(stage="stem"), loc=info.loc):
        x = build(ctx, x)
    info.nodes = ctx.since(start)
    info.stride = _stride(ctx, info.nodes)
    info.out_shape = x.shape
    info.width = x.shape[0]
    ctx.graph.stages.append(info)
    return x


def _stride(ctx: Ctx, names: list[str]) -> int:
    """How much the nodes stride their input, together."""
    stride = 1
    for name in names:
        stride *= getattr(ctx.graph.node(name), "stride", 1)
    return stride
