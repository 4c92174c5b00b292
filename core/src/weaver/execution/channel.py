"""Talking to one kernel, whatever carries its messages: the requests a kernel executor makes.

A :class:`KernelChannel` sends execute requests and gathers their messages into a
:class:`~weaver.execution.output.Collector` within a deadline, and it can interrupt, tell
whether the kernel still lives, and shut it down. How the messages travel is a subclass's
business: ZeroMQ to a local process (:class:`weaver.execution.process.KernelProcess`), or a
gateway's websocket (the ``weaver-gateway`` extension). The executor built on channels
(:class:`weaver.execution.kernel.KernelExecutor`) holds everything else: sessions, time
limits, restarts, results.

A subclass implements the primitives below the banner: how a message is sent on the shell
channel, how the next IOPub or stdin message and the next shell message arrive
(``queue.Empty`` when none came within the timeout), how an input reply goes back on the
stdin channel, liveness, interrupt, shutdown. Input requests (host-plugin calls, ``input()``)
are answered by the :class:`~weaver.execution.output.Collector`, so every carrier answers alike.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import Any

from weaver.execution.config import ExecutionConfig
from weaver.execution.executor import KernelStartError
from weaver.execution.output import Collector, InputHandler, OutputCallback

POLL_S = 0.25
"""How often a waiting host checks that the kernel is still alive."""
WARM_UP = "__import__('weaver.execution.runtime.session', fromlist=['warm_up']).warm_up()"
"""What :meth:`KernelChannel.warm_up` runs (:func:`weaver.execution.runtime.session.warm_up`);
binds no name."""


class KernelDied(Exception):
    """The kernel exited (or its carrier lost it) while a request was running."""


class KernelChannel(abc.ABC):
    """One started kernel, as an executor uses it."""

    def __init__(self, config: ExecutionConfig) -> None:
        self.config = config
        self.on_hold = False
        """Whether the kernel refuses user code until a session's setup succeeds in it."""

    # ---- requests ----------------------------------------------------------------------

    def submit(
        self,
        code: str,
        *,
        silent: bool,
        artifacts_dir: Path | None,
        metadata: dict[str, Any] | None = None,
        on_output: OutputCallback | None = None,
        on_input: InputHandler | None = None,
    ) -> Collector:
        """Send an execute request (with ``metadata`` for the kernel, if given); its messages
        are gathered by :meth:`wait`, its output passed to ``on_output`` as it arrives, and
        its host-plugin calls answered by ``on_input`` (see :mod:`weaver.execution.output`)."""
        content = {
            "code": code,
            "silent": silent,
            "store_history": not silent,
            "user_expressions": {},
            # User code may ask the host (host plugins, input()); the Collector answers every
            # request at once or through the host's guards, so nothing waits for a person.
            "allow_stdin": not silent,
            "stop_on_error": False,
        }
        msg_id = self._send_execute(content, metadata or {})
        return Collector(
            msg_id,
            max_output_chars=self.config.max_output_chars,
            max_value_chars=self.config.max_value_chars,
            artifacts_dir=artifacts_dir,
            on_output=on_output,
            on_input=on_input,
        )

    async def wait(
        self, collector: Collector, timeout: float, until: Callable[[Collector], bool] | None = None
    ) -> None:
        """Gather ``collector``'s messages until its request is done (or ``until`` it holds).

        Raises :class:`TimeoutError` after ``timeout`` seconds (``collector`` keeps what
        arrived; call again to go on waiting) and :class:`KernelDied` if the kernel is gone.
        """
        deadline = time.monotonic() + timeout
        while not collector.done and not (until is not None and until(collector)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                if not collector.idle:
                    channel, msg = await self._next_output(min(POLL_S, remaining))
                    if channel == "stdin":
                        paused = collector.paused_s
                        value = await collector.answer_input(msg, deadline)
                        if value is not None:
                            self._send_input(value, msg)
                        deadline += collector.paused_s - paused  # a person's approval is not the code's time
                    else:
                        collector.add(msg)
                else:
                    reply = await self._next_shell(min(POLL_S, remaining))
                    if reply.get("parent_header", {}).get("msg_id") == collector.msg_id:
                        collector.reply = reply["content"]
            except Empty:
                if not await self.is_alive():
                    raise KernelDied from None

    async def warm_up(self) -> None:
        """Pay the costs of a kernel's first execute request now (ipykernel and IPython set up
        on first use: several times a later request), with the import adoption needs and
        the parts IPython builds on the first user cell; for kernels started ahead of time,
        so that these costs come off a session's critical path.

        The kernel is then on hold: it refuses user code until a session's setup succeeds
        in it, so a session may send its setup and its first code together.
        """
        await self.run_internal(WARM_UP)
        self.on_hold = True

    async def run_internal(self, code: str) -> Collector:
        """Run Weaver's own code (silently: no history, no execution hooks); raise on error."""
        return await self.finish_internal(self.submit(code, silent=True, artifacts_dir=None))

    async def finish_internal(self, collector: Collector) -> Collector:
        """Wait for Weaver's own request ``collector`` (submitted silently); raise on error."""
        await self.wait_setting_up(collector)
        if collector.error is not None:
            raise KernelStartError(
                f"setting up the kernel failed: {collector.error.type}: {collector.error.message}",
                log=collector.error.traceback,
            )
        return collector

    async def wait_setting_up(self, collector: Collector, until: Callable[[Collector], bool] | None = None) -> None:
        """:meth:`wait` for a request that sets the kernel up, within the start-up time limit;
        raise :class:`KernelStartError` if the kernel stops answering meanwhile."""
        try:
            await self.wait(collector, self.config.startup_timeout_s, until)
        except (TimeoutError, KernelDied):
            raise KernelStartError("the kernel stopped answering while Weaver set it up", log=self.log_tail()) from None

    # ---- what a carrier implements -------------------------------------------------------

    @abc.abstractmethod
    def _send_execute(self, content: dict[str, Any], metadata: dict[str, Any]) -> str:
        """Send an ``execute_request`` with ``content`` and ``metadata``; return its msg_id."""

    @abc.abstractmethod
    async def _next_output(self, timeout: float) -> tuple[str, dict[str, Any]]:
        """The next IOPub or stdin message, in the order they came, with its channel's name
        (``"iopub"`` or ``"stdin"``; the message a dict as jupyter_client gives it); raise
        ``queue.Empty`` when none arrived within ``timeout`` seconds."""

    @abc.abstractmethod
    async def _next_shell(self, timeout: float) -> dict[str, Any]:
        """The next shell reply, as :meth:`_next_output`."""

    @abc.abstractmethod
    def _send_input(self, value: str, request: dict[str, Any]) -> None:
        """Send ``value`` as the ``input_reply`` to the stdin channel's ``request``."""

    @abc.abstractmethod
    async def is_alive(self) -> bool:
        """Whether the kernel still runs (asked when no message came for a while)."""

    @abc.abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the running request (as Ctrl-C would)."""

    @abc.abstractmethod
    def exit_description(self) -> str:
        """How the kernel ended, in words, for a ``kernel_died`` result."""

    def log_tail(self) -> str:
        """The end of what the kernel wrote outside of Jupyter's channels, if the carrier sees it."""
        return ""

    @abc.abstractmethod
    def kill(self) -> None:
        """End the kernel now, from any context (a signal's shutdown included): a waiting
        :meth:`wait` then raises :class:`KernelDied`; :meth:`shutdown` still cleans up."""

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """Stop the kernel and release everything it held; safe to call twice."""


def install_code(setup: dict[str, Any]) -> str:
    """The code that installs the runtime into a kernel; binds no name in the namespace."""
    return f"__import__('weaver.execution.runtime', fromlist=['install']).install({json.dumps(json.dumps(setup))})"
