"""The output folder: written whole or not at all, and never at the cost of the user's files.

A build writes every file into a hidden staging folder beside its output folder, then moves that
folder into place in one step. So a build killed at any moment leaves either no folder or the
previous complete one, never a mixture; staging folders that a `kill -9` left behind are removed
by the next build of the same folder.

What may be replaced is decided before any work and checked again at the swap: a folder that
does not exist, an empty folder, or a folder an earlier build wrote, that is one whose
`manifest.json` lists every file in it. Anything else (a project folder, `.`, a build folder
the user added files to, a symbolic link) is refused and left untouched.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from resnet_spec.errors import SpecError

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20
"""A manifest larger than this is not one a build wrote."""
SHOWN = 5
"""How many foreign entries a refusal names."""


class OutputError(SpecError):
    """The output folder cannot or may not be written."""


def check_target(out: Path) -> Path:
    """`out` if a build may write it; else an OutputError saying why and what to do instead."""
    if out.name in ("", "..") or out.name != Path(os.path.abspath(out)).name:
        raise OutputError(
            f"--out {out}: name the build's folder itself, not `/`, `.` or `..` (the build "
            "writes beside it, then renames its work into place)",
            hint=f"give it as {Path(os.path.abspath(out))}" if out.name == ".." else
            "choose a folder below it")
    if out.is_symlink():
        raise OutputError(
            f"--out {out} is a symbolic link; a build never writes or deletes through a link",
            hint="name the folder it points to, or a new folder")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: a file is in the way; the output is a folder",
                          hint="choose another --out")
    if out.is_dir():
        foreign = foreign_entries(out)
        if foreign is None:
            raise OutputError(
                f"--out {out} exists and is not a folder resnet-spec wrote (it has no build "
                "manifest.json); it is never replaced",
                hint="choose a new or empty folder, or remove it yourself")
        if foreign:
            raise OutputError(
                f"--out {out} is an earlier build's folder but holds files that build did not "
                f"write: {_listing(foreign)}; they would be deleted with it",
                hint="move them out, or choose another --out")
    return out


def foreign_entries(folder: Path) -> list[str] | None:
    """What in `folder` no build wrote: [] for an empty folder or an intact build folder,
    the foreign entries (relative paths) of a build folder, None for a folder with no build
    manifest. Links are never followed and always foreign."""
    if _is_empty(folder):
        return []
    listed = _manifest_files(folder)  # first: `/` or a home folder is refused without a walk
    if listed is None:
        return None
    entries = _entries(folder)
    allowed = {MANIFEST, *listed}
    parents = {p for name in allowed for p in _parents(name)}
    foreign = []
    for name, kind in entries:
        wanted = parents if kind == "dir" else allowed
        if kind == "link" or name not in wanted:
            foreign.append(name)
    return sorted(foreign)


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is None


def _entries(folder: Path) -> list[tuple[str, str]]:
    """Every entry below `folder` as (relative POSIX path, "file" | "dir" | "link")."""
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root).relative_to(folder)
        for name in [*dirs, *files]:
            path = Path(root) / name
            kind = "link" if path.is_symlink() else ("dir" if name in dirs else "file")
            out.append(((base / name).as_posix(), kind))
    return out


def _manifest_files(folder: Path) -> list[str] | None:
    """The files a build's manifest lists, or None where there is no such manifest."""
    path = folder / MANIFEST
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    versions, files = data.get("versions"), data.get("files")
    if not isinstance(versions, dict) or "resnet_spec" not in versions:
        return None
    if not isinstance(files, dict) or not all(isinstance(k, str) for k in files):
        return None
    return list(files)


