"""The output folder, written whole or not at all.

A build writes every file into a hidden staging folder beside its output folder, then swaps
that folder into place with one rename (or one atomic exchange when a previous build is
there). So a build killed at any moment leaves either no folder or the previous complete one,
never a mixture; staging folders that a `kill -9` left behind are removed by the next build.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from pathlib import Path

from resnet_spec.errors import SpecError


class OutputError(SpecError):
    """The output folder cannot be written: it is a file, or its parent cannot be created."""


def check_target(out: Path) -> Path:
    """`out` as an output folder: an error if a file (not a folder) is in the way."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: a file is in the way; the output is a folder")
    return out


def _staging_prefix(target: Path) -> str:
    return f".{target.name}.build-"


def open_staging(target: Path) -> Path:
    """A fresh hidden folder beside `target`, on the same file system so renames are atomic."""
    parent = target.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target)
        staging = tempfile.mkdtemp(prefix=f"{_staging_prefix(target)}{os.getpid()}-", dir=parent)
    except OSError as err:
        raise OutputError(f"cannot write beside {target}: {err.strerror or err}") from err
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would outlive the rename
    return Path(staging)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def open_to_umask(folder: Path) -> None:
    """Give every file the mode a plain `open` would (some writers create them 0600)."""
    mode = 0o666 & ~_umask()
    for path in folder.iterdir():
        path.chmod(mode)


def remove_stale_staging(target: Path) -> None:
    """Delete staging folders of earlier builds of `target` whose process no longer runs."""
    prefix = _staging_prefix(target)
    for path in target.absolute().parent.glob(prefix + "*"):
        pid = path.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def swap_into_place(staging: Path, target: Path) -> None:
    """Make `staging` the folder at `target`; the previous one, if any, is removed after."""
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the previous build
        return
    # no atomic exchange here: a kill between these renames leaves no folder at `target`
    old = staging.with_name(staging.name + ".old")
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unable."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(result == 0)


def discard(staging: Path | None) -> None:
    if staging is not None and staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
