"""The HTTP API: ``create_app(service)`` is the ASGI application ``weaver serve`` runs.

Every route under ``/v1`` needs a user's token (``Authorization: Bearer TOKEN``, or the
``weaver_token`` cookie ``POST /v1/login`` sets for a browser); ``/healthz`` and the OpenAPI
schema (``/openapi.json``, ``/docs``) do not. Errors are JSON, ``{"detail", "error_type"}``.

Extensions add routes, pages or a whole web UI through the ``weaver_server_mount`` hook,
called with the application once its own routes are in place; the service is
``app.state.weaver`` and :func:`weaver_server.auth.current_user` is the dependency that gives
a route the user of the request.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException

from weaver.approvals import Decision
from weaver.errors import ConfigError, SessionNotFoundError, WeaverError
from weaver.serde import to_data
from weaver.store import SESSION_ID, InvalidSessionId
from weaver_server import files, views
from weaver_server.auth import COOKIE, current_user, login_response
from weaver_server.export import FORMATS, export
from weaver_server.names import InvalidName, check_name
from weaver_server.schemas import (
    Answered,
    AnswerIn,
    Cancelled,
    CostOut,
    ErrorOut,
    FileOut,
    LoginIn,
    MessageIn,
    RoundStarted,
    SessionDetail,
    SessionSummary,
    UserOut,
)
from weaver_server.service import Busy, Stopping, WeaverService
from weaver_server.stream import RETRY_MS, Item, sse_fields

API = "/v1"
ID = SESSION_ID.pattern
INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Media types a browser may show in place; anything else is sent as a download."""
ERRORS: dict[type[Exception], int] = {
    SessionNotFoundError: 404,
    files.FileNotInSession: 404,
    InvalidName: 422,
    InvalidSessionId: 422,
    files.UploadTooLarge: 413,
    Busy: 409,
    Stopping: 503,
    ConfigError: 503,
}
"""HTTP statuses of the errors the service raises; any other WeaverError is a 409."""

User = Annotated[str, Depends(current_user)]
SessionId = Annotated[str, PathParam(pattern=ID, max_length=128)]
OtherId = Annotated[str, PathParam(pattern=ID, max_length=128)]


def watchable(request: Request, user: User, session_id: SessionId) -> str:
    """The session id, once it is known to be the user's: an event stream's status goes out
    before its first event, so a missing session must be found out before."""
    request.app.state.weaver.hub_for(user, session_id)
    return session_id


Watched = Annotated[str, Depends(watchable)]


