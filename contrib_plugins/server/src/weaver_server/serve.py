"""Running the service under uvicorn, and stopping it without losing a round.

On SIGTERM or Ctrl-C the server stops accepting connections, cancels every running round
(each is recorded as cancelled, with what it had done), ends the event streams so their
clients go, then closes every session and its kernel. Only then does the process exit.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from pathlib import Path

import uvicorn

from weaver.cli.exits import EXIT_FAILED, EXIT_OK
from weaver.engine import App
from weaver_server.api import create_app
from weaver_server.config import ServerConfig
from weaver_server.service import WeaverService
from weaver_server.users import Users, generated_users, load_users

log = logging.getLogger("weaver.server")


class Server(uvicorn.Server):
    """uvicorn's server, which drains the service before it waits for connections to close
    (an event stream never closes by itself) and says where it listens once it does."""

    def __init__(self, config: uvicorn.Config, service: WeaverService) -> None:
        super().__init__(config)
        self.service = service
        self.url = ""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
            print(f"weaver: serving {self.url} (API {self.url}/v1, schema {self.url}/docs)", file=sys.stderr, flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await self.service.drain()
        await super().shutdown(sockets)


def users_of(config: ServerConfig, project_dir: Path) -> tuple[Users, str | None]:
    """The configured users, or a generated token for ``local`` (returned, to be shown)."""
    tokens_file = (project_dir / config.tokens_file) if config.tokens_file else None
    users = load_users(config.tokens, tokens_file)
    if users.tokens:
        return users, None
    return generated_users()


def warnings_for(app: App, config: ServerConfig, host: str, users: Users) -> list[str]:
    """What a person starting the service should know about how exposed it is."""
    found = []
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        found.append(f"binding {host}: anyone who reaches this address can try tokens; serve through a TLS reverse proxy")
    if len(users.names) > 1 and app.config.table("execution").sandbox == "none":
        found.append(
            "kernels are not sandboxed ([execution] sandbox = \"none\"): one user's code can read other users' files; "
            "set sandbox = \"bwrap\""
        )
    return found


def run(
    app: App, *, host: str | None = None, port: int | None = None, access_log: bool = False
) -> int:
    """Serve ``app`` until stopped; the exit status (:mod:`weaver.cli.exits`)."""
    config = app.config.table(ServerConfig)
    users, generated = users_of(config, app.project_dir)
    host = host or config.host
    for warning in warnings_for(app, config, host, users):
        log.warning("%s", warning)
    if generated is not None:
        print(
            f"weaver: no [server] tokens set; a token for the user 'local' for this run: {generated}\n"
            f"        (clients: export WEAVER_TOKEN={generated})",
            file=sys.stderr,
            flush=True,
        )
    service = WeaverService(app, config, users)
    server = Server(
        uvicorn.Config(
            create_app(service),
            host=host,
            port=config.port if port is None else port,
            log_config=None,
            access_log=access_log,
            lifespan="on",
            timeout_graceful_shutdown=int(config.shutdown_grace_s) + 5,
        ),
        service,
    )
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot bind or start; its error is logged
        return EXIT_FAILED if exc.code else EXIT_OK
    return EXIT_OK if server.started else EXIT_FAILED

