"""The kernel process's entry point: apply limits, tie the kernel to its host, run ipykernel.

``python -m weaver.execution.runtime.launch --limits '{"RLIMIT_AS": ...}' -f <connection file>``

Limits are set here, before ipykernel or any library is imported, so nothing the kernel
runs can raise them. The kernel dies with its host: on Linux through ``PR_SET_PDEATHSIG``
(so even a SIGKILLed host takes it along), elsewhere through ipykernel's parent poller.
Inside a sandbox with its own pid namespace bubblewrap's ``--die-with-parent`` does it,
and the parent poller is switched off because the kernel's parent there is the sandbox's init.
"""

from __future__ import annotations

import json
import os
import signal
import sys

PARENT_ENV = "JPY_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def apply_limits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        kind = getattr(resource, name)
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


def die_with_parent() -> None:
    parent = int(os.environ.get(PARENT_ENV) or 0)
    if parent and os.getppid() != parent:
        # Not the host's child: a sandbox's init stands between; it watches the host.
        os.environ.pop(PARENT_ENV, None)
        return
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if parent and os.getppid() != parent:
            os._exit(1)  # the host died before the death signal was armed


def main(argv: list[str]) -> None:
    limits: dict[str, int] = {}
    if argv[:1] == ["--limits"]:
        limits = json.loads(argv[1])
        argv = argv[2:]
    die_with_parent()
    apply_limits(limits)
    if sys.path and sys.path[0] == os.getcwd():
        # ``-m`` put the working directory first; a file there must not shadow a library.
        del sys.path[0]
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
