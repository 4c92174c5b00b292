"""``weaver doctor``'s kernel check: a real round trip, and the boundary seen from inside.

:func:`check_kernel` starts a kernel exactly as a session of the project would (its
sandbox setting, its project files, its plugins, plus one plugin of the check's own),
calls that plugin, and runs the probe (:mod:`weaver.execution.runtime.probe`): the
kernel's user, capabilities and process limit, and which of the host's secrets and files
it can read or write. The session lives in a throw-away workspace, next to a decoy session
whose log the kernel must not read.

A kernel running as root or with any capability fails the check; a protection this
platform cannot give in this mode (see :attr:`KernelCheck.exposed`) is reported, not failed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from weaver.specs import PluginSpec

PROBE_PLUGIN = "weaver_doctor_echo"
_PLUGIN_SOURCE = textwrap.dedent(
    f'''
    def {PROBE_PLUGIN}(text: str) -> str:
        """Returns ``text``: proof that a plugin loads and runs in the kernel."""
        return text
    '''
)


@attrs.frozen
class KernelCheck:
    """Whether a kernel started and ran a plugin; seconds for each step; what went wrong;
    where it ran (``bwrap`` or ``none``) and what it could reach (``view``: the probe's
    report)."""

    ok: bool
    start_s: float = 0.0
    execute_s: float = 0.0
    detail: str = ""
    sandbox: str = ""
    view: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def root_user(self) -> str | None:
        """Why the kernel's user is privileged (uid or gid 0), or ``None``."""
        if self.view and (0 in self.view["uids"] or 0 in self.view["gids"]):
            return f"it runs as uid {self.view['uids'][1]}, gid {self.view['gids'][1]}"
        return None

    @property
    def capabilities(self) -> str | None:
        """The capabilities the kernel holds or could gain, or ``None``.

        With ``no_new_privs`` set, no program it runs gains one, so only the sets it holds
        count (effective, permitted, ambient); without, the bounding and inheritable sets too.
        """
        held = ("effective", "permitted", "ambient") if self.view.get("no_new_privs") else None
        caps = {
            name: value
            for name, value in self.view.get("capabilities", {}).items()
            if value and (held is None or name in held)
        }
        return "it has capabilities: " + ", ".join(f"{name} {value:#x}" for name, value in caps.items()) if caps else None

    @property
    def problems(self) -> tuple[str, ...]:
        """What makes the kernel privileged: uid 0 or any capability; each fails the check."""
        return tuple(problem for problem in (self.root_user, self.capabilities) if problem)

    @property
    def exposed(self) -> tuple[str, ...]:
        """What kernel code can read or write that it should not, in this mode."""
        if not self.view:
            return ()
        found = [f"it can read {label}" for label, state in self.view["read"].items() if state == "readable"]
        found += [
            f"it can write {label}"
            for label, state in self.view["write"].items()
            if state == "writable" and label != "its working directory"
        ]
        if self.view["write"].get("its working directory") != "writable":
            found.append(f"it cannot write its working directory ({self.view['write'].get('its working directory')})")
        return tuple(found)


async def check_kernel(config: Any | None = None, plugins: Sequence[PluginSpec] = ()) -> KernelCheck:
    """Start a kernel for ``config`` (a :class:`weaver.config.Config`; default settings in
    the current directory if None) with ``plugins`` and the check's own, call that plugin
    and probe the boundary."""
    from weaver.config import Config, build_config
    from weaver.execution.boundary import sandbox_of
    from weaver.execution.executor import ExecutorSetup
    from weaver.execution.kernel import LocalExecutor
    from weaver.extensions import build_registry, load_extensions, make_plugin_manager

    if config is None:
        pm = make_plugin_manager()
        load_extensions(pm, only=(), entry_points=())
        config = build_config(Path.cwd(), [], build_registry(pm).config_tables)
    assert isinstance(config, Config)
    sandbox = sandbox_of(config.table("execution"))
    scratch = Path(tempfile.mkdtemp(prefix="weaver-doctor-"))
    try:
        scratch.chmod(0o755)  # a kernel of a root host is another user, outside a sandbox too
        folder = scratch / "plugins"
        folder.mkdir(mode=0o755)
        (folder / "weaver_doctor_probe.py").write_text(_PLUGIN_SOURCE)
        own = PluginSpec(PROBE_PLUGIN, f"weaver_doctor_probe:{PROBE_PLUGIN}", "doctor's probe", path=str(folder))
        session = scratch / "sessions" / "doctor"
        decoy = _decoy_session(scratch / "sessions" / "other")
        executor = LocalExecutor(session, config, ExecutorSetup("doctor", plugins=(*plugins, own)))
        started = time.monotonic()
        try:
            await executor.start()
        except Exception as exc:  # noqa: BLE001 - the check reports any failure as text
            await executor.close()
            return KernelCheck(False, time.monotonic() - started, detail=f"{type(exc).__name__}: {exc}", sandbox=sandbox)
        start_s = time.monotonic() - started
        code = (
            f"print({PROBE_PLUGIN}('plugin ok'))\n"
            f"print(__import__('weaver.execution.runtime.probe', fromlist=['report']).report({_targets(config, decoy, session)!r}))"
        )
        try:
            begun = time.monotonic()
            result = await executor.execute(code)
            execute_s = time.monotonic() - begun
        finally:
            await executor.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lines = result.stdout.splitlines()
    if not result.ok or len(lines) < 2 or lines[0] != "plugin ok":
        error = f"{result.error.type}: {result.error.message}" if result.error else result.stdout[-500:]
        return KernelCheck(False, start_s, execute_s, f"the plugin round trip failed: {error}", sandbox)
    return KernelCheck(True, start_s, execute_s, "a plugin loaded and answered", sandbox, json.loads(lines[1]))


def _decoy_session(root: Path) -> Path:
    """Another session of the workspace, with a log as the store writes it."""
    from weaver.events import Event, EventType
    from weaver.store import SessionPaths, SessionStore

    store = SessionStore(SessionPaths(root))
    store.append(Event(EventType.status, "other", data={"message": "not for other sessions' kernels"}))
    store.close()
    return root / "events.jsonl"


def _targets(config: Any, decoy: Path, session: Path) -> str:
    from weaver.config import PROJECT_FILE, user_config_path

    project = Path(config.project_dir)
    read = {
        "the host's environment": f"/proc/{os.getpid()}/environ",
        "another session's log": str(decoy),
    }
    if (project / PROJECT_FILE).is_file():
        read["the project's weaver.toml"] = str(project / PROJECT_FILE)
    user_config = user_config_path(os.environ)
    if user_config.is_file():
        read["the user's configuration"] = str(user_config)
    write = {
        "its working directory": str(session / "cwd"),
        "the project directory": str(project),
        "/usr": "/usr",
    }
    for name in config.table("execution").project_files:
        if (project / name).is_dir():
            write[f"the project folder {name}/"] = str(project / name)
    return json.dumps({"read": read, "write": write})
