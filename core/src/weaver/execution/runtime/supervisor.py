"""The kernel's supervisor outside a sandbox: nothing the kernel starts outlives it.

Without bubblewrap's pid namespace, a process the code starts can leave the kernel's
process group (``setsid``), so killing the group misses it. The launcher therefore forks
before it gives up its privileges: the child becomes the kernel, the parent stays behind
as its supervisor, a *child subreaper*, so every orphan the code leaves behind becomes its
child instead of init's. It ends the whole tree below it when the kernel exits, when the
host asks (SIGTERM) and when the host dies (it arms ``PR_SET_PDEATHSIG``), then exits with
the kernel's status (128 + n for a signal, as bubblewrap does). It runs none of the code
and reads nothing from the kernel; when the host is root it stays root, so the kernel's
user cannot signal it, and a Landlock ruleset keeps a kernel of the host's own user from
doing so. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import time
from pathlib import Path
from typing import NoReturn

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_CHILD_SUBREAPER failed")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (zombies left out), from the parent links in ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state not in ("Z", "X"):
            children.setdefault(int(ppid), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_tree(pid: int, *, include_root: bool = True, reap: bool = False, rounds: int = 200) -> None:
    """SIGKILL ``pid``'s descendants (and ``pid``) until none is left.

    A process killed while its children live hands them to the nearest subreaper (the
    supervisor), so a few rounds reach whatever forked in between; the process limit
    bounds how many there can be. Only the supervisor ``reap``s (the processes are its
    children); a host must never wait for children that are not its own.
    """
    for _ in range(rounds):
        victims = descendants(pid)
        if not victims:
            break
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if reap:
            _reap()
        time.sleep(0.005)
    if include_root:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _reap() -> int | None:
    """Reap every child that has exited; the status of the last one."""
    status = None
    while True:
        try:
            pid, code = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if pid == 0:
            return status
        status = code


def supervise(kernel: int, parent: int, runtime_dir: str | None) -> NoReturn:
    """Run as the kernel's supervisor until it ends; never returns.

    ``parent`` is the host's pid (to notice that it died before the death signal was
    armed); ``runtime_dir`` is removed once the kernel's tree is gone after the host died.
    """

    def end(code: int, host_gone: bool = False) -> NoReturn:
        kill_tree(os.getpid(), include_root=False, reap=True)
        if host_gone and runtime_dir:
            shutil.rmtree(runtime_dir, ignore_errors=True)
        os._exit(code)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are the kernel's business
    signal.signal(signal.SIGTERM, lambda *_: end(128 + signal.SIGTERM))
    signal.signal(signal.SIGHUP, lambda *_: end(128 + signal.SIGHUP, host_gone=True))
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGHUP, 0, 0, 0)
    if os.getppid() != parent:
        end(1, host_gone=True)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            end(1)
        except InterruptedError:
            continue
        if pid == kernel:
            end(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
