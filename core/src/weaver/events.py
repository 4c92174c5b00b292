"""The event stream: what a session reports while it works.

Every event has the same envelope (:class:`Event`); ``type`` says what happened and ``data``
carries the facts as JSON values. The schema is versioned by :data:`SCHEMA_VERSION`; a
change that removes or renames a key bumps it, adding a key does not.

========================  ===========================================================
type                      data
========================  ===========================================================
``round_start``           ``user_query``
``round_end``             ``round`` (the Round as JSON, without its posts: each post is
                          in its own ``post_end``, so the log holds it once), ``post_ids``
``post_start``            ``send_from``, ``send_to`` (may change before ``post_end``)
``attachment_delta``      ``attachment_id``, ``type``, ``delta`` (text to append)
``attachment``            ``attachment`` (a complete Attachment as JSON)
``message_delta``         ``delta``
``send_to``               ``send_to`` (the recipient, once the role knows it)
``post_end``              ``post`` (the complete Post as JSON)
``status``                ``message`` (e.g. "calling the model", "executing code")
``error``                 ``message``, ``error_type``
``usage``                 ``usage`` (this call), ``model``, ``role``
``llm_call``              ``model``, ``role``, ``usage``, ``latency_s``, ``outcome``
``output``                ``stream`` (``stdout`` or ``stderr``), ``text``, ``role``: what
                          running code prints, as it prints it (within the output caps)
``execution``             ``result`` (an execution result as JSON; also for an execution
                          a cancel cut short, with what it printed until then)
``state``                 ``key``, ``value``: an extension's state for this session
                          (:meth:`weaver.context.HookContext.persist`), JSON values
``approval_request``      ``request``: what a person is asked to approve (code, a plan)
                          and why (:mod:`weaver.approvals`)
``approval``              ``answer``: approved, edited or rejected, by whom, and why
``plugin_call``           ``plugin``, ``arguments`` (a short summary), ``ok``, ``error``,
                          ``duration_s``, ``result_chars``, ``cost``, ``replayed``: one
                          call of a host plugin from kernel code (:mod:`weaver.plugins.host`)
========================  ===========================================================

``round_start``, ``post_end``, ``round_end``, ``llm_call``, ``execution``, ``state``,
``approval_request``, ``approval`` and ``plugin_call`` are *durable*: the session store keeps them, and they
are enough to rebuild a session.

A session publishes the deltas of one streaming part joined, at most one event per part every
``[session] delta_interval_s`` (1/30 s), and always before its next event of another kind
(:mod:`weaver.engine.deltas`). :attr:`Event.json` is the event as the log stores it, built once.
"""

from __future__ import annotations

import enum
import functools
import json
import time
from collections.abc import Mapping
from typing import Any

import attrs

SCHEMA_VERSION = 2
"""2: ``round_end`` carries the round without its posts, and their ids."""


class EventType(str, enum.Enum):
    round_start = "round_start"
    round_end = "round_end"
    post_start = "post_start"
    attachment_delta = "attachment_delta"
    attachment = "attachment"
    message_delta = "message_delta"
    send_to = "send_to"
    post_end = "post_end"
    status = "status"
    error = "error"
    usage = "usage"
    llm_call = "llm_call"
    output = "output"
    execution = "execution"
    state = "state"
    approval_request = "approval_request"
    approval = "approval"
    plugin_call = "plugin_call"


DURABLE = frozenset(
    {
        EventType.round_start,
        EventType.post_end,
        EventType.round_end,
        EventType.llm_call,
        EventType.execution,
        EventType.state,
        EventType.approval_request,
        EventType.approval,
        EventType.plugin_call,
    }
)


@attrs.frozen
class Event:
    """One thing that happened in a session, in the versioned envelope."""

    type: EventType = attrs.field(converter=EventType)
    session_id: str
    round_id: str | None = None
    post_id: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)
    time: float = attrs.field(factory=lambda: round(time.time(), 6))
    v: int = SCHEMA_VERSION

    @property
    def durable(self) -> bool:
        return self.type in DURABLE

    @functools.cached_property
    def json(self) -> str:
        """The event as one line of JSON, as the session log stores it, built once for every
        reader that asks (the log, a front end streaming events over the network)."""
        envelope = {
            "type": self.type.value,
            "session_id": self.session_id,
            "round_id": self.round_id,
            "post_id": self.post_id,
            "data": self.data,
            "time": self.time,
            "v": self.v,
        }
        try:
            return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            # Data holding values only the converter knows how to write (an attrs value).
            from weaver.serde import to_json

            return to_json(self)
