"""From a path or built-in name to a validated `Spec`: parse, follow `extends`, validate.

Every error, pydantic's included, comes out as a `SpecError` at the file, line and column of the
offending key or value, in whichever file of the `extends` chain it was written.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from resnet_spec import builtins, files, limits
from resnet_spec.errors import (
    ExtendsError,
    Loc,
    SchemaError,
    SpecError,
    SpecErrors,
    YamlError,
    shown,
)
from resnet_spec.schema import CONTROLS, NO_CONTROLS, Spec
from resnet_spec.yaml_source import PathKey, SourceMap, format_path, parse_file

_KIND_NAMES = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}


def display_name(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when below it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:
        return str(path)


def resolve_spec_path(spec: str | os.PathLike[str]) -> Path:
    """A path to an existing regular file, or the file of the built-in spec with that name."""
    path = Path(spec)
    builtin = builtins.path_of(spec) if isinstance(spec, str) and builtins.is_name(spec) else None
    # a folder `resnet50/` (an earlier build's --out) does not hide the built-in resnet50
    if _is_file(path, Loc(str(spec), line=0), fallback=builtin):
        return path
    if builtin is not None:
        return builtin
    hint = builtins.suggest(Path(spec).stem[: limits.MAX_ECHO_CHARS])
    raise SpecError(
        f"no spec file or built-in spec named `{shown(spec)}`"
        + (f"; did you mean `{hint}`?" if hint else "; `resnet-spec list` shows the built-ins"),
        Loc(str(spec), line=0),
    )


def _is_file(path: Path, where: Loc, error: type[SpecError] = SpecError,
             fallback: Path | None = None) -> bool:
    """Whether a regular file is at `path`: False if nothing is (or, with a `fallback` to use
    instead, if anything else is); else an error at `where` naming what is there (a FIFO, a
    folder, a loop of links...), which cannot be read as a spec."""
    try:
        files.check_regular(path)
    except files.Missing:
        return False
    except files.FileProblem as err:
        if fallback is not None:
            return False
        raise error(f"cannot read `{shown(display_name(path))}`: {err}", where) from None
    return True


def load(spec: str | os.PathLike[str]) -> Spec:
    """Load, merge and validate a spec given as a file path or a built-in spec's name."""
    path = resolve_spec_path(spec)
    raw, source = load_merged(path)
    return validate(raw, source)


def load_merged(path: Path) -> tuple[dict[str, Any], SourceMap]:
    """The file's mapping with its `extends` chain merged in, and where each part came from."""
    return _load_chain(path.resolve(), display_name(path), [])


def validate(raw: dict[str, Any], source: SourceMap) -> Spec:
    """Validate a merged mapping, reporting pydantic's errors at their source positions."""
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as err:
        raise _located_errors(err, source) from None
    spec._source = source
    return spec


def _load_chain(path: Path, display: str, chain: list[Path]) -> tuple[dict[str, Any], SourceMap]:
    value, source = parse_file(path, display)
    if value is None:
        raise YamlError(
            "the spec is empty; a spec is a mapping with at least `name` and `stages`",
            source.value(()),
        )
    if not isinstance(value, dict):
        raise SchemaError(
            "a spec is a mapping of fields (`name:`, `stages:`, ...), not a "
            f"{_KIND_NAMES.get(type(value), type(value).__name__)}",
            source.value(()),
        )
    parent_ref = value.pop("extends", None)
    if parent_ref is None:
        return value, source
    here = source.value(("extends",))
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ExtendsError("`extends` takes a file path or a built-in spec's name", here)
    parent = _resolve_extends(parent_ref, path, here)
    names = [*chain, path]
    if parent in names:
        cycle = " -> ".join(display_name(p) for p in [*names[names.index(parent) :], parent])
        raise ExtendsError(f"`extends` forms a cycle: {cycle}", here)
    if len(names) > limits.MAX_EXTENDS_DEPTH:
        raise ExtendsError(
            f"`extends` chains deeper than {limits.MAX_EXTENDS_DEPTH} files: "
            + " -> ".join(display_name(p) for p in [*names, parent]),
            here,
        )
    base, base_source = _load_chain(parent, display_name(parent), names)
    source.drop(("extends",))
    source.values.pop(("extends",), None)
    source.keys.pop(("extends",), None)
    return _merge(base, value, base_source, source, ())


def _resolve_extends(ref: str, child: Path, here: Loc) -> Path:
    control = _control_character(ref)
    if control:
        raise ExtendsError(f"the control character {control} is not allowed in `extends`; it "
                           "names a file or a built-in spec", here)
    candidate = child.parent / ref
    builtin = builtins.path_of(ref) if builtins.is_name(ref) else None
    if _is_file(candidate, here, ExtendsError, fallback=builtin):
        return candidate.resolve()
    if builtin is not None:
        return builtin.resolve()
    hint = builtins.suggest(ref[: limits.MAX_ECHO_CHARS])
    raise ExtendsError(
        f"`extends: {shown(ref)}` is neither a file next to this one nor a built-in spec"
        + (f"; did you mean `{hint}`?" if hint else ""),
        here,
    )


