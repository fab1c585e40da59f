"""Diagrams are laid out within bounds: too many nodes or edges is a one-line refusal before
`dot` runs, and `dot` itself cannot take more memory than `limits.MAX_RENDER_BYTES`."""

from __future__ import annotations

from pathlib import Path

import pytest

import resnet_spec
from resnet_spec import limits
from resnet_spec.render import RendererMissing, RenderError, find_executable, render, to_dot
from resnet_spec.render.engine import check_layout_size, layout_size

WIDE = ("extends: cifar_resnet20\nname: wide\nstages:\n  - {depth: 250, width: 16}\n"
        "  - {depth: 250, width: 32, stride: 2}\n  - {depth: 250, width: 64, stride: 2}\n")


def _dot(nodes: int, edges: int) -> str:
    lines = [f'\t"n{i}" [label="n{i}"]' for i in range(nodes)]
    lines += [f'\t"n{i % nodes}" -> "n{(i + 1) % nodes}"' for i in range(edges)]
    head = 'digraph g {\n\tgraph [label="a -> b"]\n\tnode [shape=box]\n'
    return head + "\n".join(lines) + "\n}\n"


def test_nodes_and_edges_are_counted_as_written() -> None:
    graph = resnet_spec.elaborate("resnet18")
    dot = to_dot(graph, level="layers", collapse=False)
    nodes, edges = layout_size(dot)
    # every IR node is drawn, plus layout helpers; every IR edge is drawn
    assert nodes >= len(list(graph.nodes()))
    assert edges >= graph.nx.number_of_edges()
    assert layout_size(_dot(7, 9)) == (7, 9)


@pytest.mark.parametrize(("nodes", "edges", "refused"), [
    (limits.MAX_LAYOUT_NODES, limits.MAX_LAYOUT_EDGES, False),
    (limits.MAX_LAYOUT_NODES + 1, 10, True),
    (10, limits.MAX_LAYOUT_EDGES + 1, True),
])
def test_the_bound_is_checked_before_layout(nodes: int, edges: int, refused: bool) -> None:
    if not refused:
        check_layout_size(_dot(nodes, edges))
        return
    with pytest.raises(RenderError) as caught:
        render(_dot(nodes, edges), "svg")
    assert f"the diagram has {nodes:,} nodes and {edges:,} edges" in str(caught.value)
    assert "--collapse" in caught.value.hint and "--level" in caught.value.hint


def test_render_refuses_an_uncollapsed_layers_diagram_but_writes_its_dot(
        tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wide.yaml").write_text(WIDE)
    monkeypatch.chdir(tmp_path)
    result = run_cli("render", "wide.yaml", "--level", "layers", "--no-collapse", "-o", "w.svg")
    assert result.code == 1
    assert result.err.startswith("the diagram has 6,015 nodes and 6,762 edges; SVG and PNG are "
                                 "drawn up to 5,000 nodes")
    assert len(result.err.splitlines()) == 1
    assert not (tmp_path / "w.svg").exists()
    assert run_cli("render", "wide.yaml", "--level", "layers", "--no-collapse", "-o",
                   "w.dot").code == 0
    assert run_cli("render", "wide.yaml", "--level", "layers", "-o", "w.svg").code == 0


def test_the_renderer_cannot_take_more_memory_than_its_cap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        renderer = find_executable()
    except RendererMissing:
        pytest.skip("no renderer on this machine")
    if "graphviz-pure" not in Path(renderer).name:  # the figures below are graphviz-pure's
        pytest.skip(f"measured for graphviz-pure, not {renderer}")
    dot = to_dot(resnet_spec.elaborate("cifar_resnet110"), level="layers", collapse=False)
    assert render(dot, "svg").startswith(b"<?xml")
    monkeypatch.setattr(limits, "MAX_RENDER_BYTES", 32 << 20)  # ~64 MiB needed
    with pytest.raises(RenderError) as caught:
        render(dot, "svg")
    assert "ran out of the 32.0 MiB of memory it may use" in str(caught.value)
