"""The ``weaver demo`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weaver.cli import CliState


def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", metavar="DIR", file_okay=False, help="Where to copy the example project and run it.")
    ] = Path("weaver-demo"),
) -> None:
    """Replay a recorded session of the data-analysis example: real kernel, no model, no network."""
    from weaver.cli.rounds import exit_code, run_round
    from weaver.console import LiveView, make_console
    from weaver.console.blocks import artifact_paths
    from weaver.model import AttachmentType
    from weaver_demo import CASSETTE, REQUEST
    from weaver_demo.session import copy_project, demo_app

    console = make_console()
    project = copy_project(directory)
    console.print(
        "[bold]Weaver demo[/]: this [bold]replays a recorded session[/] of the data-analysis example. "
        f"The model's replies come from {CASSETTE}; the code they contain runs for real in a Python kernel. "
        "No model and no network are used."
    )
    console.print(f"[dim]project[/] {project}")
    console.print(f"[bold green]you[/] {REQUEST}")
    with demo_app(project, cli_sets=CliState.of(ctx).sets) as app:
        session = app.session()
        view = LiveView(console, session_id=session.id)
        unsubscribe = view.attach(app)
        try:
            round = run_round(session, REQUEST, (), console)
        finally:
            unsubscribe()
            view.close()
    plots = [
        path
        for post in round.posts
        for attachment in post.attachments
        if attachment.type is AttachmentType.artifact_paths
        for path in artifact_paths(attachment)
        if path.endswith(".png")
    ]
    for path in plots:
        console.print(f"[bold]plot:[/] {path}")
    if round.answer and not plots:
        console.print("[red]the replay finished without producing the plot[/]")
        raise typer.Exit(1)
    console.print(
        f"\nThat was a replay. Look around: weaver -p {directory} sessions show {session.id}\n"
        f"Ask your own questions with a real model: set OPENAI_API_KEY, then cd {directory} && weaver chat"
    )
    raise typer.Exit(exit_code(round))
