"""What a TaskWeaver plugin module imports, so it runs unchanged: ``from taskweaver.plugin
import Plugin, register_plugin``.

:func:`installed` puts this module in ``sys.modules`` as ``taskweaver.plugin`` (unless the
real TaskWeaver is importable) while a plugin module is imported. Inside the kernel the
plugin's class is instantiated by Weaver's binding with a
:class:`weaver.execution.runtime.PluginContext`; :class:`Plugin` accepts that, or
TaskWeaver's own ``(name, ctx, config)``. ``self.ctx`` then offers TaskWeaver's context API
on top of Weaver's: artifacts go to the session's artifacts directory, ``get_env`` reads the
plugin's config (the kernel's environment holds no secrets), ``log`` goes to the cell's stderr.

Only the standard library is imported here: this module is loaded inside the kernel.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_collected: contextvars.ContextVar[list[type] | None] = contextvars.ContextVar("weaver_taskweaver_plugins", default=None)
"""The classes :func:`register_plugin` marks inside :func:`collecting`, in this context only."""


@contextlib.contextmanager
def collecting() -> Iterator[list[type]]:
    """Collect the plugin classes a module registers while it is imported in this block."""
    found: list[type] = []
    token = _collected.set(found)
    try:
        yield found
    finally:
        _collected.reset(token)


def _collect(cls: type) -> None:
    found = _collected.get()
    if found is not None:
        found.append(cls)


class TaskWeaverContext:
    """TaskWeaver's ``PluginContext`` API over Weaver's plugin context."""

    def __init__(self, weaver_ctx: Any) -> None:
        self._ctx = weaver_ctx
        self._artifacts = 0

    @property
    def env_id(self) -> str:
        return "weaver"

    @property
    def session_id(self) -> str:
        return str(self._ctx.session_id)

    @property
    def execution_id(self) -> str:
        return str(self._ctx.session_id)

    def create_artifact_path(self, name: str, file_name: str, type: str, desc: str) -> tuple[str, str]:
        """A fresh path in the session's artifacts directory for the plugin to write to."""
        path = self._ctx.artifact_path(file_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._artifacts += 1
        return f"{name}-{self._artifacts}", str(path)

    def add_artifact(self, name: str, file_name: str, type: str, val: Any, desc: str | None = None) -> str:
        """Save ``val`` as an artifact: a DataFrame as CSV, a figure as PNG, text or bytes as is."""
        artifact_id, path = self.create_artifact_path(name, file_name, type, desc or "")
        if hasattr(val, "to_csv"):
            val.to_csv(path, index=False)
        elif hasattr(val, "savefig"):
            val.savefig(path)
        elif isinstance(val, bytes):
            Path(path).write_bytes(val)
        else:
            Path(path).write_text(str(val), encoding="utf-8")
        return artifact_id

    def get_session_var(self, variable_name: str, default: str | None = None) -> str | None:
        value = self._ctx.variables.get(variable_name, default)
        return None if value is None else str(value)

    def log(self, level: str, tag: str, message: str) -> None:
        getattr(self._ctx.log, {"warning": "warning", "error": "error"}.get(level, "info"))(f"{tag}: {message}")

    def get_env(self, plugin_name: str, variable_name: str) -> str:
        # A key left blank in the YAML arrives as None: for get_env, as for TaskWeaver's
        # environment variables, that is no value.
        value = self._ctx.config.get(variable_name)
        if value is None:
            raise KeyError(
                f"plugin {plugin_name!r} reads {variable_name!r}: set it in [plugins.config.{plugin_name}] "
                f"or WEAVER_PLUGINS__CONFIG__{plugin_name.upper()}__{variable_name.upper()}"
            )
        return str(value)

    def wrap_text_with_delimiter_temporal(self, text: str) -> str:
        return text


class Plugin:
    """TaskWeaver's plugin base class: a callable with ``name``, ``ctx`` and ``config``."""

    def __init__(self, name: Any, ctx: Any = None, config: dict[str, Any] | None = None) -> None:
        if ctx is None and config is None and hasattr(name, "artifact_path"):
            weaver_ctx = name
            self.name: str = weaver_ctx.name
            self.ctx: Any = TaskWeaverContext(weaver_ctx)
            self.config: dict[str, Any] = dict(weaver_ctx.config)
        else:
            self.name, self.ctx, self.config = name, ctx, dict(config or {})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"plugin {self.name!r} does not implement __call__")

    def log(self, level: str, message: str) -> None:
        self.ctx.log(level, "Plugin-" + self.name, message)

    def get_env(self, variable_name: str) -> str:
        return self.ctx.get_env(self.name, variable_name)


def register_plugin(func: Callable[..., Any] | type) -> Any:
    """Mark a :class:`Plugin` subclass (or a plain function) as the module's plugin."""
    if isinstance(func, type) and issubclass(func, Plugin):
        _collect(func)
    elif callable(func):
        function = func

        def call(self: Plugin, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

        wrapper = type(
            f"FuncPlugin_{func.__name__}",
            (Plugin,),
            {"__call__": call, "__doc__": func.__doc__, "_weaver_function": staticmethod(function)},
        )
        wrapper.__module__ = func.__module__
        _collect(wrapper)
        setattr(sys.modules[func.__module__], wrapper.__name__, wrapper)
    else:
        raise TypeError("register_plugin takes a Plugin subclass or a function")
    return func


def call_signature(cls: type) -> inspect.Signature:
    """What generated code passes to a registered plugin: its ``__call__`` without ``self``
    (for a registered function, the function's own signature)."""
    function = getattr(cls, "_weaver_function", None)
    if function is not None:
        return inspect.signature(function)
    signature = inspect.signature(cls.__call__)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def test_plugin(name: str | None = None, description: str | None = None) -> Callable[[Any], Any]:
    """TaskWeaver's test marker; Weaver runs a plugin's examples and test file instead."""

    def inner(func: Any) -> Any:
        return func

    return inner


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Make ``import taskweaver.plugin`` resolve to this module, unless TaskWeaver itself is installed."""
    if "taskweaver.plugin" in sys.modules or importlib.util.find_spec("taskweaver") is not None:
        yield
        return
    package = types.ModuleType("taskweaver")
    package.__path__ = []
    package.plugin = sys.modules[__name__]  # type: ignore[attr-defined]
    sys.modules["taskweaver"] = package
    sys.modules["taskweaver.plugin"] = sys.modules[__name__]
    try:
        yield
    finally:
        sys.modules.pop("taskweaver", None)
        sys.modules.pop("taskweaver.plugin", None)
