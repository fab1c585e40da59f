"""The registries: every IR op class carries all its rules and has its one compiler
registration, and elaboration refuses, at its line, a value of the language that no builder is
registered for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec import ir, plugins
from resnet_spec.compiler import ops as backends
from resnet_spec.compiler.passes.drop_training import TRAINING_ONLY_MODULES
from resnet_spec.elaboration import blocks, heads, shortcuts, stems
from resnet_spec.errors import SpecError, UnsupportedError
from resnet_spec.render.palette import FAMILY_COLOURS
from resnet_spec.spec.schema import Shortcut, StemKind, block_kinds


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
    assert set(backends.BACKENDS) == set(ir.OP_CLASSES) >= set(ir.OP_KINDS)


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
        f"{spec}:2:15: block.kind: expected "
        + " or ".join([", ".join(f"`{k}`" for k in sorted(blocks.BLOCK_KINDS)[:-1]),
                       f"`{sorted(blocks.BLOCK_KINDS)[-1]}`"]) + ", got `basic`")


# -- plugins: what an installed package registers is held to the same contract ----------------

@pytest.mark.parametrize("op_class", ir.NODE_TYPES, ids=ir.OP_KINDS)
def test_every_builtin_backend_meets_the_contract_plugins_are_held_to(
        op_class: type[ir.Op]) -> None:
    assert backends.backend_problem(op_class, backends.BACKENDS[op_class.op_kind()]) == ""


PLUGIN_OPS = '''\
from typing import ClassVar, Literal

from resnet_spec.elaboration.blocks import BlockKind, Built, basic
from resnet_spec.ir import Op
from resnet_spec.plugins import OpPlugin


class Scaled(Op):
    op: Literal["scaled"] = "scaled"
    channels: int = 1

    def params(self):
        return {f"{self.name}.weight": (self.channels,)}

    def label(self):
        return "scaled"


class Unlabelled(Op):
    op: Literal["unlabelled"] = "unlabelled"


class Stray(Op):
    op: Literal["stray"] = "stray"

    def label(self):
        return "stray"


def with_stray(ctx, b, x):
    built = basic(ctx, b, x)
    return Built(ctx.add(Stray, "stray", [built.output]), built.inner, built.shortcut)


SCALED = OpPlugin(op=Scaled, backend="fakeplug_torch:NO_INIT")
UNLABELLED = OpPlugin(op=Unlabelled, backend="fakeplug_torch:NO_INIT")
NO_BACKEND = OpPlugin(op=Stray, backend="")
MISNAMED = OpPlugin(op=Stray, backend="fakeplug_torch:NO_INIT")
NOT_A_KIND = "basic"
GAUDY = BlockKind("gaudy", basic, "basic in a colour that does not exist", family="gaudy")
STRAYING = BlockKind("straying", with_stray, "basic, then an op no package registers")
'''
PLUGIN_TORCH = '''\
import operator

from resnet_spec.compiler.ops import OpBackend

NO_INIT = OpBackend(lambda node, args, lo: lo.call("call_function", operator.neg, tuple(args),
                                                   node.name))
'''


@pytest.fixture
def fakeplug(tmp_path: Path) -> Iterator[None]:
    from plugin_site import installed, write_dist

    site = write_dist(tmp_path / "site", "fakeplug", "0.3", {
        "resnet_spec.ops": {"scaled": "fakeplug:SCALED", "unlabelled": "fakeplug:UNLABELLED",
                            "stray": "fakeplug:NO_BACKEND", "other": "fakeplug:MISNAMED"},
        "resnet_spec.blocks": {"wrong": "fakeplug:NOT_A_KIND", "gaudy": "fakeplug:GAUDY",
                               "straying": "fakeplug:STRAYING"},
    }, {"fakeplug.py": PLUGIN_OPS, "fakeplug_torch.py": PLUGIN_TORCH})
    with pytest.warns(plugins.PluginWarning), installed(site):
        yield


def test_a_plugin_registration_that_breaks_the_contract_is_refused(fakeplug: None) -> None:
    refusals = {(r.group.split(".")[1], r.name): r.problem
                for r in plugins.registrations() if r.problem}
    assert refusals == {
        ("ops", "unlabelled"): "its op class Unlabelled has no `label`",
        ("ops", "stray"): "it names no backend: `backend` must be `package.module:attribute` "
                          "of its OpBackend (the torch side)",
        ("ops", "other"): "the entry point is named `other` but its op class's kind `stray`; "
                          "the two must agree",
        ("blocks", "wrong"): "it loads a str, not a resnet_spec.elaboration.blocks.BlockKind",
        ("blocks", "gaudy"): "its family `gaudy` is none of io, conv, norm, act, pool, merge, "
                             "shortcut, head, regularize, other",
    }
    assert "scaled" in ir.OP_CLASSES and "straying" in blocks.BLOCK_KINDS
    assert not {"unlabelled", "stray", "other"} & set(ir.OP_CLASSES)
    assert backends.BACKENDS.package_of("scaled") == "fakeplug 0.3"
    assert blocks.BLOCK_KINDS.package_of("basic") == "resnet-spec"


def test_a_plugin_backend_that_breaks_the_contract_fails_where_it_is_used(
        fakeplug: None) -> None:
    # the op has parameters, its backend no `init` to fill them
    with pytest.raises(plugins.PluginError) as caught:
        backends.BACKENDS["scaled"]
    assert str(caught.value) == ("the op `scaled` of fakeplug 0.3: its backend "
                                 "`fakeplug_torch:NO_INIT` has no `init`, but the op has "
                                 "parameters or buffers to fill")
    assert backends.BACKENDS["conv"] is backends.BUILTIN_BACKENDS["conv"]


def test_a_block_adding_an_op_no_package_registers_is_refused(
        fakeplug: None, tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text("name: t\nblock: {kind: straying}\nstages:\n  - {depth: 1, width: 8}\n")
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    assert str(caught.value) == (
        f"{spec}:4:5: stages[0]: `layer1.0.stray` is an op `stray` (Stray) that no installed "
        "package registers (declare it under the `resnet_spec.ops` entry points)")
