"""Who is asking: the bearer token of a request (or the cookie a browser got for it), as a user.

No token, or one no user has, is a 401 with ``WWW-Authenticate: Bearer``: the service never
says whether a session exists to someone who may not see it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from weaver_server.users import Users

COOKIE = "weaver_token"
"""The cookie ``POST /v1/login`` sets: HttpOnly (no script reads it), SameSite=Strict (no other
site's page sends it)."""
COOKIE_MAX_AGE_S = 7 * 24 * 3600

_bearer = HTTPBearer(auto_error=False, description="A user's token from [server] tokens or tokens_file.")


def _refused() -> HTTPException:
    return HTTPException(401, "a valid token is needed: Authorization: Bearer TOKEN", headers={"WWW-Authenticate": "Bearer"})


def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """The user of the request's token; a dependency for every route that needs one."""
    users: Users = request.app.state.weaver.users
    token = credentials.credentials if credentials is not None else request.cookies.get(COOKIE)
    user = users.user_for(token) if token else None
    if user is None:
        raise _refused()
    return user


def login_response(users: Users, token: str, *, secure: bool) -> Response:
    """204 with the cookie set, when ``token`` is a user's; else 401."""
    if users.user_for(token) is None:
        raise _refused()
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE, token, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True, samesite="strict", secure=secure
    )
    return response
