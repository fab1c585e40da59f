"""What differs between two specs: their resolved fields (with where each was written), their
costs per stage, and which blocks of the second compute something else than the first.

Pure: it takes loaded `Spec`s and their elaborated `Graph`s and returns data; the command
(`resnet_spec/cli/diff_cmd.py`) prints it and draws it. torch is never imported.

Definitions (docs/cli.md repeats them for users):

- a *field* is a leaf of the resolved spec (`resolved.resolved_dict`: `extends` merged, defaults
  written out), named by its path (`stages[1].depth`). Stages are matched by index; a stage
  that exists on one side only has all its fields on that side only. A list of numbers
  (`features`, `stem.widths`) is one field.
- a field's *source* is the `file:line:col` of the value that set it, in whichever file of the
  `extends` chain it was written; `default` when no file set it. A stage's `shortcut` that its
  stage leaves unset takes the top-level `shortcut`, and says so (`via shortcut`); where it
  does so on both sides, the top-level change is listed once, not again for each stage.
- *boxes* are what the blocks-level diagram draws: every residual block (`layer2.3`), and the
  stem, final norm and head. Residual stages are matched by index (the n-th residual stage of A
  with the n-th of B), blocks by index within their stage, the others by name. A box of B
  *differs* from A when A has no box there, or when their IR differs: the same ops in the same
  order, wired the same way, with the same attributes and output shapes, is "the same"; names
  are compared relative to the box, so `layer3.4` of A can equal `layer3.4` of B.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from resnet_spec.ir import Graph
from resnet_spec.ir.cost import GraphCost, StageCost, analyze
from resnet_spec.spec.resolved import resolved_dict
from resnet_spec.spec.schema import Spec
from resnet_spec.spec.yaml_source import PathKey, SourceMap, format_path

DEFAULT = "default"
"""The source of a field that no file set."""
METRICS = ("params", "macs", "activations")


@dataclass(frozen=True)
class Side:
    """A field's value on one side and where it was set (`file:line:col` or `default`)."""

    value: Any
    source: str
    via: str | None = None
    """The field it was taken from when it was not set itself (`shortcut`), else None."""


@dataclass(frozen=True)
class FieldChange:
    """One resolved field that differs; `a` or `b` is None where that side lacks the field."""

    path: str
    a: Side | None
    b: Side | None


@dataclass(frozen=True)
class CostChange:
    """One row of the cost table: a stage (or `total`), A's and B's figures per metric."""

    name: str
    a: dict[str, int] | None
    b: dict[str, int] | None

    def delta(self, metric: str) -> int:
        return (self.b or {}).get(metric, 0) - (self.a or {}).get(metric, 0)


@dataclass(frozen=True)
class BoxChanges:
    """Boxes of the blocks-level diagram: of B that differ from A, of B new, of A gone."""

    changed: list[str]
    """In both, computing something different (named as in B)."""
    added: list[str]
    """In B only (named as in B)."""
    removed: list[str]
    """In A only (named as in A)."""
    total: int
    """Boxes of B."""
    changed_a: list[str] = field(default_factory=list)
    """The changed boxes, named as in A."""

    @property
    def highlighted(self) -> frozenset[str]:
        """B's boxes to emphasize in its diagram."""
        return frozenset(self.changed) | frozenset(self.added)

    def marks(self, side: str) -> dict[str, str]:
        """Box name -> `changed`, `added` or `removed`, for the diagram of side `a` or `b`."""
        if side == "a":
            return {**dict.fromkeys(self.changed_a, "changed"),
                    **dict.fromkeys(self.removed, "removed")}
        return {**dict.fromkeys(self.changed, "changed"), **dict.fromkeys(self.added, "added")}


@dataclass
class SpecDiff:
    """Everything `resnet-spec diff A B` reports."""

    a_name: str
    b_name: str
    fields: list[FieldChange]
    costs: list[CostChange]
    boxes: BoxChanges
    cost_a: GraphCost = field(repr=False)
    cost_b: GraphCost = field(repr=False)

    @property
    def same(self) -> bool:
        """No field differs (then the graphs, and so every figure, are the same too)."""
        return not self.fields


def diff_specs(a: Spec, graph_a: Graph, b: Spec, graph_b: Graph) -> SpecDiff:
    """Compare two loaded specs and their elaborated graphs."""
    cost_a, cost_b = analyze(graph_a), analyze(graph_b)
    return SpecDiff(
        a_name=a.name, b_name=b.name, fields=field_changes(a, b),
        costs=cost_changes(cost_a, cost_b), boxes=box_changes(graph_a, graph_b),
        cost_a=cost_a, cost_b=cost_b,
    )


# -- fields ----------------------------------------------------------------------------------


def flatten(value: Any, prefix: PathKey = ()) -> dict[PathKey, Any]:
    """Leaves of resolved spec data by path; a list of mappings by index, any other list whole."""
    if isinstance(value, dict):
        out: dict[PathKey, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, (*prefix, key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, (*prefix, index)))
        return out
    return {prefix: value}


def field_changes(a: Spec, b: Spec) -> list[FieldChange]:
    """The resolved fields whose values differ, in A's order then B's new ones."""
    leaves_a, leaves_b = flatten(resolved_dict(a)), flatten(resolved_dict(b))
    changes = []
    for path in [*leaves_a, *(p for p in leaves_b if p not in leaves_a)]:
        in_a, in_b = path in leaves_a, path in leaves_b
        if in_a and in_b and _same_value(leaves_a[path], leaves_b[path]):
            continue
        change = FieldChange(
            format_path(path),
            _side(leaves_a[path], path, a._source) if in_a else None,
            _side(leaves_b[path], path, b._source) if in_b else None,
        )
        if not _follows_a_listed_change(change, changes):
            changes.append(change)
    return changes


