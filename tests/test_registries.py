"""The registries: every IR op class carries all its rules and has its one compiler
registration, and elaboration refuses, at its line, a value of the language that no builder is
registered for."""

from __future__ import annotations

from pathlib import Path

import pytest

import resnet_spec
from resnet_spec import ir
from resnet_spec.compiler import ops as backends
from resnet_spec.compiler.passes.drop_training import TRAINING_ONLY_MODULES
from resnet_spec.elaboration import blocks, heads, shortcuts, stems
from resnet_spec.errors import SpecError, UnsupportedError
from resnet_spec.render.palette import FAMILY_COLOURS
from resnet_spec.schema import Shortcut, StemKind, block_kinds


def test_the_op_list_is_derived_from_the_node_types() -> None:
    kinds = [t.model_fields["op"].default for t in ir.NODE_TYPES]
    assert list(ir.OP_KINDS) == kinds
    assert len(set(kinds)) == len(kinds)
    assert all(issubclass(t, ir.Op) for t in ir.NODE_TYPES)


@pytest.mark.parametrize("op_class", ir.NODE_TYPES, ids=ir.OP_KINDS)
def test_every_op_carries_its_label_and_a_drawn_family(op_class: type[ir.Op]) -> None:
    assert op_class.label is not ir.Op.label, f"{op_class.op_kind()} has no label"
    assert op_class.family in FAMILY_COLOURS, f"{op_class.op_kind()}: unknown colour family"


def test_every_op_has_one_compiler_registration() -> None:
    assert set(backends.BACKENDS) == set(ir.OP_KINDS)


@pytest.mark.parametrize("op_class", ir.NODE_TYPES, ids=ir.OP_KINDS)
def test_ops_with_state_are_initialized_and_others_are_not(op_class: type[ir.Op]) -> None:
    stateful = op_class.params is not ir.Op.params or op_class.buffers is not ir.Op.buffers
    backend = backends.BACKENDS[op_class.op_kind()]
    assert (backend.init is not backends.stateless) == stateful


@pytest.mark.parametrize("op_class", ir.NODE_TYPES, ids=ir.OP_KINDS)
def test_training_only_ops_are_dropped_for_inference(op_class: type[ir.Op]) -> None:
    modules = backends.BACKENDS[op_class.op_kind()].modules
    if op_class.training_only:
        # a training-only op that lowers to a function call would survive the passes
        assert modules, f"{op_class.op_kind()} lists no module classes"
        assert set(modules) <= set(TRAINING_ONLY_MODULES)
    else:
        assert not set(modules) & set(TRAINING_ONLY_MODULES)


def test_every_value_of_the_language_has_a_builder() -> None:
    assert set(stems.STEMS) == set(StemKind)
    assert set(blocks.BLOCK_KINDS) == set(block_kinds())
    assert set(shortcuts.SHORTCUTS) == set(Shortcut)
    assert set(heads.ENDINGS) == set(heads.Ending)


def test_a_value_without_a_builder_is_refused_at_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text("name: t\nblock: {kind: basic}\nstages:\n  - {depth: 1, width: 8}\n"
                    "  - {depth: 1, width: 16, stride: 2, shortcut: zero_pad}\n")
    monkeypatch.delitem(shortcuts.SHORTCUTS, Shortcut.zero_pad)
    with pytest.raises(UnsupportedError) as caught:
        resnet_spec.elaborate(spec)
    assert str(caught.value).startswith(f"{spec}:5:38: stages[1].shortcut: the shortcut "
                                        "`zero_pad` is not supported yet")


def test_a_block_kind_resolves_only_through_its_registration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text("name: t\nblock: {kind: basic}\nstages:\n  - {depth: 1, width: 8}\n")
    monkeypatch.delitem(blocks.BLOCK_KINDS, "basic")
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    assert str(caught.value).startswith(
        f"{spec}:2:15: block.kind: expected `bottleneck`, `preact_basic` or "
        "`preact_bottleneck`, got `basic`")
