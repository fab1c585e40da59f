"""`spec.resolved.yaml` stands on its own for every valid spec: whatever its strings hold
(numbers, YAML 1.1 booleans, null words, leading spaces, quotes, line and paragraph
separators, any Unicode but control characters), it reads back, through this project's YAML
1.2 loader and through YAML 1.1 readers alike, as the very same spec."""

from __future__ import annotations

import re
import unicodedata

import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from spec_strategies import budget, valid_specs

from resnet_spec.spec.loader import validate
from resnet_spec.spec.resolved import resolved_dict, resolved_yaml
from resnet_spec.spec.schema import CONTROLS, Spec
from resnet_spec.spec.yaml_source import parse_text

# pieces that YAML reads as something other than text, or that need quoting or escaping
TRICKY = ["1e3", "0o17", "0x1F", "010", "1_000", ".5", ".inf", "-.Inf", ".nan", "~", "null",
          "Null", "true", "False", "yes", "no", "on", "off", "y", "n", "=", "<<", "2001-01-01",
          "12:30", " ", "  ", "\n", "\t", "\u2028", "\u2029", "\ufeff", "\ufffe", "#", " #",
          ": ", "- ", "? ", "'", '"', "\\", "\\N", "&a", "*a", "!x", "%", "@", "`", "{", "}",
          "[", "]", ",", "|", ">", "---", "...", "é", "\U0001f600", "\u202e"]

# category Cc is exactly the control characters text refuses, plus tab and line feed, which
# TRICKY brings back; Cs (surrogates) cannot be written in UTF-8
text_chars = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
texts = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(text_chars, max_size=4)),
                 max_size=12).map("".join)


def test_category_cc_is_what_text_refuses() -> None:
    chars = [chr(c) for c in range(0x3000)]  # every Cc character is below U+00A0
    refused = {c for c in chars if re.match(CONTROLS, c)}
    assert refused == {c for c in chars if unicodedata.category(c) == "Cc"} - {"\t", "\n"}


def _round_trip(spec: Spec) -> None:
    text = resolved_yaml(spec)
    back = validate(*parse_text(text, "spec.resolved.yaml"))
    assert back.description == spec.description
    assert resolved_dict(back) == resolved_dict(spec)
    assert yaml.safe_load(text)["description"] == spec.description  # a YAML 1.1 reader


@budget(300)
@given(description=texts)
@example(description="1e3")
@example(description="0o17")
@example(description=" leading space")
@example(description="a\u2028b")
def test_any_description_reads_back_exactly(description: str) -> None:
    _round_trip(Spec(name="t", description=description, stages=[{"depth": 1, "width": 8}]))


@budget(100)
@given(data=valid_specs(), name=st.sampled_from(["null", "true", "false", "nan", "e3", "t"]))
def test_generated_specs_read_back_exactly(data: dict, name: str) -> None:
    _round_trip(validate(*parse_text(yaml.safe_dump({**data, "name": name}), "spec.yaml")))