def _follows_a_listed_change(change: FieldChange, listed: list[FieldChange]) -> bool:
    """Whether `change` (a stage's `shortcut`, left unset on both sides) only repeats the
    change of the top-level field it takes its value from, already listed once."""
    sides = [side for side in (change.a, change.b) if side is not None]
    via = {side.via for side in sides}
    return (len(sides) == 2 and len(via) == 1 and None not in via
            and any(c.path == next(iter(via)) for c in listed))


def _same_value(x: Any, y: Any) -> bool:
    # 1 and 1.0, True and 1 are different settings in a spec even where Python calls them equal
    return type(x) is type(y) and x == y


def _side(value: Any, path: PathKey, source: SourceMap | None) -> Side:
    return Side(value, *source_of(path, source))


def source_of(path: PathKey, source: SourceMap | None) -> tuple[str, str | None]:
    """Where the value at `path` was written, and the field it came through if not its own."""
    if source is None:  # a Spec built in Python has no file behind it
        return DEFAULT, None
    if path in source.values:
        return str(source.values[path]), None
    if len(path) == 3 and path[0] == "stages" and path[2] == "shortcut":
        inherited, _ = source_of(("shortcut",), source)
        return inherited, "shortcut"
    return DEFAULT, None


# -- costs -----------------------------------------------------------------------------------


def _figures(item: GraphCost | StageCost) -> dict[str, int]:
    return {metric: getattr(item, metric) for metric in METRICS}


def cost_changes(a: GraphCost, b: GraphCost) -> list[CostChange]:
    """One row per stage (A's order, then B's extra stages) and a last `total` row."""
    stages_a = {s.name: s for s in a.stages}
    stages_b = {s.name: s for s in b.stages}
    names = [*stages_a, *(n for n in stages_b if n not in stages_a)]
    rows = [CostChange(n, _figures(stages_a[n]) if n in stages_a else None,
                       _figures(stages_b[n]) if n in stages_b else None) for n in names]
    return [*rows, CostChange("total", _figures(a), _figures(b))]


# -- boxes -----------------------------------------------------------------------------------


def box_changes(a: Graph, b: Graph) -> BoxChanges:
    """Which of B's boxes differ from the box of A at the same place (module docstring)."""
    boxes_a, boxes_b = _boxes(a), _boxes(b)
    changed, changed_a, added = [], [], []
    for place, (name, nodes) in boxes_b.items():
        if place not in boxes_a:
            added.append(name)
        elif fingerprint(a, *boxes_a[place]) != fingerprint(b, name, nodes):
            changed.append(name)
            changed_a.append(boxes_a[place][0])
    removed = [name for place, (name, _) in boxes_a.items() if place not in boxes_b]
    return BoxChanges(changed, added, removed, len(boxes_b), changed_a)


def _boxes(graph: Graph) -> dict[tuple[Any, ...], tuple[str, list[str]]]:
    """Each box's place (what it is matched by) -> its name and its IR nodes."""
    out: dict[tuple[Any, ...], tuple[str, list[str]]] = {}
    residual = [s for s in graph.stages if s.kind == "stage"]
    for stage in graph.stages:
        if stage.kind != "stage":
            out[(stage.name,)] = (stage.name, list(stage.nodes))
            continue
        for index, block_name in enumerate(stage.blocks):
            out[(residual.index(stage), index)] = (block_name, graph.block(block_name).nodes)
    return out


def fingerprint(graph: Graph, box: str, nodes: list[str]) -> tuple[tuple[str, ...], ...]:
    """A box's IR with names relative to it: (node, inputs, branch, op and attributes) each."""
    def relative(name: str) -> str:
        return name.removeprefix(f"{box}.") if name in inside else "<input>"

    inside = set(nodes)
    out = []
    for name in nodes:
        node = graph.node(name)
        attrs = node.model_dump(mode="json", exclude={"name", "inputs", "scope", "loc"})
        out.append((relative(name), ",".join(relative(i) for i in node.inputs),
                    node.scope.branch or "", json.dumps(attrs, sort_keys=True)))
    return tuple(out)


# -- JSON ------------------------------------------------------------------------------------


def to_json(result: SpecDiff, a_ref: str, b_ref: str) -> dict[str, Any]:
    """The `diff --json` document (docs/cli.md describes it)."""
    return {
        "a": {"spec": a_ref, "name": result.a_name},
        "b": {"spec": b_ref, "name": result.b_name},
        "same": result.same,
        "fields": [{"path": c.path, "a": _side_json(c.a), "b": _side_json(c.b)}
                   for c in result.fields],
        "cost": [{"stage": row.name, **{m: _metric_json(row, m) for m in METRICS}}
                 for row in result.costs],
        "blocks": {"changed": result.boxes.changed, "added": result.boxes.added,
                   "removed": result.boxes.removed, "total": result.boxes.total},
    }


def _side_json(side: Side | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {"value": side.value, "source": side.source, "via": side.via}


def _metric_json(row: CostChange, metric: str) -> dict[str, int | None]:
    return {"a": row.a[metric] if row.a else None, "b": row.b[metric] if row.b else None,
            "delta": row.delta(metric)}
