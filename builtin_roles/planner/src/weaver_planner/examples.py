"""The Planner's few-shot examples: TaskWeaver's ``planner_examples`` folders, each reply checked.

The format and the loading are :mod:`weaver.examples`'. Examples come from the ones shipped
with the Planner (``[planner] builtin_examples``), ``planner_examples/`` in the project and
in its ``examples/`` folder (TaskWeaver's sample layout), then ``[planner] example_dirs``.

Every Planner post of an enabled example is checked as a reply of the model would be
(:func:`checked`): all seven fields (``plan_reasoning``, ``init_plan``, ``plan``,
``current_plan_step``, ``stop``, ``send_to``, ``message``), ``stop`` one of the stop
reasons, ``send_to`` a role of the example other than the Planner, a message. A file that
fails is an error naming it, and the round fails with it until the file is fixed (or set to
``enabled: false``). An example is used only when every role its posts name is enabled in
the session, so it never teaches the model to call a role that is not there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from weaver import examples as shared
from weaver.examples import Example, ExampleError, load_example, usable
from weaver.model import USER
from weaver_planner.prompt import reply_data
from weaver_planner.reply import reply_schema, validate_reply

__all__ = ["BUILTIN_DIR", "Example", "ExampleError", "checked", "example_dirs", "load_example", "load_examples", "usable"]

BUILTIN_DIR = Path(__file__).parent / "examples"
FOLDER_NAMES = ("planner_examples",)
KIND = "planner"


def example_dirs(project_dir: Path, configured: Iterable[str], builtin: bool) -> list[Path]:
    """The shipped examples (if ``builtin``), ``planner_examples`` in the project and in its
    ``examples/`` folder, then the configured folders (relative to the project)."""
    return [*([BUILTIN_DIR] if builtin else []), *shared.example_dirs(project_dir, FOLDER_NAMES, configured)]


def load_examples(dirs: Iterable[Path]) -> list[Example]:
    """Every example file in ``dirs``, parsed (a malformed one is an :class:`ExampleError`)."""
    return shared.load_examples(dirs, KIND)


def checked(examples: Iterable[Example], me: str) -> list[Example]:
    """The examples, after checking every enabled one's replies from ``me`` as Planner replies."""
    examples = list(examples)
    for example in examples:
        if example.enabled:
            recipients = [USER, *sorted(example.roles - {me})]
            validate = functools.partial(validate_reply, me=me, recipients=recipients)
            shared.check_replies(example, me, KIND, reply_data, reply_schema(recipients), validate)
    return examples
