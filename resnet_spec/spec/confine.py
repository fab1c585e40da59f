"""Confined mode: `extends` reads only the built-ins and files below the named spec's folder.

For specs that come from someone else (a pull request validated in CI, a web form): by default
`extends` names any file the user may read (`/proc/self/environ`, `../../secrets.yaml`), and an
error about its content echoes up to 60 characters of it back, where the untrusted author may
see them. Confined, every `extends` target is resolved (links followed) and must lie below the
folder of the spec named on the command line (the working directory for a spec given as a
mapping) or be a built-in; anything else is refused before it is opened. `resnet-spec
--confine ...`, `RESNET_SPEC_CONFINE=1`, or `with confined():` in Python.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path

from resnet_spec.errors import ExtendsError, Loc, shown
from resnet_spec.spec import builtins

ENV = "RESNET_SPEC_CONFINE"
"""Set to 1 to confine every command of the CLI."""

_ON: ContextVar[bool] = ContextVar("resnet_spec_confined", default=False)


@contextmanager
def confined(on: bool = True) -> Iterator[None]:
    """Within this block, loading a spec confines its `extends` chain."""
    token = _ON.set(on)
    try:
        yield
    finally:
        _ON.reset(token)


def is_on() -> bool:
    return _ON.get() or os.environ.get(ENV, "") not in ("", "0")


def check(target: Path, root: Path, ref: str, here: Loc) -> None:
    """ExtendsError if confinement is on and `target` (resolved; it need not exist) is
    neither below `root` nor a built-in spec."""
    if not is_on():
        return
    with suppress(OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte
        target = target.resolve()
    allowed = (root.resolve(), builtins.specs_dir().resolve())
    if any(folder == target or folder in target.parents for folder in allowed):
        return
    raise ExtendsError(
        f"`extends: {shown(ref)}` lies outside the spec's folder, and specs are confined "
        f"(--confine or {ENV}=1): only files below {shown(str(root))} and the built-ins "
        "may be extended", here, "copy the parent spec next to this one, or name a built-in")
