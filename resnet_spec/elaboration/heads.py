"""The last step: what the network returns. A classifier head (`logits`), a backbone's last map
(`features`, with `head: none`), or the maps a backbone's `features` list names."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from resnet_spec.elaboration.context import Ctx, Cursor
from resnet_spec.ir import DropoutNode, GlobalPoolNode, LinearNode, Scope, StageInfo
from resnet_spec.schema import HeadSpec, Spec


class Ending(str, Enum):
    """How a network ends, as its spec says."""

    classifier = "classifier"
    backbone = "backbone"


def ending(spec: Spec) -> Ending:
    return Ending.backbone if spec.head is None else Ending.classifier


def classifier(ctx: Ctx, x: Cursor) -> None:
    """Global pool, optional dropout, the linear classifier `fc`: output `logits`."""
    head = ctx.spec.head or HeadSpec()
    info = StageInfo(name="head", kind="head", loc=ctx.source("head"), in_shape=x.shape)
    start = len(ctx.added)
    with ctx.at(scope=Scope(stage="head"), loc=info.loc, prefix=""):
        x = ctx.add(GlobalPoolNode, "head.pool", [x], kind=head.pool)
        if head.dropout > 0:
            x = ctx.add(DropoutNode, "head.dropout", [x], p=head.dropout)
        x = ctx.add(LinearNode, "fc", [x], in_features=x.shape[0],
                    out_features=head.classes)
    info.nodes = ctx.since(start)
    info.out_shape = x.shape
    ctx.graph.stages.append(info)
    ctx.graph.outputs = {"logits": x.node}


def backbone(ctx: Ctx, x: Cursor) -> None:
    """`head: none`: the last map, as `features`."""
    ctx.graph.outputs = {"features": x.node}


ENDINGS: dict[Ending, Callable[[Ctx, Cursor], None]] = {
    Ending.classifier: classifier,
    Ending.backbone: backbone,
}
"""How the network ends -> the builder of its outputs."""
