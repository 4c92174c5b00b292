"""What an executor is to the session, and what the session gives it.

An executor comes from the ``weaver_executors`` hook as an
:class:`weaver.specs.ExecutorSpec`; the session calls
``spec.factory(session_dir, config, setup)`` once, lazily, and then only the methods of
:class:`Executor`. The core's own executor is ``local`` (:mod:`weaver.execution.kernel`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import attrs

from weaver.errors import WeaverError
from weaver.execution.result import ExecutionResult, VariableInfo
from weaver.specs import PluginSpec


@attrs.frozen
class ExecutorSetup:
    """What an executor needs to know about its session besides the configuration."""

    session_id: str
    plugins: tuple[PluginSpec, ...] = ()
    plugin_call_budget: int | None = None
    """Calls each plugin may get in one execution when the request names no other allowance
    (``[plugins] call_budget``); None: unlimited."""


class Executor(Protocol):
    """One session's code runner: a stateful kernel behind three calls.

    An executor may also accept ``on_output`` in :meth:`execute`
    (``execute(code, *, on_output=None)``), a callable given ``(stream_name, text)`` as
    output arrives, and ``host_calls`` (a :data:`weaver.execution.output.InputHandler`)
    that answers the code's host plugin calls; the local executor takes both. An executor
    runs host plugins by passing the kernel's stdin-channel input requests to its
    :class:`weaver.execution.output.Collector` (see that module).
    """

    async def start(self) -> None:
        """Start the kernel now rather than at the first execution (the session calls it early,
        while the model is thinking); a failure here is raised again by the first execution."""
        ...

    async def execute(self, code: str) -> ExecutionResult:
        """Run ``code``; never raises for a failure of the code, the time limit or the kernel.

        An executor whose ``execute`` also takes a keyword ``plugin_budget`` is given, with
        each execution, what the plugin call budget's scope has left
        (:data:`weaver.execution.runtime.BUDGET_KEY`), so a step's or a round's budget holds
        inside the execution too; without it, ``plugin_call_budget`` per execution is the
        only limit inside, and the host still counts the calls each result reports.

        Cancelling the awaiting task interrupts the code and raises
        :class:`ExecutionCancelled` (a :class:`asyncio.CancelledError`) carrying what the
        code had produced until then.
        """
        ...

    def variables(self) -> tuple[VariableInfo, ...]:
        """The variable inventory after the last execution."""
        ...

    async def close(self) -> None:
        """Stop the kernel; the executor is not used again."""
        ...


class ExecutionCancelled(asyncio.CancelledError):
    """An execution ended because the task awaiting it was cancelled (its round was).

    ``result`` (outcome ``cancelled``) keeps what the code printed and displayed before
    the interrupt; the cancellation goes on as any other.
    """

    def __init__(self, result: ExecutionResult) -> None:
        super().__init__("the execution was cancelled")
        self.result = result


@attrs.define(eq=False)
class KernelStartError(WeaverError):
    """A kernel could not be started or did not answer in time; ``log`` is the tail of its output."""

    log: str = ""

    def __str__(self) -> str:
        return f"{self.message}\n{self.log}".rstrip()


def plugin_payload(plugin: PluginSpec) -> dict[str, Any]:
    """A plugin as the kernel's runtime receives it (JSON values only).

    A host plugin's payload has its schema, for the stub, and neither its target nor its
    configuration: those stay on the host.
    """
    shown = dict(plugin.kernel_view)
    if plugin.host:
        return {"name": plugin.name, "host": True, "batch": plugin.batch, **shown}
    return {
        "name": plugin.name,
        "target": plugin.target,
        "config": dict(plugin.config),
        "batch": plugin.batch,
        "path": plugin.path,
        **shown,
    }
