"""Test helpers for Weaver and its extensions; also a pytest plugin (``weaver.testing.plugin``).

Fixtures (available in any project that installs ``weaver-core``):

``weaver_pm``
    A plugin manager with the core defaults and no entry-point autoload, so whatever is
    installed on the machine never leaks into a test.
``register_plugin``
    ``register_plugin(obj)`` registers a hook-implementing object for one test.
``make_app``
    ``make_app(project_dir=None, **overrides)`` builds an :class:`weaver.App` on
    ``weaver_pm`` in a temporary project directory, closed at teardown.
"""

from __future__ import annotations

from weaver.testing.roles import ECHO_ROLE, EchoRole, echo_extension

__all__ = ["ECHO_ROLE", "EchoRole", "echo_extension"]
