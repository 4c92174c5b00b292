"""The ``[execution]`` table: which executor runs code, and the limits around a kernel."""

from __future__ import annotations

import posixpath
from typing import Any

import attrs

from weaver.config import InvalidValue, at_least, one_of

SANDBOXES = ("auto", "none", "bwrap")


def _project_relative(instance: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    """Each entry names a folder inside the project: relative, normalized, never the project itself."""
    for entry in value:
        parts = entry.split("/")
        if (
            not entry
            or "\0" in entry
            or entry.startswith("/")
            or posixpath.normpath(entry) != entry
            or entry == "."
            or ".." in parts
        ):
            raise InvalidValue(
                attribute.name,
                "entries are folders relative to the project, such as 'data' or 'inputs/raw' "
                f"(no '..', no absolute path, not the project itself), got {entry!r}",
            )


@attrs.frozen
class ExecutionConfig:
    """``[execution]``: the executor, its time and resource limits, and the warm pool.

    Limits of ``0`` mean "not limited". Resource limits are rlimits of the kernel process,
    set before the kernel starts, so they cannot be raised by the code it runs.
    """

    executor: str = "local"
    """The executor (``weaver_executors``) that runs a session's code."""
    timeout_s: float = 60.0
    """Wall-clock time one execution may take; then the kernel is interrupted."""
    interrupt_grace_s: float = 5.0
    """How long an interrupted kernel has to answer before it is restarted (state lost)."""
    startup_timeout_s: float = 60.0
    """How long a kernel may take to start and answer its first request."""
    memory_mb: int = 4096
    """Address-space limit (RLIMIT_AS): allocating past it raises MemoryError in the kernel."""
    cpu_s: int = 0
    """CPU seconds over the kernel's whole life (RLIMIT_CPU); past it the kernel is killed."""
    max_processes: int = attrs.field(default=256, validator=at_least(0))
    """Processes and threads the kernel and everything it starts may run at once (0: not
    limited). It holds where the kernel runs as a user of its own, that is whenever the host
    runs as root (RLIMIT_NPROC of that user); a host of an ordinary user shares its user with
    the kernel, so there it is not applied (``weaver doctor`` says so)."""
    file_size_mb: int = 1024
    """Largest file the kernel may write (RLIMIT_FSIZE)."""
    blas_threads: int = 1
    """Threads for OpenBLAS/MKL/OpenMP/numexpr. Each thread reserves buffers that count
    against ``memory_mb``, and sessions share the machine's cores."""
    max_output_chars: int = 20_000
    """stdout and stderr are each cut to this many characters (head and tail kept)."""
    max_value_chars: int = 5_000
    """The last expression's repr and each display's text are cut to this many characters."""
    env_allow: tuple[str, ...] = ()
    """Host environment variables the kernel may see beyond the built-in allow-list
    (``PATH``, ``LANG``, ``LC_*``, ``TZ``, ...); a trailing ``*`` matches a prefix."""
    sandbox: str = attrs.field(default="auto", validator=one_of(*SANDBOXES))
    """``"bwrap"`` runs the kernel under bubblewrap: no network, only the system, Python,
    the project files and the session's own directories visible. ``"none"`` runs it
    without (still as a user of its own when the host is root, with Landlock where the
    system has it); ``"auto"`` uses bubblewrap wherever it works and ``"none"`` elsewhere.
    ``weaver doctor`` says which one runs here and what it isolates."""
    project_files: tuple[str, ...] = attrs.field(default=("data",), validator=_project_relative)
    """Project folders the code sees, read-only, under the same relative path in its working
    directory (``data/sales.csv``); a folder that does not exist is left out."""
    pool_size: int = 1
    """Kernels kept started ahead of time for new sessions (0: start each on demand). A
    pooled kernel is started before its session is known, so it is used only where
    sessions are kept apart without naming them: when the host runs as root (each kernel
    has its own user), or when neither bubblewrap nor Landlock is there to name them."""
    prestart: bool = True
    """A session whose roles run code starts its kernel (or takes one from the pool) when its
    first round starts, so the kernel starts while the model writes the first reply."""
    restore_on_resume: bool = False
    """A resumed session re-runs its successful cells in order before its first execution."""
    python: str = ""
    """The kernel's Python interpreter (empty: the one running Weaver); it needs ipykernel
    and weaver-core installed."""
