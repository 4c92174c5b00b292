"""Plugins inside the kernel: binding by name, the plugin context, counting, the budget, load failures."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from weaver.engine import App, Session
from weaver.errors import PluginLoadError
from weaver.execution import ExecutionResult
from weaver.extensions import load_extensions, make_plugin_manager
from weaver.hookspecs import hookimpl
from weaver.specs import PluginSpec
from weaver.testing.kernels import kernel_app

PLUGINS = textwrap.dedent(
    """
    from weaver.execution.runtime import context


    def double(x: int) -> int:
        \"\"\"Twice ``x``.\"\"\"
        context().log.info("doubling %s", x)
        return 2 * x


    def key_length() -> int:
        \"\"\"The length of the configured key.\"\"\"
        return len(context().config["api_key"])


    def seen(name: str) -> object:
        \"\"\"The session variable called ``name``.\"\"\"
        return context().variables.get(name)


    class Saver:
        \"\"\"Saves a note as an artifact and returns its path.\"\"\"

        def __init__(self, ctx):
            self.ctx = ctx

        def __call__(self, text: str) -> str:
            path = self.ctx.artifact_path("note.txt")
            path.write_text(text)
            return str(path)
    """
)


NEEDS_HOST_ENV = textwrap.dedent(
    """
    import os

    TOKEN = os.environ["EXEC_TEST_PLUGIN_TOKEN"]  # the kernel's scrubbed environment lacks it


    def fetch(key: str) -> str:
        \"\"\"The token followed by ``key``.\"\"\"
        return TOKEN + key

    """
)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A folder of plugin modules: the host imports them from ``sys.path`` to check them, the
    kernel through ``PluginSpec.path``."""
    directory = tmp_path_factory.mktemp("plugins")
    directory.chmod(0o755)  # a kernel of a root host reads it as another user
    (directory / "exec_test_plugins.py").write_text(PLUGINS)
    (directory / "exec_test_env_plugin.py").write_text(NEEDS_HOST_ENV)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(directory))
        patch.setenv("EXEC_TEST_PLUGIN_TOKEN", "host-only")
        yield str(directory)
        for name in ("exec_test_plugins", "exec_test_env_plugin"):
            sys.modules.pop(name, None)


def extension(plugins: list[PluginSpec]) -> SimpleNamespace:
    @hookimpl
    def weaver_plugins(config):  # type: ignore[no-untyped-def]
        return plugins

    return SimpleNamespace(weaver_plugins=weaver_plugins)


def app_with(project: Path, ext: SimpleNamespace, pool_size: int = 0, budget: int = 0) -> App:
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    pm.register(ext, name="exec_test_extension")
    return kernel_app(project, pm=pm, execution={"pool_size": pool_size}, plugins={"call_budget": budget})


def good(path: str) -> list[PluginSpec]:
    return [
        PluginSpec("double", "exec_test_plugins:double", "Twice x", batch="double_many", path=path),
        PluginSpec("key_length", "exec_test_plugins:key_length", config={"api_key": "sk-plugin-secret"}, path=path),
        PluginSpec("seen", "exec_test_plugins:seen", path=path),
        PluginSpec("save_note", "exec_test_plugins:Saver", path=path),
    ]


@pytest.fixture(scope="module")
def session(plugin_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    app = app_with(tmp_path_factory.mktemp("exec_plugins"), extension(good(plugin_dir)), budget=5)
    yield app.session()
    app.close()


def run(session: Session, code: str) -> ExecutionResult:
    return session.app.run(session.execute(code))


def test_hook_weaver_plugins(session: Session) -> None:
    result = run(session, "double(21)")
    assert result.ok, result.error
    assert result.value_repr == "42"
    assert result.stderr == "[double] INFO: doubling 21\n"  # the plugin's log reaches the model
    assert result.plugin_calls == {"double": 1}
    names = {v.name for v in result.variables}
    assert not names & {"double", "key_length", "seen", "save_note"}


def test_a_plugin_context_has_its_config_the_variables_and_the_artifacts_dir(session: Session) -> None:
    result = run(
        session, "import os\nshared = 7\nprint(key_length(), 'sk-plugin-secret' in str(os.environ))\nseen('shared')"
    )
    assert result.stdout == "16 False\n" and result.value_repr == "7", result.error
    saved = run(session, "save_note('hello')")
    path = Path(eval(saved.value_repr or "''"))
    assert path.parent == session.artifacts_dir and path.read_text() == "hello"
    assert [a.path for a in saved.artifacts] == [str(path)]


def test_plugin_calls_are_counted_per_execution(session: Session) -> None:
    assert run(session, "[double(i) for i in range(3)]\nkey_length()").plugin_calls == {"double": 3, "key_length": 1}
    assert run(session, "double(1)").plugin_calls == {"double": 1}
    assert run(session, "1").plugin_calls == {}


def test_the_plugin_call_budget_stops_an_execution_and_keeps_the_results_so_far(session: Session) -> None:
    result = run(session, "results = []\nfor i in range(10):\n    results.append(double(i))")
    assert not result.ok and result.error is not None
    assert result.error.type == "PluginBudgetExceeded"
    assert "5 times" in result.error.message and "`double_many`" in result.error.message
    assert "weaver: 3 of 5 plugin calls" in result.stderr  # the warning at 60%
    assert result.plugin_calls == {"double": 5}
    kept = run(session, "results, _plugin_results")
    assert kept.value_repr == "([0, 2, 4, 6, 8], [0, 2, 4, 6, 8])"
    assert run(session, "double(100)").ok  # the budget is per execution


@pytest.mark.parametrize("pool_size", [0, 1], ids=["new kernel", "pool kernel"])
def test_a_plugin_that_fails_to_load_is_reported_before_any_code_runs(
    plugin_dir: str, tmp_path: Path, pool_size: int
) -> None:
    specs = [*good(plugin_dir)[:1], PluginSpec("fetch", "exec_test_env_plugin:fetch", path=plugin_dir)]
    app = app_with(tmp_path, extension(specs), pool_size=pool_size)
    if pool_size:
        # A pool kernel is sent the code right behind its setup: the kernel must refuse it.
        app.warm_up(wait=True)
    session = app.session()
    marker = session.cwd / "ran.txt"
    try:
        with pytest.raises(PluginLoadError) as caught:
            run(session, f"open({str(marker)!r}, 'w').write('ran')")
    finally:
        app.close()
    assert caught.value.name == "fetch" and caught.value.source == "exec_test_env_plugin:fetch"
    assert "KeyError: 'EXEC_TEST_PLUGIN_TOKEN'" in str(caught.value)
    assert not marker.exists()
