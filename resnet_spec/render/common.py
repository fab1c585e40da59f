"""What the three levels share: the canvas, the title, labels, the legend and block runs.

A *run* is a stretch of consecutive blocks of one stage that are identical in everything drawn
(kind, shortcut, stride, widths, groups, shapes). Collapsing draws each run once, marked ×N, so
that resnet152 or cifar_resnet1202 fit on a page; without collapsing every run has one block.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import graphviz

from resnet_spec import number_format as units
from resnet_spec.ir import BlockInfo, Graph
from resnet_spec.render import palette

COLLAPSE_ABOVE = 40
"""`collapse=None` folds runs at `blocks` and `layers` when a net has more blocks than this."""
CLUSTER_MARGIN = 8 / 72
"""dot's gap, in inches, between a cluster's border and what it holds."""
NODESEP = float(palette.GRAPH_ATTRS["nodesep"])


@dataclass(frozen=True)
class Run:
    """Consecutive identical blocks, drawn as their first one marked ×count."""

    blocks: tuple[BlockInfo, ...]

    @property
    def first(self) -> BlockInfo:
        return self.blocks[0]

    @property
    def count(self) -> int:
        return len(self.blocks)

    @property
    def title(self) -> str:
        if self.count == 1:
            return self.first.name
        return f"{self.first.name} – {self.blocks[-1].name}"


def _signature(block: BlockInfo) -> tuple[object, ...]:
    return (block.stage, block.kind, block.shortcut, block.stride, block.width, block.inner,
            block.groups, block.in_shape, block.out_shape, len(block.nodes), block.se,
            block.dilation, block.attention)


def block_runs(graph: Graph, collapse: bool, emphasize: frozenset[str] = frozenset()
               ) -> list[Run]:
    """The blocks in order, grouped into runs of identical ones when `collapse` is set (a block
    in `emphasize` and one not are never one run)."""
    def key(block: BlockInfo) -> tuple[object, ...]:
        return (*_signature(block), block.name in emphasize)

    runs: list[list[BlockInfo]] = []
    for block in graph.blocks:
        if collapse and runs and key(runs[-1][-1]) == key(block):
            runs[-1].append(block)
        else:
            runs.append([block])
    return [Run(tuple(blocks)) for blocks in runs]


def text_width(text: str, points: float) -> float:
    """A generous estimate of a text's width in inches (Helvetica averages under 0.6 em)."""
    return len(text) * points * 0.6 / 72


def spacer_width(labels: Iterable[tuple[str, float, float]]) -> float:
    """How far the main path must move right to clear every cluster's top-left label.

    Each entry is (label, font points, offset): how far right of that cluster's border the
    path runs without help. One width for all clusters keeps the path straight.
    """
    return max((text_width(text, points) + 0.1 - NODESEP - offset
                for text, points, offset in labels), default=0.0)


def add_spacer(cluster: graphviz.Digraph, name: str, first: str, width: float) -> None:
    """An invisible node set left of `first` (the cluster's first node on the main path)."""
    if width <= 0:
        return
    with cluster.subgraph() as row:
        row.attr(rank="same")
        row.node(f"pad_{name}", "", style="invis", width=f"{width:.2f}", height="0.1",
                 fixedsize="true")
        row.edge(f"pad_{name}", first, style="invis")


def resolve_collapse(graph: Graph, collapse: bool | None) -> bool:
    return len(graph.blocks) > COLLAPSE_ABOVE if collapse is None else collapse


def esc(text: object) -> str:
    """Text made safe inside an HTML-like label."""
    return html.escape(str(text), quote=True)


def params_text(n: int) -> str:
    return f"{units.count(n)} params"


def box_label(header: str, lines: Iterable[str] = (), note: str = "") -> str:
    """An HTML-like label: a bold first line, plain lines, then a muted smaller note.

    Arguments are plain text; escaping happens here.
    """
    parts = [f"<b>{esc(header)}</b>"]
    parts += [esc(line) for line in lines if line]
    if note:
        parts.append(f'<font point-size="9" color="{palette.MUTED}">{esc(note)}</font>')
    return "<" + "<br/>".join(parts) + ">"


def shape_text(shape: Sequence[int]) -> str:
    return units.shape(shape)


def edge_shape(shape: Sequence[int]) -> str:
    """A tensor shape for an edge label, padded because dot sets labels flush with the line."""
    return f"  {units.shape(shape)}"


def title_label(graph: Graph) -> str:
    """The diagram's title: name, description, totals (params, MACs) and the input."""
    from resnet_spec.ir.cost import analyze  # the cost model is only needed for the title

    totals = (f"{units.exact(graph.param_count())} params · {units.count(analyze(graph).macs)}"
              f" MACs · input {shape_text(graph.input_shape)}")
    parts = [f'<font point-size="20"><b>{esc(graph.name)}</b></font>']
    if graph.description:
        parts.append(f'<font point-size="12">{esc(graph.description)}</font>')
    parts.append(f'<font point-size="11" color="{palette.MUTED}">{esc(totals)}</font>')
    return "<" + "<br/>".join(parts) + "<br/> >"


