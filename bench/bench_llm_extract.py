"""What extracting and checking a reply costs: ``extract_reply`` per reply, against
``json.loads`` of the bare object (the floor any JSON reply pays).

Replies: a CodeInterpreter reply as a model writes it (prose, a fence, the ``response``
wrapper, ~1 kB), a Planner reply of 24 kB, and a reply just under the 1 MiB cap. Run it
against another checkout's code to compare: ``/path/to/venv/bin/python bench/run.py --only llm_extract``.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

CI_SCHEMA = {
    "type": "object",
    "properties": {"thought": {"type": "string"}, "reply_type": {"type": "string", "enum": ["python", "text"]},
                   "reply_content": {"type": "string"}},
    "required": ["thought", "reply_type", "reply_content"],
    "additionalProperties": False,
}
PLANNER_FIELDS = ("plan_reasoning", "init_plan", "plan", "current_plan_step", "stop", "send_to", "message")
PLANNER_SCHEMA = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in PLANNER_FIELDS},
    "required": list(PLANNER_FIELDS),
    "additionalProperties": False,
}


def _replies() -> list[tuple[str, str, dict[str, Any], int]]:
    code = "import pandas as pd\ndf = pd.read_csv('data/orders.csv')\n" + "print(df.groupby('region')['amount'].sum())\n" * 12
    ci = {"thought": "Group the orders by region and sum the amounts. " * 3, "reply_type": "python", "reply_content": code}
    ci_text = "Sure, here is the code:\n```json\n" + json.dumps({"response": ci}, indent=2) + "\n```\nLet me know."
    plan = "\n".join(f"{i}. load table_{i}.csv and check the column types <sequentially depends on {i - 1}>" for i in range(1, 250))
    planner = {name: "x" for name in PLANNER_FIELDS} | {"plan_reasoning": "y" * 2000, "plan": plan, "stop": "InProcess"}
    big = {**ci, "reply_content": "# " + "z" * 1_000_000}
    return [
        ("ci_reply", ci_text, CI_SCHEMA, 2000),
        ("planner_reply", json.dumps({"response": planner}), PLANNER_SCHEMA, 200),
        ("reply_near_cap", json.dumps(big), CI_SCHEMA, 5),
    ]


def _per_reply_ms(function: Callable[[], Any], count: int, repeats: int) -> list[float]:
    function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            function()
        samples.append((time.perf_counter() - started) * 1000 / count)
    return samples


def run(repeats: int) -> list[dict[str, Any]]:
    from weaver.llm.extract import extract_reply

    rows: list[dict[str, Any]] = []
    for name, text, schema, count in _replies():
        body = text[text.index("{") : text.rindex("}") + 1]
        floor = f"json.loads {name}"
        rows.append({"name": floor, "unit": "ms", "samples": _per_reply_ms(functools.partial(json.loads, body), count, repeats),
                     "baseline": None, "note": f"{len(text):,} chars"})
        rows.append({"name": f"extract_reply {name}", "unit": "ms",
                     "samples": _per_reply_ms(functools.partial(extract_reply, text, schema), count, repeats),
                     "baseline": floor, "note": "find, parse, unwrap and check against the schema"})
    return rows
