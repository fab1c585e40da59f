"""From a path, a built-in name, a mapping or a `Spec` to a validated `Spec`: parse, follow
`extends`, apply the `--set` overrides, validate.

Every error, pydantic's included, comes out as a `SpecError` at the file, line and column of the
offending key or value, in whichever file of the `extends` chain it was written (for a mapping
given in Python, at `<dict>` and the field's path; for an override, at the `--set`).
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from resnet_spec import files, limits
from resnet_spec.errors import (
    ExtendsError,
    Loc,
    SchemaError,
    SpecError,
    SpecErrors,
    YamlError,
    shown,
)
from resnet_spec.spec import builtins, confine
from resnet_spec.spec.overrides import apply_overrides
from resnet_spec.spec.pydantic_words import constraint_message, without_jargon
from resnet_spec.spec.schema import CONTROLS, NO_CONTROLS, Spec
from resnet_spec.spec.suggest import closest
from resnet_spec.spec.yaml_source import PathKey, SourceMap, format_path, parse_file

_KIND_NAMES = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}

SpecInput = Union[str, "os.PathLike[str]", Mapping[str, Any], Spec]
"""What `load`, `elaborate` and `build` take: a spec file's path, a built-in spec's name, the
content of a spec file as a mapping (`{"extends": "resnet18", "head": {"classes": 10}}`), or a
`Spec`."""

DICT_NAME = "<dict>"
"""How a mapping given in Python is named in messages: `<dict>: head.classes: ...`."""


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


def load(spec: SpecInput, overrides: Sequence[str] = ()) -> Spec:
    """Load, merge and validate a spec: a file path, a built-in spec's name, a mapping (a spec
    file's content; its `extends` is relative to the working directory) or a `Spec`.

    `overrides` are `--set`'s `PATH=VALUE` strings (`["head.classes=10", "stages.1.depth=6"]`),
    applied in order after `extends` is merged (see `resnet_spec.spec.overrides`). A `Spec` given
    without overrides is returned as it is.
    """
    if isinstance(spec, Spec) and not overrides:
        return spec
    raw, source = load_unvalidated(spec)
    return validate(*apply_overrides(raw, source, overrides))


def spec_ref(spec: SpecInput) -> str:
    """How a `SpecInput` is named in messages and manifests: its path or name, `<dict>`, or
    `<Spec name>`."""
    if isinstance(spec, Spec):
        return f"<Spec {spec.name}>"
    return DICT_NAME if isinstance(spec, Mapping) else os.fspath(spec)


def load_unvalidated(spec: SpecInput) -> tuple[dict[str, Any], SourceMap]:
    """Any `SpecInput` as a merged mapping and where each part came from."""
    if isinstance(spec, Spec):
        return _spec_layer(spec)
    if isinstance(spec, Mapping):
        return load_mapping(spec)
    return load_merged(resolve_spec_path(spec))


def load_mapping(value: Mapping[str, Any]) -> tuple[dict[str, Any], SourceMap]:
    """A spec given as a Python mapping, its `extends` merged, located as `<dict>` + path."""
    source = SourceMap(layers=[DICT_NAME])
    raw = _plain(value, (), source, DICT_NAME)
    return _extend(raw, source, Path.cwd() / DICT_NAME, [])


def _spec_layer(spec: Spec) -> tuple[dict[str, Any], SourceMap]:
    """A validated `Spec` as a mapping again (to apply overrides), keeping where it was
    written if it was loaded from files."""
    from resnet_spec.spec.resolved import resolved_dict

    source = spec.source.copy() if spec.source is not None else SourceMap(layers=["<Spec>"])
    return _plain(resolved_dict(spec), (), source, "<Spec>"), source


def _plain(value: Any, path: PathKey, source: SourceMap, name: str) -> Any:
    """A deep copy of a Python value as YAML would give it (tuples as lists), each part's
    position recorded as `name` + path where `source` has none."""
    if len(path) > limits.MAX_YAML_DEPTH:
        raise YamlError(f"nested deeper than {limits.MAX_YAML_DEPTH} levels (a mapping that "
                        "holds itself?)", Loc(name, line=0, path=shown(format_path(path))))
    source.values.setdefault(path, Loc(name, line=0))
    if isinstance(value, Mapping):
        for key in value:
            source.keys.setdefault((*path, key), Loc(name, line=0))
        return {key: _plain(item, (*path, key), source, name) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, (*path, i), source, name) for i, item in enumerate(value)]
    return value


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
    return _extend(value, source, path, chain)


def _extend(value: dict[str, Any], source: SourceMap, path: Path, chain: list[Path]
            ) -> tuple[dict[str, Any], SourceMap]:
    """`value` (the file at `path`) merged over the chain its `extends` names."""
    parent_ref = value.pop("extends", None)
    if parent_ref is None:
        return value, source
    here = source.value(("extends",))
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ExtendsError("`extends` takes a file path or a built-in spec's name", here)
    names = [*chain, path]
    # before anything at the path is looked at: its existence is news from outside too
    confine.check(path.parent / parent_ref, names[0].parent, parent_ref, here)
    parent = _resolve_extends(parent_ref, path, here)
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
    layers = [*base_source.layers, *source.layers]
    if value.get("name", base.get("name")) != base.get("name") and "description" not in value:
        # a file that renames the model is another model: its parent's description is not its
        # own
        base.pop("description", None)
        base_source.values.pop(("description",), None)
        base_source.keys.pop(("description",), None)
    merged, merged_source = _merge(base, value, base_source, source, ())
    merged_source.layers = layers
    return merged, merged_source


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
    beside = ("in the working directory" if child.name == DICT_NAME else "next to this one")
    raise ExtendsError(
        f"`extends: {shown(ref)}` is neither a file {beside} nor a built-in spec"
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
    located = [pair for item in err.errors() for pair in _unnested(item)]
    misspelled = _misspelled_fields(located)
    errors = [_one_error(item, path, source) for item, path in located
              if not (item["type"] == "missing" and path in misspelled)]
    errors.sort(key=lambda e: (e.loc.file, e.loc.line, e.loc.column) if e.loc else ("", 0, 0))
    return errors[0] if len(errors) == 1 else SpecErrors(errors)


def _unnested(item: dict[str, Any]) -> list[tuple[dict[str, Any], PathKey]]:
    """An error with its path; the errors of a model validated inside a field (a block kind's
    `options`, `schema._nested`) each with its own, below that field."""
    ctx = item.get("ctx") or {}
    if item["type"] != "nested":
        return [(item, _item_path(item))]
    below = _item_path(item)
    return [({**inner, "fields": ctx.get("fields", []) if len(inner["loc"]) == 1 else []},
             (*below, *inner["loc"])) for inner in ctx["nested"]]


def _item_path(item: dict[str, Any]) -> PathKey:
    """Where a pydantic error is: its `loc`, and below it the field a cross-field rule names."""
    path: PathKey = tuple(item["loc"])
    at = (item.get("ctx") or {}).get("at")
    if at:
        path += tuple(int(p) if p.isdigit() else p for p in str(at).split("."))
    return path


def _misspelled_fields(located: list[tuple[dict[str, Any], PathKey]]) -> set[PathKey]:
    """The paths of required fields that an unknown key beside them misspells (`depht` for
    `depth`): their "missing" error says nothing the "did you mean" does not."""
    out = set()
    for item, path in located:
        if item["type"] == "extra_forbidden":
            close = _closest(str(path[-1]), item.get("fields") or _field_names(path[:-1]))
            if close:
                out.add((*path[:-1], close))
    return out


def _closest(key: str, valid: list[str]) -> str | None:
    return closest(key, valid)


def _one_error(item: dict[str, Any], path: PathKey, source: SourceMap) -> SpecError:
    kind = item["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        valid = item.get("fields") or _field_names(path[:-1])
        close = _closest(key, valid)
        hint = f"did you mean `{close}`?" if close else "valid keys: " + ", ".join(valid)
        return SchemaError(f"unknown key `{shown(key)}`", source.key(path), hint)
    if kind == "missing":
        loc = source.value(path[:-1]).with_path(format_path(path))
        return SchemaError(f"missing required field `{path[-1]}`", loc)
    hint = (_enum_hint(item, path) or _head_hint(item, path)
            or _type_hint(item["type"], item.get("input")))
    return SchemaError(_message(item, path), source.value(path), hint)


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


def _message(item: dict[str, Any], path: PathKey) -> str:
    kind, value = item["type"], item.get("input")
    if kind == "model_type" and path == ("head",):
        return f"expected a mapping of fields, or `none` for a backbone; got {_describe(value)}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}"
    if kind == "string_pattern_mismatch" and (item.get("ctx") or {}).get("pattern") == NO_CONTROLS:
        return (f"the control character {_control_character(value)} is not allowed; text may "
                "hold tabs and line breaks but no other control characters")
    plain = constraint_message(item)
    if plain is not None:
        return plain
    message = without_jargon(item["msg"])
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
    if kind == "literal_error" and isinstance(value, str) and value.strip().isdigit():
        return f"write `{shown(value.strip())}` without quotes"
    if kind == "int_type" and isinstance(value, float) and value.is_integer():
        return f"write `{shown(int(value))}`, without the decimal point"
    if kind in ("int_type", "float_type") and isinstance(value, str):
        number = value.strip().replace("_", "")
        if re.fullmatch(r"[-+]?\d+" if kind == "int_type" else r"[-+]?[\d.]+(e[-+]?\d+)?",
                        number, re.IGNORECASE):
            return f"write `{shown(number)}` without quotes"
    return ""


_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def _head_hint(item: dict[str, Any], path: PathKey) -> str:
    """`head: None` or `head: NONE`: the string `none` is the backbone's shorthand."""
    value = item.get("input")
    if path == ("head",) and isinstance(value, str) and value.strip().lower() == "none":
        return "write `none`, in lower case, for a backbone"
    return ""


def _enum_hint(item: dict[str, Any], path: PathKey) -> str:
    if item["type"] != "enum" or not isinstance(item.get("input"), str):
        return ""
    # the choices as the error lists them: an enum's members, or the registered block kinds
    expected = re.findall(r"'([^']*)'", str((item.get("ctx") or {}).get("expected", "")))
    close = closest(item["input"], expected)
    return f"did you mean `{close}`?" if close else ""


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

