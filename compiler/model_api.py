"""The compiled network's model API: timm's (`forward_features`, `forward_head`,
`reset_classifier`, `num_classes`, `num_features`, `pretrained_cfg`, `set_grad_checkpointing`,
`group_matcher`, `feature_info`) and torchvision's detection glue (`out_channels`).

`lower` makes the root module a `Network` and stores what these need in its `meta` (which
`copy.deepcopy` keeps, as EMA and fine-tuning code copy models): the root fx nodes where the
features end and where the classifier's input is, the outputs' channels, strides and modules.
`forward_features` and `forward_head` run the two halves of the root's own graph, generated once
per module from it; they call the modules by name, so a replaced `fc` is the one they call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn

from resnet_spec.compiler.lower import PartModule, Stage
from resnet_spec.elaboration.heads import CLASSIFIER
from resnet_spec.ir import Graph

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocessing(graph: Graph) -> dict[str, Any]:
    """The preprocessing a network expects, as timm's `pretrained_cfg` says it: mean, std,
    interpolation, crop. The spec's `preprocess` where it says them; otherwise ImageNet's
    (timm's and torchvision's defaults for ResNets at 224), per channel of the spec's input (a
    1-channel input takes the channels' average; more than 3 repeat them)."""
    channels = graph.input_shape[0]
    cfg = _imagenet(channels)
    prep = graph.preprocess
    if prep is not None:
        for name in ("mean", "std"):
            values = prep.per_channel(name, channels)
            if values:
                cfg[name] = tuple(values)
        if prep.resize and prep.crop_size:
            # timm's crop_pct: the crop over the size the image was resized to
            cfg["crop_pct"] = round(max(prep.crop_size) / prep.resize, 4)
    return cfg


def _imagenet(channels: int) -> dict[str, Any]:
    if channels == 1:
        mean: tuple[float, ...] = (sum(IMAGENET_MEAN) / 3,)
        std: tuple[float, ...] = (sum(IMAGENET_STD) / 3,)
    else:
        mean = tuple(IMAGENET_MEAN[i % 3] for i in range(channels))
        std = tuple(IMAGENET_STD[i % 3] for i in range(channels))
    return {"mean": mean, "std": std, "interpolation": "bilinear", "crop_pct": 0.875,
            "crop_mode": "center"}


class FeatureInfo(list):
    """timm's feature information: one dict per map (`num_chs`, `reduction`, `module`, and
    `key`, the name the forward returns it under), with timm's `FeatureInfo` accessors."""

    def channels(self, idx: int | None = None) -> Any:
        return self._get("num_chs", idx)

    def reduction(self, idx: int | None = None) -> Any:
        return self._get("reduction", idx)

    def module_name(self, idx: int | None = None) -> Any:
        return self._get("module", idx)

    def keys(self) -> list[str]:
        """The dict keys of a backbone's forward, in order."""
        return [info["key"] for info in self]

    def _get(self, field: str, idx: int | None) -> Any:
        return [info[field] for info in self] if idx is None else self[idx][field]


def describe(graph: Graph, values: dict[str, str]) -> dict[str, Any]:
    """What the API needs of `graph`, lowered with `values` (IR node -> root fx node name)."""
    strides = _strides(graph)
    fc = graph.classifier()
    if fc:
        head_input = graph.node(graph.stage("head").nodes[0]).inputs[0]
        features, pre_logits = head_input, fc[-1].inputs[0]
        maps = _taps(graph, strides)
    else:
        features, pre_logits = list(graph.outputs.values())[-1], None
        maps = list(graph.outputs.items()) if graph.output_dict else _taps(graph, strides)
    info = [{"num_chs": graph.node(node).shape[0], "reduction": strides[node],
             "module": values.get(node, ""), "key": key} for key, node in maps]
    shape = graph.node(features).shape
    stem = [n.name for n in graph.nodes() if n.op == "conv" and graph.input in n.inputs]
    cfg = {"architecture": graph.name, "input_size": tuple(graph.input_shape),
           **preprocessing(graph), "pool_size": tuple(shape[1:]),
           "num_classes": fc[-1].out_features if fc else 0,
           "first_conv": stem[0] if len(stem) == 1 else stem,
           "classifier": CLASSIFIER if fc else ""}
    return {"features": values[features], "pre_logits": values[pre_logits] if fc else None,
            "num_features": shape[0], "num_classes": cfg["num_classes"],
            "pool": fc and graph.node(graph.stage("head").nodes[0]).kind.value,
            "feature_info": info, "backbone": not fc, "output_dict": graph.output_dict,
            "pretrained_cfg": cfg}


