"""``weaver doctor`` for the gateway executor: reachable, authorized, a kernel round trip.

The round trip is a session's: a kernel started on the gateway, the session staged there
with a plugin of the check's own (so plugin sources are seen to travel), the plugin called,
the kernel's weaver-core version compared with the host's, and the kernel deleted.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from weaver.config import Config
from weaver.execution.executor import ExecutorSetup
from weaver.specs import PluginSpec
from weaver_gateway.client import GatewayClient, GatewayError
from weaver_gateway.executor import GatewayExecutor, gateway_config

PROBE = "weaver_gateway_echo"
SOURCE = f'''
def {PROBE}(text: str) -> str:
    """Returns ``text``: proof that a plugin's source reached the kernel and runs there."""
    return text
'''
Row = tuple[str, str, str]


async def check_gateway(config: Config, plugins: Sequence[PluginSpec] = ()) -> list[Row]:
    """The doctor's rows for ``[gateway]``: each a ``(name, status, detail)``."""
    try:
        gateway = gateway_config(config)
        client = GatewayClient(gateway)
    except Exception as exc:  # noqa: BLE001 - a bad setting is a failed row
        return [("gateway", "fail", str(exc))]
    try:
        specs = await client.kernelspecs()
    except GatewayError as exc:
        name = "gateway auth" if exc.status in (401, 403) else "gateway"
        return [(name, "fail", str(exc))]
    finally:
        await client.aclose()
    rows: list[Row] = [("gateway", "ok", f"{gateway.base} answers; the token is {'accepted' if gateway.token else 'not needed'}")]
    known = sorted(specs.get("kernelspecs", {}))
    if gateway.kernel_name not in known:
        rows.append(("gateway kernelspec", "fail", f"{gateway.kernel_name!r} is not one of the gateway's: {', '.join(known) or 'none'}"))
        return rows
    rows.append(("gateway kernelspec", "ok", gateway.kernel_name))
    return rows + await _round_trip(config, plugins)


async def _round_trip(config: Config, plugins: Sequence[PluginSpec]) -> list[Row]:
    scratch = Path(tempfile.mkdtemp(prefix="weaver-doctor-gateway-"))
    try:
        folder = scratch / "plugins"
        folder.mkdir()
        (folder / "weaver_gateway_probe.py").write_text(SOURCE)
        own = PluginSpec(PROBE, f"weaver_gateway_probe:{PROBE}", "doctor's probe", path=str(folder))
        executor = GatewayExecutor(scratch / "sessions" / "doctor", config, ExecutorSetup("doctor", plugins=(*plugins, own)))
        started = time.monotonic()
        try:
            await executor.start()
            start_s = time.monotonic() - started
            begun = time.monotonic()
            result = await executor.execute(
                "import importlib.metadata, json, os\n"
                f"print(json.dumps([{PROBE}('plugin ok'), importlib.metadata.version('weaver-core'), os.getuid()]))"
            )
            execute_s = time.monotonic() - begun
        except Exception as exc:  # noqa: BLE001 - the check reports any failure as text
            return [("gateway kernel", "fail", f"{type(exc).__name__}: {exc}")]
        finally:
            await executor.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        echoed, remote, uid = json.loads(result.stdout) if result.ok else (None, None, None)
    except ValueError:
        echoed = remote = uid = None
    if echoed != "plugin ok":
        why = f"{result.error.type}: {result.error.message}" if result.error else result.stdout[-500:]
        return [("gateway kernel", "fail", f"the plugin round trip failed: {why}")]
    rows: list[Row] = [
        ("gateway kernel", "ok", f"started in {start_s:.2f} s, a plugin's source sent and called in {execute_s * 1000:.0f} ms"),
        (
            "gateway kernel user",
            "warn" if uid == 0 else "ok",
            f"uid {uid}" + (": the kernel runs as root on its machine (set [gateway] kernel_username, or the gateway's kernelspec)" if uid == 0 else ""),
        ),
    ]
    local = importlib.metadata.version("weaver-core")
    rows.append(
        ("gateway weaver-core", "ok" if remote == local else "warn", f"{remote} in the kernel" + ("" if remote == local else f", {local} here: the runtime may differ"))
    )
    return rows
