"""Where a graph error's cause was written, when that is not where the error is located.

The graph checks locate a finding at the spec entry of the node that failed: a stage, the stem.
With `extends` (and `--set`), that entry may sit in a parent file while the value that broke it
came from the user's file: `norm: {kind: group, groups: 48}` in `my.yaml` breaks the norms of
every stage of `resnet18.yaml`. Each check reads a known set of spec fields (`CAUSES`); when one
of them was written in a later layer than the entry, the finding moves to that field, keeps the
entry as a note, and the findings of one check at one moved place become one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from resnet_spec.elaboration.blocks import width_fields
from resnet_spec.errors import Loc, Note
from resnet_spec.spec.yaml_source import PathKey, SourceMap

if TYPE_CHECKING:
    from resnet_spec.ir import Graph
    from resnet_spec.ir.check import Finding

STAGE = "*"
"""In a field of `CAUSES`: the index of the stage the finding is in."""

_BLOCK = tuple(f for name in ("kind", "expansion", *width_fields(), "options")
               for f in (f"stages.*.block.{name}", f"block.{name}"))
"""The block fields the widths depend on: the kind, the expansion, and the fields only some
kinds use (their registrations' `fields`: a bottleneck's `groups` and `base_width`), and a
plugin kind's `options`."""
_WIDTHS = ("stages.*.width", *_BLOCK, "stem.widths", "stem.width", "stem.kind")
_SIZES = ("input.height", "input.width", "input", "stem.stride", "stem.kernel", "stem.pool",
          "stem.kind", "stages.*.stride", "stages.*.dilation", "output_stride")
_NORM = ("norm.groups", "norm.kind", "norm")
_SHORTCUT = ("stages.*.shortcut", "shortcut")

CAUSES: dict[str, tuple[str, ...]] = {
    "conv_groups": _WIDTHS,
    "norm_groups": (*_NORM, *_WIDTHS),
    "norm_single": (*_NORM, *_SIZES, *_WIDTHS),
    "zero_pad": (*_SHORTCUT, *_WIDTHS),
    "add_shapes": (*_SHORTCUT, "stages.*.stride", "stages.*.dilation", "output_stride",
                   *_WIDTHS),
    "empty_map": _SIZES,
    "zero_channels": _WIDTHS,
    "small_input": _SIZES,
    "channel_limit": _WIDTHS,
    "group_width": ("stages.*.block.groups", "block.groups", "stages.*.block.base_width",
                    "block.base_width", "stages.*.width"),
    # the IR's own consistency: a broken pass or builder, never a value of the spec
    "structure": (),
    "recorded_shape": (),
    "map_input": (),
    "conv_channels": (),
    "norm_channels": (),
    "linear_features": (),
    "gate_shape": (),
    "slice_range": (),
    "concat_sizes": (),
    "unregistered_op": (),
}
"""Each check of `check.py` -> the spec fields (dotted, `*` for the finding's stage) whose
values it depends on, the likeliest cause first: a finding moves to the first of those written
in the latest layer."""


@dataclass
class _Moved:
    finding: Finding
    places: list[Loc]
    """The entries where the check failed, in graph order (the first is the finding's)."""


def relocate(findings: list[Finding], graph: Graph, source: SourceMap) -> list[Finding]:
    """The findings, each caused by a later layer's value moved to that value, one per check
    and place; the others as they are, in the same order."""
    out: list[Finding | _Moved] = []
    moved: dict[tuple[str, Loc, str], _Moved] = {}
    for f in findings:
        cause = _cause(f, graph, source)
        if cause is None or f.loc is None:
            out.append(f)
            continue
        key = (f.severity, cause, f.check)
        if key in moved:
            moved[key].places.append(f.loc)
            continue
        moved[key] = _Moved(replace(f, loc=cause), [f.loc])
        out.append(moved[key])
    return [_with_notes(item) if isinstance(item, _Moved) else item for item in out]


def _cause(f: Finding, graph: Graph, source: SourceMap) -> Loc | None:
    """Where the value that caused `f` was written, if a later layer than `f`'s place."""
    if f.loc is None or not f.node:
        return None
    return cause(source, f.check, f.loc, _stage_index(graph.node(f.node).scope.stage))


def cause(source: SourceMap, check: str, loc: Loc, stage: int | None) -> Loc | None:
    """Where the newest value that check `check` depends on was written, if that is a later
    layer than `loc` (the entry of stage `stage`, or of the stem for None); else None."""
    best, best_rank = None, source.rank(loc)
    for field in CAUSES.get(check, ()):
        path = field_path(field, stage)
        loc = source.exact(path) if path is not None else None
        if loc is not None and source.rank(loc) > best_rank:
            best, best_rank = loc, source.rank(loc)
    return best


def field_path(field: str, stage: int | None) -> PathKey | None:
    """`stages.*.width` in stage 2 -> ("stages", 2, "width"); None outside a stage."""
    if STAGE in field.split(".") and stage is None:
        return None
    return tuple(stage if part == STAGE else part for part in field.split("."))  # type: ignore[misc]


def _stage_index(scope_stage: str) -> int | None:
    """`layer3` -> 2 (the 0-based index in `stages`); None for the stem, head, input."""
    m = re.fullmatch(r"layer(\d+)", scope_stage)
    return int(m[1]) - 1 if m else None


def blamed(source: SourceMap | None, check: str, loc: Loc | None, stage: int | None
           ) -> tuple[Loc | None, tuple[Note, ...]]:
    """For an error raised while elaborating: its place and notes, moved to the cause as
    `relocate` moves a finding (unchanged if no later layer wrote one)."""
    moved = cause(source, check, loc, stage) if source is not None and loc is not None else None
    if moved is None:
        return loc, ()
    return moved, (Note("the layers this breaks are defined here", loc),)


def _with_notes(item: _Moved) -> Finding:
    first, rest = item.places[0], item.places[1:]
    concerns = "this breaks" if item.finding.severity == "error" else "it concerns"
    notes = [Note(f"the layers {concerns} are defined here", first)]
    if rest:
        also = _listed([p.path or str(p) for p in rest])
        lines = ""
        if all(p.file == first.file and p.line > 0 for p in rest):
            lines = f" (line{'s' if len(rest) > 1 else ''} {_listed([str(p.line) for p in rest])})"
        notes.append(Note(f"and the same in {also}{lines}"))
    return replace(item.finding, notes=(*item.finding.notes, *notes))


def _listed(words: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]