def _strides(graph: Graph) -> dict[str, int]:
    """Each node's effective stride, as the cost model counts it (without the rest of its
    counts, which lowering has no use for)."""
    strides: dict[str, int] = {}
    for node in graph.nodes():
        _, stride = node.window()
        strides[node.name] = max((strides[i] for i in node.inputs), default=1) * stride
    return strides


def _taps(graph: Graph, strides: dict[str, int]) -> list[tuple[str, str]]:
    """(name, IR node) of the stem's map (before its pool) and each stage's output."""
    found = []
    for stage in graph.stages:
        if stage.kind == "stem":
            # the last map at the stem conv's stride: a pool at stride 1 (before a blur) or a
            # conv pool (ResNet-RS) is part of the pool, as timm's `act1` tap has it
            first = strides[stage.nodes[0]]
            before_pool = [n for n in stage.nodes
                           if strides[n] == first and graph.node(n).op != "pool"]
            found.append(("stem", before_pool[-1]))
        elif stage.kind == "stage":
            found.append((f"stage{len(found)}", stage.nodes[-1]))
    return found


class Network(PartModule):
    """The compiled network (the root module): torchvision's tree with timm's model API."""

    FACTS = "resnet_spec"
    """The key of `meta` that holds `describe`'s facts."""

    @property
    def _facts(self) -> dict[str, Any]:
        return self.meta[self.FACTS]

    @property
    def num_classes(self) -> int:
        """The classifier's outputs; 0 for a backbone or after `reset_classifier(0)`."""
        return self._facts["num_classes"]

    @property
    def num_features(self) -> int:
        """The channels of `forward_features`' output (what the classifier reads)."""
        return self._facts["num_features"]

    @property
    def feature_info(self) -> FeatureInfo:
        """timm's feature information: for a backbone with `features`, one entry per map it
        returns; otherwise the stem's map and each stage's output."""
        return FeatureInfo(dict(info) for info in self._facts["feature_info"])

    @property
    def out_channels(self) -> int | list[int]:
        """A backbone's output channels, as torchvision's detection models read it: an int for
        one map (`head: none`), the list per map for `features` (FeaturePyramidNetwork's
        `in_channels_list`). A network with a classifier has none (AttributeError)."""
        if not self._facts["backbone"]:
            raise AttributeError(f"{type(self).__name__} has a classifier, not a backbone's "
                                 "out_channels (build it with `head: none`)")
        channels = self.feature_info.channels()
        return channels if self._facts["output_dict"] else channels[-1]

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm's model configuration: input size, mean, std, interpolation, crop, classes."""
        return dict(self._facts["pretrained_cfg"], num_classes=self.num_classes)

    @property
    def default_cfg(self) -> dict[str, Any]:
        """`pretrained_cfg` under its name of timm before 0.8."""
        return self.pretrained_cfg

    def rename_outputs(self, keys: list[str]) -> None:
        """Return a backbone's maps under `keys` (in order) instead of the spec's names
        (`stem`, `stage1`, ...): `build(..., feature_keys="torchvision")` passes '0', '1', ..."""
        facts = self._facts
        if not facts["output_dict"] or len(keys) != len(facts["feature_info"]):
            raise ValueError(f"{len(keys)} keys for {len(facts['feature_info'])} outputs")
        output = next(n for n in self.graph.nodes if n.op == "output")
        output.args = (dict(zip(keys, output.args[0].values(), strict=True)),)
        for info, key in zip(facts["feature_info"], keys, strict=True):
            info["key"] = key
        self.recompile()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, before the head's pool (timm's `forward_features`)."""
        return self._api_function("features")(self, x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The head on `forward_features`' output: pool, dropout, classifier; with
        `pre_logits`, the pooled features the classifier reads. A backbone's is the identity."""
        if self._facts["backbone"]:
            return x
        return self._api_function("pre_logits" if pre_logits else "head")(self, x)

    def get_classifier(self) -> nn.Module:
        return getattr(self, CLASSIFIER) if not self._facts["backbone"] else nn.Identity()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new classifier for `num_classes` (nn.Linear's default initialization); 0 leaves
        none, so the forward returns the pooled features. `global_pool` may only name the
        spec's pool (the pool is part of the module tree)."""
        facts = self._facts
        if facts["backbone"]:
            if num_classes:
                raise ValueError(f"{type(self).__name__} is a backbone (`head: none`): it has "
                                 "no classifier to reset; build a spec with a `head`")
            return
        if global_pool not in (None, facts["pool"]):
            raise ValueError(f"global_pool={global_pool!r}: this network pools with "
                             f"{facts['pool']!r}; set `head.pool` in the spec to change it")
        old = getattr(self, CLASSIFIER)
        like = next(old.parameters(), None) if isinstance(old, nn.Module) else None
        factory = {"device": like.device, "dtype": like.dtype} if like is not None else {}
        setattr(self, CLASSIFIER, nn.Linear(self.num_features, num_classes, **factory)
                if num_classes > 0 else nn.Identity())
        facts["num_classes"] = num_classes

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Run each block under `torch.utils.checkpoint` while training (timm's method): less
        memory, one more forward per block in the backward pass, the same gradients."""
        for module in self.modules():
            if isinstance(module, Stage):
                module.grad_checkpointing = enable

    @property
    def grad_checkpointing(self) -> bool:
        return any(m.grad_checkpointing for m in self.modules() if isinstance(m, Stage))

    def group_matcher(self, coarse: bool = False) -> dict[str, str]:
        """timm's parameter groups (layer-wise learning-rate decay): the stem, then each stage
        (`coarse`) or each block; the rest (a final norm, the classifier) is the last group."""
        return {"stem": r"^conv1|^bn1|^maxpool",
                "blocks": r"^layer(\d+)" if coarse else r"^layer(\d+)\.(\d+)"}

    def _api_function(self, which: str) -> Callable[..., torch.Tensor]:
        cache = self.__dict__.setdefault("_api_code", {})
        if which not in cache:
            cache[which] = _generate(_split(self.graph, self._facts, which), which)
        return cache[which]


def _split(graph: fx.Graph, facts: dict[str, Any], which: str) -> fx.Graph:
    """The part of the root graph `which` runs: up to the features (`features`), or from them
    to the logits (`head`) or to the classifier's input (`pre_logits`)."""
    out = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    split = facts["features"]
    if which == "features":
        for node in graph.nodes:
            env[node] = out.node_copy(node, env.__getitem__)
            if node.name == split:
                out.output(env[node])
                return out
    end = facts["pre_logits"] if which == "pre_logits" else None
    running = False
    for node in graph.nodes:
        if node.name == split:
            env[node], running = out.placeholder("x"), True
        elif node.op == "output":
            out.output(env[node.args[0]])
        elif running:
            env[node] = out.node_copy(node, env.__getitem__)
            if node.name == end:
                out.output(env[node])
                break
    return out


def _generate(graph: fx.Graph, which: str) -> Callable[..., torch.Tensor]:
    """A function(self, x) running `graph` on the module `self`, as fx writes a forward."""
    graph.lint()
    code = graph.python_code(root_module="self")
    namespace = dict(code.globals)
    exec(compile(code.src, f"<resnet_spec {which}>", "exec"), namespace)
    return namespace["forward"]
