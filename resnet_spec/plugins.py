"""Plugins: block kinds and ops that installed packages add through entry points.

A package declares them in its `pyproject.toml` (docs/extending.md walks through one):

    [project.entry-points."resnet_spec.blocks"]
    scaled_basic = "tinyplug.blocks:SCALED_BASIC"    # a BlockKind
    [project.entry-points."resnet_spec.ops"]
    channel_scale = "tinyplug.ops:CHANNEL_SCALE"     # an OpPlugin

The groups are read once, the first time a registry is used (never at import, so `--help` and
commands that need no registry pay nothing), and each registry (`Registry`) merges what its
group registered with its built-ins. A kind resolves only through what is installed: a spec
names it, the registry has it or the spec is refused at its line.

A registration is refused, with one line naming its package and why (no traceback), when it
cannot be imported, is not the object its group takes, breaks the contract (an op without a
label or a backend, a colour family that does not exist), or takes a name the tool or another
package already has (both packages named; neither of two clashing plugins is registered, so
the result never depends on the order packages were installed in). The rest of the tool works
as before for specs that do not use it.

This module imports neither torch nor the registries' modules at load: an op's torch side
(`OpPlugin.backend`) is imported only by the back end, when it lowers a graph.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, replace
from importlib import metadata
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from resnet_spec.errors import SpecError, escaped

if TYPE_CHECKING:
    from resnet_spec.ir.op import Op

T = TypeVar("T")

BUILTIN_PACKAGE = "resnet-spec"
"""The package named as the owner of the built-in kinds in clash messages and listings."""


class PluginWarning(UserWarning):
    """A plugin registration that was refused; the rest of the tool works without it."""


class PluginError(SpecError):
    """A plugin needed by a spec cannot be used (its op's backend fails to load or breaks the
    contract): one line, exit 1."""


class Refused(Exception):
    """Why a loaded entry point is not registered (raised by a group's `accept`)."""


@dataclass(frozen=True)
class OpPlugin:
    """What a `resnet_spec.ops` entry point loads to: the op's IR class and where its torch
    side is, as `"package.module:attribute"` naming an `OpBackend` (imported only when a graph
    is lowered, so the front end stays free of torch)."""

    op: type[Op]
    backend: str

    def load_backend(self) -> Any:
        """The `OpBackend` that `backend` names (imports its module)."""
        module, _, attr = self.backend.partition(":")
        target: Any = importlib.import_module(module)
        for part in attr.split("."):
            target = getattr(target, part)
        return target


@dataclass(frozen=True)
class Registration:
    """One entry point of a plugin group, as found: accepted (`obj` set) or refused."""

    group: str
    name: str
    value: str
    """The entry point's value, `module:attribute`."""
    package: str
    version: str
    obj: Any = None
    problem: str = ""
    """Why it is not registered; empty when it is."""

    @property
    def source(self) -> str:
        """`resnet-spec-tinyplug 0.1.0`."""
        return f"{self.package} {self.version}".strip()

    def line(self) -> str:
        """The one-line report of a refusal."""
        return (f"plugin {GROUPS[self.group].what} `{self.name}` of {self.source} is not "
                f"registered: {self.problem}")


@dataclass(frozen=True)
class Group:
    """An entry point group and the rules of what it registers."""

    name: str
    what: str
    """What one registration is, in messages: `block kind`, `op`."""
    builtins: Callable[[], Mapping[str, Any]]
    """The built-in registrations by name (imported when the group is first read)."""
    accept: Callable[[str, Any], None]
    """Raises `Refused` when the loaded object is not what the group takes under this name."""


def _builtin_blocks() -> Mapping[str, Any]:
    from resnet_spec.elaboration.blocks import BUILTIN_BLOCK_KINDS

    return BUILTIN_BLOCK_KINDS


def _builtin_ops() -> Mapping[str, Any]:
    from resnet_spec.ir.ops import BUILTIN_OPS

    return {op.op_kind(): op for op in BUILTIN_OPS}


def _accept_block(name: str, obj: Any) -> None:
    from resnet_spec.elaboration.blocks import BlockKind
    from resnet_spec.render.palette import FAMILY_COLOURS
    from resnet_spec.spec.schema import BlockSpec

    _accept_kind(name, obj, BlockKind, "resnet_spec.elaboration.blocks",
                 BlockSpec.model_fields, "`block` fields (a kind's own settings go in its "
                 "`options` model)")
    if obj.family not in FAMILY_COLOURS:
        raise Refused(f"its family `{obj.family}` is none of {', '.join(FAMILY_COLOURS)}")
    from pydantic import BaseModel

    if obj.options is not None and not (isinstance(obj.options, type)
                                        and issubclass(obj.options, BaseModel)):
        raise Refused("its `options` is not a pydantic model class")


def _accept_op(name: str, obj: Any) -> None:
    from resnet_spec.ir.op import Op
    from resnet_spec.render.palette import FAMILY_COLOURS

    if not isinstance(obj, OpPlugin):
        raise Refused(f"it loads a {type(obj).__name__}, not a resnet_spec.plugins.OpPlugin")
    op = obj.op
    if not (isinstance(op, type) and issubclass(op, Op)) or "op" not in op.model_fields:
        raise Refused("its `op` is not a subclass of resnet_spec.ir.Op with an `op` field")
    if op.op_kind() != name:
        raise Refused(f"the entry point is named `{name}` but its op class's kind "
                      f"`{op.op_kind()}`; the two must agree")
    if op.label is Op.label:
        raise Refused(f"its op class {op.__name__} has no `label`")
    if op.family not in FAMILY_COLOURS:
        raise Refused(f"its family `{op.family}` is none of {', '.join(FAMILY_COLOURS)}")
    module, _, attr = obj.backend.partition(":") if isinstance(obj.backend, str) else ("", "", "")
    if not module or not attr:
        raise Refused("it names no backend: `backend` must be `package.module:attribute` of "
                      "its OpBackend (the torch side)")


def _builtin_attention() -> Mapping[str, Any]:
    from resnet_spec.elaboration.attention import BUILTIN_ATTENTION_KINDS

    return BUILTIN_ATTENTION_KINDS


def _accept_attention(name: str, obj: Any) -> None:
    from resnet_spec.elaboration.attention import AttentionKind
    from resnet_spec.spec.schema import AttentionSpec

    _accept_kind(name, obj, AttentionKind, "resnet_spec.elaboration.attention",
                 AttentionSpec.model_fields, "`attention` fields")


def _accept_kind(name: str, obj: Any, kind: type, module: str, fields: Mapping[str, Any],
                 fields_are: str) -> None:
    """What a block or attention kind's registration must be: of its class, named as its
    entry point, with a callable builder, listing fields its spec model has."""
    if not isinstance(obj, kind):
        raise Refused(f"it loads a {type(obj).__name__}, not a {module}.{kind.__name__}")
    if obj.name != name:
        raise Refused(f"the entry point is named `{name}` but its {kind.__name__} "
                      f"`{obj.name}`; the two must agree")
    if not callable(obj.build):
        raise Refused("its `build` is not callable")
    unknown = [f for f in obj.fields if f not in fields]
    if unknown:
        raise Refused(f"its `fields` name {', '.join(unknown)}, which are not {fields_are}")


GROUPS: dict[str, Group] = {group.name: group for group in (
    Group("resnet_spec.blocks", "block kind", _builtin_blocks, _accept_block),
    Group("resnet_spec.ops", "op", _builtin_ops, _accept_op),
    Group("resnet_spec.attention", "attention kind", _builtin_attention, _accept_attention),
)}
"""Entry point group -> its rules. A new pluggable registry is one more line here and one
`Registry` over its built-ins."""

_found: tuple[Registration, ...] | None = None
_loading = False
_generation = 0


def registrations() -> tuple[Registration, ...]:
    """Every entry point of every group, accepted or refused, read once (`reset` reads again).

    Each refusal is reported once, as a `PluginWarning` (the command line prints it as one
    line)."""
    global _found, _loading
    if _found is None:
        if _loading:  # a plugin's module being imported uses a registry: built-ins only
            return ()
        _loading = True
        try:
            found = _discover()
        finally:
            _loading = False
        _found = found
        for item in found:
            if item.problem:
                warnings.warn(item.line(), PluginWarning, stacklevel=2)
    return _found


def accepted(group: str) -> list[Registration]:
    """The registrations of `group` that are registered."""
    return [r for r in registrations() if r.group == group and not r.problem]


def refused(group: str, name: str) -> Registration | None:
    """The refused registration of `name` in `group`, if a package tried to register it."""
    return next((r for r in registrations()
                 if r.group == group and r.name == name and r.problem), None)


def reset() -> None:
    """Forget what was read: the next use of a registry reads the entry points again (after a
    package was installed in this process, in tests)."""
    global _found, _generation
    _found = None
    _generation += 1


def _discover() -> tuple[Registration, ...]:
    loaded: list[Registration] = []
    for group in GROUPS.values():
        builtins = group.builtins()
        for ep in sorted(metadata.entry_points(group=group.name), key=lambda e: e.name):
            loaded.append(_load(group, ep, builtins))
    return tuple(_without_clashes(loaded))


def _load(group: Group, ep: metadata.EntryPoint, builtins: Mapping[str, Any]) -> Registration:
    dist = ep.dist
    package = str(dist.metadata["Name"]) if dist is not None else "?"
    version = str(dist.version) if dist is not None else ""
    found = Registration(group.name, ep.name, ep.value, package, version)

    def refuse(problem: str) -> Registration:
        return replace(found, problem=problem)

    if ep.name in builtins:
        return refuse(f"the name clashes with the built-in {group.what} of {BUILTIN_PACKAGE} "
                      f"(rename it in {package}'s entry points)")
    try:
        obj = ep.load()
    except Exception as err:  # whatever a third party's import raises: one line, not a crash
        return refuse(f"`{ep.value}` cannot be loaded: {one_line(err)}")
    try:
        group.accept(ep.name, obj)
    except Refused as why:
        return refuse(str(why))
    return replace(found, obj=obj)


def _without_clashes(loaded: list[Registration]) -> Iterator[Registration]:
    """Two packages registering one name in a group: both refused, each naming the other."""
    by_name: dict[tuple[str, str], list[Registration]] = {}
    for item in loaded:
        by_name.setdefault((item.group, item.name), []).append(item)
    for item in loaded:
        others = [o.source for o in by_name[(item.group, item.name)] if o is not item]
        if others and not item.problem:
            verb = "registers" if len(others) == 1 else "register"
            yield replace(item, obj=None, problem=f"{' and '.join(others)} also {verb} the "
                          f"{GROUPS[item.group].what} `{item.name}` (none of them is "
                          "registered; uninstall all but one)")
        else:
            yield item


def one_line(err: BaseException) -> str:
    """An exception of a third party's code as one line: `RuntimeError: boom`, its message's
    lines joined and any terminal control characters escaped."""
    return escaped(f"{type(err).__name__}: {' '.join(str(err).split())}")


class Registry(MutableMapping[str, T], Generic[T]):
    """A registry keyed by name: its built-ins, and what the installed packages register in
    `group`, read on first use. `convert` makes a registry value of an accepted registration
    (the op's class, its backend); it runs when that name is first looked up, so a plugin whose
    torch side fails to import breaks only the specs that use it."""

    def __init__(self, group: str, builtins: Mapping[str, T],
                 convert: Callable[[Registration], T] | None = None) -> None:
        self.group = group
        self._builtins = dict(builtins)
        self._convert = convert or (lambda registration: registration.obj)
        self._entries: dict[str, T] = {}
        self._pending: dict[str, Registration] = {}
        self._generation = -1

    def _current(self) -> None:
        if self._generation == _generation and _found is not None:
            return
        plugins = accepted(self.group)
        if _found is None:  # read while a plugin was being imported: do not keep it
            self._entries, self._pending = dict(self._builtins), {}
            return
        self._entries = dict(self._builtins)
        self._pending = {r.name: r for r in plugins}
        self._generation = _generation

    def _resolve(self, name: str) -> None:
        registration = self._pending.pop(name, None)
        if registration is not None:
            self._entries[name] = self._convert(registration)

    def __getitem__(self, name: str) -> T:
        self._current()
        self._resolve(name)
        return self._entries[name]

    def __setitem__(self, name: str, value: T) -> None:
        self._current()
        self._pending.pop(name, None)
        self._entries[name] = value

    def __delitem__(self, name: str) -> None:
        self._current()
        if self._pending.pop(name, None) is None:
            del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self._current()
        return iter([*self._entries, *(n for n in self._pending if n not in self._entries)])

    def __len__(self) -> int:
        self._current()
        return len(set(self._entries) | set(self._pending))

    def __contains__(self, name: object) -> bool:
        self._current()
        return name in self._entries or name in self._pending

    def package_of(self, name: str) -> str:
        """Who registers `name`: `resnet-spec` for a built-in, else its package and version."""
        self._current()
        if name in self._builtins:
            return BUILTIN_PACKAGE
        owner = next((r for r in accepted(self.group) if r.name == name), None)
        return owner.source if owner else BUILTIN_PACKAGE