def is_vertical(canvas: graphviz.Digraph) -> bool:
    """Whether the root `canvas` is laid out top to bottom."""
    return canvas.graph_attr.get("rankdir", "TB") == "TB"


def new_canvas(graph: Graph, direction: str) -> graphviz.Digraph:
    """An empty digraph with the house style and the title."""
    attrs = {**palette.GRAPH_ATTRS, "rankdir": direction, "label": title_label(graph)}
    return graphviz.Digraph(name=graph.name, graph_attr=attrs, node_attr=palette.NODE_ATTRS,
                            edge_attr=palette.EDGE_ATTRS)


def io_node(canvas: graphviz.Digraph, name: str, header: str, shape: Sequence[int],
            stride: int | None = None) -> None:
    """The input or an output of the network, as a grey oval (a feature map's with its
    stride)."""
    lines = [shape_text(shape)] + ([f"stride {stride}"] if stride else [])
    canvas.node(name, box_label(header, lines), shape="oval", group="main",
                **palette.family_style("io"))


def stage_of(graph: Graph) -> dict[str, str]:
    """Each IR node -> the name of the stem, stage, final norm or head holding it."""
    return {node: stage.name for stage in graph.stages for node in stage.nodes}


def outputs(canvas: graphviz.Digraph, graph: Graph, drawn_as: Callable[[str], str]) -> None:
    """One oval per network output, fed from the drawn node that `drawn_as` names for the IR
    node producing it. Feature maps (C×H×W outputs) show their stride."""
    from resnet_spec.ir.cost import analyze  # strides only where a backbone returns maps

    maps = any(len(graph.node(n).shape) == 3 for n in graph.outputs.values())
    strides = {n: c.stride for n, c in analyze(graph).nodes.items()} if maps else {}
    for out_name, node_name in graph.outputs.items():
        shape = graph.node(node_name).shape
        stride = strides.get(node_name) if len(shape) == 3 else None
        io_node(canvas, f"output_{out_name}", out_name, shape, stride)
        canvas.edge(drawn_as(node_name), f"output_{out_name}", label=edge_shape(shape))


def shortcut_kinds(runs: Iterable[Run]) -> list[str]:
    """The shortcuts drawn, in the legend's fixed order."""
    present = {run.first.shortcut for run in runs}
    return [kind for kind in palette.SHORTCUT_STYLES if kind in present]


def bare_shortcuts(graph: Graph, runs: Iterable[Run]) -> set[str]:
    """The shortcut kinds drawn whose convs no norm follows in any block (a pre-activation
    block's projection is a bare conv of its pre-activated input): the legend says so."""
    normed: dict[str, bool] = {}
    for run in runs:
        for block in run.blocks:
            ops_ = {graph.node(n).op for n in block.nodes
                    if graph.node(n).scope.branch == "shortcut"}
            normed[block.shortcut] = normed.get(block.shortcut, False) or "norm" in ops_
    return {kind for kind, has_norm in normed.items() if not has_norm}


def legend(canvas: graphviz.Digraph, kinds: Sequence[str],
           emphasis: str | Sequence[tuple[str, str]] = "", bare: Iterable[str] = ()) -> None:
    """A small key of the shortcut edge styles in use, as real edges styled like the drawing,
    and, given `emphasis`, a box styled as the emphasized ones saying what they are (or one
    box per (words, `palette.MARKS` kind) pair). The shortcut kinds in `bare` are said
    without their norm."""
    bare = set(bare)
    if not kinds and not emphasis:
        return
    marks: list[tuple[str, bool | str]] = ([(emphasis, True)] if isinstance(emphasis, str)
                                           else list(emphasis))
    with canvas.subgraph(name="cluster_legend") as key:
        key.attr(label="key" if emphasis else "shortcuts", fontsize="10", style="rounded",
                 color="#c4c4c4", labeljust="l")
        for words, mark in marks if emphasis else ():
            key.node("legend_emphasis" if mark is True else f"legend_{mark}", esc(words),
                     fontsize="10", **palette.box_style("other", emphasized=mark))
        for kind in kinds:
            text, style = palette.SHORTCUT_STYLES[kind]
            if kind in bare:
                text = text.removesuffix(" + norm")
            if kind == "none":  # nothing to show but the words (dot hides an invisible label)
                key.node(f"legend_{kind}", text, shape="plaintext", style="", fontsize="10")
                continue
            tail, head = f"legend_{kind}_from", f"legend_{kind}_to"
            for end in (tail, head):
                key.node(end, "", shape="point", width="0.04", style="invis")
            key.edge(tail, head, label=f" {text}", fontsize="10", fontcolor=palette.INK,
                     arrowsize="0.6", **style)
