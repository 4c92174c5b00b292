"""Human approval before code runs or a plan is carried out: the requests, the answers, the policy.

When a policy says a person must look first (``[approval] code = "always"``, ``"risky"``,
``[approval] plugin_calls``, or an extension's ``weaver_approval_required`` hook giving a reason), the session publishes an
:class:`ApprovalRequest` as a durable ``approval_request`` event and waits. A front end (the
chat prompt, the HTTP API, the web UI) answers with :meth:`weaver.Session.answer`: approve,
edit (the edited text is used instead) or reject with a reason the model is shown. No answer
within ``[approval] timeout_s`` is a rejection. Either way the :class:`ApprovalAnswer` is a
durable ``approval`` event, so the log says who decided what.

What "risky" means here is :func:`risky_reasons`: code that writes files, imports a library
that talks to the network, or calls a plugin that costs money per call; an extension adds its
own reasons through the hook.
"""

from __future__ import annotations

import ast
import enum

import attrs

from weaver.model import new_id

NETWORK_MODULES = frozenset(
    {
        "requests", "urllib", "urllib3", "httpx", "aiohttp", "socket", "http", "ftplib", "smtplib",
        "imaplib", "poplib", "telnetlib", "paramiko", "boto3", "botocore", "websockets", "websocket",
    }
)  # fmt: skip
"""Libraries whose import means the code may talk to another machine."""
WRITING_METHODS = frozenset(
    {
        "to_csv", "to_excel", "to_parquet", "to_json", "to_pickle", "to_feather", "to_hdf", "to_sql",
        "to_stata", "to_orc", "write_text", "write_bytes", "unlink", "rmdir", "rename", "replace",
        "mkdir", "touch", "savez", "save", "tofile", "dump",
    }
)  # fmt: skip
"""Method names that write, move or delete files."""


class ApprovalKind(str, enum.Enum):
    code = "code"
    plan = "plan"
    plugin_call = "plugin_call"
    """A host plugin's call from running code (``content`` is the call, arguments summarized);
    an edited answer approves the call as it was."""


class Decision(str, enum.Enum):
    approved = "approved"
    edited = "edited"
    rejected = "rejected"


@attrs.frozen
class ApprovalRequest:
    """What a person is asked to approve: ``content`` is the code or the plan, ``reasons`` why."""

    kind: ApprovalKind = attrs.field(converter=ApprovalKind)
    content: str
    reasons: tuple[str, ...] = ()
    role: str = ""
    round_id: str | None = None
    step: str | None = None
    id: str = attrs.field(factory=lambda: new_id("appr"))


@attrs.frozen
class ApprovalAnswer:
    """The answer to one request: ``content`` is what goes on (the edited text when edited).

    ``by`` is who decided: ``user`` (a person, through a front end) or ``timeout``.
    """

    request_id: str
    decision: Decision = attrs.field(converter=Decision)
    content: str = ""
    reason: str = ""
    by: str = "user"

    @property
    def approved(self) -> bool:
        return self.decision is not Decision.rejected


def risky_reasons(code: str, costly_plugins: frozenset[str] = frozenset()) -> list[str]:
    """Why ``code`` deserves a person's look under ``code = "risky"`` (empty: it does not).

    Code that does not parse is not judged here: the verifiers refuse it before any approval.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    reasons: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.split(".")[0] in NETWORK_MODULES:
                    reasons[f"it imports {name}, which can talk to the network"] = None
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in WRITING_METHODS:
                reasons[f"it calls .{func.attr}(), which writes, moves or deletes files"] = None
            elif isinstance(func, ast.Name) and func.id == "open" and _opens_for_writing(node):
                reasons["it opens a file for writing"] = None
            elif isinstance(func, ast.Name) and func.id in costly_plugins:
                reasons[f"it calls the plugin {func.id}, which costs money per call"] = None
    return list(reasons)


def _opens_for_writing(call: ast.Call) -> bool:
    modes = [call.args[1]] if len(call.args) > 1 else [k.value for k in call.keywords if k.arg == "mode"]
    return any(not isinstance(m, ast.Constant) or set(str(m.value)) & set("wax+") for m in modes)
