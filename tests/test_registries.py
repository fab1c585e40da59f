"""The registries: every IR op has exactly one rule in each registry keyed by op kind, and
elaboration refuses, at its line, a value of the language that no builder is registered for."""

from __future__ import annotations

from pathlib import Path

import pytest

import resnet_spec
from resnet_spec import check, cost, ir
from resnet_spec.compiler import init
from resnet_spec.compiler.lower import LOWERINGS
from resnet_spec.elaboration import blocks, heads, shortcuts, stems
from resnet_spec.errors import UnsupportedError
from resnet_spec.render import ops
from resnet_spec.schema import BlockKind, Shortcut, StemKind

REGISTRIES = {
    "check": check.RULES,
    "cost": cost.RULES,
    "drawing": ops.RULES,
    "lowering": LOWERINGS,
    "init": init.INITIALIZERS,
}


def test_the_op_list_is_derived_from_the_node_types() -> None:
    kinds = [t.model_fields["op"].default for t in ir.NODE_TYPES]
    assert list(ir.OP_KINDS) == kinds
    assert len(set(kinds)) == len(kinds)
    assert all(issubclass(t, ir._OpNode) for t in ir.NODE_TYPES)


def test_every_registry_has_one_entry_per_op() -> None:
    for name, registry in REGISTRIES.items():
        assert set(registry) == set(ir.OP_KINDS), f"the {name} registry and the IR's ops differ"


def test_ops_with_state_are_initialized_and_others_are_not() -> None:
    for node_type in ir.NODE_TYPES:
        op = node_type.model_fields["op"].default
        stateful = (node_type.params is not ir._OpNode.params
                    or node_type.buffers is not ir._OpNode.buffers)
        assert (init.INITIALIZERS[op] is not init._stateless) == stateful, op


def test_every_value_of_the_language_has_a_builder() -> None:
    assert set(stems.STEMS) == set(StemKind)
    assert set(blocks.BLOCKS) == set(BlockKind)
    assert set(shortcuts.SHORTCUTS) == set(Shortcut)
    assert set(heads.ENDINGS) == set(heads.Ending)


def test_a_value_without_a_builder_is_refused_at_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text("name: t\nblock: {kind: basic}\nstages:\n  - {depth: 1, width: 8}\n"
                    "  - {depth: 1, width: 16, stride: 2, shortcut: zero_pad}\n")
    monkeypatch.delitem(blocks.BLOCKS, BlockKind.basic)
    with pytest.raises(UnsupportedError) as caught:
        resnet_spec.elaborate(spec)
    assert str(caught.value).startswith(f"{spec}:2:9: block.kind: the block kind `basic` is "
                                        "not supported yet")
    monkeypatch.undo()
    monkeypatch.delitem(shortcuts.SHORTCUTS, Shortcut.zero_pad)
    with pytest.raises(UnsupportedError) as caught:
        resnet_spec.elaborate(spec)
    assert str(caught.value).startswith(f"{spec}:5:38: stages[1].shortcut: the shortcut "
                                        "`zero_pad` is not supported yet")
