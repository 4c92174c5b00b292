"""The CodeInterpreter's few-shot examples: TaskWeaver's ``code_generator_examples``, checked as its replies.

The format and the loading are :mod:`weaver.examples`'. Examples come from
``code_generator_examples/`` (TaskWeaver's name) and ``codeinterpreter_examples/`` (its
older one), in the project and in its ``examples/`` folder (TaskWeaver's sample layout),
then ``[code_interpreter] example_dirs``; ``[code_interpreter] use_examples = false``
leaves them out. A file with ``enabled: false`` is not read further.

A CodeInterpreter post becomes the reply it stands for, as TaskWeaver builds it: the post's
``thought`` attachments joined by new lines (none: an empty thought, as TaskWeaver's own
text replies have), its ``reply_type`` and ``reply_content``; ``{ROLE_NAME}`` in the thought
and in a text reply becomes the role's alias (code is left as written). A ``python``
reply's ``execution_result`` follows as the result the model was shown; ``verification``,
``code_error`` and ``execution_status`` are dropped. Each reply is checked against the
CodeInterpreter's reply schema and rules, and every post must be to or from the
CodeInterpreter; a file that fails is an error naming it, and the round fails with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from weaver import examples as shared
from weaver.examples import Example, ExampleError
from weaver.model import Attachment, AttachmentType, Post
from weaver_code_interpreter.prompt import Turn, conversation, reply_data
from weaver_code_interpreter.reply import REPLY_SCHEMA, validate_reply

FOLDER_NAMES = ("code_generator_examples", "codeinterpreter_examples")
KIND = "code interpreter"
ROLE_NAME = "{ROLE_NAME}"
EXAMPLE_START = (
    "An example conversation starts here. It shows how requests, replies and execution results look; "
    "its data, variables and plugins are not those of the current task."
)
CURRENT_START = "The current conversation starts here."


def example_dirs(project_dir: Path, configured: Iterable[str]) -> list[Path]:
    """The example folders, TaskWeaver's names in the project and in its ``examples/`` folder first."""
    return shared.example_dirs(project_dir, FOLDER_NAMES, configured)


def load_examples(dirs: Iterable[Path], me: str) -> list[Example]:
    """The enabled examples in ``dirs``, as replies of ``me``, each checked; an invalid file
    is an :class:`ExampleError` naming it."""
    found = []
    for example in shared.load_examples(dirs, KIND):
        if example.enabled:
            example = _as_replies(example, me)
            shared.check_replies(example, me, KIND, reply_data, REPLY_SCHEMA, validate_reply)
            found.append(example)
    return found


def _as_replies(example: Example, me: str) -> Example:
    rounds = []
    for where, post in example.posts():
        if me not in (post.send_from, post.send_to):
            raise ExampleError(
                f"a post from {post.send_from} to {post.send_to}: a {KIND} example holds only posts to and from {me}",
                path=example.path,
                where=where,
                kind=KIND,
            )
    for item in example.rounds:
        rounds.append(
            attrs.evolve(item, posts=tuple(_reply_post(p, me) if p.send_from == me else p for p in item.posts))
        )
    return attrs.evolve(example, rounds=tuple(rounds))


def _reply_post(post: Post, me: str) -> Post:
    """The post with the attachments of the reply it stands for, TaskWeaver's way."""
    thought = "\n".join(a.content for a in post.attachments if a.type is AttachmentType.thought)
    kept = [Attachment(AttachmentType.thought, thought.replace(ROLE_NAME, me))]
    kind = post.attachment(AttachmentType.reply_type)
    content = post.attachment(AttachmentType.reply_content)
    if kind is not None:
        kept.append(kind)
    if content is not None:
        text = (
            content.content.replace(ROLE_NAME, me) if kind is not None and kind.content == "text" else content.content
        )
        kept.append(attrs.evolve(content, content=text))
    result = post.attachment(AttachmentType.execution_result)
    if kind is not None and kind.content == "python" and result is not None:
        kept.append(result)
    return attrs.evolve(post, attachments=tuple(kept))


def example_turns(examples: Sequence[Example], me: str) -> list[Turn]:
    """The examples as chat turns, each opened by :data:`EXAMPLE_START` (with the plugins it
    calls, if its file lists them), then :data:`CURRENT_START` for the conversation that follows."""
    turns: list[Turn] = []
    for example in examples:
        opening = EXAMPLE_START
        if example.plugins:
            rendered = "\n\n".join(schema.render() for schema in example.plugins)
            opening += f"\nThe plugins of this example:\n```python\n{rendered}\n```"
        turns.append(("user", opening))
        turns.extend(conversation(example.rounds, me, skip=""))
    if turns:
        turns.append(("user", CURRENT_START))
    return turns
