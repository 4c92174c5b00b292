"""Few-shot example conversations in TaskWeaver's example YAML format, for a role's prompt.

.. code-block:: yaml

    enabled: true
    rounds:
      - user_query: count the rows of sales.csv
        state: finished
        post_list:
          - message: count the rows of sales.csv
            send_from: User
            send_to: Planner
            attachment_list: []
          - message: Load sales.csv and count its rows
            send_from: Planner
            send_to: CodeInterpreter
            attachment_list:
              - type: init_plan
                content: |-
                  1. load sales.csv
                  2. count the rows <sequentially depends on 1>

The Planner reads ``planner_examples/``, the CodeInterpreter ``code_generator_examples/``
(TaskWeaver's names), each in the project and in the project's ``examples/`` folder, where
TaskWeaver's sample project keeps them. Attachment types Weaver does not know (TaskWeaver's
``review``, say) are skipped. ``plugins`` (the plugins an example conversation calls, in
TaskWeaver's plugin YAML format) is read into :attr:`Example.plugins`; other keys
(``plugin_only``) are accepted and ignored.

**Every example is checked before it reaches a prompt.** A post the role would show as its
own reply becomes an assistant turn, so the role checks it with :func:`check_replies`
as it checks what the model writes (its reply schema and its own rules); a file that fails
is an :class:`ExampleError` naming the file and the post, never an invalid turn that
teaches the model a wrong format.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from weaver.errors import PluginLoadError, WeaverError
from weaver.llm.schema import schema_problems, without_ignored
from weaver.model import USER, Attachment, AttachmentType, Post, Round, as_tuple
from weaver.plugins.schema import PluginSchema
from weaver.plugins.taskweaver_format import describe, load_yaml
from weaver.replies import InvalidReply

_KNOWN_TYPES = frozenset(t.value for t in AttachmentType)
PARSED_FILES = 256
"""How many parsed example files are kept, by file and version."""


@attrs.define(eq=False)
class ExampleError(WeaverError):
    """An example file is not in the expected format, or shows a reply its role would
    refuse; ``where`` points into the file, ``kind`` names the role (``planner``)."""

    path: str = ""
    where: str = ""
    kind: str = ""

    def __str__(self) -> str:
        location = f"{self.path}: {self.where}" if self.where else self.path
        return f"{self.kind} example {location}: {self.message}".lstrip()


@attrs.frozen
class Example:
    """One example conversation and the file it came from."""

    path: str
    rounds: tuple[Round, ...] = attrs.field(converter=as_tuple)
    enabled: bool = True
    plugins: tuple[PluginSchema, ...] = ()
    """The plugins the conversation calls, from the file's ``plugins`` list."""

    @property
    def roles(self) -> frozenset[str]:
        """Every role alias its posts send from or to, ``User`` excepted."""
        names = {name for r in self.rounds for p in r.posts for name in (p.send_from, p.send_to)}
        return frozenset(names - {USER})

    def posts(self) -> Iterable[tuple[str, Post]]:
        """Every post with where it is in the file (``rounds[0].post_list[1]``)."""
        for i, item in enumerate(self.rounds):
            for j, post in enumerate(item.posts):
                yield f"rounds[{i}].post_list[{j}]", post


def example_dirs(project_dir: Path, names: Iterable[str], configured: Iterable[str]) -> list[Path]:
    """Where a role's examples are looked for: each of ``names`` in the project and in its
    ``examples/`` folder, then the configured folders (relative to the project)."""
    dirs = [base / name for name in names for base in (project_dir, project_dir / "examples")]
    dirs.extend(project_dir / Path(d).expanduser() for d in configured)
    return dirs


def load_examples(dirs: Iterable[Path], kind: str = "") -> list[Example]:
    """Every ``*.yaml`` / ``*.yml`` file in ``dirs`` (missing folders are skipped), by name;
    a malformed one raises :class:`ExampleError` naming it (``kind`` names the role)."""
    found: list[Example] = []
    for folder in dirs:
        if folder.is_dir():
            for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
                try:
                    found.append(load_example(path))
                except ExampleError as exc:
                    raise attrs.evolve(exc, kind=kind) from None
    return found


def load_example(path: Path) -> Example:
    """Read one example file; raise :class:`ExampleError` saying where it is malformed."""
    stat = path.stat()
    return _parse(path, (stat.st_mtime_ns, stat.st_size))


