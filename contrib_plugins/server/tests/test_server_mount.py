"""The ``weaver_server_mount`` hook: an extension's routes are added to the service's
application after the API, may use the service and its user dependency, and stay out of the
way of the API; a hook that fails keeps the service from starting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import httpx2
import pytest
from fastapi import Depends, FastAPI

import weaver
from weaver.errors import WeaverError
from weaver_server.api import create_app
from weaver_server.auth import current_user
from weaver_server.config import ServerConfig
from weaver_server.service import WeaverService
from weaver_server.users import load_users

TOKEN = "alice-token-0123456789abcdef"


class Hello:
    """An extension with a page of its own that says whose it is and how many sessions they have."""

    def __init__(self) -> None:
        self.api_before = ""

    @weaver.hookimpl
    def weaver_server_mount(self, app: FastAPI) -> None:
        self.api_before = str(app.url_path_for("get_session", session_id="s"))
        service: WeaverService = app.state.weaver

        @app.get("/hello", include_in_schema=False)
        def hello(user: Annotated[str, Depends(current_user)]) -> dict[str, Any]:
            return {"user": user, "sessions": len(service.session_ids(user))}


class Broken:
    @weaver.hookimpl
    def weaver_server_mount(self, app: FastAPI) -> None:
        raise WeaverError("the page's templates are missing")


def get(app: FastAPI, path: str, token: str | None = TOKEN) -> httpx2.Response:
    """``GET path`` from the application, through its ASGI interface."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def request() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://weaver.test") as http:
            return await http.get(path, headers=headers)

    return asyncio.run(request())


def service_of(make_app: Callable[..., weaver.App]) -> WeaverService:
    return WeaverService(make_app(), ServerConfig(), load_users([f"alice:{TOKEN}"], None))


def test_hook_weaver_server_mount(make_app: Callable[..., weaver.App], register_extension: Callable[..., object]) -> None:
    hello = Hello()
    register_extension(hello)
    app = create_app(service_of(make_app))
    assert hello.api_before == "/v1/sessions/s", "called once the API is in place"
    assert get(app, "/hello").json() == {"user": "alice", "sessions": 0}
    assert get(app, "/v1/me").json() == {"user": "alice"}, "the API is still there"
    assert "/hello" not in get(app, "/openapi.json").json()["paths"]
    assert get(app, "/hello", token=None).status_code == 401, "the extension's route is held to the tokens too"
    assert get(create_app(service_of(make_app), mount=False), "/hello").status_code == 404, "mount=False: nothing added"


def test_a_mount_hook_that_fails_keeps_the_service_from_starting(
    make_app: Callable[..., weaver.App], register_extension: Callable[..., object]
) -> None:
    register_extension(Broken())
    with pytest.raises(WeaverError, match="templates are missing"):
        create_app(service_of(make_app))
