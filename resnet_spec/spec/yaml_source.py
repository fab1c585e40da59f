"""Safe YAML loading that remembers where every value came from.

PyYAML composes the document into nodes with marks; we construct plain Python values ourselves
so that we can (a) resolve plain scalars by YAML 1.2's core schema (`no`, `on`, `yes` stay
strings), (b) refuse every tag outside the core schema (`!!python/object` and friends),
(c) refuse duplicate keys, and (d) bound the work: the values composed (so that a 1 MiB flow
list fails after a fraction of a second, at the line where the budget ran out), their nesting,
alias expansion and the digits of a number. Beside the value we keep a `SourceMap`: the position
of every mapping key and every value, keyed by field path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from resnet_spec import files, limits
from resnet_spec.errors import Loc, YamlError, shown
from resnet_spec.spec.yaml_words import explain

PathKey = tuple[str | int, ...]

_PLAIN = "resnet-spec:plain"
_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


def format_path(path: PathKey) -> str:
    """`("stages", 2, "depth")` -> `stages[2].depth` (each key as `shown` echoes it)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{shown(part)}" if out else shown(part))
    return out


@dataclass
class SourceMap:
    """Positions of values (and of mapping keys) by field path, across one or more files."""

    values: dict[PathKey, Loc] = field(default_factory=dict)
    keys: dict[PathKey, Loc] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    """The files (and `--set` options) merged, the first `extends`' root first: a value from
    a later layer overrides an earlier one's (`origin` points at the latest)."""

    def copy(self) -> SourceMap:
        """A copy that later layers (`--set`) can extend without touching this one."""
        return SourceMap(dict(self.values), dict(self.keys), list(self.layers))

    def value(self, path: PathKey) -> Loc:
        """The position of the value at `path`, or of its nearest ancestor that has one."""
        return self._nearest(self.values, path)

    def key(self, path: PathKey) -> Loc:
        """The position of the key that introduces `path` (else of its value or ancestor)."""
        if path in self.keys:
            return self.keys[path].with_path(format_path(path))
        return self.value(path)

    def _nearest(self, table: dict[PathKey, Loc], path: PathKey) -> Loc:
        for end in range(len(path), -1, -1):
            if path[:end] in table:
                return table[path[:end]].with_path(format_path(path))
        return Loc("<spec>", path=format_path(path))

    def exact(self, path: PathKey) -> Loc | None:
        """The position of the value at `path` if it was written, not inherited or defaulted."""
        loc = self.values.get(path)
        return loc.with_path(format_path(path)) if loc else None

    def rank(self, loc: Loc) -> int:
        """How late the layer of `loc` was merged (-1: not a layer of this map)."""
        return self.layers.index(loc.file) if loc.file in self.layers else -1

    def under(self, prefix: PathKey) -> SourceMap:
        """Only the entries at or below `prefix`."""
        n = len(prefix)
        return SourceMap(
            {p: loc for p, loc in self.values.items() if p[:n] == prefix},
            {p: loc for p, loc in self.keys.items() if p[:n] == prefix},
        )

    def drop(self, prefix: PathKey) -> None:
        """Forget everything strictly below `prefix` (a value replaced whole)."""
        n = len(prefix)
        for table in (self.values, self.keys):
            for p in [p for p in table if len(p) > n and p[:n] == prefix]:
                del table[p]


