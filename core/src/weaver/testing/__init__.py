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
``fake_llm``
    A running :class:`FakeOpenAIServer` (empty script: ``fake_llm.add(...)``), stopped at
    teardown; ``make_app(llm=fake_llm.llm_config())`` points an App at it.
``fake_dists``
    Installs the checked-in fake distributions of :data:`FAKE_DISTS_DIR` for one test (the
    directory goes on ``sys.path``; path, modules and import caches are restored after) and
    returns their ``weaver`` entry points, so tests exercise the real ``importlib.metadata``
    loader: ``load_extensions(pm, entry_points=fake_dists)``. The distributions are

    - ``weaver-fake-good`` 1.0.0 (entry point ``fake_good``): a ``greeter`` role (alias
      ``Greeter``), a ``[fake_good]`` table (``greeting``, and a secret ``api_token``) and a
      ``weaver fake-greet`` command;
    - ``weaver-fake-broken`` 0.1.0 (``fake_broken``): its module fails to import;
    - ``weaver-fake-misspelt`` 0.2.0 (``fake_misspelt``): implements ``weaver_role``, a hook
      that does not exist.

    For a subprocess, put :data:`FAKE_DISTS_DIR` on ``PYTHONPATH`` instead.
"""

from __future__ import annotations

from pathlib import Path

from weaver.testing.fake_openai import FakeError, FakeOpenAIServer, FakeReply
from weaver.testing.roles import ECHO_ROLE, EchoRole, echo_extension

FAKE_DISTS_DIR = Path(__file__).with_name("fake_dists")
"""The checked-in fake installed distributions (``*.dist-info`` folders and their modules)."""

__all__ = [
    "ECHO_ROLE",
    "FAKE_DISTS_DIR",
    "EchoRole",
    "FakeError",
    "FakeOpenAIServer",
    "FakeReply",
    "echo_extension",
]
