"""The four cost failure modes, each run with and without the cost guards.

Scripted sessions through the real engine, the real Planner and CodeInterpreter, the default
verifier and a real kernel, with the real ``openai`` client talking over HTTP to the fake
OpenAI-compatible server. Only the models' words are scripted; every scripted model behaves
the same with and without the guards (it never reads their messages), so the difference is
the guards' alone. Guards are switched by ``WEAVER_LOAD_EXTENSIONS`` through the real entry
points: "guarded" loads all four, "unguarded" none of them.

1. ``persistent``: a missing package (``pyarrow``, allowed by the project, absent from the
   kernel); the Planner keeps handing the step out again.
2. ``retries``: one step fails three times with long pandas tracebacks after printing the
   table (a different error each time, so the circuit breaker stays out of it), then works.
3. ``long_session``: 20 rounds of analysis; the 20th round's first Planner prompt is measured.
4. ``plugin_loop``: a plugin called for each of 50 items in one execution.

Token counts are what the fake server reports: characters / 4 of the prompt it receives,
the usual estimate. Money is at gpt-4o-mini's list prices (0.15 / 0.60 USD per million
input / output tokens). Every count is deterministic, so a repeat that differs would be a bug.

``python bench/bench_guards.py [--repeats N]`` also writes ``bench/RESULTS-guards.md``.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GUARDS = ("retry_guard", "feedback_trimmer", "loop_detector", "memory_compressor", "cost_guard")
BASE = ("planner", "code_interpreter", "code_verifier")
PRICES = {"input_price_per_million": 0.15, "output_price_per_million": 0.60}
RESULTS = Path(__file__).resolve().parent / "RESULTS-guards.md"

Responder = Callable[[dict[str, Any]], Any]


# --------------------------------------------------------------------------------------
# Scripted models
# --------------------------------------------------------------------------------------


def _caller(request: dict[str, Any]) -> str:
    system = request["messages"][0]["content"]
    if system.startswith("You are Planner."):
        return "planner"
    if system.startswith("You are CodeInterpreter."):
        return "ci"
    return "summarizer"


def _planner(message: str, step: str, send_to: str = "CodeInterpreter", stop: str = "InProcess") -> str:
    return json.dumps(
        {
            "plan_reasoning": "Work through the plan one step at a time.",
            "init_plan": f"1. {step}\n2. Report the result <interactively depends on 1>",
            "plan": f"1. {step}\n2. Report the result",
            "current_plan_step": f"1. {step}",
            "stop": stop,
            "send_to": send_to,
            "message": message,
        }
    )


def _code(content: str) -> str:
    return json.dumps({"thought": "Write the code for this step.", "reply_type": "python", "reply_content": content})


def _last_user(request: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")


def _persistent(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        return _code("import pyarrow.parquet as pq\ntable = pq.read_table('sales.parquet')\ntable.num_rows")
    if "This is your last turn" in _last_user(request):
        return _planner("I could not load sales.parquet.", "Load sales.parquet", send_to="User", stop="TaskFailure")
    return _planner("Load sales.parquet and count its rows; try another way if it fails.", "Load sales.parquet")


RETRY_CODE = [
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.to_string())\ndf['revenue_usd'].sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.to_string())\ndf['Revenue_USD'].astype(int).sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.to_string())\ndf.groupby('region')['Revenue_USD'].sum() + df['region']",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf['Revenue_USD'].str.replace('$', '').astype(float).sum()",
]


def _retries(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        attempts = sum(1 for m in request["messages"] if m["role"] == "assistant" and '"reply_type"' in m["content"])
        return _code(RETRY_CODE[min(attempts, len(RETRY_CODE) - 1)])
    if _last_user(request).startswith("CodeInterpreter:"):
        return _planner("The total revenue is in the result above.", "Sum the revenue", send_to="User", stop="Completed")
    return _planner("Load sales.csv and sum the Revenue_USD column.", "Sum the revenue")


def _long_session(request: dict[str, Any]) -> str:
    caller = _caller(request)
    if caller == "summarizer":
        return (
            "The User is analysing sales.csv (loaded as df) month by month; each round computed revenue "
            "per region for one month into a table named by_region_<n>. Region North usually leads."
        )
    last = _last_user(request)
    if caller == "ci":
        month = int(re.findall(r"month (\d+) of sales", "\n".join(m["content"] for m in request["messages"]))[-1])
        return _code(
            "import pandas as pd\n"
            "df = pd.read_csv('sales.csv')\n"
            f"by_region_{month} = df[df['month'] == {month}].groupby(['region', 'product'])['units'].agg(['sum', 'mean', 'max'])\n"
            f"print(by_region_{month}.to_string())\n"
            f"by_region_{month}['sum'].idxmax()"
        )
    if last.startswith("CodeInterpreter:"):
        return _planner("The leading region and product are in the table above.", "Compute the month", send_to="User", stop="Completed")
    month = int(re.findall(r"month (\d+)", last)[-1])
    return _planner(f"Compute units per region and product for month {month} of sales.csv.", "Compute the month")


LOOP_CODE = (
    "tickers = [f'T{n:02d}' for n in range(50)]\n"
    "prices = {}\n"
    "for t in tickers:\n"
    "    prices[t] = get_price(t)\n"
    "len(prices)"
)
BATCH_CODE = "tickers = [f'T{n:02d}' for n in range(50)]\nprices = get_prices(tickers)\nlen(prices)"


def _plugin_loop(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        return _code(BATCH_CODE if "PluginBudgetExceeded" in _last_user(request) else LOOP_CODE)
    if _last_user(request).startswith("CodeInterpreter:"):
        return _planner("Here are the 50 prices.", "Fetch the prices", send_to="User", stop="Completed")
    return _planner("Fetch the closing price of tickers T00 to T49.", "Fetch the prices")


PRICE_PLUGIN = '''
import weaver


@weaver.plugin(batch="get_prices")
def get_price(ticker: str) -> float:
    """The closing price of one ticker (one billable API request).

    Args:
        ticker: the symbol.
    Returns:
        price (float): the closing price.
    """
    return 100.0 + sum(map(ord, ticker)) % 50


@weaver.plugin
def get_prices(tickers: list) -> dict:
    """Closing prices of many tickers in one billable API request.

    Args:
        tickers: the symbols.
    Returns:
        prices (dict): the closing price by symbol.
    """
    return {t: 100.0 + sum(map(ord, t)) % 50 for t in tickers}
'''


def _sales_csv(rows: int) -> str:
    lines = ["region,product,month,units,Revenue_USD"]
    for n in range(rows):
        lines.append(f"{['North', 'South', 'East', 'West'][n % 4]},product-{n % 7},{n % 20 + 1},{n * 7 % 90},${n * 13 % 900}.50")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Running one scripted session
# --------------------------------------------------------------------------------------


def _counted(responder: Responder) -> Responder:
    """Reply with usage the way a real API reports it: prompt and completion tokens by size."""
    from weaver.testing.fake_openai import FakeReply

    def reply(request: dict[str, Any]) -> Any:
        text = responder(request)
        prompt = sum(math.ceil(len(m["content"]) / 4) + 4 for m in request["messages"])
        return FakeReply(text, prompt_tokens=prompt, completion_tokens=math.ceil(len(text) / 4))

    return reply


def _app(project: Path, server: Any, guarded: bool) -> Any:
    from weaver.engine import App

    environ = {
        "WEAVER_LOAD_EXTENSIONS": ",".join((*BASE, *GUARDS) if guarded else BASE),
        "WEAVER_CONFIG": str(project / "no-user-config.toml"),
    }
    return App(
        project,
        environ=environ,
        llm=server.llm_config(**PRICES),
        execution={"pool_size": 0},
        planner={"use_examples": False},
        code_verifier={"extra_allowed_imports": ["pyarrow"]},
    )


def _settle() -> None:
    """Wait for summaries being made between rounds (the user reading the answer)."""
    import weaver_memory_compressor

    deadline = time.monotonic() + 60
    while weaver_memory_compressor.pending and time.monotonic() < deadline:
        time.sleep(0.02)


def _usage(requests: list[dict[str, Any]]) -> dict[str, float]:
    prompt = sum(sum(math.ceil(len(m["content"]) / 4) + 4 for m in r["messages"]) for r in requests)
    return {"llm_calls": len(requests), "prompt_tokens": prompt}


def scenario(name: str, guarded: bool) -> dict[str, Any]:
    """Run one scenario once; the figures it reports."""
    from weaver.events import EventType
    from weaver.testing import FakeOpenAIServer

    responders = {"persistent": _persistent, "retries": _retries, "long_session": _long_session, "plugin_loop": _plugin_loop}
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(_counted(responders[name])) as server:
        project = Path(tmp)
        (project / "sales.csv").write_text(_sales_csv(120 if name == "retries" else 600), encoding="utf-8")
        if name == "plugin_loop":
            (project / "plugins").mkdir()
            (project / "plugins" / "prices.py").write_text(PRICE_PLUGIN, encoding="utf-8")
        with _app(project, server, guarded) as app:
            events: list[Any] = []
            app.subscribe(events.append)
            session = app.session()
            figures: dict[str, Any] = {}
            if name == "long_session":
                for month in range(1, 21):
                    if month == 20:
                        first_of_round_20 = len(server.requests)
                    session.send_message(f"Units per region and product for month {month}?", files=[project / "sales.csv"])
                    _settle()
                round_20 = next(r for r in server.requests[first_of_round_20:] if _caller(r) == "planner")
                figures["round20_planner_prompt_tokens"] = _usage([round_20])["prompt_tokens"]
            else:
                done = session.send_message("Please do this analysis.", files=[project / "sales.csv"])
                figures["round_state"] = done.state.value
            if name == "retries":
                figures["step_prompt_tokens"] = _usage([r for r in server.requests if _caller(r) == "ci"])["prompt_tokens"]
            if name == "persistent":
                figures["code_attempts"] = sum(1 for r in server.requests if _caller(r) == "ci")
            if name == "plugin_loop":
                results = [e.data["result"] for e in events if e.type is EventType.execution]
                figures["plugin_calls"] = sum(sum(r.get("plugin_calls", {}).values()) for r in results)
                # With the budget, the first execution stopped at the 26th call; what it had is still there.
                kept = app.run(session.execute("len(_plugin_results) if '_plugin_results' in dir() else 0"))
                figures["partial_results_kept"] = int(kept.value_repr)
            cost = sum(e.data["usage"]["cost"] for e in events if e.type is EventType.llm_call)
            session.close()
        figures.update(_usage(server.requests))
        figures["cost_usd"] = round(cost, 6)
    return figures


SCENARIOS = ("persistent", "retries", "long_session", "plugin_loop")
NOTES = {
    "persistent": "persistent ModuleNotFoundError; the Planner keeps re-assigning the step",
    "retries": "one step, 3 failures with long pandas tracebacks, then success",
    "long_session": "20 rounds of analysis",
    "plugin_loop": "a plugin called for each of 50 items",
}
UNITS = {
    "llm_calls": "calls",
    "prompt_tokens": "tokens",
    "cost_usd": "USD",
    "code_attempts": "calls",
    "step_prompt_tokens": "tokens",
    "round20_planner_prompt_tokens": "tokens",
    "plugin_calls": "calls",
    "partial_results_kept": "results",
}


def run(repeats: int) -> list[dict[str, Any]]:
    """Each scenario with and without the guards, ``repeats`` times; one row per figure."""
    rows: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
        for guarded in (False, True):
            variant = "guarded" if guarded else "unguarded"
            for _ in range(repeats):
                for key, value in scenario(name, guarded).items():
                    if key not in UNITS:
                        continue
                    row = rows.setdefault(
                        f"{name}.{key}.{variant}",
                        {
                            "name": f"{name}.{key}.{variant}",
                            "unit": UNITS[key],
                            "samples": [],
                            "baseline": f"{name}.{key}.unguarded" if guarded else None,
                            "note": NOTES[name],
                        },
                    )
                    row["samples"].append(float(value))
    return list(rows.values())


def _report(figures: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "# Cost guards: the four failure modes, with and without the guards",
        "",
        "Produced by `python bench/bench_guards.py` (also run by `nox -s bench`). Scripted",
        "models through the fake OpenAI-compatible server, the real Planner, CodeInterpreter,",
        "verifier and kernel; guards switched with `WEAVER_LOAD_EXTENSIONS`. Tokens are characters/4",
        "of each prompt; money at 0.15 / 0.60 USD per million input / output tokens.",
        "",
        "| scenario | figure | without guards | with guards | with / without |",
        "|---|---|---:|---:|---:|",
    ]
    for name in SCENARIOS:
        plain, guarded = figures[name]["unguarded"], figures[name]["guarded"]
        for key in plain:
            before, after = plain[key], guarded[key]
            ratio = f"{after / before:.2f}" if isinstance(before, (int, float)) and before else ""
            lines.append(f"| {name} | {key} | {before} | {after} | {ratio} |")
    persistent, retries = figures["persistent"], figures["retries"]
    session, loop = figures["long_session"], figures["plugin_loop"]
    step_ratio = retries["guarded"]["step_prompt_tokens"] / retries["unguarded"]["step_prompt_tokens"]
    round_ratio = session["guarded"]["round20_planner_prompt_tokens"] / session["unguarded"]["round20_planner_prompt_tokens"]
    lines += [
        "",
        "Targets:",
        "",
        (
            f"- persistent failure stopped at the 3rd identical error: {persistent['guarded']['code_attempts']} code "
            f"attempts with the guards, {persistent['unguarded']['code_attempts']} without (until the Planner's step limit)."
        ),
        f"- prompt tokens of the 3-retry failing step with trimming: {step_ratio:.2f} of those without (target: at most 0.50).",
        f"- the 20th round's Planner prompt: {round_ratio:.2f} of the uncompressed one (target: at most 0.33).",
        (
            f"- the plugin loop: {loop['guarded']['plugin_calls']} plugin calls with the guards (25 until the budget "
            f"stopped it, then 1 batch call), {loop['unguarded']['plugin_calls']} without; "
            f"{loop['guarded']['partial_results_kept']} partial results kept in `_plugin_results`."
        ),
    ]
    lines += ["", "Scenarios:", ""]
    lines += [f"- `{name}`: {NOTES[name]}" for name in SCENARIOS]
    lines += ["", "```json", json.dumps(figures, indent=2), "```", ""]
    return "\n".join(lines)


def main() -> None:
    figures = {name: {v: scenario(name, v == "guarded") for v in ("unguarded", "guarded")} for name in SCENARIOS}
    RESULTS.write_text(_report(figures), encoding="utf-8")
    sys.stdout.write(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    os.environ.pop("WEAVER_LOAD_EXTENSIONS", None)
    main()
