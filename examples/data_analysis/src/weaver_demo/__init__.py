"""``weaver demo``: the data-analysis example, replayed offline from its recorded session.

This distribution (``weaver-demo``) is the folder ``examples/data_analysis``: its project
files (``weaver.toml``, ``data/``, ``plugins/``, ``cassettes/``, ``README.md``) are shipped
inside the package as ``weaver_demo/project``, and this module adds the ``demo`` command
through the ``weaver_cli`` hook. It is kept light, because ``weaver --help`` imports it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import weaver

if TYPE_CHECKING:
    import typer

REQUEST = "Which region's revenue grew fastest in 2024? Plot the monthly revenue per region."
"""What the recorded session asks."""
EXTENSIONS = ("planner", "code_interpreter", "code_verifier", "data_plugins")
"""The extensions the session was recorded with; the demo loads exactly these, because any
other one could change a prompt and the replay would no longer match."""
MODEL = "gpt-4o-mini"
CASSETTE = "cassettes/demo.jsonl"
PROJECT_FILES = ("weaver.toml", "README.md", "data", "plugins", "cassettes")
"""What of ``examples/data_analysis`` is the project (the rest builds and records it)."""


def project_dir() -> Path:
    """The example project: packaged inside ``weaver_demo``, or in an editable install the
    example's own folder."""
    packaged = resources.files("weaver_demo") / "project"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2]


@weaver.hookimpl
def weaver_cli(app: typer.Typer) -> None:
    from weaver_demo.command import demo

    app.command("demo")(demo)
