"""Installing the runtime into a kernel for one session, and the report after each execution."""

from __future__ import annotations

import ast
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from weaver.execution.runtime import BUDGET_KEY, REPORT_MIME, SETUP_KEY, SETUP_MIME
from weaver.execution.runtime.capture import StreamCap, changed_files, save_figures, snapshot
from weaver.execution.runtime.hostcall import SEARCH_NAME, HostChannel, ToolSearch, make_stub
from weaver.execution.runtime.hostcall import bind as bind_host
from weaver.execution.runtime.inventory import inventory
from weaver.execution.runtime.plugins import (
    PARTIAL_RESULTS_NAME,
    CallCounter,
    PluginBudgetExceeded,
    PluginContext,
    bind,
)

NOT_SET_UP = "this kernel has not been set up for a session yet"


class Hold(ast.NodeTransformer):
    """Refuses user cells, saying why (``reason``), until a session's setup succeeds in the
    kernel; Weaver's own (silent) requests still run.

    A pool kernel is put on hold when it is warmed up (:func:`warm_up`). A session taking it
    sends its first code with the session's setup in the request's metadata
    (``metadata[SETUP_KEY]``, passed on by ipykernel and IPython as ``cell_meta``): the hold
    sets the session up before the cell is compiled and lets it run only if every plugin
    loaded. If the setup fails, a plugin that does not load for instance, the cell is
    refused rather than run, and the setup report tells the host why. So a session's setup
    and its first code cost one request. A kernel whose ipykernel does not pass the metadata
    on refuses the cell unrun too, without a setup report; the host then sets it up with a
    silent request (:func:`install`) first. An AST transformer raising ``InputRejected`` is
    IPython's way to refuse a cell before any of it runs.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.reason = NOT_SET_UP
        self._user_cell = False

    def attach(self) -> None:
        # pre_execute fires for every request, pre_run_cell only for non-silent ones.
        self.shell.events.register("pre_execute", self._any_cell)
        self.shell.events.register("pre_run_cell", self._user)
        self.shell.ast_transformers.append(self)

    def release(self) -> None:
        """Let user cells run; nothing of the hold is left in the shell."""
        self.shell.events.unregister("pre_execute", self._any_cell)
        self.shell.events.unregister("pre_run_cell", self._user)
        self.shell.ast_transformers.remove(self)

    def _any_cell(self) -> None:
        self._user_cell = False

    def _user(self, info: Any) -> None:
        self._user_cell = True
        setup = (getattr(info, "cell_meta", None) or {}).get(SETUP_KEY)
        if setup is None:
            return
        try:
            runtime = set_up(setup)
        except Exception as exc:  # noqa: BLE001 - reported to the host; the cell stays refused
            _publish_setup({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
            return
        # IPython calls the callbacks registered before this event fired: the runtime's own
        # pre_run_cell, registered just now, must be run for this cell by hand.
        runtime.pre_run_cell(info)

    def visit(self, node: ast.AST) -> ast.AST:
        if self._user_cell:
            from IPython.core.error import InputRejected

            raise InputRejected(f"no code runs in this kernel: {self.reason}")
        return node


_hold: Hold | None = None


def warm_up() -> None:
    """Ready a kernel started ahead of time for the session that will take it.

    Builds what IPython otherwise builds on the first user cell, on that session's clock
    (the display formatters, the transcript logger), and puts the kernel on hold until a
    session's setup succeeds in it (see :class:`Hold`).
    """
    global _hold
    from IPython import get_ipython

    shell = get_ipython()
    shell.display_formatter.formatters  # noqa: B018 - built on first access
    shell.logger  # noqa: B018 - built on first access
    if _hold is None:
        _hold = Hold(shell)
        _hold.attach()


class KernelRuntime:
    """The per-kernel state: bound plugins, the call counter, output caps, artifacts."""

    def __init__(self, shell: Any, setup: dict[str, Any]) -> None:
        self.shell = shell
        self.setup = setup
        self.cwd = Path(setup["cwd"])
        self.artifacts_dir = Path(setup["artifacts_dir"])
        self.counter = CallCounter(setup.get("plugin_call_budget"), shell.user_ns)
        self.plugin_names: set[str] = set()
        self.plugin_errors: dict[str, str] = {}
        self.caps = {
            "stdout": StreamCap(setup["max_output_chars"]),
            "stderr": StreamCap(setup["max_output_chars"]),
        }
        self.value_cut = 0
        self.before: dict[str, int] = {}
        self.started = time.monotonic()

    # ---- setup -------------------------------------------------------------------

    def bind_plugins(self) -> None:
        specs = list(self.setup.get("plugins", ()))
        if any(spec.get("host") for spec in specs):
            self.bind_host_plugins([spec for spec in specs if spec.get("host")])
        if specs:
            # Every plugin is found with weaver_tools.search(), so a prompt need not list them all.
            self.shell.user_ns[SEARCH_NAME] = ToolSearch(s for s in specs if "signature" in s)
            self.plugin_names.add(SEARCH_NAME)
        for spec in specs:
            if spec.get("host"):
                continue
            name = spec["name"]
            ctx = PluginContext(
                name,
                spec.get("config") or {},
                session_id=self.setup["session_id"],
                cwd=self.cwd,
                artifacts_dir=self.artifacts_dir,
                namespace=self.shell.user_ns,
            )
            # A project's plugins folder goes last on the path, so a plugin file never
            # shadows an installed module (the host's loader rejects such names).
            if spec.get("path") and spec["path"] not in sys.path:
                sys.path.append(spec["path"])
            if spec.get("path") and not os.access(spec["path"], os.R_OK | os.X_OK):
                self.plugin_errors[name] = (
                    f"PermissionError: the kernel (uid {os.getuid()}) cannot read the plugin folder {spec['path']}; "
                    "it reads project files as any other user would: make the folder readable to others (chmod o+rx)"
                )
                self.plugin_names.add(name)
                continue
            try:
                self.shell.user_ns[name] = bind(
                    name, spec["target"], ctx, self.counter, spec.get("batch"), spec.get("path")
                )

            except BaseException as exc:  # noqa: BLE001 - reported to the host before any code runs
                self.plugin_errors[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.plugin_names.add(name)

    def bind_host_plugins(self, specs: list[dict[str, Any]]) -> None:
        """A stub for each host plugin, calling the host through the stdin channel
        (:mod:`weaver.execution.runtime.hostcall`); their results join the partial results
        a budget stop keeps."""
        from weaver.plugins import wire

        kernel = self.shell.kernel
        channel = HostChannel(lambda prompt: kernel.raw_input(prompt), wire.encode, wire.from_json)
        counter = self.counter

        def on_error(exc: Exception) -> None:
            if isinstance(exc, PluginBudgetExceeded):
                exc.results = list(counter.results)
                self.shell.user_ns[PARTIAL_RESULTS_NAME] = list(counter.results)

        for spec in specs:
            # The counter's list at call time: it is a new one for every execution.
            stub = make_stub(spec, channel, lambda result: counter.results.append(result), on_error)
            self.plugin_names.add(bind_host(self.shell.user_ns, spec["name"], stub))

    def cap_values(self) -> None:
        """Cut the text of the last expression's value in the kernel, before it is sent."""
        hook = self.shell.displayhook
        compute = hook.compute_format_data
        limit = self.setup["max_value_chars"]

        def capped(result: Any) -> Any:
            data, metadata = compute(result)
            for mime, value in list(data.items()):
                if isinstance(value, str) and len(value) > limit:
                    self.value_cut += len(value) - limit
                    data[mime] = value[:limit] + f"\n[... {len(value) - limit} characters cut ...]"
            return data, metadata

        hook.compute_format_data = capped

    # ---- around each execution ------------------------------------------------------

    def pre_run_cell(self, info: Any) -> None:
        self.counter.reset((getattr(info, "cell_meta", None) or {}).get(BUDGET_KEY))
        self.value_cut = 0
        for name, cap in self.caps.items():
            cap.attach(getattr(sys, name))
        self.before = snapshot(self.artifacts_dir)

    def post_run_cell(self, result: Any) -> None:
        from IPython.display import publish_display_data

        report: dict[str, Any] = {"execution_count": result.execution_count}
        for part, build in (
            ("artifacts", self._artifacts),
            ("variables", lambda: inventory(self.shell.user_ns, self._hidden())),
        ):
            try:
                report[part] = build()
            except Exception as exc:  # noqa: BLE001 - a report part failing is reported, not raised
                report.setdefault("problems", []).append(f"{part}: {type(exc).__name__}: {exc}")
        report["plugin_calls"] = dict(self.counter.calls)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:  # the exception's family, which the error message's class name alone does not give
            report["error_mro"] = [cls.__name__ for cls in type(error).__mro__[:-1]]
        report["cut"] = {name: cap.finish() for name, cap in self.caps.items()}
        report["cut"]["value"] = self.value_cut
        publish_display_data({REPORT_MIME: report})

    def _artifacts(self) -> list[dict[str, str]]:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        save_figures(self.artifacts_dir, f"cell-{self.shell.execution_count}")
        return changed_files(self.artifacts_dir, self.before)

    def _hidden(self) -> set[str]:
        return set(self.shell.user_ns_hidden) | self.plugin_names


