"""Running one round from the command line: live view, Ctrl-C, and the exit status it maps to.

Shared by ``weaver run``, ``chat``, ``sessions resume`` and ``demo``. A round runs on
Weaver's loop thread while the main thread waits in short, interruptible steps, so Ctrl-C
reaches Python at once: the first one cancels the round (``session.cancel()``: the model
stream stops, the kernel is interrupted, the round ends ``cancelled`` with what it had); a
third one while the cancellation is still under way gives up waiting.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from weaver.cli.exits import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK
from weaver.model import Round, RoundState

if TYPE_CHECKING:
    from rich.console import Console

    from weaver.engine import Session

_POLL_S = 0.1
_GIVE_UP_AFTER = 3
"""Ctrl-C presses during one round after which ``run_round`` stops waiting for the cancellation."""


def exit_code(round: Round) -> int:
    """The process exit status for a round that ended in ``round.state``."""
    if round.state is RoundState.finished:
        return EXIT_OK
    if round.state is RoundState.cancelled:
        return EXIT_CANCELLED
    return EXIT_FAILED


def run_round(session: Session, text: str, files: Sequence[str | os.PathLike[str]], console: Console) -> Round:
    """Run one round to its end; Ctrl-C cancels it and the cancelled round is returned.

    Raises ``KeyboardInterrupt`` only when Ctrl-C was pressed three times and the round has
    still not ended; a :class:`weaver.errors.WeaverError` the engine raises (a busy or
    closed session) is raised here.
    """
    result: Future[Round] = Future()

    def work() -> None:
        try:
            result.set_result(session.send_message(text, files))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            result.set_exception(exc)

    threading.Thread(target=work, name="weaver-round", daemon=True).start()
    presses = 0
    cancelled = False
    while True:
        try:
            return result.result(timeout=_POLL_S)
        except FutureTimeout:
            # The round may not have started when Ctrl-C came; keep asking until it takes.
            if presses and not cancelled:
                cancelled = session.cancel()
        except KeyboardInterrupt:
            presses += 1
            if presses >= _GIVE_UP_AFTER:
                raise
            if presses == 1:
                cancelled = session.cancel()
                console.print("[yellow]cancelling the round…[/] (Ctrl-C twice more to stop waiting)")
