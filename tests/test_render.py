"""Diagrams: golden DOT, well-formed SVG and PNG, node counts per level, determinism, and which
renderer is found (system `dot`, the `graphviz-pure` binary, or neither).

Golden files: tests/golden/<spec>.<level>.dot. After an intended change to the drawing, rewrite
them with

    RESNET_SPEC_UPDATE_GOLDEN=1 pytest tests/test_render.py -k golden

and review the diff before committing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.render import (
    LEVELS,
    RendererMissing,
    RenderError,
    engine,
    render,
    to_dot,
    write_diagram,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_SPECS = ("resnet18", "cifar_resnet20")  # projection shortcuts; zero-pad shortcuts
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# a node statement of the DOT the graphviz package writes: indented id, then attributes
_NODE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[\w.]+) \[', re.MULTILINE)
_HELPERS = ("pad_", "legend_")
"""Invisible spacers and the legend's ends: drawn nodes that stand for nothing in the IR."""

_graphs: dict[str, resnet_spec.Graph] = {}


def graph(name: str) -> resnet_spec.Graph:
    if name not in _graphs:
        _graphs[name] = resnet_spec.elaborate(name)
    return _graphs[name]


def drawn_nodes(dot: str) -> list[str]:
    names = [m.strip('"') for m in _NODE.findall(dot)]
    return [n for n in names if n not in ("graph", "node", "edge") and not n.startswith(_HELPERS)]


def pure_only_path(tmp_path: Path) -> str:
    """A PATH holding nothing but the real `graphviz-pure` binary (a pyenv shim would need PATH
    itself), so no system `dot` can be found."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        binary = Path(folder) / "graphviz-pure"
        if binary.is_file():
            bin_dir = tmp_path / "bin"
            bin_dir.mkdir(exist_ok=True)
            (bin_dir / "graphviz-pure").symlink_to(binary)
            return str(bin_dir)
    pytest.skip("the graphviz-pure binary is not installed beside this interpreter")


@pytest.mark.parametrize("name", GOLDEN_SPECS)
@pytest.mark.parametrize("level", LEVELS)
def test_golden_dot(name: str, level: str) -> None:
    dot = to_dot(graph(name), level=level)
    path = GOLDEN / f"{name}.{level}.dot"
    if os.environ.get("RESNET_SPEC_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(dot, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; see this module's docstring"
    assert dot == path.read_text(encoding="utf-8"), (
        f"{name} at {level} draws differently from {path.name}; if intended, regenerate it "
        "(see this module's docstring)")


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "cifar_resnet20", "cifar_plain56",
                                  "resnetv2_50", "resnet50_os8"])
def test_node_counts_follow_the_ir(name: str) -> None:
    g = graph(name)
    outputs = len(g.outputs)
    stages = drawn_nodes(to_dot(g, level="stages"))
    assert len(stages) == 1 + len(g.stages) + outputs
    # blocks: input, stem, final norm, head, outputs, a box per block and a ⊕ per block with a
    # shortcut
    adds = sum(b.shortcut != "none" for b in g.blocks)
    boxes = sum(s.kind != "stage" for s in g.stages)
    blocks = drawn_nodes(to_dot(g, level="blocks", collapse=False))
    assert len(blocks) == 1 + boxes + outputs + len(g.blocks) + adds
    assert {b.name for b in g.blocks} <= set(blocks)
    layers = drawn_nodes(to_dot(g, level="layers", collapse=False))
    assert sorted(layers) == sorted([n.name for n in g.nodes()] + [f"output_{o}" for o in
                                                                     g.outputs])


def test_plain_net_draws_no_additions() -> None:
    dot = to_dot(graph("cifar_plain56"), level="blocks")
    assert ".add" not in dot
    assert "none: plain block, no shortcut" in dot


def test_shortcut_styles_follow_the_policy() -> None:
    r18 = to_dot(graph("resnet18"), level="blocks")
    assert "style=dashed" in r18 and "projection: 1×1 conv + norm" in r18
    c20 = to_dot(graph("cifar_resnet20"), level="blocks")
    assert "style=dotted" in c20 and "subsample /2, zero-pad to 32" in c20
    assert "style=dashed" not in c20


def test_collapse_folds_identical_runs() -> None:
    g = graph("cifar_resnet1202")
    # per stage: layer1 is one run of 200; layers 2 and 3 are a strided block + a run of 199
    blocks = drawn_nodes(to_dot(g, level="blocks"))
    assert len(blocks) == 1 + 2 + 1 + 5 * 2
    dot = to_dot(g, level="layers")
    assert "×200" in dot and "×199" in dot
    # input, stem (3 ops), 5 basic blocks of 7 ops plus 2 zero-pad shortcuts, head (2), logits
    assert len(drawn_nodes(dot)) == 1 + 3 + 5 * 7 + 2 + 2 + 1
    assert len(drawn_nodes(to_dot(g, level="blocks", collapse=False))) == 1 + 2 + 1 + 600 * 2


def test_collapse_default_depends_on_depth() -> None:
    r101 = drawn_nodes(to_dot(graph("resnet101"), level="blocks"))
    assert len(r101) == 1 + 2 + 1 + 2 * 33  # 33 blocks: drawn one by one
    r152 = drawn_nodes(to_dot(graph("resnet152"), level="blocks"))
    assert len(r152) == 1 + 2 + 1 + 2 * 8  # 50 blocks: 4 stages of a first block + one run
    assert len(drawn_nodes(to_dot(graph("resnet152"), level="blocks", collapse=False))) == 104


def test_edges_carry_shapes_and_boxes_params() -> None:
    dot = to_dot(graph("resnet18"), level="blocks")
    assert 'label="  64×56×56"' in dot and 'label="  512×7×7"' in dot
    assert "73.98K params" in to_dot(graph("cifar_resnet20"), level="blocks")
    assert "11,689,512 params · 1.81G MACs" in dot


def test_title_escapes_html() -> None:
    spec = resnet_spec.load("resnet18").model_copy(update={"description": "a <b> & \"c\""})
    dot = to_dot(resnet_spec.elaborate(spec), level="stages")
    assert "a &lt;b&gt; &amp; &quot;c&quot;" in dot


@pytest.mark.parametrize("level", LEVELS)
def test_svg_is_well_formed_and_deterministic(level: str) -> None:
    dot = to_dot(graph("cifar_resnet20"), level=level)
    svg = render(dot, "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    titles = {el.text for el in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {"input", "output_logits"} <= titles
    assert render(to_dot(graph("cifar_resnet20"), level=level), "svg") == svg


def test_png_signature_and_determinism(tmp_path: Path) -> None:
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    write_diagram(graph("resnet18"), first, level="stages")
    write_diagram(graph("resnet18"), second, level="stages")
    assert first.read_bytes().startswith(PNG_SIGNATURE)
    assert first.read_bytes() == second.read_bytes()


def test_left_to_right_direction() -> None:
    dot = to_dot(graph("cifar_resnet20"), level="layers", direction="LR")
    assert "rankdir=LR" in dot and "pad_layer" not in dot  # label spacers are for TB only
    ET.fromstring(render(dot, "svg"))


def test_write_diagram_formats_and_atomicity(tmp_path: Path) -> None:
    write_diagram(graph("resnet18"), tmp_path / "out" / "r18.dot")
    assert (tmp_path / "out" / "r18.dot").read_text().startswith("digraph resnet18 {")
    with pytest.raises(RenderError, match="format"):
        write_diagram(graph("resnet18"), tmp_path / "r18.pdf")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out", "r18.dot"]


def test_bad_options_are_render_errors() -> None:
    with pytest.raises(RenderError, match="level"):
        to_dot(graph("resnet18"), level="ops")
    with pytest.raises(RenderError, match="direction"):
        to_dot(graph("resnet18"), direction="BT")
    with pytest.raises(RenderError, match="format"):
        render("digraph {}", "pdf")


def test_renders_with_only_graphviz_pure_on_path(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", pure_only_path(tmp_path))
    assert shutil.which("dot") is None
    assert Path(engine.find_executable()).name == "graphviz-pure"
    ET.fromstring(render(to_dot(graph("cifar_resnet20"), level="stages"), "svg"))


def test_wheel_binary_is_found_off_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """pipx, or a venv run without activating it: the wheel's binary is not on PATH."""
    if engine._wheel_binary() is None:
        pytest.skip("graphviz-pure is not installed as a wheel here")
    monkeypatch.setenv("PATH", "")
    assert render("digraph { a }", "svg").lstrip().startswith(b"<?xml")


