"""Plugins inside the kernel: binding by name, the plugin context, call counting and budget."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import inspect
import logging
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

PARTIAL_RESULTS_NAME = "_plugin_results"
"""Where the results of an execution's plugin calls are kept when its budget runs out."""
WARN_SHARE = 0.6

_current: contextvars.ContextVar[PluginContext | None] = contextvars.ContextVar("weaver_plugin", default=None)


class PluginBudgetExceeded(Exception):
    """An execution called plugins more often than its budget allows.

    The calls made before the budget ran out are kept: their results are in ``results``
    and in the kernel variable ``_plugin_results``, and every variable the code assigned
    before this call still holds its value.
    """

    def __init__(self, message: str, *, budget: int, calls: Mapping[str, int], results: list[Any]) -> None:
        super().__init__(message)
        self.budget = budget
        self.calls = dict(calls)
        self.results = results


def context() -> PluginContext:
    """The context of the plugin now running; a plugin function calls this to reach it."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("weaver.execution.runtime.context() is only available while a plugin runs")
    return ctx


class _StderrHandler(logging.Handler):
    """Plugin log lines go to the running cell's stderr, so they reach the model."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.INFO)
        self.plugin = name

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"[{self.plugin}] {record.levelname}: {record.getMessage()}\n")


@contextlib.contextmanager
def running(ctx: PluginContext) -> Iterator[None]:
    """Make ``ctx`` what :func:`context` returns while a plugin runs (in the kernel or, for a
    host plugin, on the host)."""
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)


class PluginContext:
    """What a plugin may use: its own config (secrets included), the session's artifacts
    directory and working directory, a logger, and the session's variables (read-only).

    In the kernel the logger writes to the running cell's stderr; a host plugin is given a
    logger of the host's (``logger``), and its ``variables`` are empty: the kernel's stay
    in the kernel.
    """

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        session_id: str,
        cwd: Path,
        artifacts_dir: Path,
        namespace: Mapping[str, Any],
        logger: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self.config = MappingProxyType(dict(config))
        self.session_id = session_id
        self.cwd = cwd
        self.artifacts_dir = artifacts_dir
        self.variables = MappingProxyType(namespace)
        if logger is not None:
            self.log = logger
            return
        self.log = logging.getLogger(f"weaver.plugin.{name}")
        self.log.propagate = False
        self.log.setLevel(logging.INFO)
        if not self.log.handlers:
            self.log.addHandler(_StderrHandler(name))

    def artifact_path(self, filename: str) -> Path:
        """A fresh path for ``filename`` in the artifacts directory (a suffix avoids clashes)."""
        path = self.artifacts_dir / Path(filename).name
        stem, suffix, n = path.stem, path.suffix, 1
        while path.exists():
            path = path.with_name(f"{stem}-{n}{suffix}")
            n += 1
        return path


class CallCounter:
    """Plugin calls of the current execution, and how many more each plugin may get in it.

    Each plugin may be called ``budget`` times per execution, unless the host's request for
    this execution says how many calls of its scope (a step, a round) each plugin has left
    (:data:`weaver.execution.runtime.BUDGET_KEY`): then ``allowance`` holds that.
    """

    def __init__(self, budget: int | None, namespace: MutableMapping[str, Any]) -> None:
        self.budget = budget
        self.namespace = namespace
        self.calls: Counter[str] = Counter()
        self.results: list[Any] = []
        self.allowance: Mapping[str, Any] = {}

    def reset(self, allowance: Mapping[str, Any] | None = None) -> None:
        self.calls = Counter()
        self.results = []
        self.allowance = allowance or {}

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def admit(self, name: str, batch: str | None) -> None:
        """Count a call, or refuse it past the plugin's allowance; warn once at 60% of its budget."""
        budget = self.allowance.get("budget", self.budget)
        if budget is None:
            self.calls[name] += 1
            return
        before = budget - self.allowance.get("left", {}).get(name, budget)
        made = before + self.calls[name]
        if made >= budget:
            self.namespace[PARTIAL_RESULTS_NAME] = list(self.results)
            hint = f" `{name}` has a batch form, `{batch}`: use it." if batch else " Process fewer items per execution."
            earlier = f", {before} of them in earlier executions" if before else ""
            scope = self.allowance.get("scope", "execution")
            raise PluginBudgetExceeded(
                f"plugin call budget exceeded: `{name}` may be called {budget} times per {scope} "
                f"([plugins] call_budget) and this call would be number "
                f"{made + 1}{earlier}. The {len(self.results)} results returned so far in this execution are kept "
                f"in `{PARTIAL_RESULTS_NAME}`; variables assigned before this call are kept.{hint}",
                budget=budget,
                calls=self.calls,
                results=list(self.results),
            )
        self.calls[name] += 1
        if made + 1 == max(1, math.ceil(budget * WARN_SHARE)) and made + 1 < budget:
            scope = self.allowance.get("scope", "execution")
            sys.stderr.write(f"weaver: {made + 1} of {budget} plugin calls allowed to `{name}` per {scope} are used\n")


def load_target(target: str, path: str | None = None) -> Any:
    """The object ``module:attr.path`` names, importing ``module`` (from ``path`` first, if given)."""
    if path and path not in sys.path:
        sys.path.insert(0, path)
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"target {target!r} is not 'module:function'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def bind(
    name: str,
    target: str,
    ctx: PluginContext,
    counter: CallCounter,
    batch: str | None = None,
    path: str | None = None,
) -> Callable[..., Any]:
    """The callable generated code sees as ``name``: the plugin, counted and with its context.

    A class target is instantiated once with the context; a function target reaches it
    through :func:`context` while it runs.
    """
    obj = load_target(target, path)
    is_class = inspect.isclass(obj)
    function = obj(ctx) if is_class else obj
    if not callable(function):
        raise TypeError(f"{target} is a {type(function).__name__}, not a function or callable class")

    def call(*args: Any, **kwargs: Any) -> Any:
        counter.admit(name, batch)
        with running(ctx):
            result = function(*args, **kwargs)
        counter.results.append(result)
        return result

    functools.update_wrapper(call, function.__call__ if is_class else function)
    call.__name__ = name
    return call
