"""pydantic's constraint errors in the spec language's own words.

pydantic says "Input should be greater than or equal to 1" and "List should have at least 1
item after validation, not 0"; a spec's author reads "must be at least 1" and "needs at least 1
item, got none". `constraint_message` words the errors of ranges, lengths, choices and
patterns; `without_jargon` is the net under it for any phrasing pydantic adds later.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from resnet_spec.errors import shown

Item = dict[str, Any]

NAME_RULE = "lower case letters, digits, `_`, `.` and `-`, beginning with a letter"


def _items(n: int) -> str:
    return "none" if n == 0 else f"{n} item{'s' if n != 1 else ''}"


def _choices(expected: str) -> str:
    """pydantic's `'relu', 'silu' or 'gelu'` as `relu`, `silu` or `gelu`."""
    return re.sub(r"'([^']*)'", r"`\1`", expected)


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and not value:
        return "an empty string"
    return f"`{shown(value)}`"


def _bound(word: str, key: str) -> Callable[[Item], str]:
    return lambda item: f"must be {word} {shown(item['ctx'][key])}, got {_got(item['input'])}"


def _too_short(item: Item) -> str:
    ctx = item["ctx"]
    return f"needs at least {_items(ctx['min_length'])}, got {ctx.get('actual_length') or 'none'}"


def _too_long(item: Item) -> str:
    ctx = item["ctx"]
    got = ctx.get("actual_length")
    return f"takes at most {_items(ctx['max_length'])}" + (f", got {got}" if got else "")


def _choice(item: Item) -> str:
    return f"expected {_choices(item['ctx']['expected'])}, got {_got(item['input'])}"


def _pattern(item: Item) -> str:
    value = item["input"]
    if not value:
        return f"the name is empty; a name is {NAME_RULE}"
    return f"`{shown(value)}` is not a valid name: a name is {NAME_RULE}"


def _string_too_long(item: Item) -> str:
    return (f"the text is {len(item['input'])} characters long; at most "
            f"{item['ctx']['max_length']} are allowed")


def _finite(item: Item) -> str:
    return f"must be a finite number, got `{shown(item['input'])}`"


CONSTRAINTS: dict[str, Callable[[Item], str]] = {
    "greater_than_equal": _bound("at least", "ge"),
    "greater_than": _bound("greater than", "gt"),
    "less_than_equal": _bound("at most", "le"),
    "less_than": _bound("less than", "lt"),
    "too_short": _too_short,
    "too_long": _too_long,
    "enum": _choice,
    "literal_error": _choice,
    "string_pattern_mismatch": _pattern,
    "string_too_long": _string_too_long,
    "finite_number": _finite,
}
"""pydantic error type -> the message in our words (the value included)."""


def constraint_message(item: Item) -> str | None:
    """The message for a pydantic error of a constraint, or None if it is of another kind."""
    word = CONSTRAINTS.get(item["type"])
    return word(item) if word else None


_JARGON = [
    (re.compile(r"^Value error, "), ""),
    (re.compile(r"^Input should be "), "expected "),
    (re.compile(r"^(List|String|Dictionary|Tuple|Set) should "), "should "),
    (re.compile(r" after validation"), ""),
]


def without_jargon(message: str) -> str:
    """pydantic's remaining phrasings, reworded: a net for error types not in `CONSTRAINTS`."""
    for pattern, replacement in _JARGON:
        message = pattern.sub(replacement, message)
    return message
