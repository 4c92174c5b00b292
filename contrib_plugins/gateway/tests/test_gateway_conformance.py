"""The executor conformance suite (:mod:`weaver.testing.executor_conformance`) against the
gateway executor and a real Kernel Gateway; after every test the gateway has no kernel left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from weaver.testing.executor_conformance import *
from weaver.testing.executor_conformance import AppHarness
from weaver_gateway.testing import GatewayServer, harness


@pytest.fixture(scope="module")
def executor_harness(kernel_gateway: GatewayServer, tmp_path_factory: pytest.TempPathFactory) -> AppHarness:
    return harness(kernel_gateway, tmp_path_factory.mktemp("gateway-conformance"))


@pytest.fixture(autouse=True)
def _every_kernel_deleted(no_kernel_left: GatewayServer) -> Iterator[None]:
    yield
