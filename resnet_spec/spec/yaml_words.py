"""PyYAML's syntax errors in plain words: `expected <block end>, but found '<block mapping
start>'` becomes what is wrong with the line (its indentation against the mapping or list it
follows, with the columns) and how to fix it. Errors not described here keep PyYAML's words."""

from __future__ import annotations

from typing import Any

Explained = tuple[str, str]
"""(message, hint)."""


def explain(problem: str, context: str | None, problem_mark: Any, context_mark: Any
            ) -> Explained | None:
    """The message (`bad indentation: ...` or `invalid YAML: ...`) and hint for a PyYAML syntax
    error, or None to keep its own words.
    The marks are PyYAML's (0-based `line` and `column`); messages speak 1-based."""
    col = problem_mark.column + 1 if problem_mark is not None else 0
    start = (context_mark.line + 1, context_mark.column + 1) if context_mark else None
    context = context or ""
    if problem.startswith("expected <block end>, but found") and start:
        return _indentation(problem, context, col, *start)
    if problem == "mapping values are not allowed here":
        return ("invalid YAML: unexpected `:`, a key where only a value can be (a line indented "
                "deeper than the key above it?)",
                "line the key up with the keys above it, quote a value that contains `: `, or "
                "add the `:` that a line above may lack")
    if problem == "found unexpected end of stream" and "quoted scalar" in context and start:
        return (f"invalid YAML: the quoted string that opens at line {start[0]}, column "
                f"{start[1]} is never closed", "add the closing quote")
    if problem.startswith("could not find expected ':'"):
        return ("invalid YAML: a key without `:` after it",
                "write `key: value`, with a space after the colon")
    if problem.startswith(("expected ',' or '}'", "expected ',' or ']'")) and start:
        close = "}" if "'}'" in problem else "]"
        opened = "{" if close == "}" else "["
        found = problem.split("but got ", 1)[-1]
        return (f"invalid YAML: expected ',' or '{close}', but got {found}",
                f"the `{opened}` at line {start[0]}, column {start[1]} is not closed: end it "
                f"with `{close}`, and separate its items with `, `")
    return None


def _indentation(problem: str, context: str, col: int, line: int, column: int) -> Explained:
    found = problem.split("but found ", 1)[-1]
    if "block mapping" in context:
        if found == "'-'":
            return (f"bad indentation: a list item `-` at column {col}, among the keys of the "
                    f"mapping that starts at line {line}",
                    "a list goes under its key: `key:` on its own line, its `- ` items "
                    "indented below it")
        return (f"bad indentation: this line is indented to column {col}, but the mapping it "
                f"continues (from line {line}) has its keys at column {column}",
                f"line the key up at column {column}, or with the keys of an outer mapping; "
                "indent with spaces")
    return (f"bad indentation: this line is indented to column {col}, inside the list that "
            f"starts at line {line} (its items at column {column}), but it is not an item",
            "start it with `- ` to add an item, or indent it as the keys of its mapping")
