"""Running one round from the command line: live view, Ctrl-C, and the exit status it maps to.

Shared by ``weaver run``, ``chat``, ``sessions resume`` and ``demo``. A round runs on
Weaver's loop thread while the main thread waits in short, interruptible steps, so Ctrl-C
reaches Python at once: the first one cancels the round (``session.cancel()``: the model
stream stops, the kernel is interrupted, the round ends ``cancelled`` with what it had); a
third one while the cancellation is still under way gives up waiting.

When the session asks a person to approve code or a plan (``[approval]``), the waiting thread
asks: on a terminal it shows what is to be approved and why, and takes approve, edit or
reject (with a reason the model is told); ``weaver run --yes`` approves everything; without a
terminal the request is rejected, saying why.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from weaver.cli.exits import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK
from weaver.model import Round, RoundState

if TYPE_CHECKING:
    from rich.console import Console

    from weaver.approvals import ApprovalRequest
    from weaver.client import RemoteSession
    from weaver.engine import Session

Ask = Callable[["ApprovalRequest"], tuple[str, "str | None", str]]
"""``ask(request) -> (decision, edited content or None, reason)``, on the waiting thread."""
EDIT_END = "."
"""The line that ends an edited text typed at the approval prompt."""

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


def run_round(
    session: Session | RemoteSession,
    text: str,
    files: Sequence[str | os.PathLike[str]],
    console: Console,
    ask: Ask | None = None,
) -> Round:
    """Run one round to its end; Ctrl-C cancels it and the cancelled round is returned.

    ``ask`` answers approval requests (default: :func:`terminal_asker` on a terminal, else a
    rejection saying nobody can approve). Raises ``KeyboardInterrupt`` only when Ctrl-C was
    pressed three times and the round has still not ended; a
    :class:`weaver.errors.WeaverError` the engine raises (a busy or closed session) is
    raised here.
    """
    ask = ask or (terminal_asker(console) if sys.stdin.isatty() else no_one_to_ask)
    asked: set[str] = set()
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
            for request in session.pending_approvals():
                if request.id not in asked:
                    asked.add(request.id)
                    decision, content, reason = ask(request)
                    session.answer(request.id, decision, content=content, reason=reason)
        except KeyboardInterrupt:
            presses += 1
            if presses >= _GIVE_UP_AFTER:
                raise
            if presses == 1:
                cancelled = session.cancel()
                console.print("[yellow]cancelling the round…[/] (Ctrl-C twice more to stop waiting)")


def no_one_to_ask(request: ApprovalRequest) -> tuple[str, str | None, str]:
    """No terminal: nobody can approve, so the request is rejected, saying so."""
    return "rejected", None, "nobody can approve here (no terminal): approve in weaver chat, or run with --yes"


def approve_all(request: ApprovalRequest) -> tuple[str, str | None, str]:
    """``weaver run --yes``: everything asked is approved."""
    return "approved", None, "approved with --yes"


def terminal_asker(console: Console) -> Ask:
    """Ask on the terminal: show the request and its reasons, read approve, edit or reject."""
    from weaver.console import blocks

    def ask(request: ApprovalRequest) -> tuple[str, str | None, str]:
        what = "run this code" if request.kind.value == "code" else "carry out this plan"
        console.print(f"[bold yellow]approval needed[/]: {request.role or 'Weaver'} wants to {what}, because:")
        for reason in request.reasons:
            console.print(f"  - {reason}")
        console.print(blocks.code_block(request.content) if request.kind.value == "code" else request.content)
        while True:
            choice = input("approve? [y]es / [e]dit / [n]o: ").strip().lower()
            if choice in ("y", "yes"):
                return "approved", None, ""
            if choice in ("n", "no"):
                return "rejected", None, input("why? (the model is told) ").strip() or "the user said no"
            if choice in ("e", "edit"):
                console.print(f"type the new text; a line with only {EDIT_END!r} ends it")
                lines = []
                while (line := input()) != EDIT_END:
                    lines.append(line)
                return "edited", "\n".join(lines), "edited by the user"

    return ask
