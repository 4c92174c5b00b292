"""A real Jupyter Kernel Gateway on 127.0.0.1 for the gateway executor's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from weaver_gateway.testing import GatewayServer, running_gateway


@pytest.fixture(scope="session")
def kernel_gateway() -> Iterator[GatewayServer]:
    """One Kernel Gateway with a token for the whole run; at its end it must have no kernel left."""
    with running_gateway("kernel") as server:
        yield server
        left = server.kernels()
        assert left == [], f"kernels left on the gateway after the tests: {left}"


@pytest.fixture
def no_kernel_left(kernel_gateway: GatewayServer) -> Iterator[GatewayServer]:
    """The gateway, checked after the test: every kernel the test started was deleted."""
    yield kernel_gateway
    assert kernel_gateway.kernels() == []
