"""The executor conformance suite against Jupyter Enterprise Gateway, in a virtualenv of its own.

Enterprise Gateway pins old Jupyter libraries (jupyter_client 6, jupyter_server 1), so it
cannot share the test environment: the venv is built from the package index once and
cached under the temporary directory (``nox -s enterprise_gateway`` runs this module).
Run as root, Enterprise Gateway refuses a kernel without ``KERNEL_USERNAME``: ``[gateway]
kernel_username`` sends it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from weaver.testing.executor_conformance import *
from weaver.testing.executor_conformance import AppHarness
from weaver_gateway.testing import GatewayServer, enterprise_gateway_python, harness, running_gateway

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def enterprise_gateway() -> Iterator[GatewayServer]:
    with running_gateway("enterprise", python=enterprise_gateway_python()) as server:
        yield server
        left = server.kernels()
        assert left == [], f"kernels left on Enterprise Gateway after the tests: {left}"


@pytest.fixture(scope="module")
def executor_harness(enterprise_gateway: GatewayServer, tmp_path_factory: pytest.TempPathFactory) -> AppHarness:
    return harness(enterprise_gateway, tmp_path_factory.mktemp("enterprise-conformance"), kernel_username="weaver")


@pytest.fixture(autouse=True)
def _every_kernel_deleted(enterprise_gateway: GatewayServer) -> Iterator[None]:
    yield
    assert enterprise_gateway.kernels() == []