def create_app(service: WeaverService, *, mount: bool = True) -> FastAPI:
    """The ASGI application over ``service``; ``mount`` lets extensions add to it (``weaver_server_mount``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            await service.close()

    config = service.config
    app = FastAPI(
        title="Weaver",
        summary="Sessions, rounds, live events, files, approvals and exports of a Weaver service.",
        version="1",
        lifespan=lifespan,
        max_body_size=config.max_request_bytes,
        responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    app.state.weaver = service
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    for error, status in ERRORS.items():
        app.add_exception_handler(error, _handler(status))
    app.add_exception_handler(WeaverError, _handler(409))
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(_routes(service), prefix=API)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """Whether the service runs (no token needed)."""
        return {"status": "stopping" if service.stopping else "ok"}

    if mount:
        service.app.hooks.server_mount(app)
    return app


def _handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "error_type": type(exc).__name__}, status_code=status)

    return handle


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = {401: "Unauthorized", 404: "NotFound", 413: "TooLarge", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    return JSONResponse(
        {"detail": str(exc.detail), "error_type": kind}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}" for error in exc.errors()
    )
    return JSONResponse({"detail": problems, "error_type": "ValidationError"}, status_code=422)


def _routes(service: WeaverService) -> APIRouter:
    router = APIRouter()

    # ---- who ------------------------------------------------------------------------

    @router.get("/me", tags=["users"])
    def me(user: User) -> UserOut:
        """The user the token belongs to."""
        return UserOut(user=user)

    @router.post("/login", tags=["users"], status_code=204)
    def login(body: LoginIn, request: Request) -> Response:
        """Exchange a token for an HttpOnly, SameSite=Strict cookie, for a browser front end
        (an ``EventSource`` cannot send headers)."""
        return login_response(service.users, body.token, secure=request.url.scheme == "https")

    @router.post("/logout", tags=["users"], status_code=204)
    def logout() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ---- sessions -------------------------------------------------------------------

    @router.get("/sessions", tags=["sessions"])
    def list_sessions(user: User) -> list[SessionSummary]:
        """The user's sessions, oldest first."""
        rows = [views.summary(service.record(user, session_id)) for session_id in service.session_ids(user)]
        rows.sort(key=lambda row: (row["created_at"] is None, row["created_at"] or 0.0, row["id"]))
        return [SessionSummary(**row) for row in rows]

    @router.post("/sessions", tags=["sessions"], status_code=201)
    async def create_session(user: User) -> SessionDetail:
        """Start an empty session."""
        session_id = await service.create(user)
        return SessionDetail(**service.describe(user, session_id))

    @router.get("/sessions/{session_id}", tags=["sessions"])
    def get_session(user: User, session_id: SessionId) -> SessionDetail:
        """The session: its rounds, the latest plan, the kernel's variables, usage, approvals waiting."""
        return SessionDetail(**service.describe(user, session_id))

    @router.delete("/sessions/{session_id}", tags=["sessions"], status_code=204)
    async def delete_session(user: User, session_id: SessionId) -> Response:
        """Cancel its round, stop its kernel and delete everything it stored."""
        await service.delete(user, session_id)
        return Response(status_code=204)

    @router.get("/sessions/{session_id}/cost", tags=["sessions"])
    def cost(user: User, session_id: SessionId) -> CostOut:
        """Tokens and money per role, per round and per model."""
        return CostOut(**views.cost(service.record(user, session_id)))

    @router.get("/sessions/{session_id}/export", tags=["sessions"])
    def export_session(
        user: User, session_id: SessionId, format: Annotated[str, Query(pattern="^(markdown|json|ipynb)$")] = "markdown"
    ) -> Response:
        """The session as Markdown, JSON (its rounds) or a Jupyter notebook."""
        record = service.record(user, session_id)
        suffix, media = FORMATS[format]
        body = export(record, service.paths(user, session_id).root, format)
        return Response(body, media_type=media, headers={"Content-Disposition": _disposition(f"{session_id}.{suffix}", True)})

    # ---- rounds ---------------------------------------------------------------------

    @router.post("/sessions/{session_id}/messages", tags=["rounds"], status_code=202)
    async def send(user: User, session_id: SessionId, body: MessageIn) -> RoundStarted:
        """Start a round; it runs in the background. Follow it on ``/events?after=`` the returned ``after``."""
        return RoundStarted(**await service.send(user, session_id, body.text, body.files))

    @router.get("/sessions/{session_id}/rounds/{round_id}", tags=["rounds"])
    def get_round(user: User, session_id: SessionId, round_id: OtherId) -> dict[str, Any]:
        """One round as weaver.model.Round JSON (a running one with its posts so far)."""
        for round in service.record(user, session_id).rounds:
            if round.id == round_id:
                return dict(to_data(round))
        raise HTTPException(404, f"no round {round_id!r} in this session")

    @router.post("/sessions/{session_id}/rounds/{round_id}/cancel", tags=["rounds"])
    def cancel(user: User, session_id: SessionId, round_id: OtherId) -> Cancelled:
        """Cancel the round: the model stream stops, the kernel is interrupted, the round ends cancelled."""
        if service.cancel(user, session_id, round_id):
            return Cancelled(cancelled=True)
        if not any(r.id == round_id for r in service.record(user, session_id).rounds):
            raise HTTPException(404, f"no round {round_id!r} in this session")
        return Cancelled(cancelled=False)

    @router.get("/sessions/{session_id}/events", tags=["rounds"], response_class=EventSourceResponse)
    async def events(
        user: User,
        session_id: Watched,
        after: Annotated[int | None, Query(ge=0, description="Send the events after this id (as Last-Event-ID).")] = None,
        last_event_id: Annotated[str | None, Header(pattern=r"^\d{1,18}$")] = None,
        round_id: Annotated[
            str | None, Query(pattern=ID, max_length=128, description="End the stream after this round's round_end.")
        ] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """The session's events as Server-Sent Events: ``event`` is the type, ``data`` the event
        envelope (weaver.events.Event JSON), ``id`` the place of a durable event in the log.

        Reconnect with ``Last-Event-ID`` (or ``?after=``) to get what was missed, replayed from
        the log. A ``resync`` event means this client fell behind: live events were dropped
        and what the log holds since ``data.after`` follows. Comments are heartbeats.
        """
        start = int(last_event_id) if last_event_id is not None else after or 0

        def until(item: Item) -> bool:
            return round_id is not None and item.type == "round_end" and f'"round_id":"{round_id}"' in item.data

        yield ServerSentEvent(retry=RETRY_MS, comment="weaver events")
        async for message in service.follow(user, session_id, start, until):
            yield ServerSentEvent(**sse_fields(message))

    # ---- approvals ------------------------------------------------------------------

    @router.get("/sessions/{session_id}/approvals", tags=["approvals"])
    def approvals(user: User, session_id: SessionId) -> list[dict[str, Any]]:
        """What the session is waiting for the user to approve (code or a plan), oldest first."""
        return [dict(to_data(r)) for r in service.pending_approvals(user, session_id)]

    @router.post("/sessions/{session_id}/approvals/{request_id}", tags=["approvals"])
    def answer(user: User, session_id: SessionId, request_id: OtherId, body: AnswerIn) -> Answered:
        """Approve, edit (``content`` is used instead) or reject (``reason`` is shown to the model)."""
        if body.decision == "edited" and body.content is None:
            raise HTTPException(422, "an edited answer needs the edited content")
        if not service.answer(user, session_id, request_id, Decision(body.decision), body.content, body.reason):
            raise HTTPException(404, f"no approval request {request_id!r} is waiting in this session")
        return Answered(answered=True)

    # ---- files ----------------------------------------------------------------------

    @router.put(
        "/sessions/{session_id}/uploads/{name}",
        tags=["files"],
        status_code=201,
        max_body_size=service.config.max_upload_bytes,
        openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    async def upload(user: User, session_id: SessionId, name: str, request: Request) -> FileOut:
        """Upload a file (the request body, as is) for the next message to take into the session."""
        return FileOut(**to_data(await service.upload(user, session_id, name, request.stream())))

    @router.get("/sessions/{session_id}/uploads", tags=["files"])
    def uploads(user: User, session_id: SessionId) -> list[FileOut]:
        """Uploads waiting for the next message."""
        return [FileOut(**to_data(info)) for info in files.staged(service.paths(user, session_id).root)]

    @router.delete("/sessions/{session_id}/uploads/{name}", tags=["files"], status_code=204)
    def remove_upload(user: User, session_id: SessionId, name: str) -> Response:
        root = service.paths(user, session_id).root
        if not files.remove_staged(root, check_name(name)):
            raise HTTPException(404, f"no upload {name!r} is waiting")
        return Response(status_code=204)

    for area in files.AREAS:
        _file_routes(router, service, area)
    return router


def _file_routes(router: APIRouter, service: WeaverService, area: str) -> None:
    what = "plots, tables and files the code saved as artifacts" if area == "artifacts" else "the kernel's working directory"

    @router.get(f"/sessions/{{session_id}}/{area}", tags=["files"], name=f"list_{area}", summary=f"List {area}")
    def list_area(user: User, session_id: SessionId) -> list[FileOut]:
        return [FileOut(**to_data(info)) for info in files.list_files(service.paths(user, session_id).root, files.AREAS[area])]

    list_area.__doc__ = f"Regular files in {what} (links and special files are not listed)."

    @router.get(f"/sessions/{{session_id}}/{area}/{{path:path}}", tags=["files"], name=f"get_{area}", summary=f"Download from {area}")
    def download(user: User, session_id: SessionId, path: str, download: bool = False) -> StreamingResponse:
        fd, status = service.open_file(user, session_id, area, path)
        name = path.rsplit("/", 1)[-1]
        media = files.media_type(name)
        inline = media in INLINE and not download
        headers = {
            "Content-Length": str(status.st_size),
            "Content-Disposition": _disposition(name, not inline),
            # Files the kernel wrote are the model's: never let one run script on the API's origin.
            "Content-Security-Policy": "sandbox",
            "X-Content-Type-Options": "nosniff",
        }
        return StreamingResponse(files.read_chunks(fd), media_type=media, headers=headers)

    download.__doc__ = f"One file from {what}; images are shown in place unless ``download`` is set."


def _disposition(name: str, attachment: bool) -> str:
    kind = "attachment" if attachment else "inline"
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
