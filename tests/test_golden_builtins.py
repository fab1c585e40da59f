"""Every built-in's graph, drawings and compiled module, byte for byte as recorded.

A refactoring of elaboration, rendering or lowering must not change what a built-in becomes:
its `graph.json` (as `build` writes it), its DOT at every level, and its module (the state_dict
keys in order with their shapes, `print(model)`, and the generated code of every part). The
recorded files are gzip-compressed text under tests/golden/builtins/ (about 0.4 MB for all of
them instead of 10 MB). After an intended change, rewrite them with

    RESNET_SPEC_UPDATE_GOLDEN=1 pytest tests/test_golden_builtins.py

and read the diff the failing test printed before committing.
"""

from __future__ import annotations

import difflib
import gzip
import itertools
import json
import os
import re
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.render import LEVELS, to_dot
from resnet_spec.spec import builtins

GOLDEN = Path(__file__).resolve().parent / "golden" / "builtins"
NAMES = builtins.names()


def graph_json(name: str) -> str:
    text = json.dumps(resnet_spec.elaborate(name).to_json(), indent=2) + "\n"
    # a location names the spec file by the path it was read from, which depends on where the
    # package is installed: keep its name, line and column
    return re.sub(r'"loc": "[^"]*/([^/"]+\.yaml:)', r'"loc": "\1', text)


def dots(name: str) -> str:
    graph = resnet_spec.elaborate(name)
    return "".join(f"// level {level}\n{to_dot(graph, level=level)}" for level in LEVELS)


def module_text(name: str) -> str:
    """The module as a user and a checkpoint see it: keys, shapes, tree and generated code."""
    from torch import fx

    from resnet_spec.compiler import lower

    model = lower(resnet_spec.elaborate(name), device="meta")
    lines = [f"{key} {tuple(value.shape)}" for key, value in model.state_dict().items()]
    lines += ["", str(model), ""]
    for path, module in model.named_modules():
        if isinstance(module, fx.GraphModule):
            lines += [f"# code of {path or '(root)'}", module.code.strip(), ""]
    return "\n".join(lines) + "\n"


KINDS = {"graph.json": graph_json, "dot": dots, "module": module_text}


def compare(name: str, kind: str) -> None:
    text = KINDS[kind](name)
    path = GOLDEN / f"{name}.{kind}.gz"
    if os.environ.get("RESNET_SPEC_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        # mtime 0: the same text gives the same bytes, so unchanged goldens stay unchanged in git
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    assert path.exists(), f"no golden file {path.name}; see this module's docstring"
    recorded = gzip.decompress(path.read_bytes()).decode()
    if text != recorded:
        diff = difflib.unified_diff(recorded.splitlines(), text.splitlines(), "recorded",
                                    "now", lineterm="", n=2)
        shown = "\n".join(itertools.islice(diff, 60))
        pytest.fail(f"{name} {kind} differs from {path.name}:\n{shown}")


@pytest.mark.parametrize("name", NAMES)
def test_graph_json_is_as_recorded(name: str) -> None:
    compare(name, "graph.json")


@pytest.mark.parametrize("name", NAMES)
def test_drawings_are_as_recorded(name: str) -> None:
    compare(name, "dot")


@pytest.mark.parametrize("name", NAMES)
def test_module_is_as_recorded(name: str) -> None:
    compare(name, "module")


def test_every_builtin_has_golden_files() -> None:
    recorded = {p.name for p in GOLDEN.glob("*.gz")}
    expected = {f"{name}.{kind}.gz" for name in NAMES for kind in KINDS}
    assert recorded == expected
