"""Putting the page on the service: the login page, then Gradio behind the cookie gate.

Gradio's ``auth_dependency`` makes every one of its routes (the page, its config, its
event queue, its uploads) the API's user or a 401; :func:`~weaver_web_ui.login.gate` sends a
person who opens the page without a cookie to the login page instead of showing a 401.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.routing import Mount

from weaver_web_ui.login import PAGE, gate, user_of
from weaver_web_ui.page import CSS, HEAD, Page

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate")


def mount(app: FastAPI, path: str) -> None:
    """Serve the page for ``app.state.weaver`` at ``path`` (and its login page at ``path/login``)."""
    service = app.state.weaver

    @app.get(f"{path}/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})

    blocks = Page(service).build()
    gr.mount_gradio_app(
        app,
        blocks,
        path=path,
        auth_dependency=lambda request: user_of(request, service.users),
        ssr_mode=False,
        footer_links=[],
        max_file_size=service.config.max_upload_bytes,
        theme=THEME,
        css=CSS,
        head=HEAD,
    )
    mounted: Any = next(r for r in reversed(app.router.routes) if isinstance(r, Mount) and r.path == path)
    mounted.app = gate(mounted.app, service.users)
