"""Linux Landlock: the kernel process restricts its own file access before any code runs.

A Landlock ruleset lists the directories (and files) a process may read, and those it may
also write; everything else on the file system becomes unreachable to it and to every
process it starts, whatever the file permissions say. It needs no privilege, so it also
protects a host that does not run as root. From ABI 6 on, the same ruleset keeps the
kernel from signalling processes outside it (the host, its supervisor, other kernels) and
from connecting to abstract UNIX sockets they listen on.

A ruleset applies to the calling thread and what it starts later, so the launcher applies
it before ipykernel starts its threads (:mod:`weaver.execution.runtime.launch`).
Standard library only: the host imports :func:`abi` for ``weaver doctor``.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from collections.abc import Iterable

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
_DIR_WRITES = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12)
"""Removing and making directories, files, devices, sockets, FIFOs and symlinks."""
MAKE_SOCK = 1 << 9
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
"""What a read-only rule allows: read, list, execute."""
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The only rights a rule on a file (rather than a directory) may carry."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The Landlock ABI version this system offers; 0 when it has none (or is not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    version = _libc().syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(0, int(version))


def handled(version: int) -> int:
    """Every file-system right ``version`` knows, so that none is left unrestricted."""
    rights = READ | WRITE_FILE | _DIR_WRITES
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(read: Iterable[str], write: Iterable[str], sockets: Iterable[str] = ()) -> int:
    """Allow reading ``read``, reading and writing ``write``, and only creating sockets in
    ``sockets``; deny the rest of the file system to this thread and its future children.

    Paths that do not exist are skipped. Returns the ABI used (0: nothing was restricted,
    Landlock is not available). Raises :class:`OSError` if a ruleset could not be applied.
    """
    version = abi()
    if version <= 0:
        return 0
    libc = _libc()
    rights = handled(version)
    attr = _RulesetAttr(rights, 0, _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if version >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if version >= 6 else 8  # older ABIs know only the first field
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, allowed in ((read, READ), (write, rights), (sockets, READ | MAKE_SOCK)):
            for path in paths:
                _add(libc, ruleset, path, allowed & rights)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return version


def _add(libc: ctypes.CDLL, ruleset: int, path: str, allowed: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            allowed &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed, fd)
        if libc.syscall(_ADD_RULE, ruleset, ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)):
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)
