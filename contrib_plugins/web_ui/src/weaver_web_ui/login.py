"""Who is looking at the page: the service's own token, as its cookie, and the login page that sets it.

The page has no users of its own. A person pastes their token into the login page, which
posts it to the API's ``/v1/login``; the API answers with its HttpOnly, SameSite=Strict
cookie, and from then on the page, its event handlers and every image and download link
are the API's user. Someone without the cookie who opens the page is sent to the login page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request

from weaver_server.auth import COOKIE
from weaver_server.users import Users

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def user_of(request: Request, users: Users) -> str | None:
    """The user of the request's cookie or bearer token, or ``None`` (for Gradio's ``auth_dependency``)."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
    return users.user_for(token) if token else None


def gate(inner: ASGIApp, users: Users) -> ASGIApp:
    """``inner`` (the mounted page), except that opening the page itself without a valid
    cookie redirects to the login page beside it."""

    async def app(scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET":
            root = str(scope.get("root_path", ""))
            path = str(scope.get("path", ""))
            rest = path.removeprefix(root)
            if rest in ("", "/") and not _has_user(scope, users):
                target = "login" if path.endswith("/") else f"{path.rsplit('/', 1)[-1]}/login"
                await send({"type": "http.response.start", "status": 303, "headers": [(b"location", target.encode()), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
        await inner(scope, receive, send)

    return app


def _has_user(scope: Scope, users: Users) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, token = part.strip().partition("=")
                if key == COOKIE and token and users.user_for(token) is not None:
                    return True
    return False


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Weaver · Sign in</title>
<style>
  :root { color-scheme: light dark; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center;
         font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         background: linear-gradient(160deg, #eef2ff 0%, #f8fafc 60%); color: #0f172a; }
  main { width: min(420px, 92vw); background: #fff; border-radius: 16px; padding: 36px 32px;
         box-shadow: 0 10px 40px rgba(15, 23, 42, .12); }
  h1 { margin: 0 0 4px; font-size: 24px; letter-spacing: -.01em; }
  h1 span { color: #4f46e5; }
  p { margin: 0 0 24px; color: #475569; }
  label { display: block; font-weight: 600; margin-bottom: 6px; }
  input { box-sizing: border-box; width: 100%; padding: 11px 12px; border: 1px solid #cbd5e1;
          border-radius: 10px; font: inherit; }
  input:focus { outline: 2px solid #6366f1; border-color: transparent; }
  button { margin-top: 18px; width: 100%; padding: 11px; border: 0; border-radius: 10px;
           background: #4f46e5; color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
  button:hover { background: #4338ca; }
  #error { color: #b91c1c; min-height: 1.5em; margin: 12px 0 0; }
  small { display: block; margin-top: 18px; color: #64748b; }
  code { background: #f1f5f9; padding: 1px 5px; border-radius: 5px; }
</style>
</head>
<body>
<main>
  <h1>🧶 <span>Weaver</span></h1>
  <p>Ask questions of your data; watch the plan, the code and its results as they happen.</p>
  <form id="login">
    <label for="token">Access token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus
           placeholder="Paste the token you were given">
    <button type="submit">Sign in</button>
    <p id="error" role="alert"></p>
  </form>
  <small>The token is the one <code>weaver serve</code> printed, or one from the
  service's <code>[server] tokens</code>.</small>
</main>
<script>
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("error");
  error.textContent = "";
  const token = document.getElementById("token").value.trim();
  const response = await fetch("../v1/login", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token}), credentials: "same-origin",
  });
  if (response.ok) { window.location.replace("./"); }
  else { error.textContent = response.status === 401 ? "That token is not valid." : "Signing in failed (" + response.status + ")."; }
});
</script>
</body>
</html>
"""
"""The login page (static: nothing of the request is in it)."""
