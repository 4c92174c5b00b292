"""``weaver chat``: an interactive session, rendered live.

Type a request and watch the roles work; lines starting with ``/`` are commands (``/help``).
Ctrl-C during a round cancels it and returns to the prompt; Ctrl-C at the prompt twice in a
row (or Ctrl-D, or ``/exit``) quits.

Input comes from ``prompt_toolkit`` on a terminal: line editing, slash-command completion and
a history kept per project in ``<workspace>/chat_history`` that works the same on Linux,
macOS and Windows (``readline`` is missing on Windows and differs on macOS). It is already
installed with ``ipykernel`` (through IPython). When stdin is not a terminal, lines are read
plainly, so a script can pipe requests in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated

import typer

from weaver.cli.remote import server_option, sessions_of, token_option
from weaver.cli.state import CliState

if TYPE_CHECKING:
    from rich.console import Console

    from weaver.client import Client, RemoteSession
    from weaver.console import LiveView
    from weaver.engine import App, Session

PROMPT = "you> "
HISTORY_FILE = "chat_history"
COMMANDS: Mapping[str, str] = MappingProxyType(
    {
        "help": "show this help",
        "exit": "quit (also Ctrl-D, or Ctrl-C twice at the prompt)",
        "reset": "start a new session (the current one stays stored)",
        "load": "FILE: upload a file into the session with your next request",
        "plan": "show the Planner's latest plan, the current step marked",
        "cost": "tokens and cost of this session, round by round",
        "save": "[FILE]: write this session as Markdown (default: in the session's directory)",
    }
)
"""The chat's slash commands and their help."""


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)


def chat(
    ctx: typer.Context,
    session_id: Annotated[
        str | None, typer.Option("--session", metavar="ID", help="Resume a stored session instead of starting one.")
    ] = None,
    server: Annotated[str | None, server_option()] = None,
    token: Annotated[str | None, token_option()] = None,
) -> None:
    """Chat with Weaver: requests run as rounds, rendered live; /help lists the commands."""
    with sessions_of(CliState.of(ctx), server, token) as app:
        session = app.resume(session_id) if session_id else app.session()
        from weaver.engine import App  # as every command's heavy imports: not on --help's path

        if isinstance(app, App) and any(spec.runs_code for spec in app.roles.values()):
            app.warm_up()  # a kernel ready for the session after this one (/reset), started in the background
        status = Chat(app, session).loop()
    raise typer.Exit(status)


Reader = Callable[[], str]
"""Reads one line; raises ``EOFError`` at end of input and ``KeyboardInterrupt`` on Ctrl-C."""


def _reader(app: App | Client) -> Reader:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return lambda: input(PROMPT)
    import asyncio

    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    app.workspace.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(app.workspace / HISTORY_FILE)),
        completer=WordCompleter([f"/{name}" for name in COMMANDS], sentence=True),
    )

    def read() -> str:
        try:
            return prompt.prompt(PROMPT)
        except asyncio.CancelledError:
            # A Ctrl-C that lands while prompt_toolkit starts its event loop (asyncio.run's
            # SIGINT handler) cancels the prompt's task instead of raising KeyboardInterrupt.
            raise KeyboardInterrupt from None

    return read


class Chat:
    """The read-run loop of ``weaver chat`` over one session (``/reset`` starts a new one)."""


    def __init__(
        self,
        app: App | Client,
        session: Session | RemoteSession,
        *,
        console: Console | None = None,
        read: Reader | None = None,
    ) -> None:
        from weaver.console import LiveView, make_console

        self.app = app
        self.session = session
        self.console = console or make_console()
        self.read = read or _reader(app)
        self.view: LiveView = LiveView(self.console, session_id=session.id)
        self.pending: list[Path] = []

    def loop(self) -> int:
        """Read and run until the user quits; returns the exit status."""
        self._banner()
        unsubscribe = self.view.attach(self.app)
        try:
            return self._read_and_run()
        except KeyboardInterrupt:
            # A second Ctrl-C that lands between two prompts (the terminal not in raw mode)
            # interrupts wherever Python is; it still means "quit".
            return 0
        finally:
            unsubscribe()
            self.view.close()

    def _read_and_run(self) -> int:
        from weaver.cli.exits import EXIT_CANCELLED
        from weaver.cli.rounds import run_round
        from weaver.errors import WeaverError

        interrupted = False
        while True:
            try:
                line = self.read().strip()
            except EOFError:
                return 0
            except KeyboardInterrupt:
                if interrupted:
                    return 0
                interrupted = True
                self.console.print("[dim](Ctrl-C again to quit, or /exit)[/]")
                continue
            interrupted = False
            if not line:
                continue
            if line.startswith("/"):
                if self._command(line) == "exit":
                    return 0
                continue
            files, self.pending = self.pending, []
            try:
                run_round(self.session, line, files, self.console)
            except KeyboardInterrupt:
                return EXIT_CANCELLED
            except WeaverError as exc:
                self.console.print(f"[red]error:[/] {exc}")

    def _banner(self) -> None:
        from weaver.console.blocks import counted

        resumed = f" (resumed, {counted(len(self.session.rounds), 'round')})" if self.session.rounds else ""
        self.console.print(f"[bold]Weaver chat[/] · session {self.session.id}{resumed} · project {self.app.project_dir}")
        self.console.print("[dim]Type a request. /help lists commands; Ctrl-C cancels a round; /exit or Ctrl-D quits.[/]")

    def _command(self, line: str) -> str | None:
        name, _, argument = line[1:].partition(" ")
        handler = getattr(self, f"_do_{name}", None) if name in COMMANDS else None
        if handler is None:
            self.console.print(f"[red]unknown command /{name}[/]; /help lists the commands")
            return None
        return handler(argument.strip())

    def _do_help(self, _: str) -> None:
        for name, text in COMMANDS.items():
            self.console.print(f"  [bold]/{name}[/] {text}")

    def _do_exit(self, _: str) -> str:
        return "exit"

    def _do_reset(self, _: str) -> None:
        self.session.close()
        self.session = self.app.session()
        self.view.session_id = self.session.id
        self.pending = []
        self.console.print(f"new session {self.session.id}")

    def _do_load(self, argument: str) -> None:
        path = Path(argument).expanduser()
        if not argument or not path.is_file():
            self.console.print(f"[red]/load wants a file; {argument or 'none given'!s} is not one[/]")
            return
        self.pending.append(path)
        self.console.print(f"{argument} will be uploaded with your next request")

    def _do_plan(self, _: str) -> None:
        from weaver.console import blocks
        from weaver.model import AttachmentType

        for round in reversed(self.session.rounds):
            for post in reversed(round.posts):
                plan = post.attachment(AttachmentType.plan)
                if plan is not None:
                    step = post.attachment(AttachmentType.current_plan_step)
                    self.console.print(blocks.plan_block(plan.content, step.content if step else None))
                    return
        self.console.print("no plan yet")

    def _do_cost(self, _: str) -> None:
        from weaver.console.blocks import describe, usage_text

        for number, round in enumerate(self.session.rounds, 1):
            self.console.print(f"  {number}. {describe(round.user_query)}: {usage_text(round.usage)}")
        self.console.print(f"[bold]session[/]: {usage_text(self.session.usage)}")

    def _do_save(self, argument: str) -> None:
        from weaver.console.blocks import counted
        from weaver.console.transcript import session_markdown

        target = Path(argument).expanduser() if argument else self.session.paths.root / "transcript.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(session_markdown(self.session.id, self.session.rounds), encoding="utf-8")
        self.console.print(f"saved {counted(len(self.session.rounds), 'round')} to {target}")
