"""The language is exactly as strict as its JSON Schema: no coercion of types, no control
characters in text, and the tool and docs/spec.schema.json agree value by value."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import pytest
from conftest import REPO
from pydantic import BaseModel, ValidationError

from resnet_spec.errors import SchemaError, SpecError
from resnet_spec.spec import reference_doc as reference
from resnet_spec.spec.loader import validate
from resnet_spec.spec.yaml_source import parse_text

BASE = "name: t\nstages:\n  - {depth: 1, width: 8}\n"

# (where, YAML value, accepted by the tool). The JSON Schema must give the same verdict except
# where SCHEMA_CANNOT_TELL says why it cannot.
TABLE: list[tuple[str, str, bool]] = [
    ("stages[0].depth", "3", True),
    ("stages[0].depth", "true", False),
    ("stages[0].depth", '"3"', False),
    ("stages[0].depth", "2.0", False),
    ("stages[0].depth", "0", False),
    ("stages[0].depth", "null", False),
    ("stages[0].depth", "[3]", False),
    ("stages[0].width", "0x40", True),
    ("stages[0].width", "'64'", False),
    ("block.zero_init_last_norm", "true", True),
    ("block.zero_init_last_norm", '"yes"', False),
    ("block.zero_init_last_norm", "yes", False),
    ("block.zero_init_last_norm", "1", False),
    ("block.zero_init_last_norm", "null", False),
    ("norm.eps", "1e-5", True),
    ("norm.eps", '"1e-5"', False),
    ("norm.eps", "true", False),
    ("head.dropout", "0", True),
    ("head.dropout", "0.5", True),
    ("head.dropout", "false", False),
    ("activation", "silu", True),
    ("activation", "SiLU", False),
    ("activation", "1", False),
    ("activation", "true", False),
    ("stages[0].shortcut", "null", True),
    ("stages[0].shortcut", "zero_pad", True),
    ("stages[0].shortcut", "3", False),
    ("description", '"tab\\there, and a line\\nbreak"', True),
    ("description", '"caf\\u00e9 \\u2028 \\U0001F600"', True),
    ("description", '"\\e[31mred"', False),
    ("description", '"\\x00"', False),
    ("description", '"\\x7f"', False),
    ("description", '"\\x9b2J"', False),
    ("description", '"\\r"', False),
    ("description", "5", False),
    ("description", "false", False),
    ("name", "t50", True),
    ("name", "50", False),
    ("name", "true", False),
    ("head", "none", True),
    ("head", "null", False),
    ("head", "{classes: 10}", True),
    ("head", "5", False),
    ("norm", "group", True),
    ("norm", "null", False),
    ("spec_version", "1", True),
    ("spec_version", "1.0", False),
    ("stem.widths", "null", True),
]

SCHEMA_CANNOT_TELL = {
    # JSON has one number type: `2.0` is the same JSON number as `2`, and JSON Schema's
    # "integer" is any number with no fractional part. YAML keeps them apart, and so does the
    # tool: a depth written `2.0` is a mistake worth pointing at.
    ("stages[0].depth", "2.0"),
    ("spec_version", "1.0"),
}


def _with(where: str, value: str) -> str:
    """BASE with `value` written at `where`: `field`, `mapping.field` or `stages[0].field`."""
    if where.startswith("stages[0]."):
        entry = {"depth": "1", "width": "8", where.split(".", 1)[1]: value}
        return "name: t\nstages:\n  - {" + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}\n"
    if where == "name":
        return BASE.replace("name: t", f"name: {value}")
    head, _, field = where.partition(".")
    return BASE + (f"{head}: {{{field}: {value}}}\n" if field else f"{head}: {value}\n")


def _tool_accepts(text: str) -> bool:
    raw, source = parse_text(text, "t.yaml")
    try:
        validate(raw, source)
    except SchemaError:
        return False
    return True


def _schema_accepts(text: str) -> bool:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "docs" / "spec.schema.json").read_text(encoding="utf-8"))
    raw, _ = parse_text(text, "t.yaml")
    return jsonschema.Draft202012Validator(schema).is_valid(raw)


@pytest.mark.parametrize(("where", "value", "accepted"), TABLE,
                         ids=[f"{w}={v}" for w, v, _ in TABLE])
def test_tool_and_json_schema_agree(where: str, value: str, accepted: bool) -> None:
    text = _with(where, value)
    assert _tool_accepts(text) is accepted
    if (where, value) in SCHEMA_CANNOT_TELL:
        assert _schema_accepts(text), "the schema learned to tell them apart: drop the exception"
    else:
        assert _schema_accepts(text) is accepted


@pytest.mark.parametrize(("value", "message"), [
    ("true", "stages[0].depth: expected a whole number, got boolean `true`"),
    ('"3"', 'stages[0].depth: expected a whole number, got string "3" (write `3` without quotes)'),
    ("2.0", "stages[0].depth: expected a whole number, got number `2.0` (write `2`, without the "
            "decimal point)"),
])
def test_type_errors_are_plain_and_located(value: str, message: str) -> None:
    raw, source = parse_text(_with("stages[0].depth", value), "t.yaml")
    with pytest.raises(SchemaError) as caught:
        validate(raw, source)
    assert str(caught.value) == f"t.yaml:3:13: {message}"


# Every scalar field of every model, given each wrong type: this is what keeps a field added
# later (`output_stride: int`) as strict as the others.
_WRONG: dict[type, list[Any]] = {
    int: [True, "3", 2.0],
    float: [True, "0.5"],
    bool: ["yes", 1, None],
    str: [5, True],
}
_REQUIRED: dict[str, dict[str, Any]] = {
    "Spec": {"name": "t", "stages": [{"depth": 1, "width": 8}]},
    "StageSpec": {"depth": 1, "width": 8},
}


def _scalar_fields() -> list[tuple[type[BaseModel], str, type]]:
    out = []
    for _, model, _ in reference.SECTIONS:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
            kind = args[0] if len(args) == 1 else annotation
            if kind in _WRONG:
                out.append((model, name, kind))
    return out


@pytest.mark.parametrize(("model", "name", "kind"), _scalar_fields(),
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_every_scalar_field_refuses_other_types(model: type[BaseModel], name: str,
                                                kind: type) -> None:
    for wrong in _WRONG[kind]:
        if wrong is None and not model.model_fields[name].is_required() and (
                type(None) in getattr(model.model_fields[name].annotation, "__args__", ())):
            continue  # an optional field takes null: "unset"
        data = {**_REQUIRED.get(model.__name__, {}), name: wrong}
        with pytest.raises(ValidationError) as caught:
            model.model_validate(data)
        assert any(e["loc"][:1] == (name,) for e in caught.value.errors()), (name, wrong)


def test_scalar_fields_were_found() -> None:
    found = {(m.__name__, n) for m, n, _ in _scalar_fields()}
    assert {("StageSpec", "depth"), ("NormSpec", "eps"), ("BlockSpec", "zero_init_last_norm"),
            ("Spec", "description")} <= found


def test_errors_beyond_the_cap_are_counted() -> None:
    keys = "".join(f"  bad_key_{i}: 1\n" for i in range(95))
    raw, source = parse_text(f"{BASE}stem:\n{keys}", "t.yaml")
    with pytest.raises(SpecError) as caught:
        validate(raw, source)
    lines = str(caught.value).splitlines()
    assert len(lines) == 21
    assert lines[0].startswith("t.yaml:5:3: stem.bad_key_0: unknown key `bad_key_0`")
    assert lines[-1] == "... and 75 more errors"


def test_echoed_values_are_cut_and_escaped() -> None:
    key = "k" * 100_000
    # a key longer than 1024 characters must be written as an explicit `? key`
    raw, source = parse_text(f'{BASE}stem:\n  ? {key}\n  : 1\n  "x\\e": 2\n', "t.yaml")
    with pytest.raises(SpecError) as caught:
        validate(raw, source)
    text = str(caught.value)
    assert max(len(line) for line in text.splitlines()) < 400
    assert "k" * 59 + "…" in text
    assert "\x1b" not in text and "x\\x1b" in text


def _enum_fields() -> list[tuple[type[BaseModel], str, type[Enum]]]:
    out = []
    for _, model, _ in reference.SECTIONS:
        for name, field in model.model_fields.items():
            args = [a for a in getattr(field.annotation, "__args__", ()) if a is not type(None)]
            kind = args[0] if len(args) == 1 else field.annotation
            if isinstance(kind, type) and issubclass(kind, Enum):
                out.append((model, name, kind))
    return out


@pytest.mark.parametrize(("model", "name", "kind"), _enum_fields(),
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_every_enum_field_takes_its_words(model: type[BaseModel], name: str,
                                          kind: type[Enum]) -> None:
    """Strict models would want enum members where YAML gives strings: each enum field opts out
    (`strict=False`); a field added without it fails here."""
    for member in kind:
        data = {**_REQUIRED.get(model.__name__, {}), name: member.value}
        try:
            model.model_validate(data)
        except ValidationError as err:  # a rule between fields may object, never the type
            assert not [e for e in err.errors() if e["loc"][:1] == (name,)], err
