"""The session engine: ``App`` → ``app.session()`` → ``session.send_message(text) -> Round``.

Modules, one job each: :mod:`~weaver.engine.loop` (the event loop thread),
:mod:`~weaver.engine.app` (configuration, extensions, sessions),
:mod:`~weaver.engine.session` (one conversation and the ports it hands roles and hooks),
:mod:`~weaver.engine.driver` (routing one round's posts) and
:mod:`~weaver.engine.accounting` (usage from ``llm_call`` events).
"""

from __future__ import annotations

from weaver.engine.app import App
from weaver.engine.session import Session
from weaver.errors import RoundStopped

__all__ = ["App", "RoundStopped", "Session"]
