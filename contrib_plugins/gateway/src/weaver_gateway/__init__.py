"""weaver-gateway: run each session's kernel on a Jupyter gateway (Kernel Gateway, Enterprise Gateway).

Selected with ``[execution] executor = "gateway"`` and configured in ``[gateway]``
(:class:`weaver_gateway.config.GatewayConfig`). Kernels are started with ``POST
/api/kernels``, talked to over the ``/api/kernels/{id}/channels`` websocket
(:mod:`weaver_gateway.channel`), interrupted and deleted over REST
(:mod:`weaver_gateway.client`); the session's files travel through the kernel
(:mod:`weaver_gateway.transfer`), and no kernel outlives its host
(:mod:`weaver_gateway.lifecycle`). The executor itself, :mod:`weaver_gateway.executor`, is
Weaver's kernel executor over that channel, so a remote kernel behaves as a local one.
``weaver doctor`` checks the gateway when it is the configured executor
(:mod:`weaver_gateway.check`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, ExecutorSpec
from weaver_gateway.config import GatewayConfig

NAME = "gateway"


def _create(session_dir: Path, config: Any, setup: Any) -> Any:
    from weaver_gateway.executor import GatewayExecutor  # websockets and httpx only when used

    return GatewayExecutor.create(session_dir, config, setup)


async def _warm_up(config: Any, wait: bool = False) -> None:
    from weaver_gateway.executor import warm_up

    await warm_up(config, wait)


async def _check(config: Any, plugins: Any = ()) -> list[tuple[str, str, str]]:
    from weaver_gateway.check import check_gateway

    return await check_gateway(config, plugins)


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, GatewayConfig, "The Jupyter gateway that runs kernels for the gateway executor", secret_keys=frozenset({"headers"}))]


@hookimpl
def weaver_executors() -> list[ExecutorSpec]:
    return [
        ExecutorSpec(
            NAME,
            _create,
            "Each session's kernel on a Jupyter Kernel Gateway or Enterprise Gateway ([gateway])",
            warm_up=_warm_up,
            check=_check,
        )
    ]
