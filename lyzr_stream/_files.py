"""Local files in a request body, never read whole: the one rule for opening a file to send (a
regular file, never a pipe or a device, unchanged since it was checked) and :class:`StreamedBody`,
bytes and files that each attempt of a call reads again in chunks."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field

from ._errors import InvalidRequestError

__all__ = ["CHUNK_BYTES", "FilePart", "StreamedBody", "regular_file_size"]

#: The bytes read from a file per chunk sent.
CHUNK_BYTES = 64 * 1024

# Opening never waits (a path swapped for a pipe since it was checked would block until a writer
# came) nor makes a terminal the controlling one; binary on Windows.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def regular_file_size(info: os.stat_result, what: str) -> int:
    """The size of a regular file; anything else (a pipe, a device, a directory: reading it may
    never end) is refused, naming ``what`` and its kind."""
    if stat.S_ISREG(info.st_mode):
        return info.st_size
    kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
    raise InvalidRequestError(
        f"cannot upload {what}: it is {kind}, not a regular file (only regular files and bytes "
        "are uploaded)"
    )


def _unreadable(path: str, exc: OSError) -> InvalidRequestError:
    return InvalidRequestError(f"cannot read {path!r}: {exc.strerror or exc}")


def _open(path: str) -> tuple[int, os.stat_result]:
    """``path`` opened for reading, with its status; refused unless it is a regular file (its
    status is read before it is opened: opening a device or a pipe can block or act)."""
    if "\0" in path:
        raise InvalidRequestError(f"cannot upload {path!r}: the path holds a NUL character")
    try:
        regular_file_size(os.stat(path), repr(path))
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        info = os.fstat(fd)
        regular_file_size(info, repr(path))  # it may have been swapped since the stat
    except BaseException:
        os.close(fd)
        raise
    return fd, info


@dataclass(frozen=True, slots=True)
class FilePart:
    """A regular file in a request body: checked now, read in chunks when sent."""

    path: str
    size: int
    #: (device, inode, modification time) when checked: a file changed since is refused.
    stamp: tuple[int, int, int] = field(repr=False)

    @classmethod
    def check(cls, path: str) -> FilePart:
        """The regular file at ``path``, opened once to prove it can be read (never read).
        Raises :class:`InvalidRequestError` naming the path for anything else."""
        fd, info = _open(path)
        os.close(fd)
        return cls(path, info.st_size, _stamp(info))

    def _changed(self) -> InvalidRequestError:
        return InvalidRequestError(
            f"cannot upload {self.path!r}: the file changed after it was checked"
        )

    def _unchanged(self, info: os.stat_result) -> None:
        if (info.st_size, _stamp(info)) != (self.size, self.stamp):
            raise self._changed()

    def chunks(self) -> Iterator[bytes]:
        """Its ``size`` bytes, opened again and read in chunks; a file that changed (before or
        while it is read) raises :class:`InvalidRequestError`, which ends the request."""
        fd, info = _open(self.path)
        try:
            self._unchanged(info)
            left = self.size
            while left:
                chunk = os.read(fd, min(CHUNK_BYTES, left))
                if not chunk:
                    raise self._changed()  # shrunk while it was read
                left -= len(chunk)
                yield chunk
            self._unchanged(os.fstat(fd))
        except OSError as exc:
            raise _unreadable(self.path, exc) from None
        finally:
            os.close(fd)


def _stamp(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_dev, info.st_ino, info.st_mtime_ns)


#: One piece of a :class:`StreamedBody`.
BodyPart = bytes | FilePart


@dataclass(frozen=True, slots=True)
class StreamedBody:
    """A request body made of bytes and files, in order. Each attempt of a call reads it again
    (:meth:`chunks`, :meth:`achunks`), so a retry sends the same bytes and no file is held in
    memory; :attr:`length` is known before sending (the ``content-length``)."""

    parts: tuple[BodyPart, ...] = field(repr=False)

    @property
    def length(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.size for p in self.parts)

    def chunks(self) -> Generator[bytes, None, None]:
        """One attempt's bytes (files are opened when reached and closed after)."""
        for part in self.parts:
            if isinstance(part, bytes):  # in slices: the HTTP writer copies what it is given
                for start in range(0, len(part), CHUNK_BYTES):
                    yield part[start : start + CHUNK_BYTES]
            else:
                yield from part.chunks()

    async def achunks(self) -> AsyncIterator[bytes]:
        """Async form of :meth:`chunks` (a regular file's chunk is read in place: no thread)."""
        with closing(self.chunks()) as chunks:
            for chunk in chunks:
                yield chunk
