"""The ``[server]`` table: where ``weaver serve`` listens, who may use it, and its limits.

.. code-block:: toml

    [server]
    host = "127.0.0.1"            # only this machine; a reverse proxy in front for a team
    port = 8765
    tokens_file = "/run/secrets/weaver-tokens"   # one "user:token" a line
    # tokens = ["alice:...", "bob:..."]          # or here, or WEAVER_SERVER__TOKENS=alice:...,bob:...
    cors_origins = []             # CORS is off unless origins are named
    max_request_bytes = 4194304   # JSON bodies (a message, an answer)
    max_upload_bytes = 268435456  # one uploaded file

Each user's sessions live in ``<workspace>/users/<user>/``, a workspace of its own that the
CLI reads as any other (``weaver --set workspace.dir=.weaver/users/alice sessions list``).
"""

from __future__ import annotations

import attrs

from weaver.config import at_least, greater_than


@attrs.frozen
class ServerConfig:
    """``[server]``: the address, the users' tokens, the limits of requests and streams."""

    host: str = "127.0.0.1"
    """The address to bind: this machine only by default. Put a reverse proxy with TLS in front
    for anyone else, rather than binding ``0.0.0.0``."""
    port: int = attrs.field(default=8765, validator=at_least(0))
    """The port (0: any free one; the address is printed once it is bound)."""
    tokens: tuple[str, ...] = ()
    """``"user:token"`` entries. A user name is letters, digits, ``_`` and ``-``; a token is at
    least 16 characters. With no tokens at all, ``weaver serve`` makes one for the user
    ``local`` and prints it."""
    tokens_file: str = ""
    """A file with one ``user:token`` a line (``#`` starts a comment), read at start: a secret
    mounted by the deployment, kept out of ``weaver.toml``."""
    cors_origins: tuple[str, ...] = ()
    """Origins a browser may call the API from (``https://ui.example.com``); none: CORS off."""
    max_request_bytes: int = attrs.field(default=4 * 2**20, validator=at_least(1024))
    """The largest request body outside uploads; a larger one is refused with 413."""
    max_upload_bytes: int = attrs.field(default=256 * 2**20, validator=at_least(1))
    """The largest file one upload may carry; a larger one is refused with 413 and not kept."""
    max_open_sessions: int = attrs.field(default=64, validator=at_least(1))
    """Sessions kept open (their kernels running) at once; past it the least recently used idle
    one is closed, and opened again from its log when next used."""
    heartbeat_s: float = attrs.field(default=15.0, validator=greater_than(0))
    """Seconds of silence after which an event stream sends a comment, so proxies keep it open."""
    stream_buffer: int = attrs.field(default=2000, validator=at_least(16))
    """Events buffered for one stream client. A client that falls further behind loses the
    buffered live events and is sent what it missed again from the session log (``resync``)."""
    shutdown_grace_s: float = attrs.field(default=20.0, validator=greater_than(0))
    """On shutdown, how long running rounds have to end as cancelled before kernels are closed."""
