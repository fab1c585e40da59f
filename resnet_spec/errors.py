"""Diagnostics that point at a place in a spec file.

Every user-facing error of the front end is a `SpecError`: it carries the file, line and column
(1-based) of what caused it, the field path inside the spec, and a hint of what would be valid.
The CLI prints it as ``file:line:col: path: message`` and exits 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from resnet_spec import limits

# Characters that must not reach a terminal raw from a one-line message: C0 controls but tab,
# DEL, C1 controls, line and paragraph separators, and the bidirectional overrides.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                          "\u2066-\u2069]")


def escaped(text: str) -> str:
    """`text` with the characters that could rewrite a terminal line shown as escapes."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def shown(value: object, limit: int = limits.MAX_ECHO_CHARS) -> str:
    """A value as echoed in a message: escaped, and cut to `limit` characters with an ellipsis
    (a 100 KB key or a 4,000-digit number is named, not printed)."""
    try:
        text = escaped(value if isinstance(value, str) else str(value))
    except ValueError:  # an int beyond Python's int-to-str digit limit
        text = f"a {value.bit_length()}-bit integer" if isinstance(value, int) else "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Loc:
    """A position in a file: 1-based line and column, plus the field path there.

    Line 0 means the file as a whole (one that is missing, or not text): printed as the bare name.
    """

    file: str
    line: int = 1
    column: int = 1
    path: str = ""

    def __str__(self) -> str:
        name = escaped(self.file)
        if self.line <= 0:
            return name
        return f"{name}:{self.line}:{self.column}"

    def with_path(self, path: str) -> Loc:
        return Loc(self.file, self.line, self.column, path)


@dataclass(frozen=True)
class Note:
    """A line of context under an error: another place involved (`loc` None: no place)."""

    text: str
    loc: Loc | None = None

    def __str__(self) -> str:
        if self.loc is None:
            return f"  {self.text}"
        path = f"{self.loc.path}: " if self.loc.path else ""
        return f"  {self.loc}: {path}{self.text}"


class SpecError(Exception):
    """A problem with a spec, reported at the place that caused it.

    `notes` are further places involved, printed indented under the error: a graph error
    caused by a value of `my.yaml` is located there, with a note at the stage of the parent
    file whose layers it breaks.
    """

    def __init__(self, message: str, loc: Loc | None = None, hint: str = "",
                 notes: tuple[Note, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint
        self.notes = notes

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        path = f"{self.loc.path}: " if self.loc and self.loc.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return "\n".join([f"{where}{path}{self.message}{hint}", *map(str, self.notes)])


class YamlError(SpecError):
    """The file is not YAML this tool accepts (syntax, tags, duplicate keys, aliases, size)."""


class SchemaError(SpecError):
    """A field has the wrong type or value, or fields contradict each other."""


class ExtendsError(SpecError):
    """`extends` names nothing, forms a cycle, or chains too deep."""


class GraphError(SpecError):
    """The elaborated graph breaks a static check (shapes, channels, groups, structure)."""


class UnsupportedError(SpecError):
    """A valid field whose elaboration is not implemented yet."""


class LimitError(SpecError):
    """A spec exceeds a limit that protects against resource exhaustion."""


class SpecErrors(SpecError):
    """Several errors found in one pass; printed one per line, the first
    `limits.MAX_ERRORS_SHOWN` of them, then how many more there are."""

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__(errors[0].message, errors[0].loc, errors[0].hint, errors[0].notes)
        self.errors = errors

    def __str__(self) -> str:
        lines = [str(e) for e in self.errors[: limits.MAX_ERRORS_SHOWN]]
        rest = len(self.errors) - len(lines)
        if rest:
            lines.append(f"... and {rest} more error{'s' if rest > 1 else ''}")
        return "\n".join(lines)
