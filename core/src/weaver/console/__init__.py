"""The terminal view of sessions: what ``weaver chat``, ``run``, ``demo`` and ``sessions`` print.

:class:`LiveView` subscribes to an app's event stream and renders each role's post as it
streams, with a status line; :mod:`weaver.console.blocks` turns posts and rounds into
renderables (shared by the live view and ``weaver sessions show``);
:mod:`weaver.console.transcript` writes a session as Markdown.

This package uses ``rich``; nothing outside the CLI imports it, so ``import weaver`` and
``weaver --help`` never load it.
"""

from __future__ import annotations

from weaver.console.live import LiveView, make_console

__all__ = ["LiveView", "make_console"]
