"""Files inside a session's directory, read and written without following a link the kernel made.

The kernel can write in its session's ``cwd/`` and ``artifacts/``, so anything found there
may be a symbolic link to another user's files or to the server's secrets, a FIFO that would
block a reader forever, or a directory swapped in between a check and a use. Every access
here starts from the session's own directory (which the service made) and walks down one
component at a time with ``O_NOFOLLOW``, relative to the directory already opened, and only a
regular file is ever read. Uploads are staged in ``uploads/``, beside the log, where no
kernel writes (a sandboxed kernel cannot even see it), until the next message takes them in.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import attrs

from weaver.errors import WeaverError

AREAS = {"artifacts": "artifacts", "files": "cwd"}
"""What the API calls each area of a session, and its folder: artifacts (plots, tables) and
files (the kernel's working directory: uploads taken in, files the code wrote)."""
UPLOADS = "uploads"
MAX_LISTED = 5000
"""Entries a listing reports at most (a runaway loop can write millions of files)."""
MAX_DEPTH = 8
CHUNK = 1 << 16
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO for reading returns at once (and is then refused as not a file).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class FileNotInSession(WeaverError):
    """No regular file by that name in the session (missing, a link, a directory, a FIFO...)."""


@attrs.frozen
class FileInfo:
    """One file of a session: its path relative to the area, size, modification time and type."""

    path: str
    size: int
    modified: float
    media_type: str


def media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _open_dir(root: Path, parts: tuple[str, ...]) -> int:
    """A descriptor of ``root/parts...``, each component opened without following links."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except OSError:
        os.close(fd)
        raise
    return fd


def open_file(root: Path, parts: tuple[str, ...]) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file ``root/parts...`` and its status.

    Raises :class:`FileNotInSession` when any component is missing, is a link, or the last is
    not a regular file.
    """
    try:
        directory = _open_dir(root, parts[:-1])
    except OSError:
        raise FileNotInSession(f"no file {'/'.join(parts[1:])!r} in this session") from None
    try:
        fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=directory)
    except OSError:
        raise FileNotInSession(f"no file {'/'.join(parts[1:])!r} in this session") from None
    finally:
        os.close(directory)
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        raise FileNotInSession(f"{'/'.join(parts[1:])!r} is not a regular file")
    os.set_blocking(fd, True)
    return fd, status


def read_chunks(fd: int) -> Iterator[bytes]:
    """The file behind ``fd`` in chunks; the descriptor is closed at the end (or when abandoned)."""
    with os.fdopen(fd, "rb", closefd=True) as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def read_bytes(root: Path, parts: tuple[str, ...], limit: int) -> bytes | None:
    """The whole file, or ``None`` when it is larger than ``limit`` or not a regular file."""
    try:
        fd, status = open_file(root, parts)
    except FileNotInSession:
        return None
    with os.fdopen(fd, "rb", closefd=True) as handle:
        return handle.read() if status.st_size <= limit else None


def list_files(root: Path, area: str) -> list[FileInfo]:
    """Regular files under ``root/area``, depth-first, links and special files left out."""
    found: list[FileInfo] = []
    try:
        fd = _open_dir(root, (area,))
    except OSError:
        return found
    _walk(fd, (), found)
    return sorted(found, key=lambda info: info.path)


def _walk(fd: int, prefix: tuple[str, ...], found: list[FileInfo]) -> None:
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if len(found) >= MAX_LISTED:
                    return
                if entry.is_file(follow_symlinks=False):
                    status = entry.stat(follow_symlinks=False)
                    path = "/".join((*prefix, entry.name))
                    found.append(FileInfo(path, status.st_size, status.st_mtime, media_type(entry.name)))
                elif entry.is_dir(follow_symlinks=False) and len(prefix) < MAX_DEPTH:
                    try:
                        inner = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                    except OSError:
                        continue
                    _walk(inner, (*prefix, entry.name), found)
    finally:
        os.close(fd)


class StagedUpload:
    """One upload being written into ``uploads/`` under a temporary name, then put in place.

    ``write`` refuses to go past ``limit`` bytes; ``commit`` replaces an earlier upload of the
    same name; ``discard`` (also on any error) leaves nothing behind.
    """

    def __init__(self, root: Path, name: str, limit: int) -> None:
        (root / UPLOADS).mkdir(parents=True, exist_ok=True)
        self.name = name
        self.limit = limit
        self.size = 0
        self._dir = _open_dir(root, (UPLOADS,))
        self._temp = f".part-{os.urandom(6).hex()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        self._fd: int | None = os.open(self._temp, flags, 0o600, dir_fd=self._dir)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise WeaverError("the upload is closed")
        self.size += len(data)
        if self.size > self.limit:
            raise UploadTooLarge(f"the upload is larger than {self.limit} bytes ([server] max_upload_bytes)")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def commit(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        os.rename(self._temp, self.name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
        os.close(self._dir)

    def discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            try:
                os.unlink(self._temp, dir_fd=self._dir)
            except FileNotFoundError:
                pass
            os.close(self._dir)


class UploadTooLarge(WeaverError):
    """An upload past ``[server] max_upload_bytes``."""


def staged(root: Path) -> list[FileInfo]:
    """The uploads waiting for the next message, without the ones still being written."""
    return [info for info in list_files(root, UPLOADS) if not info.path.startswith(".")]


def remove_staged(root: Path, name: str) -> bool:
    """Remove one waiting upload; ``False`` when there is none by that name."""
    try:
        directory = _open_dir(root, (UPLOADS,))
    except OSError:
        return False
    try:
        os.unlink(name, dir_fd=directory)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(directory)
