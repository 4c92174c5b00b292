"""The executor conformance suite (:mod:`weaver.testing.executor_conformance`) against the
gateway executor and a real Kernel Gateway; after every test the gateway has no kernel left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import weaver_gateway
from weaver.testing.executor_conformance import *
from weaver.testing.executor_conformance import AppHarness
from weaver_gateway.executor import GatewayExecutor
from weaver_gateway.testing import GatewayServer


def _kernel_id(executor: object) -> str | None:
    assert isinstance(executor, GatewayExecutor)
    return executor.kernel_id


@pytest.fixture(scope="module")
def executor_harness(kernel_gateway: GatewayServer, tmp_path_factory: pytest.TempPathFactory) -> AppHarness:
    return AppHarness(
        tmp_path_factory.mktemp("gateway-conformance"),
        "gateway",
        extensions=[weaver_gateway],
        tables={"gateway": kernel_gateway.config()},
        execution={"executor": "gateway", "pool_size": 0},
        kernel_of_executor=_kernel_id,
        running=lambda kernel: kernel in kernel_gateway.kernels(),
    )


@pytest.fixture(autouse=True)
def _every_kernel_deleted(no_kernel_left: GatewayServer) -> Iterator[None]:
    yield
