"""The executor conformance suite (:mod:`weaver.testing.executor_conformance`) against the
local executor, without a sandbox and in bubblewrap's."""

from __future__ import annotations

import pytest

from weaver.execution.kernel import LocalExecutor
from weaver.execution.sandbox import bwrap_status
from weaver.testing.executor_conformance import *
from weaver.testing.executor_conformance import AppHarness
from weaver.testing.kernels import pid_gone


def _pid(executor: object) -> int | None:
    assert isinstance(executor, LocalExecutor)
    return executor.kernel_pid


@pytest.fixture(scope="module", params=["none", "bwrap"], ids=["local", "sandboxed"])
def executor_harness(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AppHarness:
    if request.param == "bwrap" and not bwrap_status()[0]:
        pytest.skip(f"bubblewrap cannot run here: {bwrap_status()[1]}")
    return AppHarness(
        tmp_path_factory.mktemp(f"conformance-{request.param}"),
        "local",
        execution={"pool_size": 0, "sandbox": request.param},
        kernel_of_executor=_pid,
        running=lambda pid: not pid_gone(pid),  # type: ignore[arg-type]
    )
