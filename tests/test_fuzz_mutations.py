"""Fuzzing with broken specs: valid ones (generated, and the built-ins) with keys deleted or
misspelled, values of the wrong type, deep nesting, random bytes, truncation, duplicated lines
and tabs. Whatever the file, loading and checking it either succeeds or raises a located
`SpecError`, within a deadline per case; nothing else (no crash, no hang, no raw control
characters, no flood of lines). Budget: fixed in CI, RESNET_SPEC_FUZZ_EXAMPLES for more."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SPECS
from hypothesis import event, given
from hypothesis import strategies as st
from spec_strategies import budget, valid_specs

import resnet_spec
from resnet_spec import limits
from resnet_spec.errors import SpecError
from resnet_spec.ir.cost import analyze
from resnet_spec.render import to_dot
from resnet_spec.spec.yaml_source import parse_file

Data = Any
Draw = st.DrawFn


def _builtin(path: Path) -> Data:
    data, _ = parse_file(path)
    if "extends" in data:  # by name, so that it resolves from any folder
        data["extends"] = Path(data["extends"]).stem
    return data


BUILTINS = [_builtin(p) for p in sorted(SPECS.glob("*.yaml"))]
WRONG_VALUES: list[Any] = [True, False, None, "", "x", "none", "1e3", "\u2028", "é" * 3, 1.5,
                           float("inf"), -1, 0, 10**6, 2**70, [], {}, [1, 2], {"a": 1}, [[{}]]]


def _paths(value: Data, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value below the root."""
    out = []
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else [])
    for key, child in items:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


def _parent(data: Data, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _delete(draw: Draw, data: Data) -> Data:
    keys = [p for p in _paths(data) if isinstance(_parent(data, p), dict)]
    if keys:
        path = draw(st.sampled_from(keys))
        del _parent(data, path)[path[-1]]
    return data


def _misspell(draw: Draw, data: Data) -> Data:
    keys = [p for p in _paths(data) if isinstance(_parent(data, p), dict)]
    if keys:
        path = draw(st.sampled_from(keys))
        parent = _parent(data, path)
        parent[str(path[-1]) + draw(st.sampled_from(["s", "_", "X"]))] = parent.pop(path[-1])
    return data


def _wrong_type(draw: Draw, data: Data) -> Data:
    paths = _paths(data)
    if paths:
        path = draw(st.sampled_from(paths))
        _parent(data, path)[path[-1]] = copy.deepcopy(draw(st.sampled_from(WRONG_VALUES)))
    return data


def _nest(draw: Draw, data: Data) -> Data:
    paths = _paths(data)
    if paths:
        path = draw(st.sampled_from(paths))
        value = _parent(data, path)[path[-1]]
        for _ in range(draw(st.integers(1, 2 * limits.MAX_YAML_DEPTH))):
            value = draw(st.sampled_from([[value], {"a": value}]))
        _parent(data, path)[path[-1]] = value
    return data


def _truncate(draw: Draw, text: bytes) -> bytes:
    return text[: draw(st.integers(0, len(text)))]


def _insert_bytes(draw: Draw, text: bytes) -> bytes:
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]


def _overwrite_byte(draw: Draw, text: bytes) -> bytes:
    if not text:
        return text
    at = draw(st.integers(0, len(text) - 1))
    return text[:at] + bytes([draw(st.integers(0, 255))]) + text[at + 1:]


def _duplicate_line(draw: Draw, text: bytes) -> bytes:
    lines = text.split(b"\n")
    at = draw(st.integers(0, len(lines) - 1))
    return b"\n".join([*lines[: at + 1], lines[at], *lines[at + 1:]])


def _tab_indent(draw: Draw, text: bytes) -> bytes:
    lines = text.split(b"\n")
    at = draw(st.integers(0, len(lines) - 1))
    lines[at] = b"\t" + lines[at]
    return b"\n".join(lines)


DATA_MUTATIONS: list[Callable[[Draw, Data], Data]] = [_delete, _misspell, _wrong_type, _nest]
TEXT_MUTATIONS: list[Callable[[Draw, bytes], bytes]] = [
    _truncate, _insert_bytes, _overwrite_byte, _duplicate_line, _tab_indent]


@st.composite
def broken_specs(draw: Draw) -> bytes:
    """The bytes of a spec file: a valid spec, mutated as data, dumped, mutated as text."""
    data = copy.deepcopy(draw(st.one_of(valid_specs(), st.sampled_from(BUILTINS))))
    for _ in range(draw(st.integers(0, 3))):
        data = draw(st.sampled_from(DATA_MUTATIONS))(draw, data)
    flow = draw(st.sampled_from([None, False, True]))
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=flow,
                          allow_unicode=True).encode("utf-8")
    for _ in range(draw(st.integers(0, 2))):
        text = draw(st.sampled_from(TEXT_MUTATIONS))(draw, text)
    return text


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@budget(1000, deadline_ms=5000)
@given(text=broken_specs())
def test_broken_specs_give_located_errors_or_valid_graphs(folder: Path, text: bytes) -> None:
    path = folder / "fuzz.yaml"
    path.write_bytes(text)
    try:
        graph = resnet_spec.elaborate(path)
    except SpecError as err:
        event(type(err).__name__)  # the outcomes, for --hypothesis-show-statistics
        assert err.loc is not None, str(err)
        message = str(err)
        assert not _RAW_CONTROL.search(message), message
        assert len(message.splitlines()) <= limits.MAX_ERRORS_SHOWN + 1
        return
    event("valid")
    analyze(graph)  # what `summary` and `render` would do with it
    to_dot(graph, level="stages")
