"""What a kernel process inherits: a scrubbed environment and its resource limits.

The kernel runs code a model wrote, so it gets an allow-list of the host's environment
(never API keys or tokens), a ``HOME`` of its own, and rlimits that the launcher
(:mod:`weaver.execution.runtime.launch`) applies before ipykernel is imported.

That covers the kernel's own environment only. The host's (``/proc/<host>/environ``) is
out of its reach because the kernel is another user (a root host), or is confined by
Landlock, or cannot see the host at all (bubblewrap's pid namespace); where none of these
holds the host makes itself non-dumpable (:mod:`weaver.execution.process`).
"""


from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path

from weaver.execution.config import ExecutionConfig

BASE_ALLOW = ("PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "PYTHONPATH", "PYTHONHASHSEED")
"""Host variables every kernel sees; ``[execution] env_allow`` adds more."""

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_MB = 1024 * 1024


def weaver_source_dir() -> str:
    """The directory holding the ``weaver`` package, so the kernel imports this very copy."""
    return str(Path(__file__).resolve().parents[2])


def kernel_env(config: ExecutionConfig, home: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The kernel's whole environment: allowed host variables plus Weaver's own settings."""
    patterns = (*BASE_ALLOW, *config.env_allow)
    env = {name: value for name, value in environ.items() if any(fnmatch.fnmatchcase(name, p) for p in patterns)}
    env.setdefault("PATH", os.defpath)
    source = weaver_source_dir()
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([source, *(p for p in paths if p != source)])
    env["HOME"] = str(home)
    # Agg draws without a display; the runtime saves open figures as PNG artifacts.
    env["MPLBACKEND"] = "Agg"
    # glibc reserves 64 MB of address space per malloc arena and thread, which would eat
    # the RLIMIT_AS budget without using memory.
    env["MALLOC_ARENA_MAX"] = "2"
    # The debugger's frozen-modules warning would otherwise be the kernel's first output.
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    for name in _THREAD_VARS:
        env[name] = str(max(1, config.blas_threads))
    return env


def rlimits(config: ExecutionConfig, own_user: bool = True) -> dict[str, int]:
    """The rlimits to set in the kernel, by ``resource`` constant name; 0 values are left out.

    RLIMIT_NPROC counts the processes of the kernel's user, so it is set only when that
    user is the kernel's own (``own_user``): for the host's user it would count, and cap,
    everything else that user runs.
    """
    wanted = {
        "RLIMIT_AS": config.memory_mb * _MB,
        "RLIMIT_CPU": config.cpu_s,
        "RLIMIT_NPROC": config.max_processes if own_user else 0,
        "RLIMIT_FSIZE": config.file_size_mb * _MB,
    }
    limits = {name: value for name, value in wanted.items() if value > 0}
    # A crashing kernel must not write a core file of its whole heap into the session.
    limits["RLIMIT_CORE"] = 0
    return limits

