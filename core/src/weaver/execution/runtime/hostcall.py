"""Host plugins inside the kernel: typed stubs whose calls the host answers.

A host plugin runs on the host, with its configuration and secrets; the kernel holds only
a stub with the plugin's signature and docstring. Calling the stub sends the arguments to
the host and waits for the result, over Jupyter's **stdin channel**: the stub asks the
kernel's front end (the host) with an ``input_request`` whose prompt is
:data:`CALL_PREFIX` followed by the call as JSON, and the host's ``input_reply`` carries the
answer as JSON.

Why the stdin channel and not a comm: ipykernel handles shell-channel messages, comm
messages included, one at a time, and a cell that is executing holds the shell loop, so a
comm reply from the host would only be read after the cell that waits for it has ended.
``input_request``/``input_reply`` is the exchange Jupyter designed for a kernel asking its
front end during an execution: ipykernel sends the request and polls the stdin socket
itself (``Kernel._input_request``), interruptibly, and every Jupyter transport carries it
(ZeroMQ locally and in a sandbox, the websocket of a Kernel or Enterprise Gateway).

Nothing here is trusted by the host: the host counts, approves, logs and runs each call
whatever the kernel does (rebinding a stub, calling the channel directly), so kernel code
can neither forge a result nor skip the plugin budget. Arguments and results are encoded by
:mod:`weaver.plugins.wire` (JSON; DataFrames by column), never pickled.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

CALL_PREFIX = "\x1eweaver-host-call/1 "
"""What starts the prompt of an ``input_request`` that is a host-plugin call (a record
separator first, so no prompt a person would write starts with it)."""
SEARCH_NAME = "weaver_tools"
"""The kernel name of the plugin search helper (:class:`ToolSearch`)."""


class PluginCallError(Exception):
    """A host plugin's call failed on the host: ``plugin`` is its name, ``error_type`` the
    exception's class there, ``message`` what it said (secrets of its configuration masked)."""

    def __init__(self, plugin: str, error_type: str, message: str) -> None:
        super().__init__(f"{plugin}: {error_type}: {message}")
        self.plugin = plugin
        self.error_type = error_type
        self.message = message


class PluginCallRejected(PluginCallError):
    """A person (or an approval timeout) refused a host plugin's call."""


class _Default:
    """A default value as the model reads it in the signature; the host applies the real one."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def stub_signature(parameters: Iterable[Mapping[str, Any]], returns: str) -> inspect.Signature:
    """The signature a stub shows (``help(plugin)``), from the schema's parameters."""
    params = [
        inspect.Parameter(
            p["name"],
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=inspect.Parameter.empty if p["required"] else _Default(p["default"] or "None"),
            annotation=p["type"],
        )
        for p in parameters
    ]
    return inspect.Signature(params, return_annotation=returns)


