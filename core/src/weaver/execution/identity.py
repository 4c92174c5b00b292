"""Who a kernel runs as: a user of its own when the host is root, else the host's user.

A root host gives every kernel a fresh uid and gid from a high range no account uses (root
may switch to any uid, with or without a passwd entry). So a kernel is never uid 0, and
the per-user mechanisms of the system separate it from the host and from every other
kernel: file permissions (its session directory is its own, the host's files are not),
signals and ptrace (it can reach no other process), and RLIMIT_NPROC (which counts the
processes of a user, so it limits this one kernel; the system does not enforce it for
uid 0). A distinct id per kernel rather than one shared "weaver" user keeps those
boundaries between kernels too.

An id is reserved for the kernel's life with a lock file, so two hosts on one machine
never hand out the same one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from pathlib import Path

import attrs

FIRST_ID = 1_500_000_000
ID_COUNT = 1 << 24
"""Kernel ids are drawn from ``[FIRST_ID, FIRST_ID + ID_COUNT)``, above the ranges systems
hand out to accounts and to containers' subordinate ids (``/etc/subuid``)."""
_LOCK_DIRS = ("/run/weaver-kernel-ids", "/tmp/weaver-kernel-ids-0")


def host_is_root() -> bool:
    return os.geteuid() == 0


@attrs.define(eq=False)
class KernelUser:
    """A reserved uid/gid pair (the same number) for one kernel; :meth:`release` frees it."""

    uid: int
    lock: int = -1
    lock_path: Path | None = None

    @property
    def gid(self) -> int:
        return self.uid

    def release(self) -> None:
        """Remove the lock file (still holding it, so no one can take the old one) and let go."""
        if self.lock >= 0:
            if self.lock_path is not None:
                with contextlib.suppress(OSError):
                    self.lock_path.unlink()
            os.close(self.lock)
            self.lock = -1


def allocate() -> KernelUser:
    """A fresh kernel user (the host must be root); raises :class:`OSError` if none is free."""
    lock_dir = _lock_dir()
    _sweep(lock_dir)
    taken = _subordinate_ranges()
    for _ in range(64):
        uid = FIRST_ID + secrets.randbelow(ID_COUNT)
        if any(start <= uid < end for start, end in taken):
            continue
        path = lock_dir / str(uid)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A holder removes its file before letting go: a lock on a removed file is no reservation.
            if os.fstat(fd).st_ino != path.stat().st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            continue
        return KernelUser(uid, fd, path)
    raise OSError("no free kernel user id found")


def _sweep(lock_dir: Path, most: int = 64) -> None:
    """Remove lock files no one holds (left by hosts that died), a few at a time."""
    for entry in list(os.scandir(lock_dir))[:most]:
        try:
            fd = os.open(entry.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(entry.path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _lock_dir() -> Path:
    """A directory only root can write, for the id locks."""
    for name in _LOCK_DIRS:
        path = Path(name)
        if not path.parent.is_dir():
            continue
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
            return path
    raise OSError(f"no safe directory for kernel id locks ({', '.join(_LOCK_DIRS)})")


def _subordinate_ranges() -> list[tuple[int, int]]:
    ranges = []
    for name in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                ranges.append((int(parts[1]), int(parts[1]) + int(parts[2])))
    return ranges