def _merge(
    base: dict[str, Any],
    over: dict[str, Any],
    base_source: SourceMap,
    over_source: SourceMap,
    prefix: PathKey,
) -> tuple[dict[str, Any], SourceMap]:
    """Deep-merge `over` into `base`: mappings merge, everything else is replaced whole."""
    merged = dict(base)
    source = base_source
    if prefix in over_source.values:
        source.values[prefix] = over_source.values[prefix]
    for key, value in over.items():
        path = (*prefix, key)
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key], source = _merge(merged[key], value, source, over_source, path)
        else:
            merged[key] = value
            source.drop(path)
            source.values.update(over_source.under(path).values)
        if path in over_source.keys:
            source.keys[path] = over_source.keys[path]
    return merged, source


def _located_errors(err: ValidationError, source: SourceMap) -> SpecError:
    errors: list[SpecError] = []
    for item in err.errors():
        path: PathKey = tuple(item["loc"])
        at = (item.get("ctx") or {}).get("at")
        if at:
            path += tuple(int(p) if p.isdigit() else p for p in str(at).split("."))
        errors.append(_one_error(item, path, source))
    errors.sort(key=lambda e: (e.loc.file, e.loc.line, e.loc.column) if e.loc else ("", 0, 0))
    return errors[0] if len(errors) == 1 else SpecErrors(errors)


def _one_error(item: dict[str, Any], path: PathKey, source: SourceMap) -> SpecError:
    kind = item["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        valid = _field_names(path[:-1])
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
        hint = f"did you mean `{close[0]}`?" if close else "valid keys: " + ", ".join(valid)
        return SchemaError(f"unknown key `{shown(key)}`", source.key(path), hint)
    if kind == "missing":
        loc = source.value(path[:-1]).with_path(format_path(path))
        return SchemaError(f"missing required field `{path[-1]}`", loc)
    hint = _enum_hint(item, path) or _type_hint(item["type"], item.get("input"))
    return SchemaError(_message(item), source.value(path), hint)


# pydantic's type errors, as what the field takes: `expected a whole number, got boolean `true``
_EXPECTED = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "a mapping of fields",
    "dict_type": "a mapping of fields",
}


def _message(item: dict[str, Any]) -> str:
    kind, value = item["type"], item.get("input")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}"
    if kind == "string_pattern_mismatch" and (item.get("ctx") or {}).get("pattern") == NO_CONTROLS:
        return (f"the control character {_control_character(value)} is not allowed; text may "
                "hold tabs and line breaks but no other control characters")
    message = item["msg"].removeprefix("Value error, ")
    # Our own validators' messages already name the value; pydantic's do not.
    if kind not in ("cross_field", "value_error") and not isinstance(value, dict | list):
        message = f"{message}, got `{shown(value)}`"
    return message


def _control_character(text: str) -> str:
    """The first character of `text` that text fields refuse, as `U+001B`; "" if none."""
    bad = re.search(CONTROLS, text)
    return f"U+{ord(bad.group()):04X}" if bad else ""


def _describe(value: Any) -> str:
    """What a YAML value is, for `got ...`: `boolean `true``, `string "3"`, `number `2.0``."""
    if value is None:
        return "null (no value)"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int | float):
        return f"number `{shown(value)}`"
    if isinstance(value, str):
        return f'string "{shown(value)}"'
    return "a mapping" if isinstance(value, dict) else f"a {_KIND_NAMES.get(type(value), 'value')}"


def _type_hint(kind: str, value: Any) -> str:
    """How to write what was probably meant: `"3"` -> 3, `2.0` -> 2, `yes` -> true."""
    if kind == "bool_type" and isinstance(value, str) and value.lower() in _YAML11_BOOLS:
        return "write `true` or `false`; YAML 1.2 reads `yes`, `no`, `on`, `off` as strings"
    if kind == "int_type" and isinstance(value, float) and value.is_integer():
        return f"write `{shown(int(value))}`, without the decimal point"
    if kind in ("int_type", "float_type") and isinstance(value, str):
        number = value.strip().replace("_", "")
        if re.fullmatch(r"[-+]?\d+" if kind == "int_type" else r"[-+]?[\d.]+(e[-+]?\d+)?",
                        number, re.IGNORECASE):
            return f"write `{shown(number)}` without quotes"
    return ""


_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def _enum_hint(item: dict[str, Any], path: PathKey) -> str:
    if item["type"] != "enum" or not isinstance(item.get("input"), str):
        return ""
    expected = [v.value for v in _enum_at(path) or []]
    close = difflib.get_close_matches(item["input"], expected, n=1, cutoff=0.5)
    return f"did you mean `{close[0]}`?" if close else ""


def _annotation_at(path: PathKey) -> Any:
    """The type annotation the schema declares at `path` (list items and Optionals unwrapped)."""
    current: Any = Spec
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        else:
            return None
    return _unwrap(current)


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _field_names(path: PathKey) -> list[str]:
    model = _annotation_at(path)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _enum_at(path: PathKey) -> Any:
    annotation = _annotation_at(path)
    return annotation if isinstance(annotation, type) else None
