"""Few-shot example conversations, in TaskWeaver's example YAML format.

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

A file is used only when ``enabled`` is true and every role its posts name is enabled in
the session, so an example never teaches the model to call a role that is not there.
Attachment types Weaver does not know (TaskWeaver's ``review``, say) are skipped: the
prompt shows only the reply fields, so nothing is lost. Keys other than ``enabled`` and
``rounds`` (``plugins``, ``plugin_only``) are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from weaver.errors import WeaverError
from weaver.model import USER, Attachment, AttachmentType, Post, Round, as_tuple

BUILTIN_DIR = Path(__file__).parent / "examples"
PROJECT_DIR_NAME = "planner_examples"
_KNOWN_TYPES = frozenset(t.value for t in AttachmentType)
_read: dict[Path, tuple[tuple[int, int], Example]] = {}
"""Examples already parsed, by file, with the file's (mtime, size) when it was read."""


@attrs.define(eq=False)
class ExampleError(WeaverError):
    """An example file is not in the expected format; ``where`` points into the file."""

    path: str = ""
    where: str = ""

    def __str__(self) -> str:
        location = f"{self.path}: {self.where}" if self.where else self.path
        return f"planner example {location}: {self.message}"


@attrs.frozen
class Example:
    """One example conversation and the file it came from."""

    path: str
    rounds: tuple[Round, ...] = attrs.field(converter=as_tuple)
    enabled: bool = True

    @property
    def roles(self) -> frozenset[str]:
        """Every role alias its posts send from or to, ``User`` excepted."""
        names = {name for r in self.rounds for p in r.posts for name in (p.send_from, p.send_to)}
        return frozenset(names - {USER})


def load_example(path: Path) -> Example:
    """Read one example file; raise :class:`ExampleError` saying where it is malformed."""
    import yaml

    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExampleError(f"not valid YAML: {exc}", path=str(path)) from None
    if not isinstance(content, Mapping) or not isinstance(content.get("rounds"), list):
        raise ExampleError("expected a mapping with a 'rounds' list", path=str(path))
    rounds = tuple(_round(path, f"rounds[{i}]", item) for i, item in enumerate(content["rounds"]))
    return Example(path=str(path), rounds=rounds, enabled=bool(content.get("enabled", True)))


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
    attachments = []
    for i, item in enumerate(data.get("attachment_list") or []):
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


def example_dirs(project_dir: Path, configured: Iterable[str], builtin: bool) -> list[Path]:
    """Where examples are looked for: the shipped ones, ``<project>/planner_examples``, then
    the configured folders (relative to the project)."""
    dirs = [BUILTIN_DIR] if builtin else []
    dirs.append(project_dir / PROJECT_DIR_NAME)
    dirs.extend(project_dir / Path(d).expanduser() for d in configured)
    return dirs


def load_examples(dirs: Iterable[Path]) -> list[Example]:
    """Every ``*.yaml`` / ``*.yml`` file in ``dirs`` (missing folders are skipped), by name.

    A file is parsed again only when it changed: every session's Planner reads the same
    examples, and parsing YAML is a new session's largest cost on the host.
    """
    found: list[Example] = []
    for folder in dirs:
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            found.extend(_load_once(p) for p in files)
    return found


def _load_once(path: Path) -> Example:
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    known = _read.get(path)
    if known is None or known[0] != version:
        known = _read[path] = (version, load_example(path))
    return known[1]


def usable(examples: Iterable[Example], enabled_roles: Iterable[str]) -> list[Example]:
    """The examples that are enabled and mention only roles in ``enabled_roles``."""
    enabled = frozenset(enabled_roles)
    return [e for e in examples if e.enabled and e.roles <= enabled]