class _OverBudget(Exception):
    """Composing went beyond a limit at `mark`; `message` says which."""

    def __init__(self, message: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _PositionalLoader(yaml.SafeLoader):
    """A SafeLoader whose plain scalars stay unresolved: we resolve them by YAML 1.2 rules."""

    _depth = 0
    _composed = 0

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Bounded while composing, so that `[[[[...` or `[1,1,1,...` fails at its line as soon
        # as it is too deep or too long, instead of after PyYAML's recursion has run out of
        # stack or the whole megabyte has become nodes.
        self._depth += 1
        self._composed += 1
        try:
            if self._depth > limits.MAX_YAML_DEPTH + 1:
                raise _OverBudget(f"nested deeper than {limits.MAX_YAML_DEPTH} levels",
                                  self.peek_event().start_mark)
            if self._composed > limits.MAX_YAML_NODES:
                raise _OverBudget(f"the document holds more than {limits.MAX_YAML_NODES} values",
                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _loc(file: str, node: yaml.Node) -> Loc:
    return Loc(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Constructor:
    """Turns composed nodes into plain values, filling a SourceMap on the way."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.source = SourceMap()
        self.budget = limits.MAX_YAML_NODES

    def build(self, node: yaml.Node, path: PathKey, depth: int = 0) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise YamlError(
                f"the document expands to more than {limits.MAX_YAML_NODES} values "
                "(aliases repeated too often?)",
                _loc(self.file, node),
            )
        if depth > limits.MAX_YAML_DEPTH:
            raise YamlError(
                f"nested deeper than {limits.MAX_YAML_DEPTH} levels", _loc(self.file, node)
            )
        if node.tag not in _ALLOWED_TAGS and node.tag != _PLAIN:
            raise YamlError(
                f"the tag {shown(node.tag.replace(_CORE, '!!'))} is not allowed; a spec holds "
                "plain mappings, lists, strings and numbers",
                _loc(self.file, node),
            )
        self.source.values[path] = _loc(self.file, node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("a mapping key must be a plain word", _loc(self.file, key_node))
            key = self._scalar(key_node)
            if not isinstance(key, str):
                key = str(key_node.value)
            if key in out:
                first = self.source.keys[(*path, key)]
                raise YamlError(
                    f"duplicate key `{shown(key)}` (first at line {first.line}); each key may "
                    "appear once in a mapping",
                    _loc(self.file, key_node).with_path(format_path((*path, key))),
                )
            self.source.keys[(*path, key)] = _loc(self.file, key_node)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        text = node.value
        tag = node.tag
        if tag == _CORE + "str":
            return text
        if tag in (_PLAIN, _CORE + "int") and len(text) > limits.MAX_NUMBER_DIGITS and (
                _INT10.match(text) or _INT8.match(text) or _INT16.match(text)):
            raise YamlError(
                f"a number {len(text)} digits long; a spec's numbers have at most "
                f"{limits.MAX_NUMBER_DIGITS} digits", _loc(self.file, node))
        if tag == _PLAIN:
            return _resolve_plain(text)
        try:
            if tag == _CORE + "null":
                return None
            if tag == _CORE + "bool":
                return _BOOL[text]
            if tag == _CORE + "int":
                return _to_int(text)
            if tag == _CORE + "float":
                number = _resolve_plain(text)
                if isinstance(number, bool) or not isinstance(number, (int, float)):
                    raise ValueError(text)
                return float(number)
        except (KeyError, ValueError):
            raise YamlError(
                f"`{shown(text)}` is not a valid {tag.replace(_CORE, '!!')}",
                _loc(self.file, node),
            ) from None
        raise YamlError(f"unexpected tag {shown(tag)}", _loc(self.file, node))


def _to_int(text: str) -> int:
    if _INT8.match(text):
        return int(text[2:], 8)
    if _INT16.match(text):
        return int(text[2:], 16)
    return int(text, 10)


def _resolve_plain(text: str) -> Any:
    """YAML 1.2 core schema resolution of an untagged plain scalar."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT10.match(text) or _INT8.match(text) or _INT16.match(text):
        return _to_int(text)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.match(text):
        return float("nan")
    return text


def reads_as_string(text: str) -> bool:
    """Whether `text`, written as a plain scalar, reads back as that string under YAML 1.2."""
    try:
        return _resolve_plain(text) == text
    except ValueError:  # a number beyond Python's int-from-str limit: not a string either
        return False


def _read_text(path: Path, display: str) -> str:
    try:
        data = files.read_regular(path, limits.MAX_FILE_BYTES)
    except files.TooLarge as err:
        raise YamlError(
            f"the file is {err.size} bytes; a spec may be at most {limits.MAX_FILE_BYTES} bytes",
            Loc(display),
        ) from None
    except files.FileProblem as err:
        raise YamlError(f"cannot read the file: {err}", Loc(display, line=0)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise YamlError(
            "the file is not UTF-8 text (a binary file?)", Loc(display, line, column)
        ) from None


def parse_text(text: str, display: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document, returning its value and the positions of its parts."""
    node = _compose(text, display)
    if node is None:
        raise YamlError(
            "the spec is empty; a spec is a mapping with at least `name` and `stages`",
            Loc(display),
        )
    constructor = _Constructor(display)
    value = constructor.build(node, ())
    constructor.source.layers = [display]
    return value, constructor.source


def _compose(text: str, display: str) -> yaml.Node | None:
    """The document's node tree, PyYAML's errors turned into located one-line YamlErrors."""
    loader = None
    try:
        loader = _PositionalLoader(text)  # the reader checks every character here
        return loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = Loc(display, mark.line + 1, mark.column + 1) if mark else Loc(display)
        problem = err.problem or err.context or "invalid YAML"
        if err.context and problem.startswith("but "):
            # PyYAML splits "expected a single document ... but found another" in two.
            problem = f"{err.context} {problem}"
        hint = "indent with spaces; YAML does not allow tabs" if "'\\t'" in problem else ""
        message, hint = (explain(problem, err.context, err.problem_mark, err.context_mark)
                         or (f"invalid YAML: {problem}", hint))
        raise YamlError(message, where, hint) from None
    except yaml.reader.ReaderError as err:
        where = _position(text, display, err.position)
        raise YamlError(f"the character U+{err.character:04X} is not allowed in a YAML file",
                        where, "remove it"
                        ) from None
    except yaml.YAMLError as err:
        first = str(err).strip().splitlines()
        raise YamlError(f"invalid YAML: {first[0] if first else type(err).__name__}",
                        Loc(display)) from None
    except _OverBudget as err:
        raise YamlError(err.message, Loc(display, err.mark.line + 1, err.mark.column + 1)
                        ) from None
    except RecursionError:
        raise YamlError(
            f"nested deeper than {limits.MAX_YAML_DEPTH} levels", Loc(display)
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _position(text: str, display: str, index: int) -> Loc:
    """The line and column of character `index` of `text`."""
    line = text.count("\n", 0, index) + 1
    return Loc(display, line, index - (text.rfind("\n", 0, index) + 1) + 1)


def parse_file(path: Path, display: str | None = None) -> tuple[Any, SourceMap]:
    """Read and parse a spec file (size-checked, UTF-8, one document)."""
    display = display or str(path)
    return parse_text(_read_text(path, display), display)