def test_no_renderer_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        run_cli) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(engine, "_wheel_binary", lambda: None)
    with pytest.raises(RendererMissing, match="graphviz-pure"):
        render("digraph { a }", "svg")
    write_diagram(graph("resnet18"), tmp_path / "fine.dot")  # DOT needs no renderer
    result = run_cli("render", "resnet50", "-o", str(tmp_path / "none.svg"))
    assert result.code == 3
    assert result.err.count("\n") == 1 and "pip install graphviz-pure" in result.err
    assert not (tmp_path / "none.svg").exists()


def test_cli_renders_as_a_process_without_system_dot(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": pure_only_path(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "resnet_spec", "render", "resnet50", "--level",
                           "blocks", "-o", "r50.svg"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    ET.parse(tmp_path / "r50.svg")


def test_cli_usage_and_stdout(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("render", "cifar_resnet20", "--level", "stages", "--direction", "LR")
    assert result.code == 0 and result.out.startswith("digraph cifar_resnet20 {")
    assert run_cli("render", "resnet18", "-o", "x.pdf").code == 2
    assert run_cli("render", "resnet18", "--level", "ops").code == 2


def test_rendering_never_imports_torch() -> None:
    code = ("import sys, resnet_spec; from resnet_spec.render import to_dot, render; "
            "render(to_dot(resnet_spec.elaborate('resnet18'), level='layers'), 'svg'); "
            "from resnet_spec.cli import render_cmd; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
