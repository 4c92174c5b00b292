"""The HTTP side of the client: one httpx2 client with the token, and the service's errors as Weaver's."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import httpx2

from weaver.errors import ConfigError, SessionNotFoundError, WeaverError
from weaver.events import Event
from weaver.store import InvalidSessionId, session_paths

if TYPE_CHECKING:
    from weaver.client.session import RemoteSession

TOKEN_ENV = "WEAVER_TOKEN"
API = "/v1"
TIMEOUT_S = 60.0
"""Connect, write and pool timeout of a request; reading an event stream waits as long as it takes."""
Subscriber = Callable[[Event], None]


@attrs.define(eq=False)
class ServiceError(WeaverError):
    """The service refused a request: its HTTP status and the kind of error it named."""

    status: int = 0
    error_type: str = ""


class Client:
    """A Weaver service at ``url``, as the ``token``'s user (default: ``$WEAVER_TOKEN``)."""

    def __init__(
        self, url: str, token: str | None = None, *, transport: httpx2.BaseTransport | None = None, timeout: float = TIMEOUT_S
    ) -> None:
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx2.Client(
            base_url=self.url + API,
            headers=headers,
            timeout=httpx2.Timeout(timeout, read=None),
            transport=transport,
        )
        self._subscribers: list[Subscriber] = []

    # ---- as an App --------------------------------------------------------------------

    @property
    def project_dir(self) -> str:
        """Where the sessions are: the service's address (what ``weaver chat`` shows)."""
        return self.url

    @property
    def workspace(self) -> Path:
        """A local folder for what the CLI keeps of this service (chat history, saved transcripts)."""
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "weaver" / "remote" / re.sub(r"[^A-Za-z0-9_.-]+", "_", self.url.split("://", 1)[-1])

    def user(self) -> str:
        """The user the token belongs to; raises at once when the token or the address is wrong."""
        return str(self.request("GET", "/me").json()["user"])

    def session(self) -> RemoteSession:
        """A new session on the service."""
        from weaver.client.session import RemoteSession  # the two modules refer to each other

        return RemoteSession(self, str(self.request("POST", "/sessions").json()["id"]))

    def resume(self, session_id: str) -> RemoteSession:
        """A stored session of the user's (:class:`SessionNotFoundError` when there is none)."""
        from weaver.client.session import RemoteSession  # as in session()

        check_id(session_id)
        self.request("GET", f"/sessions/{session_id}")
        return RemoteSession(self, session_id)

    def session_ids(self) -> list[str]:
        return [str(row["id"]) for row in self.request("GET", "/sessions").json()]

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event of this client's sessions while a round runs."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, event: Event) -> None:
        for callback in list(self._subscribers):
            callback(event)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests ---------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """Send a request; an error status becomes the matching :class:`WeaverError`."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx2.TransportError as exc:
            raise self.unreachable(exc) from None
        if response.is_error:
            raise error_of(response, self.url)
        return response

    def unreachable(self, exc: Exception) -> ConfigError:
        return ConfigError(f"cannot reach the Weaver service: {exc}", source=self.url)


def check_id(session_id: str) -> None:
    """Refuse an id that cannot be a session's before asking the service (as ``App.resume`` does)."""
    session_paths(Path("/"), session_id)


def error_of(response: httpx2.Response, url: str) -> WeaverError:
    """The :class:`WeaverError` for an error response of the service."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    message = detail if isinstance(detail, str) else (str(detail) if detail else response.reason_phrase)
    kind = str(body.get("error_type", "")) if isinstance(body, dict) else ""
    if kind == "SessionNotFoundError":
        return SessionNotFoundError(message)
    if kind == "InvalidSessionId":
        return InvalidSessionId(message)
    if response.status_code == 401:
        return ConfigError(f"the service refused the token ({message})", source=f"{url} ({TOKEN_ENV} or --token)")
    if kind == "ConfigError":
        return ConfigError(message, source=url)
    return ServiceError(message, status=response.status_code, error_type=kind)