def install(setup_json: str) -> None:
    """Set the kernel up for one session from Weaver's own (silent) request; see :func:`set_up`."""
    set_up(json.loads(setup_json))


def set_up(setup: dict[str, Any]) -> KernelRuntime:
    """Bind plugins, register the execution hooks and report the setup to the host.

    A kernel on hold (:class:`Hold`) is released only if every plugin loaded; if this
    raises, it stays on hold.
    """
    global _hold
    from IPython import get_ipython

    shell = get_ipython()
    os.chdir(setup["cwd"])
    os.environ["HOME"] = setup["home"]
    # Agg cannot show a window; generated code calls plt.show() anyway and the figure is
    # saved as an artifact, so the warning would only be noise for the model.
    warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
    runtime = KernelRuntime(shell, setup)
    runtime.bind_plugins()
    runtime.cap_values()
    shell.events.register("pre_run_cell", runtime.pre_run_cell)
    shell.events.register("post_run_cell", runtime.post_run_cell)
    if _hold is not None:
        if runtime.plugin_errors:
            _hold.reason = f"the session's plugins {sorted(runtime.plugin_errors)} failed to load"
        else:
            _hold.release()
            _hold = None
    _publish_setup({"plugin_errors": runtime.plugin_errors, "pid": os.getpid()})
    return runtime


def _publish_setup(report: dict[str, Any]) -> None:
    from IPython.display import publish_display_data

    publish_display_data({SETUP_MIME: report})
