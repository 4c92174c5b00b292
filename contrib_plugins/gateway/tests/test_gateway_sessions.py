"""The gateway executor inside an App: the warm pool, sessions that close, a host that exits
without closing, and the ``[gateway]`` table's validation."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import weaver_gateway
from weaver.engine import App
from weaver.errors import ConfigError
from weaver.extensions import load_extensions, make_plugin_manager, register
from weaver_gateway.testing import KERNEL_NAME, GatewayServer


def gateway_app(project: Path, url: str, token: str, **execution: object) -> App:
    """An App whose sessions run code on the gateway at ``url``, the token from the environment."""
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    register(pm, weaver_gateway)
    return App(
        project,
        plugin_manager=pm,
        environ={"WEAVER_GATEWAY__TOKEN": token},
        execution={"executor": "gateway", "pool_size": 0, **execution},
        gateway={"url": url, "kernel_name": KERNEL_NAME},
        session={"roles": []},
    )


def test_sessions_take_warm_kernels_from_the_pool_and_nothing_is_left(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    app = gateway_app(tmp_path, no_kernel_left.url, no_kernel_left.token, pool_size=1)
    try:
        app.warm_up(wait=True)
        (warm,) = no_kernel_left.kernels()
        first = app.session()
        result = app.run(first.execute("import os\nos.getcwd().endswith('/cwd')"))
        assert result.ok and result.value_repr == "True", result
        assert warm in no_kernel_left.kernels()  # the session runs in the kernel started ahead of time
        second = app.session()
        assert app.run(second.execute("'x' in globals()")).value_repr == "False"  # never a shared kernel
        first.close()
        assert warm not in no_kernel_left.kernels()  # a closed session's kernel is deleted
    finally:
        app.close()


def test_a_host_that_exits_without_closing_deletes_its_kernels(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    script = tmp_path / "host.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            from pathlib import Path
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_gateway_sessions import gateway_app

            app = gateway_app(Path({str(tmp_path)!r}), {no_kernel_left.url!r}, os.environ["TOKEN"])
            session = app.session()
            print(app.run(session.execute("6 * 7")).value_repr, flush=True)
            sys.exit(0)  # no close: the exit handler deletes the kernel
            """
        )
    )
    env = {**os.environ, "TOKEN": no_kernel_left.token}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180, check=False, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "42", done.stderr
    assert no_kernel_left.kernels() == []


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"url": "ftp://gateway"}, "url"),
        ({"url": "http://user:pw@gateway"}, "url"),
        ({"env": ["OK_NAME", "BAD*"]}, "env"),
        ({"headers": ["no colon"]}, "headers"),
        ({"headers": ["Authorization: token sneaky"]}, "headers"),
        ({"connect_timeout_s": 0}, "connect_timeout_s"),
        ({"request_timeout_s": -1}, "request_timeout_s"),
        ({"reconnect_attempts": -1}, "reconnect_attempts"),
        ({"max_transfer_mb": 0}, "max_transfer_mb"),
        ({"kernel_username": "root; rm"}, "kernel_username"),
    ],
)
def test_the_gateway_table_refuses_bad_values_naming_the_key(tmp_path: Path, settings: dict[str, object], key: str) -> None:
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    register(pm, weaver_gateway)
    with pytest.raises(ConfigError) as caught:
        App(tmp_path, plugin_manager=pm, environ={}, gateway=settings)
    assert key in str(caught.value)


def test_the_token_is_in_no_log_line_even_at_debug_level(
    no_kernel_left: GatewayServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx2, websockets (whose debug log prints the handshake's headers) and Weaver's own
    loggers, all at DEBUG, through a session's whole life."""
    caplog.set_level(logging.DEBUG)
    app = gateway_app(tmp_path, no_kernel_left.url, no_kernel_left.token)
    try:
        session = app.session()
        assert app.run(session.execute("print('hello')")).stdout == "hello\n"
        session.close()
    finally:
        app.close()
    assert no_kernel_left.token not in caplog.text
    assert any(r.name == "weaver.gateway.websocket" and r.msg.startswith("> GET") for r in caplog.records)  # it did log


@pytest.mark.slow
def test_files_the_code_writes_are_fetched_through_the_kernel(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    from weaver.execution.executor import ExecutorSetup
    from weaver.execution.files import UnsafePathError
    from weaver_gateway.executor import GatewayExecutor

    app = gateway_app(tmp_path, no_kernel_left.url, no_kernel_left.token)
    session_dir = tmp_path / ".weaver" / "sessions" / "fetch"

    async def scenario() -> tuple[Path, bytes, BaseException | None, BaseException | None]:
        executor = GatewayExecutor.create(session_dir, app.config, ExecutorSetup("fetch"))
        try:
            written = await executor.execute(
                "import os\nos.makedirs('report', exist_ok=True)\n"
                "open('report/summary.csv', 'wb').write(bytes(range(256)) * 40000)"  # 10 MB: more than one part
            )
            assert written.ok, written
            host = await executor.fetch_file("report/summary.csv")
            escapes = missing = None
            try:
                await executor.fetch_file("../../etc/passwd")
            except UnsafePathError as exc:
                escapes = exc
            try:
                await executor.fetch_file("nothing-here.txt")
            except Exception as exc:  # noqa: BLE001 - what it raises is checked below
                missing = exc
            return host, host.read_bytes(), escapes, missing
        finally:
            await executor.close()

    try:
        host, data, escapes, missing = app.run(scenario())
    finally:
        app.close()
    assert host == session_dir / "cwd" / "report" / "summary.csv"
    assert data == bytes(range(256)) * 40000
    assert escapes is not None
    assert missing is not None and "FileNotFoundError" in str(missing)


@pytest.mark.slow
def test_an_upload_larger_than_one_part_arrives_whole(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    """A gateway takes at most 10 MiB in one websocket message: uploads travel in parts of 4 MiB."""
    app = gateway_app(tmp_path, no_kernel_left.url, no_kernel_left.token)
    try:
        session = app.session()
        session.paths.create()
        payload = os.urandom(9 * 1024 * 1024)
        (session.cwd / "big.bin").write_bytes(payload)
        result = app.run(session.execute("import hashlib\ndata = open('big.bin', 'rb').read()\nlen(data), hashlib.sha256(data).hexdigest()"))
        import hashlib

        assert result.ok and result.value_repr == repr((len(payload), hashlib.sha256(payload).hexdigest())), result
    finally:
        app.close()