class HostChannel:
    """Sends calls to the host through the running kernel's stdin channel."""

    def __init__(self, ask: Callable[[str], str], encode: Callable[[Any], str], decode: Callable[[Any], Any]) -> None:
        """``ask(prompt)`` is the kernel's ``raw_input``; ``encode`` makes the request JSON text,
        ``decode`` turns the JSON data of a result back into its value."""
        self._ask = ask
        self._encode = encode
        self._decode = decode
        self._calls = 0

    def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Call host plugin ``name`` with ``arguments`` (by parameter name); its result, or
        the exception the host reports."""
        self._calls += 1
        call_id = f"{self._calls}"
        request = self._encode({"id": call_id, "plugin": name, "arguments": dict(arguments)})
        try:
            answer = json.loads(self._ask(CALL_PREFIX + request))
        except EOFError:
            raise PluginCallError(name, "EOFError", "this kernel's front end does not answer host plugin calls") from None
        if not isinstance(answer, dict) or answer.get("id") != call_id:
            raise PluginCallError(name, "ProtocolError", "the host's answer was not for this call")
        if "error" in answer:
            error = answer["error"]
            kind = error.get("kind")
            if kind == "budget":
                from weaver.execution.runtime.plugins import PluginBudgetExceeded

                raise PluginBudgetExceeded(error["message"], budget=error.get("budget", 0), calls=error.get("calls", {}), results=[])
            cls = PluginCallRejected if kind == "rejected" else PluginCallError
            raise cls(name, str(error.get("type", "Error")), str(error.get("message", "")))
        if answer.get("warning"):
            sys.stderr.write(f"weaver: {answer['warning']}\n")
        return self._decode(answer["result"])


def make_stub(
    info: Mapping[str, Any], channel: HostChannel, on_result: Callable[[Any], None], on_error: Callable[[Exception], None]
) -> Callable[..., Any]:
    """The callable generated code sees for host plugin ``info["name"]``: same signature and
    docstring as the model reads, arguments checked here, the call answered by the host."""
    name = info["name"]
    signature = stub_signature(info["parameters"], info["returns"])

    def stub(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)  # no defaults applied: the host applies the real ones
        except TypeError as exc:
            raise TypeError(f"{name}{signature}: {exc}") from None
        try:
            result = channel.call(name, bound.arguments)
        except Exception as exc:
            on_error(exc)
            raise
        on_result(result)
        return result

    stub.__name__ = stub.__qualname__ = name.rpartition(".")[2]
    stub.__doc__ = info.get("doc") or ""
    stub.__signature__ = signature  # type: ignore[attr-defined]
    stub.__module__ = "weaver.host_plugins"
    stub.__wrapped_host_plugin__ = name  # type: ignore[attr-defined]
    return stub


class Namespace(types.SimpleNamespace):
    """The tools of one plugin source (an MCP server), as attributes: ``github.search_issues(...)``."""

    def __init__(self, name: str, description: str = "") -> None:
        super().__init__()
        object.__setattr__(self, "_weaver_name", name)
        object.__setattr__(self, "__doc__", description or f"The tools of {name}; weaver_tools.search() finds them.")

    def __repr__(self) -> str:
        tools = sorted(k for k in vars(self) if not k.startswith("_"))
        return f"<tools of {self._weaver_name}: {', '.join(tools)}>"


def bind(namespace: dict[str, Any], name: str, stub: Callable[..., Any], description: str = "") -> str:
    """Put ``stub`` at ``name`` in ``namespace``; a dotted name goes into a :class:`Namespace`.
    Returns the top-level name bound."""
    head, _, tail = name.partition(".")
    if not tail:
        namespace[head] = stub
        return head
    group = namespace.get(head)
    if not isinstance(group, Namespace):
        group = namespace[head] = Namespace(head, description)
    setattr(group, tail, stub)
    return head


class ToolSearch:
    """``weaver_tools``: find the plugins this kernel has, instead of reading every schema.

    ``weaver_tools.search("issues")`` lists the signatures and first lines of the plugins
    whose name or description has every word; ``weaver_tools.help("github.search_issues")``
    prints one plugin's whole docstring; ``weaver_tools.sources()`` names the sources.
    """

    def __init__(self, entries: Iterable[Mapping[str, Any]]) -> None:
        self._entries = {e["name"]: e for e in entries}

    def search(self, query: str = "", limit: int = 10) -> list[str]:
        """Signatures with their first line, for plugins matching every word of ``query``."""
        words = [w for w in re.split(r"\W+", query.lower()) if w]
        found = []
        for name, entry in sorted(self._entries.items()):
            text = f"{name} {entry.get('doc', '')}".lower().replace("_", " ")
            if all(word in text or word in name.lower() for word in words):
                first = (entry.get("doc") or "").strip().splitlines()
                found.append(f"{entry['signature']}  # {first[0] if first else ''}".rstrip(" #"))
        return found[: max(0, int(limit))]

    def help(self, name: str) -> str:
        """One plugin's signature and whole docstring."""
        entry = self._entries.get(name)
        if entry is None:
            close = self.search(name.rpartition(".")[2], limit=5)
            return f"no plugin {name!r}" + (f"; similar: {', '.join(c.split('(')[0] for c in close)}" if close else "")
        return f"{entry['signature']}\n\n{entry.get('doc', '')}"

    def sources(self) -> list[str]:
        """The plugin sources (MCP servers) whose tools are here, by name."""
        return sorted({name.partition(".")[0] for name in self._entries if "." in name})

    def __repr__(self) -> str:
        return f"<weaver_tools: {len(self._entries)} plugins; search(query), help(name), sources()>"