# Every session's roles read the same files, and parsing YAML is a new session's largest
# cost on the host: a file is parsed again only when it changed. The values are frozen.
@functools.lru_cache(maxsize=PARSED_FILES)
def _parse(path: Path, version: tuple[int, int]) -> Example:
    import yaml  # for its error type; PyYAML only for projects that have YAML files

    try:
        content = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExampleError(f"not valid YAML: {exc}", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExampleError(f"cannot be read: {exc}", path=str(path)) from None
    if not isinstance(content, Mapping) or not isinstance(content.get("rounds"), list):
        raise ExampleError("expected a mapping with a 'rounds' list", path=str(path))
    enabled = content.get("enabled", True)
    if not isinstance(enabled, bool):  # "false" in quotes is a true value to Python
        raise ExampleError(f"'enabled' must be true or false, got {enabled!r}", path=str(path))
    rounds = tuple(_round(path, f"rounds[{i}]", item) for i, item in enumerate(content["rounds"]))
    plugins = tuple(_plugin(path, f"plugins[{i}]", item) for i, item in enumerate(content.get("plugins") or ()))
    return Example(path=str(path), rounds=rounds, enabled=enabled, plugins=plugins)


def _mapping(path: Path, where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ExampleError("expected a mapping", path=str(path), where=where)
    return value


def _text(path: Path, where: str, data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None or isinstance(value, (dict, list)):
        raise ExampleError(f"'{key}' must be text", path=str(path), where=where)
    return str(value)


def _round(path: Path, where: str, value: Any) -> Round:
    data = _mapping(path, where, value)
    posts = data.get("post_list") or []
    if not isinstance(posts, list):
        raise ExampleError("'post_list' must be a list", path=str(path), where=where)
    return Round(
        user_query=_text(path, where, data, "user_query"),
        posts=tuple(_post(path, f"{where}.post_list[{i}]", item) for i, item in enumerate(posts)),
    )


def _post(path: Path, where: str, value: Any) -> Post:
    data = _mapping(path, where, value)
    items = data.get("attachment_list") or []
    if not isinstance(items, list):
        raise ExampleError("'attachment_list' must be a list", path=str(path), where=where)
    attachments = []
    for i, item in enumerate(items):
        spot = f"{where}.attachment_list[{i}]"
        entry = _mapping(path, spot, item)
        kind = _text(path, spot, entry, "type")
        if kind in _KNOWN_TYPES:
            attachments.append(Attachment(AttachmentType(kind), str(entry.get("content") or "")))
    return Post(
        send_from=_text(path, where, data, "send_from"),
        send_to=_text(path, where, data, "send_to"),
        message=str(data.get("message") or ""),
        attachments=tuple(attachments),
    )


def _plugin(path: Path, where: str, value: Any) -> PluginSchema:
    def fail(message: str, name: str = "") -> PluginLoadError:
        return PluginLoadError(message, name=name)

    try:
        schema, _, _ = describe(value, fail)
    except PluginLoadError as exc:
        raise ExampleError(f"plugin {exc.name or '?'}: {exc.message}", path=str(path), where=where) from None
    return schema


def usable(examples: Iterable[Example], enabled_roles: Iterable[str]) -> list[Example]:
    """The examples that are enabled and mention only roles in ``enabled_roles``."""
    enabled = frozenset(enabled_roles)
    return [e for e in examples if e.enabled and e.roles <= enabled]


def check_replies(
    example: Example,
    me: str,
    kind: str,
    reply_of: Callable[[Post], Mapping[str, Any]],
    schema: Mapping[str, Any],
    validate: Callable[[Any], object],
) -> None:
    """Check every post ``me`` sends in the example, the replies a prompt shows as ``me``'s
    own: ``reply_of(post)`` (the JSON the turn will hold) against ``schema`` with the checker
    the LLM layer applies to the model's replies, then ``validate`` (the role's own rules).
    A reply either refuses is an :class:`ExampleError` naming the file and the post."""
    for where, post in example.posts():
        if post.send_from != me:
            continue
        data = reply_of(post)
        problems = schema_problems(without_ignored(data, schema), schema)
        if problems:
            message = f"this reply of {me} does not match its reply format: {'; '.join(problems)}"
            raise ExampleError(message, path=example.path, where=where, kind=kind)
        try:
            validate(data)
        except InvalidReply as exc:
            message = f"this reply of {me} would be sent back for correction: {exc.feedback}"
            raise ExampleError(message, path=example.path, where=where, kind=kind) from None
