"""The host's file operations in directories a kernel can write, without following its links.

Kernel code can put a symbolic link (or a hard link, a FIFO, a directory) wherever it may
write: in ``cwd/``, in ``artifacts/``. The host, which may be root, therefore never opens
a path there by name: it opens the directory itself with ``O_NOFOLLOW`` (its parent is the
host's), walks down one component at a time the same way, creates files with
``O_EXCL | O_NOFOLLOW`` so it never writes through or over something that is already there,
and puts a finished file in place with ``rename``, which replaces a link rather than
following it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

import attrs

from weaver.errors import WeaverError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


@attrs.define(eq=False)
class UnsafePathError(WeaverError):
    """A name that would leave its directory, or a path that crosses a link or a non-directory."""

    path: str = ""


def relative_parts(name: str | os.PathLike[str]) -> tuple[str, ...]:
    """The components of a relative path that stays inside its directory, or raise.

    ``..``, an absolute path, an empty name and NUL are refused; ``.`` components and
    repeated slashes are dropped.
    """
    text = os.fspath(name)
    if not text or "\0" in text:
        raise UnsafePathError("a file name may not be empty or contain NUL", path=repr(text))
    if text.startswith("/"):
        raise UnsafePathError("a file name must be relative", path=text)
    parts = tuple(part for part in text.split("/") if part not in ("", "."))
    if not parts or ".." in parts:
        raise UnsafePathError("a file name may not leave its directory", path=text)
    return parts


def open_dir(path: Path) -> int:
    """A descriptor of the directory ``path``, whose last component must not be a link."""
    try:
        return os.open(path, _DIR)
    except OSError as exc:
        raise UnsafePathError(f"{path} is not a directory the host can use: {exc.strerror}", path=str(path)) from None


@contextlib.contextmanager
def directory(path: Path) -> Iterator[int]:
    fd = open_dir(path)
    try:
        yield fd
    finally:
        os.close(fd)


def open_beneath(
    dir_fd: int, parts: Sequence[str], *, create: bool = False, mode: int = 0o755, owner: int | None = None
) -> int:
    """A new descriptor of the directory ``parts`` below ``dir_fd``, crossing no link;
    ``create`` makes missing directories (given to ``owner``, uid and gid, if set)."""
    current = os.dup(dir_fd)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=current)
                    if owner is not None:
                        os.chown(part, owner, owner, dir_fd=current, follow_symlinks=False)
                except FileExistsError:
                    pass
            try:
                child = os.open(part, _DIR, dir_fd=current)
            except OSError as exc:
                raise UnsafePathError(
                    f"{part!r} is not a plain directory ({exc.strerror}); links are not followed", path="/".join(parts)
                ) from None
            os.close(current)
            current = child
    except BaseException:
        os.close(current)
        raise
    return current


def create_new(dir_fd: int, name: str, mode: int = 0o644) -> tuple[int, str]:
    """Create a file that did not exist in ``dir_fd``: ``name``, else ``stem-2.ext``,
    ``stem-3.ext`` ...; returns its open descriptor and the name used."""
    stem, dot, suffix = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    for n in range(1, 1000):
        candidate = name if n == 1 else f"{stem}-{n}{dot}{suffix}"
        try:
            return os.open(candidate, _NEW, mode, dir_fd=dir_fd), candidate
        except FileExistsError:
            continue
    raise UnsafePathError(f"no free file name like {name!r}", path=name)


def write_new(directory_path: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new file in ``directory_path`` named after ``name`` (never
    overwriting, never through a link); returns its path."""
    with directory(directory_path) as dir_fd:
        fd, used = create_new(dir_fd, name)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    return directory_path / used


def copy_in(source: str | os.PathLike[str], directory_path: Path, name: str | os.PathLike[str] | None = None) -> Path:
    """Copy the host file ``source`` into ``directory_path`` as ``name`` (default: its file
    name), keeping a relative path: ``data/x.csv`` lands in ``directory_path/data/x.csv``.

    This is how an upload reaches a session's ``cwd/``. The name is checked
    (:func:`relative_parts`); missing folders are created; no link in the way is followed,
    and a file already there (or a link planted in its place) is replaced, atomically, by
    a rename. Raises :class:`UnsafePathError` for a name or a path it will not use and
    :class:`OSError` when ``source`` cannot be read.
    """
    parts = relative_parts(Path(source).name if name is None else name)
    with directory(directory_path) as top:
        parent = open_beneath(top, parts[:-1], create=True)
        try:
            fd, temporary = create_new(parent, f".upload-{os.getpid()}-{parts[-1]}.part", mode=0o644)
            try:
                with open(source, "rb") as reader, os.fdopen(fd, "wb") as writer:
                    while chunk := reader.read(_CHUNK):
                        writer.write(chunk)
                os.rename(temporary, parts[-1], src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=parent)
                raise
        finally:
            os.close(parent)
    return directory_path.joinpath(*parts)


def regular_file_beneath(root: Path, path: str) -> bool:
    """``path`` names a regular file inside ``root`` reached through plain directories."""
    try:
        relative = PurePosixPath(path).relative_to(root)
        parts = relative_parts(str(relative))
    except (ValueError, UnsafePathError):
        return False
    try:
        with directory(root) as top:
            parent = open_beneath(top, parts[:-1])
            try:
                info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            finally:
                os.close(parent)
    except (OSError, UnsafePathError):
        return False
    return stat.S_ISREG(info.st_mode)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Give ``path`` and everything below it to ``uid``/``gid``, following no link.

    A file with more than one hard link is left alone: kernel code may have linked a file
    that lives elsewhere.
    """
    with directory(path) as top:
        os.chown(top, uid, gid)
        for _, dirs, files, dir_fd in os.fwalk(dir_fd=top, follow_symlinks=False):
            for name in (*dirs, *files):
                with contextlib.suppress(OSError):
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode) or info.st_nlink == 1:
                        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
