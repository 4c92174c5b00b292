"""The loop detector with a real kernel and a real project plugin: the warning before the
code runs, the budget inside the kernel with partial results kept, and block mode."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import weaver_loop_detector
from weaver.extensions import Hooks
from weaver.hookspecs import hookimpl
from weaver.model import USER, Post
from weaver.roles import RoleContext
from weaver.specs import RoleSpec, VerdictAction

pytestmark = pytest.mark.slow

PLUGIN = '''
import weaver


@weaver.plugin(batch="get_prices")
def get_price(ticker: str) -> float:
    """The closing price of one ticker (a billable request in real life).

    Args:
        ticker: the symbol.
    Returns:
        price (float): the price.
    """
    return float(len(ticker))


@weaver.plugin
def get_prices(tickers: list) -> dict:
    """Closing prices of many tickers in one request.

    Args:
        tickers: the symbols.
    Returns:
        prices (dict): price by symbol.
    """
    return {t: float(len(t)) for t in tickers}
'''

LOOP = textwrap.dedent(
    """\
    tickers = [f"T{n}" for n in range(50)]
    prices = {}
    for t in tickers:
        prices[t] = get_price(t)
    """
)


class Runner:
    """Runs the incoming message as code and keeps the CodeRun."""

    runs: ClassVar[list[Any]] = []

    async def reply(self, ctx: RoleContext) -> Post:
        Runner.runs.append(await ctx.run_code(ctx.post.message))
        post = ctx.new_post(send_to=USER)
        post.message_delta("ran")
        return post.build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec(name="runner", alias="Runner", factory=Runner, description="Runs code.")]


@hookimpl
def _verify(code: str, mode: Any, plugins: Any) -> list[Any]:
    return []


test_roles = SimpleNamespace(weaver_roles=_roles, weaver_verify_code=_verify)


@pytest.fixture
def start(make_app: Any, register_plugin: Any, tmp_path: Path) -> Any:
    Runner.runs.clear()
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "prices.py").write_text(PLUGIN, encoding="utf-8")
    register_plugin(test_roles)

    def make(guarded: bool = True, budget: int | None = None, **settings: Any) -> Any:
        if guarded:
            register_plugin(weaver_loop_detector)
        extra: dict[str, Any] = {"loop_detector": settings} if settings else {}
        if budget is not None:
            extra["plugins"] = {"call_budget": budget}
        return make_app(tmp_path, session={"roles": ["runner"]}, execution={"pool_size": 0}, **extra).session()

    return make


def test_a_loop_over_the_budget_is_refused_before_it_runs_naming_the_batch_form(start: Any) -> None:
    session = start()
    session.send_message(LOOP)
    run = Runner.runs[0]
    assert run.result is None and [v.rule for v in run.violations] == ["plugin-call-in-loop"]
    message = run.violations[0].message
    assert "line 4: plugin `get_price` is called 50 times once per item by the for loop on line 3" in message
    assert "25 more calls to it are allowed now" in message and "batch form `get_prices`" in message
    assert "The code was NOT run" in run.feedback


def test_in_warn_mode_the_loop_runs_with_a_warning_event_first_and_the_budget_stops_it(start: Any) -> None:
    session = start(mode="warn")
    events: list[Any] = []
    session.app.subscribe(events.append)
    session.send_message(LOOP)
    run = Runner.runs[0]

    warnings = [v for v in run.verdicts if v.source == "loop_detector"]
    assert len(warnings) == 1 and warnings[0].action is VerdictAction.warn
    assert "batch form `get_prices`" in warnings[0].message
    assert f"Note: {warnings[0].message}" in run.feedback
    statuses = [e.data.get("message", "") for e in events if e.type.value == "status"]
    warned = next(i for i, m in enumerate(statuses) if m.startswith("warning from loop_detector"))
    assert warned < statuses.index("executing code")

    result = run.result
    assert result.error.type == "PluginBudgetExceeded" and "get_prices" in result.error.message
    assert result.plugin_calls == {"get_price": 25}
    session.send_message("kept = (len(prices), len(_plugin_results))")
    assert Runner.runs[1].result.ok
    session.send_message("kept")
    assert Runner.runs[2].result.value_repr == "(25, 25)"


def test_a_ten_item_loop_under_a_25_call_budget_runs_with_a_warning(start: Any) -> None:
    session = start()
    session.send_message("prices = {t: get_price(t) for t in [f'T{n}' for n in range(10)]}\nlen(prices)")
    run = Runner.runs[0]
    assert run.ok and run.result.value_repr == "10" and run.result.plugin_calls == {"get_price": 10}
    assert [v.source for v in run.verdicts] == ["loop_detector"]
    assert "is called 10 times" in run.verdicts[0].message


def test_a_loop_of_unknown_size_is_refused_only_when_there_is_a_batch_form(start: Any) -> None:
    session = start()
    session.send_message("for t in sorted(set(open_list())):\n    get_price(t)")
    assert Runner.runs[0].blocked
    session.send_message("def open_list():\n    return ['A']\nfor t in open_list():\n    get_prices([t])")
    second = Runner.runs[1]
    assert second.ok and [v.source for v in second.verdicts] == ["loop_detector"]


def test_after_a_budget_stop_the_batch_form_still_works_and_the_loop_is_refused(start: Any) -> None:
    session = start(mode="warn", budget=5)
    session.send_message("got = [get_price(f'T{n}') for n in range(8)]")
    assert Runner.runs[0].result.plugin_calls == {"get_price": 5}
    session.send_message("rest = get_prices([f'T{n}' for n in range(8)])\nlen(rest)")
    assert Runner.runs[1].ok and Runner.runs[1].result.value_repr == "8"


def test_aliases_partials_and_dicts_of_plugins_are_refused_too(start: Any) -> None:
    session = start()
    for code in (
        "gp = get_price\nfor t in range(40):\n    gp(t)",
        "from functools import partial\np = partial(get_price)\n[p(str(t)) for t in range(40)]",
        "fns = {'p': get_price}\nfor t in range(40):\n    fns['p'](str(t))",
    ):
        session.send_message(code)
    assert [run.blocked for run in Runner.runs] == [True, True, True]
    assert all(run.result is None for run in Runner.runs)


def test_batch_calls_are_healthy_and_within_budget(start: Any) -> None:
    session = start()
    session.send_message("prices = get_prices([f'T{n}' for n in range(50)])\nlen(prices)")
    run = Runner.runs[0]
    assert run.ok and run.verdicts == () and run.result.value_repr == "50"
    assert run.result.plugin_calls == {"get_prices": 1}


@pytest.mark.parametrize("settings", [{"mode": "block"}, {"block": True}], ids=["mode", "old key"])
def test_block_mode_refuses_even_a_loop_that_fits(start: Any, settings: dict[str, Any]) -> None:
    session = start(**settings)
    session.send_message("[get_price(t) for t in 'AB']")
    run = Runner.runs[0]
    assert run.result is None and [v.rule for v in run.violations] == ["plugin-call-in-loop"]
    assert "The code was NOT run" in run.feedback and "batch form `get_prices`" in run.feedback


def test_without_the_extension_there_is_no_warning_and_the_cores_budget_still_stops_the_loop(start: Any) -> None:
    session = start(guarded=False)
    session.send_message(LOOP)
    run = Runner.runs[0]
    assert run.verdicts == () and run.result.plugin_calls == {"get_price": 25}
    assert run.result.error is not None and run.result.error.type == "PluginBudgetExceeded"


def test_without_a_budget_the_loop_runs_all_50_calls(start: Any) -> None:
    session = start(guarded=False, budget=0)
    session.send_message(LOOP)
    run = Runner.runs[0]
    assert run.ok and run.verdicts == () and run.result.plugin_calls == {"get_price": 50}


def test_the_old_budget_key_still_works_with_a_warning(register_plugin: Any, make_app: Any) -> None:
    register_plugin(weaver_loop_detector)
    app = make_app(session={"roles": []}, loop_detector={"plugin_call_budget": 7})
    assert app.config.table("plugins").call_budget == 7
    assert any("[loop_detector] plugin_call_budget" in w and "[plugins] call_budget" in w for w in app.config.warnings)


def test_hook_weaver_before_execute(start: Any, weaver_pm: Any) -> None:
    session = start()
    ctx = session.hook_context("CodeInterpreter")
    assert ctx.plugins["get_price"].batch == "get_prices"
    hooks = Hooks(weaver_pm)
    assert hooks.before_execute("get_price('A')", ctx).verdicts == ()
    flagged = hooks.before_execute("[get_price(t) for t in 'ABC']", ctx)
    assert [v.source for v in flagged.verdicts] == ["loop_detector"] and flagged.stopped is None
    # A refused loop is the verifier's: before_execute does not warn about it as well.
    assert hooks.before_execute("for t in tickers:\n    get_price(t)", ctx).verdicts == ()
