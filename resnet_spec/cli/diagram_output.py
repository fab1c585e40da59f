"""`-o FILE` of `render` and `diff`: never over one of the command's own inputs, and a place
that cannot be written is one line, not a traceback."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from resnet_spec.errors import shown
from resnet_spec.pipeline.outdir import OutputError
from resnet_spec.spec.schema import Spec


def refuse_inputs(output: str, specs: Iterable[Spec]) -> None:
    """OutputError if `output` is a file that any of `specs` was read from (its `extends`
    chain included): `render spec.dot -o spec.dot` would replace the spec with its diagram."""
    for spec in specs:
        for layer in spec.source.layers if spec.source is not None else ():
            if _same_file(Path(output), Path(layer)):
                raise OutputError(
                    f"-o {shown(output)}: that is {shown(layer)}, a spec this command reads; "
                    "a diagram never replaces its input", hint="choose another -o FILE")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.lexists(a) and b.exists():
            return os.path.samefile(a, b)  # hard and symbolic links too
        return a.resolve() == b.resolve()
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL byte, a loop of links
        return False


def write_or_explain(output: str, write: Callable[[], None]) -> None:
    """Run `write`; an OSError (a folder that refuses files, a file in the way, a name too
    long) becomes an OutputError at `-o`."""
    try:
        write()
    except OSError as err:
        # mkdir's EEXIST and open's ENOTDIR: a file stands where a folder on the way should be
        why = ("a file on the way is not a folder" if err.errno in (errno.EEXIST, errno.ENOTDIR)
               else err.strerror or str(err))
        raise OutputError(f"-o {shown(output)}: cannot write there: {why}",
                          hint="choose a folder you can write to and a shorter name"
                          ) from None
