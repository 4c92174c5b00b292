"""weaver-web-ui: the web UI for analysts, served by ``weaver serve`` at ``/ui``.

A Gradio page mounted on the service's own ASGI application through the
``weaver_server_mount`` hook. It is a client of the service (``app.state.weaver``): each
person logs in with their token and sees their own sessions only; a round's events come
from the service's event stream, files from the session's areas through the API's own
download routes.

Modules, one job each: :mod:`~weaver_web_ui.transcript` (a session's events folded into
rounds, steps and code cells), :mod:`~weaver_web_ui.tables` (tables out of what code
displayed or saved), :mod:`~weaver_web_ui.render` (a transcript as chat messages and
panels), :mod:`~weaver_web_ui.live` (the event stream in batches), :mod:`~weaver_web_ui.page`
(the page and what each control does), :mod:`~weaver_web_ui.login` (the login page and the
gate before the page) and :mod:`~weaver_web_ui.mount` (putting it all on the service).

This module is the entry point and stays light: Gradio is imported when the service is built.
"""

from __future__ import annotations

from typing import Any

from weaver.hookspecs import hookimpl

PATH = "/ui"
"""Where the page is served."""


@hookimpl
def weaver_server_mount(app: Any) -> None:
    from weaver_web_ui.mount import mount

    mount(app, PATH)
