"""The gateway's REST API (Jupyter Server's kernels API, as Kernel and Enterprise Gateway serve it).

``GET /api/kernelspecs``, ``POST /api/kernels {"name", "env"}``, ``GET``/``DELETE
/api/kernels/{id}``, ``POST /api/kernels/{id}/interrupt``, ``GET /api/kernels``; token auth
in the ``Authorization`` header, never in a URL (URLs reach logs). Every failure is a
:class:`GatewayError` naming the gateway's address and what it answered.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import quote

import attrs
import httpx2

from weaver.errors import WeaverError
from weaver_gateway.config import GatewayConfig


@attrs.define(eq=False)
class GatewayError(WeaverError):
    """The gateway could not be reached or refused a request; ``status`` is its HTTP status (0: no answer)."""

    url: str = ""
    status: int = 0

    def __str__(self) -> str:
        return self.message


def tls_context(config: GatewayConfig) -> ssl.SSLContext | bool:
    """What ``verify`` means for both clients: a context with ``ca_file``, or on/off."""
    if not config.verify_tls:
        return False
    if config.ca_file:
        return ssl.create_default_context(cafile=config.ca_file)
    return True


def _refusal(config: GatewayConfig, method: str, path: str, response: httpx2.Response) -> GatewayError:
    reason = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            reason = str(body.get("message") or body.get("reason") or "")
    except ValueError:
        reason = response.text[:200]
    status = response.status_code
    said = f" ({reason})" if reason else ""
    if "KERNEL_USERNAME" in reason:
        hint = f": set [gateway] kernel_username to a user it may run kernels as{said}"
    elif status == 401 or (status == 403 and reason in ("", "Forbidden")):
        what = "refused the token" if config.token else "wants a token"
        hint = f": it {what}; set WEAVER_GATEWAY__TOKEN (or [gateway] token in the user config) to the gateway's token{said}"
    else:
        hint = f": {reason}" if reason else ""
    return GatewayError(f"the gateway at {config.base} answered {method} {path} with HTTP {status}{hint}", url=config.base, status=status)


class GatewayClient:
    """REST calls to one gateway, with its headers, TLS settings and timeouts."""

    def __init__(self, config: GatewayConfig) -> None:
        if not config.url:
            raise GatewayError('[gateway] url is not set: the gateway executor needs the gateway\'s address, such as "http://127.0.0.1:8888"')
        self.config = config
        self.http = httpx2.AsyncClient(
            base_url=config.base,
            headers=config.header_map(),
            verify=tls_context(config),
            timeout=httpx2.Timeout(config.request_timeout_s, connect=config.connect_timeout_s),
            trust_env=False,
        )

    async def request(self, method: str, path: str, *, json: Any = None, allow: tuple[int, ...] = ()) -> httpx2.Response:
        """``method path``; a status of 400 and above fails unless it is in ``allow``."""
        try:
            response = await self.http.request(method, path, json=json)
        except httpx2.TimeoutException as exc:
            raise GatewayError(
                f"the gateway at {self.config.base} did not answer {method} {path} in time ({type(exc).__name__})",
                url=self.config.base,
            ) from None
        except httpx2.HTTPError as exc:
            raise GatewayError(
                f"the gateway at {self.config.base} is unreachable: {exc or type(exc).__name__}", url=self.config.base
            ) from None
        if response.status_code >= 400 and response.status_code not in allow:
            raise _refusal(self.config, method, path, response)
        return response

    async def kernelspecs(self) -> dict[str, Any]:
        return dict((await self.request("GET", "/api/kernelspecs")).json())

    async def start_kernel(self, env: dict[str, str]) -> str:
        body = {"name": self.config.kernel_name, "env": env}
        return str((await self.request("POST", "/api/kernels", json=body)).json()["id"])

    async def kernel(self, kernel_id: str) -> dict[str, Any] | None:
        """The kernel's model, or ``None`` when the gateway no longer has it."""
        response = await self.request("GET", f"/api/kernels/{quote(kernel_id)}", allow=(404,))
        return None if response.status_code == 404 else dict(response.json())

    async def kernels(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "/api/kernels")).json())

    async def interrupt(self, kernel_id: str) -> None:
        await self.request("POST", f"/api/kernels/{quote(kernel_id)}/interrupt", allow=(404,))

    async def delete(self, kernel_id: str) -> None:
        await self.request("DELETE", f"/api/kernels/{quote(kernel_id)}", allow=(404,))

    async def aclose(self) -> None:
        await self.http.aclose()


def delete_now(config: GatewayConfig, kernel_id: str, timeout: float = 5.0) -> bool:
    """Delete a kernel without an event loop (at exit); ``True`` when the gateway no longer has it."""
    try:
        with httpx2.Client(
            base_url=config.base, headers=config.header_map(), verify=tls_context(config), timeout=timeout, trust_env=False
        ) as http:
            response = http.delete(f"/api/kernels/{quote(kernel_id)}")
    except httpx2.HTTPError:
        return False
    return response.status_code in (200, 204, 404)
