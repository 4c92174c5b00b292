"""Giving up privileges in the kernel process, and reporting what is left.

A host running as root starts every kernel as root only long enough to arrange it (its
limits, its Landlock ruleset, joining its supervisor); :func:`drop_to` then makes it an
ordinary user with no capabilities that it, or any program it runs, could get back:
``no_new_privs`` ignores setuid bits and file capabilities from then on, and the bounding
set is emptied. :func:`status` reads back what the process ended up with, for the
host's checks. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPSET = {"x86_64": 126, "aarch64": 91}
_CAP_V3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what} failed")


def no_new_privs() -> None:
    """From now on no exec can grant privileges (setuid bits, file capabilities)."""
    _check(ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def drop_to(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups and no capabilities, for good.

    Raises :class:`OSError` when any step fails, and :class:`RuntimeError` when the result
    is not what was asked: a kernel must not start half-privileged.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    no_new_privs()
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        _check(libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # clears the permitted and effective sets
    _check(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    clear_inheritable()
    left = status()
    if left["uids"] != [uid] * 4 or left["gids"] != [gid] * 4 or left["groups"] or any(left["capabilities"].values()):
        raise RuntimeError(f"the kernel could not drop its privileges: {left}")


def drop_capabilities() -> None:
    """Keep this process's user (root) but give up every capability, for good.

    For a root host whose kernel cannot run as a user of its own (its Python is where no
    other user may enter); the Landlock ruleset applied before is then what keeps it to its
    session's files. Raises :class:`RuntimeError` when a capability is left.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    no_new_privs()
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        _check(libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    _check(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    _capset(0)
    left = status()["capabilities"]
    if any(left.values()):
        raise RuntimeError(f"the kernel could not give up its capabilities: {left}")


def clear_inheritable() -> None:
    """Empty the inheritable capability set (lowering it needs no privilege)."""
    _capset(0)


def _capset(value: int) -> None:
    """Set the effective, permitted and inheritable sets to ``value`` (lowering needs no privilege)."""
    number = _CAPSET.get(os.uname().machine)
    if number is None:
        return
    header = _CapHeader(_CAP_V3, 0)
    data = (_CapData * 2)(_CapData(value, value, value), _CapData(value, value, value))
    _check(ctypes.CDLL(None, use_errno=True).syscall(number, ctypes.byref(header), data), "capset")


def status() -> dict[str, Any]:
    """This process's user and group ids (real, effective, saved, file system), its
    supplementary groups and its capability sets as integers, from ``/proc/self/status``."""
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines() if ":" in line
    )
    return {
        "uids": [int(v) for v in fields["Uid"].split()],
        "gids": [int(v) for v in fields["Gid"].split()],
        "groups": [int(v) for v in fields.get("Groups", "").split()],
        "capabilities": {name: int(fields[key], 16) for name, key in _CAP_KEYS.items()},
        "no_new_privs": fields.get("NoNewPrivs", "0").strip() == "1",
    }


_CAP_KEYS = {
    "effective": "CapEff",
    "permitted": "CapPrm",
    "inheritable": "CapInh",
    "bounding": "CapBnd",
    "ambient": "CapAmb",
}
