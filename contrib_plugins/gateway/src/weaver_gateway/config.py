"""The ``[gateway]`` table: which Jupyter gateway runs the kernels, and how Weaver talks to it.

.. code-block:: toml

    [execution]
    executor = "gateway"

    [gateway]
    url = "https://gateway.example.org:8888"   # Kernel Gateway or Enterprise Gateway
    kernel_name = "python3"                     # a kernelspec of the gateway
    env = ["KERNEL_NAMESPACE"]                  # host variables the kernel gets, by name; nothing else
    kernel_username = "analyst"                 # KERNEL_USERNAME (Enterprise Gateway as root needs one)
    # token: WEAVER_GATEWAY__TOKEN in the environment, or [gateway] token in the user config

The token is a secret: ``weaver config show`` masks it, no log line carries it, and a token
in the project's ``weaver.toml`` (which is shared) is refused.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from weaver.config import InvalidValue, at_least, greater_than

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADER = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(\S.*)")


def _url(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidValue(
            attribute.name, f"must be the gateway's http:// or https:// address, such as http://127.0.0.1:8888, got {value!r}"
        )
    if parts.username or parts.password:
        raise InvalidValue(attribute.name, "must not carry credentials; set [gateway] token instead")


def _env_names(instance: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for name in value:
        if not ENV_NAME.fullmatch(name):
            raise InvalidValue(attribute.name, f"entries are environment variable names (no patterns), got {name!r}")


def _headers(instance: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for entry in value:
        match = HEADER.fullmatch(entry)
        if match is None or "\n" in entry or "\r" in entry:
            raise InvalidValue(attribute.name, "entries are 'Name: value' header lines")
        if match.group(1).lower() in ("authorization", "host", "content-length", "connection", "upgrade"):
            raise InvalidValue(attribute.name, f"the {match.group(1)} header is Weaver's own (set [gateway] token)")


def _username(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value and not re.fullmatch(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,63}", value):
        raise InvalidValue(attribute.name, f"must be a user name, got {value!r}")


@attrs.frozen
class GatewayConfig:
    """``[gateway]``: the gateway that runs kernels for ``[execution] executor = "gateway"``.

    ``[execution]`` still applies: its time limit, grace period, output caps, memory, CPU
    and file-size limits (which the remote kernel applies to itself), ``project_files``
    (copied into the remote working directory) and ``pool_size`` (kernels started on the
    gateway ahead of time). Its sandbox, process limit and environment allow-list are the
    local kernel's: a remote kernel's isolation is the gateway's (its kernelspec, image,
    user and cluster policy).
    """

    url: str = attrs.field(default="", validator=_url)
    """The gateway's base address (``http://host:8888``; a path prefix is kept)."""
    token: str = ""
    """The gateway's auth token (sent as ``Authorization: token ...``); a secret: set it in
    the environment (``WEAVER_GATEWAY__TOKEN``) or the user config, never in ``weaver.toml``."""
    kernel_name: str = "python3"
    """The gateway kernelspec to start; its Python needs ipykernel and this weaver-core."""
    env: tuple[str, ...] = attrs.field(default=(), validator=_env_names)
    """Host environment variables the kernel gets, by exact name; nothing else of the host's
    environment crosses. A gateway accepts ``KERNEL_*`` names, others only where it allows
    them (Kernel Gateway's ``KG_ENV_WHITELIST``, Enterprise Gateway's ``EG_CLIENT_ENVS``)."""
    kernel_username: str = attrs.field(default="", validator=_username)
    """Sent as ``KERNEL_USERNAME``: the user Enterprise Gateway runs the kernel as (it
    requires one when it runs as root)."""
    remote_dir: str = ""
    """Where the kernel keeps sessions on its machine (empty: its temporary directory)."""
    connect_timeout_s: float = attrs.field(default=10.0, validator=greater_than(0))
    """How long connecting to the gateway may take."""
    request_timeout_s: float = attrs.field(default=60.0, validator=greater_than(0))
    """How long one REST request (start, interrupt, delete) may take; starting a kernel
    also has ``[execution] startup_timeout_s``."""
    verify_tls: bool = True
    """Check the gateway's certificate (``https``)."""
    ca_file: str = ""
    """A CA bundle for the gateway's certificate (empty: the system's)."""
    headers: tuple[str, ...] = attrs.field(default=(), validator=_headers)
    """Extra HTTP headers for every request, as ``"Name: value"`` lines (a proxy's, say); masked."""
    reconnect_attempts: int = attrs.field(default=3, validator=at_least(0))
    """Times a dropped websocket is reopened before the kernel counts as lost."""
    max_transfer_mb: int = attrs.field(default=256, validator=at_least(1))
    """Most data moved to or from the kernel at once: uploads and plugin sources at start,
    artifacts after an execution, one fetched file."""

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    def header_map(self) -> dict[str, str]:
        """Every header a request carries: the extra ones, then the token's."""
        found = {}
        for entry in self.headers:
            match = HEADER.fullmatch(entry)
            assert match is not None  # validated
            found[match.group(1)] = match.group(2)
        if self.token:
            found["Authorization"] = f"token {self.token}"
        return found
