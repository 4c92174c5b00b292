"""A session exported as Markdown, JSON or a Jupyter notebook, from its log.

The notebook is for carrying on in Jupyter: one code cell per execution, in the order they
ran, with its outputs (stdout, stderr, rich displays, figures, the value, the error), and
markdown cells for the user's requests, the plan whenever it changes, code a person
rejected, and the answers. Figures and tables are embedded from the session's artifacts,
read without following links; nothing outside the session's ``artifacts/`` is read, whatever
path an execution result names.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from nbformat import v4

from weaver.console.transcript import fence, session_markdown
from weaver.events import EventType
from weaver.model import USER, AttachmentType, Post
from weaver.serde import from_data, to_data
from weaver_server.files import read_bytes
from weaver_server.names import InvalidName, check_path
from weaver_server.views import SessionRecord

FORMATS = {"markdown": ("md", "text/markdown"), "json": ("json", "application/json"), "ipynb": ("ipynb", "application/x-ipynb+json")}
"""Export formats: file extension and media type."""
MAX_EMBEDDED_BYTES = 8 * 2**20
"""A figure or table larger than this is named in the notebook, not embedded."""
_EMBEDDED = {"image/png": "binary", "image/jpeg": "binary", "image/gif": "binary", "image/svg+xml": "text", "text/html": "text"}


def export(record: SessionRecord, root: Path, fmt: str) -> str:
    """The session in ``fmt`` (one of :data:`FORMATS`) as text."""
    if fmt == "markdown":
        return session_markdown(record.id, record.rounds)
    if fmt == "json":
        return json.dumps([to_data(r) for r in record.rounds], indent=2, ensure_ascii=False) + "\n"
    return nbformat.writes(notebook(record, root))


def notebook(record: SessionRecord, root: Path) -> nbformat.NotebookNode:
    """The session as an nbformat 4 notebook, validated."""
    nb = v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "weaver": {"session_id": record.id},
        }
    )
    nb.cells = [v4.new_markdown_cell(f"# Weaver session {record.id}")] + list(_cells(record, root))
    nbformat.validate(nb)
    return nb


def _cells(record: SessionRecord, root: Path) -> Iterator[nbformat.NotebookNode]:
    shown_plan: str | None = None
    asked: dict[str, Any] = {}
    """The latest approval request: what a rejection that follows refers to."""
    executed = 0
    rounds = 0
    for event in record.events:
        if event.type is EventType.round_start:
            rounds += 1
            yield v4.new_markdown_cell(f"## {rounds}. {_quote(str(event.data.get('user_query', '')))}")
        elif event.type is EventType.post_end:
            post = from_data(event.data["post"], Post)
            if post.send_from == USER:
                files = [a.content for a in post.attachments if a.type is AttachmentType.file]
                if files:
                    yield v4.new_markdown_cell("Files: " + ", ".join(f"`{name}`" for name in files))
                continue
            plan = post.attachment(AttachmentType.plan)
            if plan is not None and plan.content.strip() != shown_plan:
                shown_plan = plan.content.strip()
                yield v4.new_markdown_cell(f"**Plan** ({post.send_from})\n\n{shown_plan}")
            if post.send_to == USER and post.message.strip():
                yield v4.new_markdown_cell(f"**Answer** ({post.send_from})\n\n{post.message.strip()}")
        elif event.type is EventType.execution:
            executed += 1
            yield _code_cell(event.data.get("result", {}), executed, root)
        elif event.type is EventType.approval_request:
            asked = dict(event.data.get("request", {}))
        elif event.type is EventType.approval:
            answer = event.data.get("answer", {})
            if answer.get("decision") == "rejected":
                yield v4.new_markdown_cell(
                    f"*Not run: this {asked.get('kind', 'code')} was rejected by the {answer.get('by', 'user')}: "
                    f"{answer.get('reason', '')}*\n\n{fence(str(asked.get('content', '')))}"
                )
        elif event.type is EventType.round_end:
            ended = event.data.get("round", {})
            if ended.get("state") != "finished":
                yield v4.new_markdown_cell(f"*The round ended {ended.get('state')}: {ended.get('reason') or ''}*")


def _quote(text: str) -> str:
    return text.strip().replace("\n", "  \n")


def _code_cell(result: dict[str, Any], number: int, root: Path) -> nbformat.NotebookNode:
    outputs = []
    for name in ("stdout", "stderr"):
        if result.get(name):
            outputs.append(v4.new_output("stream", name=name, text=result[name]))
    embedded: set[str] = set()
    for display in result.get("displays", ()):
        data = {"text/plain": display.get("text", "")}
        artifact = display.get("artifact")
        if artifact:
            data.update(_embedded(artifact, _mime_of(artifact, display.get("mimes", ())), root))
            embedded.add(artifact)
        outputs.append(v4.new_output("display_data", data=data))
    for artifact in result.get("artifacts", ()):
        path = artifact.get("path", "")
        if path in embedded or artifact.get("mime") not in _EMBEDDED:
            continue
        data = _embedded(path, artifact["mime"], root)
        if data:
            outputs.append(v4.new_output("display_data", data={"text/plain": f"<{Path(path).name}>", **data}))
    if result.get("value_repr") is not None:
        outputs.append(v4.new_output("execute_result", data={"text/plain": result["value_repr"]}, execution_count=number))
    error = result.get("error")
    if error:
        outputs.append(
            v4.new_output(
                "error",
                ename=error.get("type", "Error"),
                evalue=error.get("message", ""),
                traceback=(error.get("traceback") or "").splitlines(),
            )
        )
    metadata = {} if result.get("ok", True) else {"tags": ["weaver-failed"]}
    return v4.new_code_cell(result.get("code", ""), execution_count=number, outputs=outputs, metadata=metadata)


def _mime_of(path: str, mimes: Any) -> str:
    suffix = Path(path).suffix.lower()
    by_suffix = {".png": "image/png", ".svg": "image/svg+xml", ".html": "text/html", ".jpg": "image/jpeg", ".gif": "image/gif"}
    return by_suffix.get(suffix) or next((m for m in mimes if m in _EMBEDDED), "")


def _embedded(path: str, mime: str, root: Path) -> dict[str, str]:
    """``{mime: data}`` for an artifact of this session, or nothing (elsewhere, too big, gone)."""
    prefix = f"{root / 'artifacts'}/"
    if mime not in _EMBEDDED or not path.startswith(prefix):
        return {}
    try:
        parts = check_path(path[len(prefix) :])
    except InvalidName:
        return {}
    content = read_bytes(root, ("artifacts", *parts), MAX_EMBEDDED_BYTES)
    if content is None:
        return {}
    if _EMBEDDED[mime] == "binary":
        return {mime: base64.b64encode(content).decode("ascii")}
    return {mime: content.decode("utf-8", "replace")}
