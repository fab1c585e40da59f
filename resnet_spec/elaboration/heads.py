"""The last step: what the network returns. A classifier head (`logits`), a backbone's last map
(`features`, with `head: none`), or the maps a backbone's `features` list names; and before it,
after pre-activation blocks, the final norm and act."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from resnet_spec.elaboration.context import Ctx, Cursor
from resnet_spec.errors import SchemaError
from resnet_spec.ir import DropoutNode, GlobalPoolNode, LinearNode, Scope, StageInfo
from resnet_spec.spec.schema import HeadSpec, Spec

CLASSIFIER = "fc"
"""The name of the head's linear layer (torchvision's and timm's), in the IR and the module."""


class Ending(str, Enum):
    """How a network ends, as its spec says."""

    classifier = "classifier"
    backbone = "backbone"
    features = "features"


def ending(spec: Spec) -> Ending:
    if spec.head is not None:
        return Ending.classifier
    return Ending.backbone if spec.features is None else Ending.features


def final_norm(ctx: Ctx, x: Cursor) -> Cursor:
    """After pre-activation blocks, whose outputs are sums no norm has seen: one norm and act
    (`norm`, timm's name, and `final.act`), as its own part `final` of the network."""
    last = len(ctx.spec.stages) - 1
    info = StageInfo(name="final", kind="final", in_shape=x.shape,
                     loc=ctx.source(*ctx.block_field(last, "kind")))
    start = len(ctx.added)
    with ctx.at(scope=Scope(stage="final"), loc=info.loc, prefix=""):
        x = ctx.act(ctx.norm(x, "norm"), "final.act")
    info.nodes = ctx.since(start)
    info.out_shape = x.shape
    info.width = x.shape[0]
    ctx.graph.stages.append(info)
    return x


def classifier(ctx: Ctx, x: Cursor) -> None:
    """Global pool, optional dropout, the linear classifier `fc`: output `logits`."""
    head = ctx.spec.head or HeadSpec()
    info = StageInfo(name="head", kind="head", loc=ctx.source("head"), in_shape=x.shape)
    start = len(ctx.added)
    with ctx.at(scope=Scope(stage="head"), loc=info.loc, prefix=""):
        x = ctx.add(GlobalPoolNode, "head.pool", [x], kind=head.pool)
        if head.dropout > 0:
            x = ctx.add(DropoutNode, "head.dropout", [x], p=head.dropout)
        x = ctx.add(LinearNode, CLASSIFIER, [x], in_features=x.shape[0],
                    out_features=head.classes)
    info.nodes = ctx.since(start)
    info.out_shape = x.shape
    ctx.graph.stages.append(info)
    ctx.graph.outputs = {"logits": x.node}


def backbone(ctx: Ctx, x: Cursor) -> None:
    """`head: none`: the last map, as `features`."""
    ctx.graph.outputs = {"features": x.node}


def features(ctx: Ctx, x: Cursor) -> None:
    """`features`: the maps it names, in network order, returned as a dict; the last stage must
    be one of them (nothing is built that the network does not return)."""
    numbers = sorted(ctx.spec.features or ())
    last = len(ctx.spec.stages)
    if numbers[-1] != last:
        raise SchemaError(
            f"stage {last} is built but `features` does not return it",
            ctx.source("features"),
            f"add {last} to `features`, or end `stages` at stage {numbers[-1]}")
    names = ["stem" if n == 0 else f"stage{n}" for n in numbers]
    ctx.graph.outputs = {name: ctx.taps[name].node for name in names}
    ctx.graph.output_dict = True


ENDINGS: dict[Ending, Callable[[Ctx, Cursor], None]] = {
    Ending.classifier: classifier,
    Ending.backbone: backbone,
    Ending.features: features,
}
"""How the network ends -> the builder of its outputs."""
