"""`resnet-spec diff A B` and `resnet_spec.ir.diff`: the resolved fields that differ with where each
side was set, the cost per stage, the blocks of B that differ from A, and the diagram of B with
them marked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from resnet_spec.elaboration import elaborate
from resnet_spec.ir.diff import DEFAULT, SpecDiff, diff_specs, fingerprint
from resnet_spec.render import RenderError, find_executable, to_dot
from resnet_spec.render.palette import EMPHASIS, MARKS
from resnet_spec.spec.loader import load


def _diff(a: str, b: str) -> SpecDiff:
    spec_a, spec_b = load(a), load(b)
    return diff_specs(spec_a, elaborate(spec_a), spec_b, elaborate(spec_b))


def _fields(result: SpecDiff) -> dict[str, tuple]:
    return {c.path: (c.a and (c.a.value, c.a.source, c.a.via),
                     c.b and (c.b.value, c.b.source, c.b.via)) for c in result.fields}


def test_resnet50_against_resnet50d() -> None:
    result = _diff("resnet50", "resnet50d")
    fields = _fields(result)
    # the stages take the top-level shortcut on both sides: its change is listed once
    assert list(fields) == ["name", "description", "stem.kind", "shortcut"]
    a_kind, b_kind = fields["stem.kind"]
    assert a_kind[0] == "conv" and a_kind[1].endswith("resnet50.yaml:8:14")
    assert b_kind[0] == "deep" and b_kind[1].endswith("resnet50c.yaml:5:14")  # up the chain
    assert result.boxes.changed == ["stem", "layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    assert (result.boxes.added, result.boxes.removed, result.boxes.total) == ([], [], 18)
    costs = {row.name: row for row in result.costs}
    assert costs["stem"].delta("params") == 28_768 - 9_536  # three 3x3 convs and norms
    assert costs["layer1"].delta("params") == costs["head"].delta("macs") == 0
    assert costs["total"].delta("params") == 25_576_264 - 25_557_032


def test_resnet18_against_resnet34() -> None:
    result = _diff("resnet18", "resnet34")
    assert {p: (a[0], b[0]) for p, (a, b) in _fields(result).items() if "depth" in p} == {
        "stages[0].depth": (2, 3), "stages[1].depth": (2, 4), "stages[2].depth": (2, 6),
        "stages[3].depth": (2, 3)}
    assert result.boxes.changed == []
    assert result.boxes.added == ["layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3",
                                  "layer3.4", "layer3.5", "layer4.2"]
    assert _diff("resnet34", "resnet18").boxes.removed == result.boxes.added
    total = result.costs[-1]
    assert (total.a["params"], total.b["params"]) == (11_689_512, 21_797_672)  # torchvision's


def test_a_spec_against_itself() -> None:
    result = _diff("resnet50", "resnet50")
    assert result.same and result.fields == []
    assert not result.boxes.highlighted
    assert all(row.delta(m) == 0 for row in result.costs for m in ("params", "macs"))


def test_one_changed_field_of_a_file_extending_a_builtin(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "eps.yaml").write_text("extends: resnet18\nname: resnet18\n"
                                        "norm: {eps: 0.001}\n")
    monkeypatch.chdir(tmp_path)
    result = _diff("resnet18", "eps.yaml")
    [change] = result.fields
    assert change.path == "norm.eps"
    assert (change.a.value, change.a.source) == (1e-5, DEFAULT)
    assert (change.b.value, change.b.source) == (0.001, "eps.yaml:3:13")
    # every norm's eps changed: every box with a norm differs (not the head), no figure moves
    assert result.boxes.total == 10
    assert result.boxes.changed == ["stem", *(f"layer{s}.{i}" for s in range(1, 5)
                                              for i in range(2))]
    assert all(row.delta(m) == 0 for row in result.costs for m in ("params", "macs"))


def test_a_different_stage_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "three.yaml").write_text(
        "extends: resnet18\nname: three\nstages:\n  - {depth: 2, width: 64}\n"
        "  - {depth: 2, width: 128, stride: 2}\n  - {depth: 2, width: 256, stride: 2}\n")
    monkeypatch.chdir(tmp_path)
    result = _diff("resnet18", "three.yaml")
    gone = [c for c in result.fields if c.path.startswith("stages[3].")]
    assert gone and all(c.b is None and c.a is not None for c in gone)
    assert result.boxes.removed == ["layer4.0", "layer4.1"]
    assert "head" in result.boxes.changed  # its linear layer takes 256 features, not 512
    assert [row.name for row in result.costs if row.b is None] == ["layer4"]


def test_the_fingerprint_ignores_the_block_name_only() -> None:
    graph = elaborate(load("resnet34"))
    blocks = {b.name: b for b in graph.blocks}
    assert fingerprint(graph, "layer3.1", blocks["layer3.1"].nodes) == fingerprint(
        graph, "layer3.4", blocks["layer3.4"].nodes)
    assert fingerprint(graph, "layer3.0", blocks["layer3.0"].nodes) != fingerprint(
        graph, "layer3.1", blocks["layer3.1"].nodes)


# -- the command -----------------------------------------------------------------------------


def test_the_text_report(run_cli) -> None:
    result = run_cli("diff", "resnet50", "resnet50d")
    assert result.code == 0, result.err
    out = result.out
    assert "4 fields differ:" in out
    assert re.search(r"  stem.kind\n    - \"conv\" +specs/resnet50.yaml:8:14\n"
                     r"    \+ \"deep\" +specs/resnet50c.yaml:5:14\n", out)
    assert "specs/resnet50d.yaml:5:11" in out and "(via shortcut)" not in out
    assert re.search(r"│ stem +│ +9.54K → 28.77K │ +\+19.23K \(\+201.7%\) │", out)
    assert re.search(r"│ total +│ 25.56M → 25.58M │", out)
    assert "blocks: 5 of B's 18 differ from A" in out
    assert "changed: stem, layer1.0, layer2.0, layer3.0, layer4.0" in out


def test_no_differences_is_said_and_exits_0(run_cli) -> None:
    result = run_cli("diff", "resnet18", "resnet18")
    assert result.code == 0
    assert "no differences: resnet18 and resnet18 resolve to the same spec" in result.out
    assert "│" not in result.out


def test_json(run_cli) -> None:
    result = run_cli("diff", "resnet18", "resnet34", "--json")
    assert result.code == 0 and result.err == ""
    doc = json.loads(result.out)
    assert (doc["a"], doc["same"]) == ({"spec": "resnet18", "name": "resnet18"}, False)
    depth = next(f for f in doc["fields"] if f["path"] == "stages[2].depth")
    assert depth["a"]["value"] == 2 and depth["b"]["source"] == "specs/resnet34.yaml:8:13"
    assert depth["a"]["via"] is None
    total = doc["cost"][-1]
    assert total["stage"] == "total"
    assert total["params"] == {"a": 11_689_512, "b": 21_797_672, "delta": 10_108_160}
    assert doc["blocks"]["added"][0] == "layer1.2" and doc["blocks"]["total"] == 18
    assert json.loads(run_cli("diff", "resnet18", "resnet18", "--json").out)["same"] is True


def test_an_invalid_spec_is_an_error(run_cli) -> None:
    result = run_cli("diff", "resnet18", "resnet5")
    assert result.code == 1 and result.out == ""
    assert result.err.startswith("resnet5: no spec file or built-in spec named")


def _emphasized(dot: str, colour: str = EMPHASIS["color"]) -> set[str]:
    return set(re.findall(rf'^\s*"?([\w./]+)"? \[.*color="{colour}"', dot, re.M))


def test_the_diagram_marks_the_changed_blocks_on_both_sides(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "d.dot"
    result = run_cli("diff", "resnet50", "resnet50d", "-o", str(out))
    assert result.code == 0 and result.err == f"wrote {out}\n"
    dot = out.read_text()
    changed = {"stem", "layer1.0", "layer2.0", "layer3.0", "layer4.0", "legend_changed"}
    assert _emphasized(dot) == {f"{side}/{name}" for side in "ab" for name in changed}
    assert "A: resnet50" in dot and "B: resnet50d" in dot and "differs" in dot


def test_the_diagram_draws_what_only_one_side_has(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "d.dot"
    assert run_cli("diff", "resnet34", "resnet18", "-o", str(out)).code == 0
    dot = out.read_text()
    gone = {"layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3", "layer3.4", "layer3.5",
            "layer4.2"}
    assert _emphasized(dot, MARKS["removed"]["color"]) == {f"a/{n}" for n in gone} | {
        "a/legend_removed"}
    assert 'style="rounded,filled,dashed"' in dot and "only in A" in dot
    assert not any(name.startswith("b/") for name in _emphasized(dot, MARKS["removed"]["color"]))
    out.unlink()
    assert run_cli("diff", "resnet18", "resnet34", "-o", str(out)).code == 0
    assert _emphasized(out.read_text(), MARKS["added"]["color"]) == {f"b/{n}" for n in gone} | {
        "b/legend_added"}


def test_emphasized_blocks_are_never_folded_with_others() -> None:
    graph = elaborate(load("cifar_resnet110"))  # 54 blocks: collapsed by default
    plain = to_dot(graph)
    marked = to_dot(graph, emphasize=frozenset({"layer2.5"}))
    assert _emphasized(plain) == set()
    assert _emphasized(marked) == {"layer2.5", "legend_emphasis"}
    assert "layer2.1 – layer2.4" in marked and "layer2.6 – layer2.17" in marked
    assert "layer2.1 – layer2.17" in plain
    with pytest.raises(RenderError, match="blocks level only"):
        to_dot(graph, level="layers", emphasize={"layer2.5"})


@pytest.mark.skipif(find_executable() is None, reason="no dot renderer")
def test_an_svg(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "d.svg"
    assert run_cli("diff", "resnet18", "resnet34", "-o", str(out)).code == 0
    assert out.read_text().count(f'stroke="{MARKS["added"]["color"]}"') >= 9  # 8 blocks, key
