"""Record ``cassettes/demo.jsonl``, the session ``weaver demo`` replays.

The model's side is scripted below: what a good model answers to the demo's request about
this project's data. Everything else is real: the Planner and the CodeInterpreter build
their prompts, the replies stream through the real ``openai`` client from a fake
OpenAI-compatible server on 127.0.0.1, the code is verified and runs in a real kernel
against ``data/shop.db``. Every LLM call is written to the cassette (``llm.mode = "record"``).

Record again whenever a prompt of those roles changes (the replay matches prompts
exactly)::

    python examples/data_analysis/make_data.py     # only if the data generator changed
    python examples/data_analysis/record_demo.py

The final answer quotes numbers the recorded code prints; the script checks they match.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from weaver_demo import CASSETTE, REQUEST
from weaver_demo.session import copy_project, demo_app

from weaver.model import AttachmentType, RoundState
from weaver.testing import FakeOpenAIServer, FakeReply
from weaver.testing.wire import code_reply, planner_reply

HERE = Path(__file__).resolve().parent

INIT_PLAN = """1. Load 2024 revenue per region and month from the shop database
2. Compute each region's growth from January to December <sequentially depends on 1>
3. Plot the monthly revenue per region <sequentially depends on 1>
4. Report the fastest-growing region and the plot to the user <interactively depends on 2 and 3>"""
PLAN = """1. Load 2024 revenue per region and month and compute each region's growth
2. Plot the monthly revenue per region
3. Report the fastest-growing region and the plot to the user"""
STEPS = PLAN.splitlines()

LOAD_CODE = '''monthly = sql_pull_data(
    """
    SELECT r.name AS region, substr(o.order_date, 1, 7) AS month, ROUND(SUM(o.revenue), 2) AS revenue
    FROM orders AS o JOIN regions AS r ON r.region_id = o.region_id
    WHERE o.order_date BETWEEN '2024-01-01' AND '2024-12-31'
    GROUP BY region, month
    ORDER BY region, month
    """
)
growth = period_growth(monthly, value="revenue", group="region", period="month")
print(monthly.pivot(index="month", columns="region", values="revenue").round(0))
growth'''

PLOT_CODE = '''import matplotlib.pyplot as plt

table = monthly.pivot(index="month", columns="region", values="revenue")
ax = table.plot(figsize=(9, 5), marker="o", title="Monthly revenue per region, 2024")
ax.set_xlabel("month")
ax.set_ylabel("revenue (EUR)")
ax.grid(alpha=0.3)
plt.tight_layout()'''

ANSWER = (
    "West grew fastest in 2024: its monthly revenue rose from €495.00 in January to €1,359.70 in "
    "December (+174.7%). East followed with +90.7%, then North (+21.1%) and South (+11.2%). "
    "December is the strongest month everywhere, so compare regions by growth rather than by a "
    "single month. The chart of monthly revenue per region is saved as a PNG in this session's artifacts."
)
ANSWER_FIGURES = ("1359.7", "174.7", "90.7", "21.1", "11.2")
"""Numbers the answer quotes, which the recorded execution must have printed."""


def replies() -> list[FakeReply]:
    """The model's side of the conversation, in call order."""
    texts = [
        planner_reply(
            "Use sql_pull_data to load 2024 revenue per region and month from the shop database "
            "(tables orders and regions; months as 'YYYY-MM'), keep it as `monthly`, then compute each "
            "region's growth from January to December with period_growth. Show the monthly table and the growth.",
            plan=PLAN,
            init_plan=INIT_PLAN,
            step=STEPS[0],
            reasoning="The question needs the 2024 orders aggregated by region and month: growth compares "
            "each region's first and last month, and the plot shows the monthly series. Loading and "
            "aggregating go together; the plot reuses the same table.",
        ),
        code_reply(
            LOAD_CODE,
            thought="Aggregate in SQL with sql_pull_data (read-only), then rank the regions with the "
            "project's period_growth plugin; printing the pivot shows the monthly series.",
        ),
        planner_reply(
            "Plot the monthly revenue per region from `monthly` as a line chart, one line per region, "
            "titled 'Monthly revenue per region, 2024', with the axes labelled.",
            plan=PLAN,
            init_plan=INIT_PLAN,
            step=STEPS[1],
            reasoning="West has the largest growth (+174.7%), East is second. The data is in `monthly`; "
            "the chart is next.",
        ),
        code_reply(PLOT_CODE, thought="Pivot to one column per region and let pandas draw the lines; "
                   "the open figure is saved as an artifact."),
        planner_reply(
            ANSWER,
            send_to="User",
            stop="Completed",
            plan=PLAN,
            init_plan=INIT_PLAN,
            step=STEPS[2],
            reasoning="Both the growth table and the chart are done; I can answer with the numbers.",
        ),
    ]
    return [FakeReply(text, chunk_size=24) for text in texts]


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch, FakeOpenAIServer(replies()) as server:
        project = copy_project(Path(scratch) / "project")
        with demo_app(project, mode="record", base_url=server.base_url, api_key="recording") as app:
            round = app.session().send_message(REQUEST)
        printed = "\n".join(
            attachment.content
            for post in round.posts
            for attachment in post.attachments
            if attachment.type is AttachmentType.execution_result
        )
        missing = [figure for figure in ANSWER_FIGURES if figure not in printed]
        if round.state is not RoundState.finished or missing or len(server.requests) != 5:
            print(f"recording failed: {round.state.value} ({round.reason}); figures not printed: {missing}")
            return 1
        shutil.copyfile(project / CASSETTE, HERE / CASSETTE)
    print(f"recorded {len(server.requests)} LLM calls to {HERE / CASSETTE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
