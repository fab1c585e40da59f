"""Standard output that never takes the command down: a stdout that cannot encode what we
print, and a reader that goes away (`resnet-spec summary x | head`).

- Encoding: shapes are printed `64×56×56` and descriptions may hold any Unicode. Where stdout
  cannot encode that (`PYTHONIOENCODING=ascii`, a latin-1 terminal), characters it cannot take
  are written as their closest ASCII (`×` as `x`, `é` as `e`, else `?`) instead of raising.
- A closed pipe: the rest of the output has nowhere to go, so the command stops quietly with
  exit 141 (128 + SIGPIPE), what a shell reports for a tool killed by SIGPIPE, so that
  `set -o pipefail` scripts can tell a cut-short listing from a complete one.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import unicodedata
from typing import Any

EXIT_BROKEN_PIPE = 141


class OutputClosed(Exception):
    """Whoever read stdout has stopped reading (a BrokenPipeError, carried past click)."""
FALLBACK_ERRORS = "resnet_spec_ascii"

_NEAREST = {"×": "x", "…": "...", "·": "-", "—": "-", "–": "-", "→": "->", "⊕": "+", "≤": "<=",
            "≥": ">=", "µ": "u", "°": "deg"}


def _nearest_ascii(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = []
    for char in err.object[err.start:err.end]:
        plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
        out.append(_NEAREST.get(char) or plain or "?")
    return "".join(out), err.end


codecs.register_error(FALLBACK_ERRORS, _nearest_ascii)


def tolerate_encoding() -> None:
    """Make stdout write what it cannot encode as nearest ASCII (a no-op where it can)."""
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None)
    reconfigure = getattr(stream, "reconfigure", None)
    if not encoding or reconfigure is None:
        return
    try:
        "×é…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        reconfigure(errors=FALLBACK_ERRORS)


def silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so that the interpreter's last flush
    does not print a second BrokenPipeError on its way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test's capture)
        pass


def console(**options: Any) -> Any:
    """A rich Console on stdout that reports a broken pipe like every other write (rich's own
    handling exits 1 on its own). Under NO_COLOR it writes no escape sequence at all: rich's
    own NO_COLOR handling drops colours but keeps bold and italic."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    if no_color():
        options.update(color_system=None, no_color=True)
    return _Console(**options)


# -- colour ----------------------------------------------------------------------------------
# https://no-color.org: NO_COLOR present and non-empty turns colour off, whatever else says;
# https://force-color.org: FORCE_COLOR non-empty turns it on where output is not a terminal
# (rich reads both itself; click's styles go through `color_choice`).


def no_color() -> bool:
    return os.environ.get("NO_COLOR", "") != ""


def color_choice() -> bool | None:
    """click's `color=`: False under NO_COLOR, True under FORCE_COLOR, else None (a terminal
    gets colour, a pipe or file does not)."""
    if no_color():
        return False
    return True if os.environ.get("FORCE_COLOR", "") != "" else None


_LOCATION = re.compile(r"^(.*?:\d+:\d+:) ")


def error_text(text: str) -> str:
    """An error's lines styled for a terminal: the `file:line:col:` bold, the message red."""
    import click

    lines = []
    for line in text.splitlines():
        where = _LOCATION.match(line)
        head = click.style(where.group(1), bold=True) + " " if where else ""
        lines.append(head + click.style(line[where.end() if where else 0:], fg="red"))
    return "\n".join(lines)


def warn(text: str) -> None:
    """A warning on stderr, yellow on a terminal."""
    import click

    click.echo(click.style(text, fg="yellow"), err=True, color=color_choice())
