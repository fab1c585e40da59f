"""`--set PATH=VALUE`: one more layer over a spec, after `extends` is merged, before validation.

PATH is dot-separated keys and 0-based list indices (`stages.1.depth`, as `stages[1]` in
messages and the second entry of `stages:` in the resolved YAML); VALUE is read as YAML, by the
same bounded, strict reader as spec files (`10`, `group`, `{kind: group, groups: 32}`, `[1, 2]`,
`null`; nothing after `=` is null too). The value replaces what is at PATH whole, as a child
file's list or scalar would; mappings on the way that the spec lacks are created (an unknown key
is then the schema's error, located at the option). Every error is located at the option, as
`--set PATH=VALUE: ...`, and the override is a layer of the source map, so a graph error its
value causes points at it first (`origin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resnet_spec import limits
from resnet_spec.errors import Loc, SchemaError, YamlError, shown
from resnet_spec.spec.yaml_source import PathKey, SourceMap, format_path, parse_text


class OverrideSyntaxError(ValueError):
    """A `--set` that is not `PATH=VALUE` (a usage error: the spec is not involved)."""


def parse_override(text: str) -> tuple[PathKey, str]:
    """`stages.1.depth=6` -> (("stages", 1, "depth"), "6"); digits-only parts are indices."""
    path_text, sep, value = text.partition("=")
    if not sep:
        raise OverrideSyntaxError(f"`{shown(text)}` is not PATH=VALUE, e.g. head.classes=10")
    # bounded before splitting: each step of a path costs work proportional to its length
    if path_text.count(".") >= limits.MAX_YAML_DEPTH:
        raise OverrideSyntaxError(
            f"`{shown(path_text)}` has {path_text.count('.') + 1} parts; a PATH has at most "
            f"{limits.MAX_YAML_DEPTH}, as a spec nests at most that deep")
    parts = path_text.strip().split(".")
    if any(not part for part in parts):
        raise OverrideSyntaxError(
            f"`{shown(path_text)}` is not a PATH: dot-separated keys and 0-based list "
            "indices, e.g. stages.1.depth")
    return tuple(_index(p) if p.isdigit() else p for p in parts), value


def _index(part: str) -> int:
    """A list index: ASCII digits only (`²` and `٣` are digits to Python, not to a PATH),
    and no more of them than a number in a spec file may have."""
    if not part.isascii() or len(part) > limits.MAX_NUMBER_DIGITS:
        raise OverrideSyntaxError(
            f"`{shown(part)}` is not a list index: 0-based, written with the digits 0-9 "
            f"(at most {limits.MAX_NUMBER_DIGITS} of them)")
    return int(part)


def option_loc(text: str) -> Loc:
    """Where an override is reported: the option as given, with no line."""
    return Loc(f"--set {shown(text)}", line=0)


def apply_overrides(raw: dict[str, Any], source: SourceMap, overrides: Sequence[str]
                    ) -> tuple[dict[str, Any], SourceMap]:
    """`raw` with each override applied in order (later ones win), and `source` with a layer
    for each; `raw` and `source` are changed in place."""
    if isinstance(overrides, str):
        raise TypeError("overrides is a sequence of 'PATH=VALUE' strings, not one string")
    for text in overrides:
        _apply(raw, source, text)
    return raw, source


def _apply(raw: dict[str, Any], source: SourceMap, text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"an override is a 'PATH=VALUE' string, not {type(text).__name__}")
    loc = option_loc(text)
    try:
        path, value_text = parse_override(text)
    except OverrideSyntaxError as err:
        raise SchemaError(str(err), loc) from None
    if path[0] == "extends":
        raise SchemaError("`extends` cannot be overridden: it is merged before the overrides "
                          "apply; name the spec to start from instead", loc)
    value, value_source = _parse_value(value_text, loc, path)
    parent = _parent(raw, source, path, loc)
    _check_step(parent, path, loc)
    parent[path[-1]] = value
    source.drop(path)
    for sub in value_source.values:
        source.values[(*path, *sub)] = loc
    for sub in value_source.keys:
        source.keys[(*path, *sub)] = loc
    source.keys[path] = loc
    source.layers.append(loc.file)


def _parse_value(text: str, loc: Loc, path: PathKey) -> tuple[Any, SourceMap]:
    """VALUE as YAML (an empty VALUE is null, as `key:` in a file); errors at the option."""
    if not text.strip():
        return None, SourceMap(values={(): loc})
    if len(text) > limits.MAX_FILE_BYTES:
        raise YamlError(f"VALUE is {len(text)} characters long; a value may be at most "
                        f"{limits.MAX_FILE_BYTES}, as a spec file", loc)
    try:
        return parse_text(text, loc.file)
    except YamlError as err:
        message = err.message.replace("the spec is empty", "the value is empty")
        raise YamlError(message, loc.with_path(format_path(path)), err.hint
                        ) from None


def _parent(raw: dict[str, Any], source: SourceMap, path: PathKey, loc: Loc) -> Any:
    """The mapping or list that holds PATH's last part, creating missing mappings on the way."""
    current: Any = raw
    for end, part in enumerate(path[:-1], start=1):
        _check_step(current, path[:end], loc)
        step = current[part] if isinstance(current, list) else current.get(part)
        if step is None and isinstance(path[end], int):
            raise SchemaError(f"`{format_path(path[:end])}` is not set, so it has no item "
                              f"{path[end]}; set the list whole, e.g. "
                              f"--set '{format_path(path[:end])}=[...]'", loc)
        if not isinstance(step, dict | list):
            step = current[part] = _as_mapping(step, path[:end], loc)
            source.values.setdefault(path[:end], loc)
        current = step
    return current


def _as_mapping(value: Any, path: PathKey, loc: Loc) -> dict[str, Any]:
    """What a mapping on PATH's way holds: {} where nothing is; `norm: group`'s `kind`."""
    if value is None:
        return {}
    if path == ("norm",) and isinstance(value, str):
        return {"kind": value}  # the shorthand of `{kind: group}`
    raise SchemaError(
        f"`{format_path(path)}` is `{shown(value)}`, which has no fields; set it whole, e.g. "
        f"--set '{format_path(path)}={{...}}'", loc)


def _check_step(container: Any, path: PathKey, loc: Loc) -> None:
    """That `path[-1]` can be looked up in `container` (the value at `path[:-1]`)."""
    part, where = path[-1], format_path(path[:-1]) or "the spec"
    if isinstance(container, list):
        if not isinstance(part, int):
            raise SchemaError(f"`{where}` is a list: name an item by its 0-based index, not "
                              f"`{shown(part)}`", loc)
        if part >= len(container):
            raise SchemaError(_no_item(path[:-1], part, len(container)), loc)
    elif isinstance(part, int):
        raise SchemaError(f"`{where}` is a mapping: name a key, not the index {part}", loc)


def _no_item(path: PathKey, index: int, count: int) -> str:
    if path == ("stages",):
        what = f"stage {index} does not exist"
        return what + (f"; the spec has stages 0..{count - 1}" if count else "; it has none")
    items = f"its items are 0..{count - 1}" if count else "it is empty"
    return f"`{format_path(path)}` has no item {index}; {items}"
