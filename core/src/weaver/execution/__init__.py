"""Running a session's code: the executor contract, the local Jupyter executor, its boundary.

>>> result = await session.execute("df = pandas.DataFrame({'x': [1, 2]}); df.x.sum()")  # doctest: +SKIP
>>> result.ok, result.value_repr                                                       # doctest: +SKIP
(True, '3')

The boundary around a kernel, in every mode: an allow-listed environment, rlimits
(memory, CPU, file size, and processes where the kernel has a user of its own), a
wall-clock timeout, its session's ``cwd/`` and ``artifacts/`` as the only places it
writes, the project files (``[execution] project_files``) read-only, no process outliving
it, no host file operation following a link it planted. A root host gives every kernel a
user of its own with no capabilities. Bubblewrap (``sandbox = "auto"`` where it works, or
``"bwrap"``) hides the rest of the host: network, processes, files. Without it, Landlock
keeps the kernel to the same files where the system has it; the host's environment is out
of reach either way. What holds on a machine is what ``weaver doctor`` reports.

Modules, one job each: :mod:`~weaver.execution.config` (the ``[execution]`` table),
:mod:`~weaver.execution.result` (:class:`ExecutionResult`), :mod:`~weaver.execution.executor`
(what a session asks of an executor), :mod:`~weaver.execution.kernel` (the local executor),
:mod:`~weaver.execution.process` (one kernel process), :mod:`~weaver.execution.output`
(capped collection of a kernel's messages), :mod:`~weaver.execution.limits` (scrubbed
environment, rlimits), :mod:`~weaver.execution.boundary` (what a kernel may reach),
:mod:`~weaver.execution.identity` (the kernel's own user), :mod:`~weaver.execution.sandbox`
(bubblewrap), :mod:`~weaver.execution.files` (host file operations that follow no link),
:mod:`~weaver.execution.logtail` (the kernel's own output, bounded),
:mod:`~weaver.execution.service` (a session's executor, as ``session.execute`` uses it),
:mod:`~weaver.execution.pool` (the warm pool), :mod:`~weaver.execution.lifecycle` (no
kernel outlives its host), :mod:`~weaver.execution.restore` (rebuilding state on resume),
:mod:`~weaver.execution.feedback` (the default text for the model),
:mod:`~weaver.execution.check` (``weaver doctor``'s kernel check) and
:mod:`~weaver.execution.runtime` (the code that runs inside the kernel, its launcher and
supervisor included).

Names load on first use: importing this package does not import jupyter_client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY = {
    "ExecutionResult": "weaver.execution.result",
    "ErrorInfo": "weaver.execution.result",
    "Artifact": "weaver.execution.result",
    "Display": "weaver.execution.result",
    "VariableInfo": "weaver.execution.result",
    "ExecutionConfig": "weaver.execution.config",
    "Executor": "weaver.execution.executor",
    "ExecutorSetup": "weaver.execution.executor",
    "KernelStartError": "weaver.execution.executor",
    "ExecutionCancelled": "weaver.execution.executor",
    "LocalExecutor": "weaver.execution.kernel",
    "RestoreReport": "weaver.execution.restore",
    "warm_up": "weaver.execution.pool",
    "close_pools": "weaver.execution.pool",
}

__all__ = [
    "Artifact",
    "Display",
    "ErrorInfo",
    "ExecutionCancelled",
    "ExecutionConfig",
    "ExecutionResult",
    "Executor",
    "ExecutorSetup",
    "KernelStartError",
    "LocalExecutor",
    "RestoreReport",
    "VariableInfo",
    "close_pools",
    "warm_up",
]

if TYPE_CHECKING:
    from weaver.execution.config import ExecutionConfig
    from weaver.execution.executor import ExecutionCancelled, Executor, ExecutorSetup, KernelStartError
    from weaver.execution.kernel import LocalExecutor
    from weaver.execution.pool import close_pools, warm_up
    from weaver.execution.restore import RestoreReport
    from weaver.execution.result import Artifact, Display, ErrorInfo, ExecutionResult, VariableInfo


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'weaver.execution' has no attribute {name!r}")
