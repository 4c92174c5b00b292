"""What the verified pipeline gives guards beyond the execution itself: refusals, the exception
family, warnings before the run, what changed in the kernel, and a plugin budget that spans
executions. Real kernels, the real pipeline (``session.run_code``), real plugins."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from weaver.engine import App
from weaver.events import Event, EventType
from weaver.extensions import load_extensions, make_plugin_manager
from weaver.hookspecs import hookimpl
from weaver.specs import PluginSpec, Verdict, Violation
from weaver.testing.kernels import kernel_app

PLUGINS = textwrap.dedent(
    """
    def price(ticker: str) -> float:
        \"\"\"One billable lookup.\"\"\"
        return float(len(ticker))


    def prices(tickers: list) -> dict:
        \"\"\"Many lookups in one billable request.\"\"\"
        return {t: float(len(t)) for t in tickers}
    """
)


def verifier() -> SimpleNamespace:
    @hookimpl
    def weaver_verify_code(code):  # type: ignore[no-untyped-def]
        if "forbidden" in code:
            return [Violation(1, "no-forbidden", "line 1: 'forbidden' is not allowed", source="test_verifier")]
        return []

    @hookimpl
    def weaver_code_refused(code, violations, ctx):  # type: ignore[no-untyped-def]
        refusals = ctx.scratch.get("test.refusals", 0) + 1
        ctx.scratch["test.refusals"] = refusals
        if refusals >= 2:
            return Verdict.stop(f"refused {refusals} times: {violations[0].rule}", source="test_guard")
        return Verdict.inject("try without it", source="test_guard")

    @hookimpl
    def weaver_before_execute(code):  # type: ignore[no-untyped-def]
        return Verdict.warn("this prints", source="test_guard") if "print" in code else None

    return SimpleNamespace(
        weaver_verify_code=weaver_verify_code,
        weaver_code_refused=weaver_code_refused,
        weaver_before_execute=weaver_before_execute,
    )


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("budget_plugins")
    directory.chmod(0o755)  # a kernel of a root host reads it as another user
    (directory / "budget_test_plugins.py").write_text(PLUGINS)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(directory))
        yield str(directory)
    sys.modules.pop("budget_test_plugins", None)


def make(project: Path, plugin_dir: str, **plugins: Any) -> App:
    specs = [
        PluginSpec("price", "budget_test_plugins:price", "One lookup", batch="prices", path=plugin_dir),
        PluginSpec("prices", "budget_test_plugins:prices", "Many lookups", path=plugin_dir),
    ]

    @hookimpl
    def weaver_plugins(config):  # type: ignore[no-untyped-def]
        return specs

    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    pm.register(verifier(), name="test_verifier")
    pm.register(SimpleNamespace(weaver_plugins=weaver_plugins), name="test_plugins")
    pool = plugins.pop("pool_size", 0)
    return kernel_app(project, pm=pm, execution={"pool_size": pool}, plugins={"call_budget": 5, **plugins})


@pytest.fixture(scope="module")
def app(plugin_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = make(tmp_path_factory.mktemp("guarded_pipeline"), plugin_dir)
    yield app
    app.close()


LOOP = "got = []\nfor n in range(8):\n    got.append(price(f'T{n}'))"


def test_hook_weaver_code_refused(app: App) -> None:
    session = app.session()
    first = session.run_code("forbidden = 1")
    assert first.blocked and first.stopped is None and first.result is None
    assert "Note: try without it" in first.feedback
    second = session.run_code("forbidden = 2")
    assert second.stopped is not None and second.stopped.message == "refused 2 times: no-forbidden"
    assert session.variables() == ()  # nothing ran


def test_an_error_carries_its_class_hierarchy(app: App) -> None:
    session = app.session()
    missing = session.run_code("import no_such_module_anywhere")
    assert missing.result is not None and missing.result.error is not None
    assert missing.result.error.mro[:3] == ("ModuleNotFoundError", "ImportError", "Exception")
    own = session.run_code("class ShopError(LookupError):\n    pass\nraise ShopError('no shop')")
    assert own.result is not None and own.result.error is not None
    assert own.result.error.mro[:3] == ("ShopError", "LookupError", "Exception")


def test_a_warning_is_published_before_the_code_runs(app: App) -> None:
    events: list[Event] = []
    unsubscribe = app.subscribe(events.append)
    try:
        app.session().run_code("print('hello')")
    finally:
        unsubscribe()
    statuses = [e.data["message"] for e in events if e.type is EventType.status]
    warned = statuses.index("warning from test_guard: this prints")
    assert warned < statuses.index("executing code")


def test_feedback_names_only_the_variables_that_changed(app: App) -> None:
    session = app.session()
    session.run_code("a = 1\nb = [1, 2]")
    text = session.run_code("b.append(3)\nc = 'new'\ndel a").feedback
    assert "- b: list [3] [1, 2, 3]" in text and "- c: str [3] 'new'" in text
    assert "Deleted variables: a" in text
    assert "- a:" not in text
    quiet = session.run_code("1 + 1").feedback
    assert "variables" not in quiet.lower()


def test_a_rerun_loop_gets_no_new_calls_within_the_step_but_the_batch_form_does(app: App) -> None:
    session = app.session()
    stopped = session.run_code(LOOP)
    assert stopped.result is not None and stopped.result.plugin_calls == {"price": 5}
    assert "may be called 5 times per step" in stopped.result.error.message
    again = session.run_code(LOOP)  # the stubborn model: the same loop, at once refused
    assert again.result.error.type == "PluginBudgetExceeded" and again.result.plugin_calls == {}
    assert "this call would be number 6, 5 of them in earlier executions" in again.result.error.message
    batch = session.run_code("rest = prices([f'T{n}' for n in range(5, 8)])\nlen(rest)")
    assert batch.ok and batch.result.value_repr == "3"
    # That success ended the step: the next one has the whole budget again.
    fresh = session.run_code("[price('X') for _ in range(5)]")
    assert fresh.ok and fresh.result.plugin_calls == {"price": 5}


def test_a_caught_budget_stop_does_not_end_the_step(app: App) -> None:
    session = app.session()
    swallowed = session.run_code(f"try:\n{textwrap.indent(LOOP, '    ')}\nexcept Exception:\n    pass")
    assert swallowed.ok and swallowed.result.plugin_calls == {"price": 5}
    assert session.run_code("price('A')").result.error.type == "PluginBudgetExceeded"


@pytest.mark.slow
@pytest.mark.parametrize(("scope", "second_calls"), [("round", 0), ("execution", 5)])
def test_the_scope_is_configurable(plugin_dir: str, tmp_path: Path, scope: str, second_calls: int) -> None:
    app = make(tmp_path, plugin_dir, call_budget_scope=scope)
    try:
        session = app.session()
        assert session.run_code("[price('a') for _ in range(3)]").ok
        second = session.run_code("[price('b') for _ in range(5)]")
        # round: 3 of 5 were used by the first (successful) execution; execution: a fresh 5.
        assert second.result.plugin_calls == {"price": 2 if scope == "round" else second_calls}
    finally:
        app.close()


@pytest.mark.slow
def test_a_pool_kernel_gets_the_allowance_with_the_sessions_first_code(plugin_dir: str, tmp_path: Path) -> None:
    app = make(tmp_path, plugin_dir, pool_size=1)
    try:
        app.warm_up(wait=True)
        session = app.session()
        assert session.run_code(LOOP).result.plugin_calls == {"price": 5}
        assert session.run_code(LOOP).result.plugin_calls == {}
    finally:
        app.close()


@pytest.mark.slow
def test_a_kernel_that_dies_is_charged_what_its_code_could_spend(app: App) -> None:
    session = app.session()
    died = session.run_code("import os\nfor n in range(2):\n    price('x')\nos.kill(os.getpid(), 9)")
    assert died.result is not None and died.result.outcome == "kernel_died"
    after = session.run_code("price('y')")
    assert after.result.error.type == "PluginBudgetExceeded"  # nothing left for price in this step
    assert session.run_code("prices(['y'])").ok  # a plugin the dead code never named keeps its budget

