"""The kernel process's entry point: arrange the boundary, then run ipykernel.

``python -m weaver.execution.runtime.launch --plan '<json>' -f <connection file> ...``

The host's plan (:func:`weaver.execution.process.launch_plan`) says, as JSON:

- ``limits``: rlimits by ``resource`` name;
- ``supervise``: fork a supervisor (:mod:`weaver.execution.runtime.supervisor`) first,
  outside a sandbox, where no pid namespace ends the kernel's processes with it;
- ``host_pid`` and ``runtime_dir``: for the supervisor and the death signal;
- ``landlock``: the ``read``, ``write`` and ``sockets`` paths of a Landlock ruleset, or
  ``null`` where the system has no Landlock;
- ``user``: ``[uid, gid]`` to become (a root host), or ``null``;
- ``drop_capabilities``: stay root but without any capability (a root host whose kernel
  cannot be a user of its own);
- ``chdir``: the directory to start in, entered as that user.

Everything happens before ipykernel or any library is imported, in this order: the
supervisor, the death signal, the rlimits, the Landlock ruleset (while paths can still be
opened), then giving up root. Nothing the kernel runs afterwards can undo any of them.
A failure exits with status 71 and a line on stderr (which the host keeps): a kernel that
cannot be arranged as asked never starts.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

PARENT_ENV = "JPY_PARENT_PID"
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
FAILED = 71
"""Exit status of a launcher that could not arrange the boundary (EX_OSERR)."""


def apply_limits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        kind = getattr(resource, name)
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


def _prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def die_with(parent: int) -> None:
    """Get SIGKILL when ``parent`` dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent and os.getppid() != parent:
        os._exit(1)


def arrange(plan: dict[str, Any]) -> None:
    """Apply ``plan`` to this process (see the module docstring)."""
    from weaver.execution.runtime import landlock, privileges

    host = int(plan.get("host_pid") or 0)
    # ipykernel would watch this pid as its parent; its parent is the supervisor or the
    # sandbox's init, which tie it to the host themselves.
    os.environ.pop(PARENT_ENV, None)
    if plan.get("supervise"):
        from weaver.execution.runtime import supervisor

        supervisor.become_subreaper()
        child = os.fork()
        if child:
            supervisor.supervise(child, host, plan.get("runtime_dir"))
        die_with(os.getppid())
    apply_limits(plan.get("limits", {}))
    rules = plan.get("landlock")
    if rules is not None and not landlock.restrict(rules["read"], rules["write"], rules.get("sockets", ())):
        raise OSError("the host found Landlock, the kernel did not")
    user = plan.get("user")
    if user is not None:
        privileges.drop_to(int(user[0]), int(user[1]))
        # Changing user made the process non-dumpable, which would leave its own
        # /proc/self files to root; no other process has this user.
        _prctl(_PR_SET_DUMPABLE, 1)
    elif plan.get("drop_capabilities"):
        privileges.drop_capabilities()
    else:
        privileges.no_new_privs()
    if plan.get("chdir"):
        os.chdir(plan["chdir"])


def main(argv: list[str]) -> None:
    plan: dict[str, Any] = {}
    if argv[:1] == ["--plan"]:
        plan = json.loads(argv[1])
        argv = argv[2:]
    try:
        arrange(plan)
    except Exception as exc:  # noqa: BLE001 - reported on stderr, which the host keeps
        sys.stderr.write(f"weaver: the kernel's boundary could not be arranged: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        os._exit(FAILED)
    if sys.path and sys.path[0] == os.getcwd():
        # ``-m`` put the working directory first; a file there must not shadow a library.
        del sys.path[0]
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
