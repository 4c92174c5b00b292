"""The cost guards against a hostile tester's scenarios, with the real Planner, CodeInterpreter,
verifier, kernel and ``openai`` client over HTTP to the fake server. The scripted models never
read the guards' messages unless a test says so: what stops them is the guards' own doing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from weaver.engine import App
from weaver.model import RoundState
from weaver.testing import FakeOpenAIServer

pytestmark = pytest.mark.slow

GUARDS = ("retry_guard", "feedback_trimmer", "loop_detector", "memory_compressor", "cost_guard")
BASE = ("planner", "code_interpreter", "code_verifier")
SALES = "region,month,units,Revenue_USD\n" + "".join(f"{'NSEW'[n % 4]},{n % 12 + 1},{n * 7 % 90},{n * 13 % 900}\n" for n in range(200))
PLUGIN = '''
import weaver


@weaver.plugin(batch="get_prices")
def get_price(ticker: str) -> float:
    """One billable lookup.

    Args:
        ticker: the symbol.
    Returns:
        price (float): the price.
    """
    return float(len(ticker))


@weaver.plugin
def get_prices(tickers: list) -> dict:
    """Many lookups in one billable request.

    Args:
        tickers: the symbols.
    Returns:
        prices (dict): price by symbol.
    """
    return {t: float(len(t)) for t in tickers}


@weaver.plugin
def all_tickers() -> list:
    """Every listed ticker.

    Returns:
        tickers (list): the symbols.
    """
    return [f"T{n}" for n in range(50)]
'''


def caller(request: dict[str, Any]) -> str:
    system = request["messages"][0]["content"]
    return "planner" if system.startswith("You are Planner.") else "ci" if system.startswith("You are CodeInterpreter.") else "other"


def planner(message: str, step: str, send_to: str = "CodeInterpreter", stop: str = "InProcess") -> str:
    return json.dumps(
        {
            "plan_reasoning": "Step by step.",
            "init_plan": f"1. {step}",
            "plan": f"1. {step}",
            "current_plan_step": f"1. {step}",
            "stop": stop,
            "send_to": send_to,
            "message": message,
        }
    )


def code(content: str) -> str:
    return json.dumps({"thought": "Write it.", "reply_type": "python", "reply_content": content})


def last_user(request: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")


def attempts(request: dict[str, Any]) -> int:
    """Earlier attempts at this request: whole assistant turns, plus the ones shown in a line."""
    whole = sum(1 for m in request["messages"][-8:] if m["role"] == "assistant" and '"reply_type"' in m["content"])
    return whole + len(re.findall(r"^\d+\. code [0-9a-f]{8}:", last_user(request), re.MULTILINE))


def rewording_planner(done: str) -> Any:
    def respond(request: dict[str, Any]) -> str:
        if "This is your last turn" in last_user(request):
            return planner("I could not do it.", "Give up", send_to="User", stop="TaskFailure")
        if last_user(request).startswith("CodeInterpreter:") and done in last_user(request):
            return planner("Done: see the result above.", "Report", send_to="User", stop="Completed")
        turn = sum(1 for m in request["messages"] if m["role"] == "assistant")
        return planner(f"Try once more, another way (turn {turn}).", f"Work on it, variant {turn}")

    return respond


def run_round(tmp_path: Path, guarded: bool, ci: Any, respond_planner: Any, **config: Any) -> tuple[Any, FakeOpenAIServer]:
    def respond(request: dict[str, Any]) -> str:
        return ci(request) if caller(request) == "ci" else respond_planner(request)

    (tmp_path / "sales.csv").write_text(SALES)
    (tmp_path / "plugins").mkdir(exist_ok=True)
    (tmp_path / "plugins" / "prices.py").write_text(PLUGIN)
    environ = {"WEAVER_LOAD_EXTENSIONS": ",".join((*BASE, *GUARDS) if guarded else BASE), "WEAVER_CONFIG": str(tmp_path / "none.toml")}
    with FakeOpenAIServer(respond) as server:
        settings = {"planner": {"use_examples": False}, "execution": {"pool_size": 0}, **config}
        with App(tmp_path, environ=environ, llm=server.llm_config(), **settings) as app:
            done = app.session().send_message("please", files=[tmp_path / "sales.csv"])
    return done, server


def ci_calls(server: FakeOpenAIServer) -> int:
    return sum(1 for r in server.requests if caller(r) == "ci")


@pytest.mark.parametrize(
    ("name", "ci", "blocker", "config"),
    [
        ("rewording", lambda r: code(f"import pandas as pd\ndf = pd.read_csv('sales.csv')\nx{attempts(r)} = df['revenue_usd'].sum()"), "revenue_usd", {}),
        (
            "alternating",
            lambda r: code("import pandas as pd\npd.read_parquet('s.parquet')" if attempts(r) % 2 else "import pyarrow\npyarrow.__version__"),
            "'pyarrow'",
            {"code_verifier": {"extra_allowed_imports": ["pyarrow"]}},
        ),
        ("refused", lambda r: code("import pyarrow.parquet as pq\npq.read_table('s.parquet')"), "'pyarrow'", {}),
    ],
)
def test_a_persistent_root_cause_stops_within_4_codeinterpreter_calls_naming_the_blocker(
    tmp_path: Path, name: str, ci: Any, blocker: str, config: dict[str, Any]
) -> None:
    done, server = run_round(tmp_path, True, ci, rewording_planner("never"), **config)
    assert ci_calls(server) <= 4
    assert done.state is RoundState.failed and "Circuit breaker" in done.reason and blocker in done.reason
    (tmp_path / "plain").mkdir()
    _, plain = run_round(tmp_path / "plain", False, ci, rewording_planner("never"), **config)
    assert ci_calls(plain) > 3 * ci_calls(server)  # without the breaker the rewording Planner goes on


def test_three_different_missing_columns_fixed_one_by_one_finish(tmp_path: Path) -> None:
    steps = [
        "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('Region')['units'].sum()",
        "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('region')['Units'].sum()",
        "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('region')['units_sold'].sum()",
        "import pandas as pd\ndf = pd.read_csv('sales.csv')\ntotal = df.groupby('region')['units'].sum()\ntotal",
    ]
    done, server = run_round(tmp_path, True, lambda r: code(steps[min(attempts(r), 3)]), rewording_planner("ran successfully"))
    assert done.state is RoundState.finished and done.answer.startswith("Done")
    assert ci_calls(server) == 4


def test_a_ten_item_loop_under_a_25_call_budget_finishes(tmp_path: Path) -> None:
    loop = "prices = {}\nfor t in [f'T{n}' for n in range(10)]:\n    prices[t] = get_price(t)\nlen(prices)"
    done, server = run_round(tmp_path, True, lambda r: code(loop), rewording_planner("ran successfully"))
    assert done.state is RoundState.finished and ci_calls(server) == 1


@pytest.mark.parametrize(
    "loop",
    [
        "prices = {}\nfor t in sorted(set(all_tickers())):\n    prices[t] = get_price(t)\nlen(prices)",
        "gp = get_price\nprices = [gp(t) for t in all_tickers()]\nlen(prices)",
        "from functools import partial\np = partial(get_price)\nprices = list(map(p, all_tickers()))",
        "fns = {'price': get_price}\nprices = [fns['price'](t) for t in all_tickers()]",
        "def fetch(ts):\n    return [get_price(ts[0])] + fetch(ts[1:]) if ts else []\nprices = fetch(all_tickers())",
    ],
    ids=["opaque", "alias", "partial", "dict", "recursion"],
)
def test_a_stubborn_model_never_makes_more_billable_plugin_calls_with_guards_than_without(tmp_path: Path, loop: str) -> None:
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    calls = {}
    for guarded, where in ((True, tmp_path / "on"), (False, tmp_path / "off")):
        events: list[Any] = []
        _done, _ = run_round(where, guarded, lambda r: code(loop), rewording_planner("never"))
        log = (where / ".weaver" / "sessions").glob("*/events.jsonl")
        for path in log:
            events += [json.loads(line) for line in path.read_text().splitlines()]
        calls[guarded] = sum(
            n for e in events if e["type"] == "execution" for name, n in e["data"]["result"]["plugin_calls"].items() if name == "get_price"
        )
    assert calls[True] <= calls[False]
    assert calls[False] <= 25  # the core's step budget alone: a re-run gets nothing new


def bench_guards() -> Any:
    """``bench/bench_guards.py``, whose scenarios these tests hold to the guards' targets."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_guards.py"
    spec = importlib.util.spec_from_file_location("bench_guards_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_long_session_s_prompts_plateau_and_keep_a_number_printed_in_round_2() -> None:
    """20 rounds, 2 new variables each: round 20's Planner and CodeInterpreter prompts are each
    at most a third of guards off and grow under 15% from round 10; round 20 still gets the
    number round 2 printed (token counts are deterministic: cl100k_base or characters / 4)."""
    bench = bench_guards()
    on, off = bench.scenario("long_session", True), bench.scenario("long_session", False)
    assert on["round_state"] == "finished" and on["round20_got_the_round2_number"]
    for role in ("planner", "ci"):
        assert on[f"r20_{role}_prompt_tokens"] <= off[f"r20_{role}_prompt_tokens"] / 3, (role, on, off)
        assert on[f"r20_{role}_prompt_tokens"] < 1.15 * on[f"r10_{role}_prompt_tokens"], (role, on)


def test_a_three_retry_step_costs_at_most_40_percent_of_its_prompt_tokens() -> None:
    """Three failures with long pandas tracebacks after a 40-row print, then success: the
    CodeInterpreter's four calls cost at most 40% of their prompt tokens with guards off."""
    bench = bench_guards()
    on, off = bench.scenario("retries", True), bench.scenario("retries", False)
    assert on["round_state"] == off["round_state"] == "finished"
    assert on["ci_calls"] == off["ci_calls"] == 4
    assert on["ci_prompt_tokens"] <= 0.40 * off["ci_prompt_tokens"], (on, off)
