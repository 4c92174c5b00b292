"""``weaver doctor``: can this machine run Weaver? Python, packages, extensions, the
project's plugins and plugin sources (MCP servers), a kernel, the sandbox, and the LLM
endpoint when one is configured.

Each check is a function in :data:`CHECKS` taking the :class:`CliState` and returning
:class:`Check` rows; add a function to it to add one. ``doctor`` exits 1 when any row failed.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Any

import attrs
import typer

from weaver.cli.output import echo_json, echo_table
from weaver.cli.state import CliState

PACKAGES = ("weaver-core", "pluggy", "attrs", "cattrs", "typer", "openai", "jupyter_client", "ipykernel", "pyzmq")
OPTIONAL = ("pandas", "numpy", "matplotlib")
"""Not needed by Weaver itself, but by the code it usually runs."""


@attrs.frozen
class Check:
    """One line of the report: ``status`` is ``ok``, ``info``, ``warn`` or ``fail``."""

    name: str
    status: str
    detail: str


def check_python(state: CliState) -> list[Check]:
    version = platform.python_version()
    status = "ok" if sys.version_info >= (3, 10) else "fail"
    return [Check("python", status, f"{version} at {sys.executable}")]


def check_packages(state: CliState) -> list[Check]:
    rows = []
    for name in (*PACKAGES, *OPTIONAL):
        try:
            rows.append(Check(f"package {name}", "ok", importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append(Check(f"package {name}", "warn" if name in OPTIONAL else "fail", "not installed"))
    return rows


def check_extensions(state: CliState) -> list[Check]:
    return [
        Check(
            f"extension {info.name}",
            "ok" if info.ok else "fail",
            info.error or f"{info.distribution} {info.version}".strip(),
        )
        for info in state.report.extensions
    ]


def check_roles(state: CliState) -> list[Check]:
    """The roles ``[session] roles`` enables are installed."""
    from weaver.errors import ConfigError

    try:
        roles = state.app().roles
    except ConfigError as exc:
        return [Check("roles", "fail", str(exc))]
    return [Check("roles", "ok", ", ".join(roles) or "none enabled")]


def check_plugins(state: CliState) -> list[Check]:
    """Every plugin the loader found, with its status: a broken project plugin, or one
    ``[plugins] enabled`` names that is not there, fails; a shadowed one warns; a disabled
    or optional unconfigured one is information."""
    from weaver.cli.plugins import where
    from weaver.plugins.records import PluginOrigin  # as in weaver.cli.plugins: not on `weaver --help`

    statuses = state.app().plugins.statuses
    twice = {name for name, count in Counter(s.name for s in statuses).items() if count > 1}
    rows = []
    for status in statuses:
        name = f"plugin {status.name}"
        if status.name in twice:  # one row per source, told apart (a shadowed extension plugin)
            name += f" ({status.source if status.origin is PluginOrigin.extension else status.origin.label})"
        detail = f"{status.state.label}, {where(status, state.project_dir)}" + (
            f": {status.detail}" if status.detail else ""
        )
        rows.append(Check(name, status.severity.value, detail))
    return rows


def check_plugin_sources(state: CliState) -> list[Check]:
    """Each plugin source (an MCP server) reached live, whatever ``[llm] mode`` says: it
    starts, and which tools it has."""
    sources = state.app().plugin_sources
    rows = []
    for name in sources.names:
        try:
            tools = sources.check(name)
        except Exception as exc:  # noqa: BLE001 - an unreachable source is this row's failure
            rows.append(Check(f"plugin source {name}", "fail", str(exc)))
            continue
        names = ", ".join(tool.schema.name for tool in tools[:10]) + (f", ... ({len(tools)} in all)" if len(tools) > 10 else "")
        status = "ok" if tools else "warn"
        rows.append(Check(f"plugin source {name}", status, f"reachable, {len(tools)} tools: {names}" if tools else "reachable, but it has no tools"))
    return rows


def check_kernel(state: CliState) -> list[Check]:
    """A kernel as the project's sessions get it: started, a plugin called, and the
    boundary around it seen from inside (its user, capabilities, limit, what it reaches)."""
    import asyncio

    from weaver.execution.check import check_kernel as run_check

    app = state.app()
    name = app.config.table("execution").executor
    spec = app.registry.executors.get(name)
    if name != "local" and spec is not None and spec.check is not None:
        # Another executor's kernels are not this machine's: it checks them itself.
        return [Check(*row) for row in asyncio.run(spec.check(app.config, app.plugins.specs))]
    result = asyncio.run(run_check(app.config, app.plugins.specs))
    where = "in the bwrap sandbox" if result.sandbox == "bwrap" else "without a sandbox"
    if not result.ok:
        return [Check("kernel", "fail", f"{where}: {result.detail}")]
    rows = [
        Check(
            "kernel",
            "ok",
            f"started {where} in {result.start_s:.2f} s, a plugin called in {result.execute_s * 1000:.0f} ms",
        )
    ]
    view = result.view
    uid, gid = view["uids"][1], view["gids"][1]
    own = uid != os.geteuid()
    if own:
        whose = " (a user of its own)"
    elif uid == 0:
        whose = (
            " (root, because a user of its own could not reach its Python or the project: install "
            'bubblewrap for [execution] sandbox = "auto", or use a Python other users may enter)'
        )
    else:
        whose = " (the host's user: Weaver does not run as root)"
    rows.append(
        Check("kernel user", "fail" if result.root_user else "ok", f"uid {uid}, gid {gid}, groups {view['groups'] or 'none'}{whose}")
    )
    plain = "none, and no_new_privs set" if view["no_new_privs"] else "none"
    rows.append(Check("kernel capabilities", "fail" if result.capabilities else "ok", result.capabilities or plain))
    limit = view["process_limit"] if own else None
    rows.append(
        Check(
            "kernel process limit",
            "ok" if limit else "warn",
            f"{limit} processes and threads (RLIMIT_NPROC of its own user)"
            if limit
            else "none: the kernel shares the host's user, whose other processes RLIMIT_NPROC would count",
        )
    )
    rows.append(Check("kernel isolation", "warn" if result.exposed else "ok", _isolation(result, own)))
    return rows


def _isolation(result: Any, own_user: bool) -> str:
    from weaver.execution.runtime import landlock

    view = result.view
    network = "no network" if set(view["interfaces"]) <= {"lo"} else "the host's network"
    processes = "its own pid namespace" if result.sandbox == "bwrap" else "the host's processes visible (not their memory)"
    held = [f"{label} {state.split(' ')[0]}" for label, state in {**view["read"], **view["write"]}.items()]
    layers = ["mounts of bubblewrap"] if result.sandbox == "bwrap" else []
    if own_user:
        layers.append("file permissions of its own user")
    abi = landlock.abi()
    layers.append(f"Landlock ABI {abi}" if abi else "no Landlock on this system")
    text = f"{network}; {processes}; {'; '.join(held)}; enforced by {', '.join(layers)}"
    if result.exposed:
        text += ". NOT isolated: " + "; ".join(result.exposed) + ' (the sandbox isolates these: [execution] sandbox = "bwrap")'
    return text


def check_sandbox(state: CliState) -> list[Check]:
    from weaver.execution.sandbox import bwrap_status

    available, detail = bwrap_status()
    setting = state.app().config.table("execution").sandbox
    status = "ok" if available else ("fail" if setting == "bwrap" else "warn")
    if not available and setting == "auto":
        detail += '; kernels run without a sandbox ([execution] sandbox = "auto")'
    elif available:
        detail += f" ([execution] sandbox = {setting!r}{': it is used' if setting != 'none' else ': not used'})"
    return [Check("sandbox bwrap", status, detail)]


def check_llm(state: CliState) -> list[Check]:
    """The default model's endpoint answers and serves the configured model."""
    import asyncio

    from weaver.errors import ConfigError

    service = state.app().llm
    if service.settings.mode == "replay":
        return [Check("llm", "ok", f"replays {service.settings.cassette or 'the cassette'}; no endpoint is called")]
    try:
        model = service.model("default")
        backend = service.backend("default")
    except ConfigError as exc:
        return [Check("llm", "warn", f"not configured: {exc}")]
    list_models = getattr(backend, "list_models", None)
    if list_models is None:
        return [Check("llm", "warn", f"backend {model.backend!r} cannot list models; reachability not checked")]

    async def listed() -> list[str]:
        try:
            return await list_models()
        finally:
            await backend.aclose()

    try:
        names = asyncio.run(listed())
    except Exception as exc:  # noqa: BLE001 - an unreachable endpoint is a failed row
        return [Check("llm", "fail", str(exc))]
    if model.model in names:
        return [Check("llm", "ok", f"{backend.endpoint} serves {model.model}")]
    return [Check("llm", "warn", f"{backend.endpoint} answers but does not list {model.model!r} ({len(names)} models)")]


CHECKS: tuple[Callable[[CliState], list[Check]], ...] = (
    check_python,
    check_packages,
    check_extensions,
    check_roles,
    check_plugins,
    check_plugin_sources,
    check_kernel,
    check_sandbox,
    check_llm,
)
"""The checks ``weaver doctor`` runs, in order; add a function to the tuple to add one."""


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help='Print a JSON list of {"name", "status", "detail"}.')] = False,
) -> None:
    """Check Python, packages, extensions, the project's plugins, a kernel start and the sandbox;
    exit 1 if any check fails."""
    state = CliState.of(ctx)
    state.app()  # a configuration that does not load is a usage error (status 2), not a failed check
    rows: list[Check] = []
    for check in CHECKS:
        try:
            rows.extend(check(state))
        except Exception as exc:  # noqa: BLE001 - a broken check is a failed row, not a crash
            rows.append(Check(check.__name__.removeprefix("check_"), "fail", f"{type(exc).__name__}: {exc}"))
    if as_json:
        echo_json([attrs.asdict(row) for row in rows])
    else:
        echo_table(("status", "check", "detail"), [(row.status, row.name, row.detail) for row in rows])
    if any(row.status == "fail" for row in rows):
        raise typer.Exit(1)
