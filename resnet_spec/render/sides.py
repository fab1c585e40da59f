"""`diff -o`'s drawing: A and B side by side at the blocks level, each box that differs marked
on both sides (changed: red; only in A: dashed grey; only in B: green).

Each side is the ordinary blocks-level drawing (`blocks.draw`) made through a `Prefixed`
canvas, which puts `a/` or `b/` before every node, cluster and alignment group it names, so
the two drawings of graphs with the same node names share one DOT graph without touching.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import graphviz

from resnet_spec.ir import Graph
from resnet_spec.render import blocks, common, palette
from resnet_spec.render.common import esc

MARK_WORDS: dict[str, str] = {"changed": "differs", "added": "only in B",
                              "removed": "only in A"}
"""The legend's words for each `palette.MARKS` kind."""


class Prefixed:
    """A DOT canvas (or cluster) whose node, cluster and group names all get one prefix."""

    def __init__(self, inner: graphviz.Digraph, prefix: str, root: graphviz.Digraph) -> None:
        self.inner, self.prefix, self.root = inner, prefix, root

    @property
    def graph_attr(self) -> dict[str, str]:
        """The root's, which the drawing reads for its direction."""
        return self.root.graph_attr

    def _attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "group" in attrs:
            attrs = {**attrs, "group": self.prefix + attrs["group"]}
        return attrs

    def node(self, name: str, label: str | None = None, **attrs: Any) -> None:
        self.inner.node(self.prefix + name, label, **self._attrs(attrs))

    def edge(self, tail: str, head: str, label: str | None = None, **attrs: Any) -> None:
        self.inner.edge(self.prefix + tail, self.prefix + head, label, **attrs)

    def attr(self, kw: str | None = None, **attrs: Any) -> None:
        self.inner.attr(kw, **attrs)

    @contextmanager
    def subgraph(self, name: str | None = None, **options: Any) -> Iterator[Prefixed]:
        if name is not None:
            cluster = name.startswith("cluster")
            bare = name.removeprefix("cluster_").removeprefix("cluster")
            name = ("cluster_" if cluster else "") + self.prefix + bare
        with self.inner.subgraph(name=name, **options) as sub:
            yield Prefixed(sub, self.prefix, self.root)


def to_dot_sides(a: Graph, b: Graph, marks_a: Mapping[str, str], marks_b: Mapping[str, str],
                 *, collapse: bool | None = None) -> str:
    """The DOT source of A's and B's blocks-level drawings side by side, their marked boxes
    bordered as `palette.MARKS` says (`diff.BoxChanges.marks`)."""
    title = (f'<<font point-size="20"><b>{esc(a.name)} → {esc(b.name)}</b></font><br/>'
             f'<font point-size="11" color="{palette.MUTED}">A on the left, B on the right; '
             "the boxes that differ are marked on both sides</font><br/> >")
    root = graphviz.Digraph(name=f"{a.name}_to_{b.name}",
                            graph_attr={**palette.GRAPH_ATTRS, "rankdir": "TB",
                                        "label": title},
                            node_attr=palette.NODE_ATTRS, edge_attr=palette.EDGE_ATTRS)
    for side, graph, marks in (("a", a, marks_a), ("b", b, marks_b)):
        with root.subgraph(name=f"cluster_side_{side}") as cluster:
            cluster.attr(label=_side_title(side, graph), style="rounded", color="#c4c4c4")
            words = [(MARK_WORDS[kind], kind) for kind in palette.MARKS
                     if kind in set(marks.values())]
            blocks.draw(graph, Prefixed(cluster, f"{side}/", root),  # type: ignore[arg-type]
                        common.resolve_collapse(graph, collapse), dict(marks), words)
    return root.source


def _side_title(side: str, graph: Graph) -> str:
    parts = [f'<font point-size="16"><b>{side.upper()}: {esc(graph.name)}</b></font>']
    if graph.description:
        parts.append(f'<font point-size="11">{esc(graph.description)}</font>')
    return "<" + "<br/>".join(parts) + "<br/> >"
