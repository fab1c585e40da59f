"""Reading input files without trusting what is at the path: only regular files, bounded.

A FIFO would block `open` or `read` forever, a device may never end, `/proc/kmsg` blocks
reading though `stat` calls it a regular file. So a path is checked before it is opened, opened
non-blocking, checked again on the open descriptor (the path may have changed in between), and
read only up to a limit. Every refusal is a `FileProblem` whose message completes "cannot read
FILE: ..."; callers turn it into their located error.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class FileProblem(Exception):
    """The file cannot or may not be read; the message says why, in a few words."""


class Missing(FileProblem):
    """Nothing is at the path (or a folder on the way is missing)."""


class TooLarge(FileProblem):
    """The file holds more bytes than the caller reads."""

    def __init__(self, size: int) -> None:
        super().__init__(f"it holds {size} bytes or more")
        self.size = size


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """The `stat` of `path` (links followed) if it is a regular file; else a FileProblem."""
    try:
        return _regular(os.stat(path))
    except ValueError:  # os.stat's way of refusing a NUL byte in the path
        raise FileProblem("the path holds a NUL byte") from None
    except OSError as err:
        raise _problem(err) from None


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only, non-blocking descriptor of the regular file at `path` (close it)."""
    check_regular(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise _problem(err) from None
    try:
        _regular(os.fstat(fd))
    except FileProblem:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at `path`; `TooLarge` beyond `limit` bytes, found without
    reading more than `limit + 1` (a file's reported size may be 0 and its content endless)."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise TooLarge(size)
        chunks, total = [], 0
        while total <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - total))):
            chunks.append(chunk)
            total += len(chunk)
    except OSError as err:  # EAGAIN from a file that would block, EIO, EISDIR...
        raise _problem(err) from None
    finally:
        os.close(fd)
    if total > limit:
        raise TooLarge(total)
    return b"".join(chunks)


def _regular(status: os.stat_result) -> os.stat_result:
    if not stat.S_ISREG(status.st_mode):
        kind = _KINDS.get(stat.S_IFMT(status.st_mode))
        raise FileProblem(f"it is {kind}, not a regular file" if kind else "not a regular file")
    return status


def _problem(err: OSError) -> FileProblem:
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        return Missing("no such file")
    if err.errno == errno.EAGAIN:
        return FileProblem("it would block (a special file that is not a regular file)")
    return FileProblem(err.strerror or str(err))



def write_atomic(target: Path, data: bytes) -> None:
    """`data` into `target` through a temporary file in the same folder renamed over it:
    readers never see half a file, and a failure leaves nothing behind. Readable as the
    umask allows (mkstemp alone makes 0600; diagrams and specs are for sharing)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