def _parents(name: str) -> list[str]:
    parts = name.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _listing(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


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
    """Give every file and folder the mode a plain `open`/`mkdir` would (some writers make
    them 0600)."""
    file_mode, dir_mode = 0o666 & ~_umask(), 0o777 & ~_umask()
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs:
            os.chmod(Path(root) / name, dir_mode)
        for name in files:
            os.chmod(Path(root) / name, file_mode)


def remove_stale_staging(target: Path) -> None:
    """Delete staging folders of earlier builds of `target` whose process no longer runs."""
    prefix = _staging_prefix(target)
    for path in target.absolute().parent.glob(glob.escape(prefix) + "*"):
        pid = _staging_pid(path.name[len(prefix):].split("-", 1)[0])
        if pid is not None and not _alive(pid) and not path.is_symlink() and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _staging_pid(text: str) -> int | None:
    """The process id in a staging folder's name, or None for a name no build made (any
    folder may be named like one: `²` or twenty digits are no process id)."""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_PID_DIGITS:
        return None
    return int(text)


MAX_PID_DIGITS = 10
"""Linux process ids stay below 2**22, other systems' below 2**31."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except (OverflowError, OSError):
        return True  # no process this system can name: not ours to delete
    return True


Identity = tuple[int, int]
"""A folder's (device, inode): what a rename keeps and a new folder never has."""


def identity(folder: Path) -> Identity | None:
    """The identity of the folder at `folder` (links not followed), None if none is there."""
    try:
        status = os.lstat(folder)
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


def swap_into_place(staging: Path, target: Path, *, replace: bool | Identity = True
                    ) -> str | None:
    """Make `staging` the folder at `target`. A folder already there is replaced only if it
    still may be (empty, or a build's) and only if it is the one that was there when the build
    began (`replace`: its identity, or True for any): of two builds racing for a folder, new
    or existing, the first to finish wins and the other says so. Returns a note when the
    previous folder could not be deleted whole (the new one is in place all the same)."""
    if not os.path.lexists(target) and _rename_noreplace(staging, target):
        return None
    if not replace:
        raise OutputError(
            f"--out {target} was created by another process while this build ran; it is kept "
            "and this build's result discarded", hint="build again, or choose another --out")
    check_target(target)
    began = replace if isinstance(replace, tuple) else None
    if _exchange(staging, target):
        return _remove_previous(staging, target, began)
    # no atomic exchange here: a kill between these renames leaves no folder at `target`
    old = staging.with_name(staging.name + ".old")
    os.rename(target, old)
    os.rename(staging, target)
    return delete_previous(old)


def _remove_previous(previous: Path, target: Path, began: Identity | None) -> str | None:
    """Delete the folder swapped out of `target`, unless it is not the one this build began
    with (another build's, finished meanwhile) or something changed it after the check: then
    swap it back and refuse."""
    if began is not None and identity(previous) != began:
        _exchange(previous, target)
        raise OutputError(
            f"--out {target} was replaced by another build while this one ran; that build's "
            "folder is kept and this build's result discarded",
            hint="build again, or choose another --out")
    if foreign_entries(previous) == []:
        return delete_previous(previous)
    _exchange(previous, target)
    raise OutputError(f"--out {target} changed while this build ran; it is kept as it is",
                      hint="build again")


def delete_previous(folder: Path) -> str | None:
    """Delete a replaced build folder; a note instead of an error when part of it cannot be
    (the new build is in place by then). What can be told beforehand (a folder inside that
    this user may not change) keeps it whole; what only deleting tells (an immutable file)
    leaves the rest of it."""
    blocked = _undeletable(folder)
    if blocked is None:
        failures: list[str] = []
        shutil.rmtree(folder, onerror=lambda _f, path, exc: failures.append(
            f"{path}: {getattr(exc[1], 'strerror', None) or exc[1]}"))
        if not failures:
            return None
        blocked = failures[0]
    kept = _out_of_staging(folder)
    return (f"the previous build was replaced, but its old folder could not be deleted "
            f"({blocked}); it is left at {kept}: delete it yourself")


def _out_of_staging(folder: Path) -> Path:
    """Rename a kept old folder out of the staging names, which later builds clean up."""
    kept = folder.with_name(folder.name.replace(".build-", ".previous-", 1))
    try:
        os.rename(folder, kept)
    except OSError:
        return folder
    return kept


def _undeletable(folder: Path) -> str | None:
    """The first folder inside `folder` whose entries this process may not delete, or None."""
    for root, _, _ in os.walk(folder, followlinks=False):
        if not os.access(root, os.W_OK | os.X_OK):
            return f"{root}: permission denied"
    return None


def _renameat2(a: Path, b: Path, flags: int) -> int | None:
    """Linux renameat2: 0, an errno, or None where the call does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    call = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if call is None:
        return None
    at_fdcwd = -100
    if call(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), flags) == 0:
        return 0
    code = ctypes.get_errno()
    return None if code in (errno.ENOSYS, errno.EINVAL) else code


def _rename_noreplace(a: Path, b: Path) -> bool:
    """Move `a` to `b` in one step unless `b` exists (False then)."""
    result = _renameat2(a, b, 1)  # RENAME_NOREPLACE
    if result is None:
        if os.path.lexists(b):
            return False
        os.rename(a, b)
        return True
    if result in (errno.EEXIST, errno.ENOTEMPTY):
        return False
    if result != 0:
        raise OSError(result, os.strerror(result), os.fspath(b))
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unable."""
    return _renameat2(a, b, 2) == 0


def write_file(path: Path, data: bytes | memoryview) -> None:
    """Write `data` to `path`; a full disk or a file-size limit is an OutputError naming the
    file and the size asked for, not a crash."""
    try:
        with open(path, "wb") as out:
            out.write(data)
    except OSError as err:
        raise OutputError(f"cannot write {path.name} ({len(data):,} bytes) in {path.parent}: "
                          f"{err.strerror or err}", hint="free some space, or choose another "
                          "--out") from None


def discard(staging: Path | None) -> None:
    if staging is not None and staging.exists() and not staging.is_symlink():
        shutil.rmtree(staging, ignore_errors=True)


class StagedFolder:
    """One build's output folder while it is written: a hidden staging folder beside `out`,
    moved into place whole by `publish`, else removed by `staged`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._replace = identity(out) or False  # only the folder there now may be replaced
        self.staging = open_staging(out)
        self.published = False

    def path(self, filename: str) -> Path:
        """Where `filename` is written (in the staging folder)."""
        return self.staging / filename

    def write(self, filename: str, content: str | bytes) -> Path:
        path = self.path(filename)
        write_file(path, content.encode("utf-8") if isinstance(content, str) else content)
        return path

    def publish(self) -> str | None:
        """Move the folder into place at `out`; a note when the previous one stays behind."""
        open_to_umask(self.staging)
        leftover = swap_into_place(self.staging, self.out, replace=self._replace)
        self.published = True  # the staging path may now hold the previous folder
        return leftover

    def name_the_output(self, err: SpecError) -> None:
        """Say `out`'s path where a message names a file in the staging folder, which is
        deleted as the error is reported."""
        if self.published:
            return
        staged, out = os.fspath(self.staging), os.fspath(self.out)
        err.message = err.message.replace(staged, out)
        err.hint = err.hint.replace(staged, out)
        err.args = (err.message, *err.args[1:])


@contextmanager
def staged(out: Path) -> Iterator[StagedFolder]:
    """The staging folder of `out` (checked: `check_target`) for the block's writes; on
    leaving, it is removed unless published, and a `SpecError` names `out` instead of it."""
    folder = StagedFolder(check_target(out))
    try:
        yield folder
    except SpecError as err:
        folder.name_the_output(err)
        raise
    finally:
        if not folder.published:
            discard(folder.staging)
