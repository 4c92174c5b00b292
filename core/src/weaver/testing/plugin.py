"""The pytest plugin behind ``weaver.testing`` (registered through the ``pytest11`` entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from weaver.extensions import load_extensions, make_plugin_manager


@pytest.fixture
def weaver_pm() -> pluggy.PluginManager:
    """A plugin manager with the core defaults registered and no entry points loaded."""
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    return pm


@pytest.fixture
def register_plugin(weaver_pm: pluggy.PluginManager) -> Iterator[Callable[[object], object]]:
    """``register_plugin(obj, name=None)`` registers ``obj`` on ``weaver_pm`` for this test."""
    registered: list[object] = []

    def register(obj: object, name: str | None = None) -> object:
        weaver_pm.register(obj, name=name)
        registered.append(obj)
        return obj

    yield register
    for obj in registered:
        if weaver_pm.is_registered(obj):
            weaver_pm.unregister(obj)


@pytest.fixture
def make_app(weaver_pm: pluggy.PluginManager, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_app(project_dir=None, **overrides)``: an App on ``weaver_pm``, closed at teardown.

    The environment is empty unless ``environ=`` is passed, so the machine's settings
    never leak in.
    """
    from weaver.engine import App

    apps: list[App] = []

    def make(project_dir: Path | None = None, **overrides: Any) -> App:
        overrides.setdefault("environ", {})
        app = App(project_dir or tmp_path, plugin_manager=weaver_pm, **overrides)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
