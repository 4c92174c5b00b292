"""The Weaver runtime inside the kernel.

Loaded into every kernel at start (``install``), it binds plugins into the namespace,
counts their calls, caps output, saves matplotlib figures as PNG artifacts and reports
after each execution. Everything it tells the host travels as JSON display data with the
MIME types below; the host never unpickles anything from a kernel.

Only the standard library is imported here: the host imports this module for the MIME
types, and the kernel imports it before any library the code uses.
"""

from __future__ import annotations

from weaver.execution.runtime.plugins import PluginBudgetExceeded, PluginContext, context

SETUP_MIME = "application/vnd.weaver.setup+json"
"""Published once when a session is set up in the kernel: which plugins loaded and which
failed, or (``error``) why the setup itself failed."""
REPORT_MIME = "application/vnd.weaver.report+json"
"""Published after every execution: plugin calls, artifacts, variables, what was cut."""
TRANSFER_MIME = "application/vnd.weaver.transfer+json"
"""Published by :mod:`weaver.execution.runtime.transfer` in answer to the host's file
operations on a kernel that does not share the host's disk."""
SETUP_KEY = "weaver_setup"
"""The execute request metadata key that carries a session's setup to a kernel on hold, so
that the setup and the session's first code travel in one request (see
:class:`weaver.execution.runtime.session.Hold`)."""
BUDGET_KEY = "weaver_plugin_budget"
"""The execute request metadata key with what is left of the plugin call budget's scope for
this execution: ``{"budget": 25, "scope": "step", "left": {"get_price": 3}}`` (a plugin not
in ``left`` has the whole budget). The host keeps the count across executions."""

__all__ = [
    "BUDGET_KEY",
    "REPORT_MIME",
    "SETUP_KEY",
    "SETUP_MIME",
    "TRANSFER_MIME",
    "PluginBudgetExceeded",
    "PluginContext",
    "context",
    "install",
]


def install(setup_json: str) -> None:
    """Set the kernel up for one session (see :class:`weaver.execution.setup.KernelSetup`)."""
    from weaver.execution.runtime.session import install as _install

    _install(setup_json)
