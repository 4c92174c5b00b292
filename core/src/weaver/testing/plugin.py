"""The pytest plugin behind ``weaver.testing`` (registered through the ``pytest11`` entry point)."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from weaver.extensions import ENTRY_POINT_GROUP, load_extensions, make_plugin_manager, register
from weaver.testing import FAKE_DISTS_DIR
from weaver.testing.fake_openai import FakeOpenAIServer


@pytest.fixture
def weaver_pm() -> pluggy.PluginManager:
    """A plugin manager with the core defaults registered and no entry points loaded."""
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    return pm


@pytest.fixture
def register_extension(weaver_pm: pluggy.PluginManager) -> Iterator[Callable[..., object]]:
    """``register_extension(obj, name=None)`` registers ``obj`` on ``weaver_pm`` for this test.

    It goes through the same checks as an installed extension (an implementation of a hook
    that does not exist fails the test, naming the likely intended hook).
    """
    registered: list[object] = []

    def add(obj: object, name: str | None = None) -> object:
        info = register(weaver_pm, obj, name=name)
        if info.error is not None:
            raise info.load_error()
        registered.append(obj)
        return obj

    yield add
    for obj in registered:
        if weaver_pm.is_registered(obj):
            weaver_pm.unregister(obj)


@pytest.fixture
def register_plugin(register_extension: Callable[..., object]) -> Callable[..., object]:
    """The old name of :func:`register_extension` (extensions were once called plugins); deprecated."""
    return register_extension


@pytest.fixture
def make_app(weaver_pm: pluggy.PluginManager, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_app(project_dir=None, **overrides)``: an App on ``weaver_pm``, closed at teardown.

    The environment is empty unless ``environ=`` is passed, so the machine's settings
    never leak in.
    """
    from weaver.engine import App  # the engine only for the tests that build an App

    apps: list[App] = []

    def make(project_dir: Path | None = None, **overrides: Any) -> App:
        overrides.setdefault("environ", {})
        app = App(project_dir or tmp_path, plugin_manager=weaver_pm, **overrides)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def fake_dists() -> Iterator[importlib.metadata.EntryPoints]:
    """Install the fake distributions in :data:`FAKE_DISTS_DIR` for one test; returns their entry points.

    The directory goes on ``sys.path``, so the real ``importlib.metadata`` loader finds
    ``weaver-fake-good``, ``weaver-fake-broken`` and ``weaver-fake-misspelt``; afterwards the
    path, the imported modules and the import caches are restored.
    """
    path = str(FAKE_DISTS_DIR)
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    sys.path.insert(0, path)
    importlib.invalidate_caches()
    try:
        yield importlib.metadata.EntryPoints(
            ep
            for dist in importlib.metadata.distributions(path=[path])
            for ep in dist.entry_points
            if ep.group == ENTRY_POINT_GROUP
        )
    finally:
        sys.path[:] = saved_path
        for name, module in list(sys.modules.items()):
            if name not in saved_modules and (getattr(module, "__file__", None) or "").startswith(path):
                del sys.modules[name]
        importlib.invalidate_caches()


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI-compatible server for one test; script it with ``fake_llm.add(...)``."""
    with FakeOpenAIServer() as server:
        yield server
