"""Test helpers for Weaver and its extensions; also a pytest plugin (``weaver.testing.plugin``).

Fixtures (available in any project that installs ``weaver-core``):

``weaver_pm``
    A plugin manager with the core defaults and no entry-point autoload, so whatever is
    installed on the machine never leaks into a test.
``register_extension``
    ``register_extension(obj)`` registers a hook-implementing object for one test, with the
    checks an installed extension gets. ``register_plugin`` is its old name (deprecated).
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

    For a subprocess, put :data:`FAKE_DISTS_DIR` on ``PYTHONPATH`` instead, or use
    ``run_weaver(..., fake_dists=True)``.

``hook_context(tables=..., settings=..., **fields)`` builds a
:class:`weaver.context.HookContext` for unit-testing a hook without a session.

``run_weaver(*args, cwd=...)`` runs the ``weaver`` CLI in a fresh process with no user
config and none of the machine's ``WEAVER_*``/``OPENAI_*`` settings.

Scripted models: :class:`FakeOpenAIServer` (real HTTP, the real ``openai`` client) and
:class:`ScriptedLLM`, an in-process backend registered through ``weaver_llm_backends``
(no transport at all: ``pm.register(llm.extension())``, ``App(..., llm=llm.llm_config())``).
"""

from __future__ import annotations

from weaver.testing.cli import FAKE_DISTS_DIR, run_weaver
from weaver.testing.context import hook_context
from weaver.testing.fake_openai import FakeError, FakeOpenAIServer, FakeReply, FakeSSE
from weaver.testing.roles import ECHO_ROLE, EchoRole, echo_extension
from weaver.testing.scripted_llm import ScriptedLLM

__all__ = [
    "ECHO_ROLE",
    "FAKE_DISTS_DIR",
    "EchoRole",
    "FakeError",
    "FakeOpenAIServer",
    "FakeReply",
    "FakeSSE",
    "ScriptedLLM",
    "echo_extension",
    "hook_context",
    "run_weaver",
]
