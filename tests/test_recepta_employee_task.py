"""The seed's employee-record task with the real Planner and Recepta: the Planner extracts,
validates and writes the SQL in its own steps, reporting each to Recepta, and the
CodeInterpreter is never called. The model's words are scripted through the fake
OpenAI-compatible server; the engine, the ``openai`` client, reply extraction and plan
parsing are real."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, ClassVar

import weaver_planner
import weaver_recepta
from weaver.events import Event, EventType
from weaver.hookspecs import hookimpl
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.testing import FakeOpenAIServer
from weaver_recepta.role import ACKNOWLEDGEMENT

TASK = """\
Step 1: extract Employee ID, Department, Project Code, Role, Manager and Location from this summary:
On April 10, 2025, a review was conducted for an employee with ID `E12345`. The employee is part of the
`Development` department and is assigned to project code "X987". The role held is "Software Engineer"
under the supervision of manager "J. Doe". The primary work location is "Remote".
Step 2: check that the role is one of: Software Engineer, Data Analyst, Project Manager, DevOps Specialist, QA Tester.
Step 3: print this SQL query with the extracted details:
SELECT EmployeeID, Department, ProjectCode, Role, Manager, Location FROM EmployeeRecords
WHERE EmployeeID = '{EmployeeID}' AND Department = '{Department}' AND ProjectCode = '{ProjectCode}'
AND Role = '{Role}' AND Manager = '{Manager}' AND Location = '{Location}' ORDER BY EmployeeID;"""

INIT_PLAN = (
    "1. Extract Employee ID, Department, Project Code, Role, Manager and Location from the summary\n"
    "2. Validate the role against the recognized roles <interactively depends on 1>\n"
    "3. Construct the SQL query with the extracted details <interactively depends on 1>\n"
    "4. Report the query to the user <interactively depends on 1 and 3>"
)
PLAN = "1. Extract the employee details\n2. Validate the role\n3. Construct the SQL query and report it to the user"
SQL = (
    "SELECT EmployeeID, Department, ProjectCode, Role, Manager, Location FROM EmployeeRecords\n"
    "WHERE EmployeeID = 'E12345' AND Department = 'Development' AND ProjectCode = 'X987'\n"
    "AND Role = 'Software Engineer' AND Manager = 'J. Doe' AND Location = 'Remote' ORDER BY EmployeeID;"
)


def planner_reply(current: str, send_to: str, message: str, stop: str = "InProcess") -> str:
    return json.dumps(
        {
            "plan_reasoning": f"The task is text I can read and fill in myself; now: {current}.",
            "init_plan": INIT_PLAN,
            "plan": PLAN,
            "current_plan_step": current,
            "stop": stop,
            "send_to": send_to,
            "message": message,
        }
    )


class CodeInterpreterStandIn:
    """Enabled under the CodeInterpreter's name and alias; records every call it gets."""

    calls: ClassVar[list[Post]] = []

    async def reply(self, ctx: RoleContext) -> Post:
        CodeInterpreterStandIn.calls.append(ctx.post)
        post = ctx.new_post(send_to=ctx.post.send_from)
        post.message_delta("executed")
        return post.build()


@hookimpl
def _stand_in_roles() -> list[RoleSpec]:
    return [
        RoleSpec(
            name="code_interpreter",
            alias="CodeInterpreter",
            factory=CodeInterpreterStandIn,
            description="Writes and runs Python code in a stateful kernel.",
        )
    ]


def test_employee_record_task_with_recepta_makes_no_code_interpreter_call(
    make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer
) -> None:
    CodeInterpreterStandIn.calls.clear()
    for extension in (weaver_planner, weaver_recepta, SimpleNamespace(weaver_roles=_stand_in_roles)):
        register_plugin(extension)
    fake_llm.add(
        planner_reply(
            "1. Extract the employee details",
            "Recepta",
            "Thought: I can read the summary myself.\nResult: Employee ID E12345, Department Development, "
            "Project Code X987, Role Software Engineer, Manager J. Doe, Location Remote.",
        ),
        planner_reply(
            "2. Validate the role",
            "Recepta",
            "Thought: the recognized roles are Software Engineer, Data Analyst, Project Manager, DevOps "
            "Specialist, QA Tester.\nResult: Software Engineer is a recognized role.",
        ),
        planner_reply(
            "3. Construct the SQL query and report it to the user",
            USER,
            f"The role Software Engineer is recognized. The query:\n```sql\n{SQL}\n```",
            stop="Completed",
        ),
    )
    app = make_app(llm=fake_llm.llm_config(), session={"roles": ["planner", "code_interpreter", "recepta"]})
    events: list[Event] = []
    app.subscribe(events.append)

    round = app.session().send_message(TASK)

    assert round.state is RoundState.finished, round.reason
    assert round.reason == "Completed"
    assert SQL in round.answer
    assert [(p.send_from, p.send_to) for p in round.posts] == [
        (USER, "Planner"),
        ("Planner", "Recepta"),
        ("Recepta", "Planner"),
        ("Planner", "Recepta"),
        ("Recepta", "Planner"),
        ("Planner", USER),
    ]
    assert [p.message for p in round.posts if p.send_from == "Recepta"] == [ACKNOWLEDGEMENT] * 2
    # zero CodeInterpreter calls; the model was asked by the Planner only
    assert CodeInterpreterStandIn.calls == []
    assert len(fake_llm.requests) == 3
    assert [e.data["role"] for e in events if e.type is EventType.llm_call] == ["Planner"] * 3
    assert all(r["messages"][0]["content"].startswith("You are Planner.") for r in fake_llm.requests)
    # the Planner worked through its own steps, the plan advancing one step per turn
    plans = [
        e.data["attachment"]["extra"]
        for e in events
        if e.type is EventType.attachment and e.data["attachment"]["type"] == "plan"
    ]
    assert [p["current"] for p in plans] == [1, 2, 3]
    assert [[s["status"] for s in p["steps"]] for p in plans][-1] == ["done", "done", "done"]
    assert plans[-1]["init_steps"][3]["dependencies"] == [{"kind": "interactive", "on": [1, 3]}]
    # the prompt told the model when to use Recepta, and showed it Recepta's acknowledgement
    system = fake_llm.requests[0]["messages"][0]["content"]
    assert "# Steps you solve yourself, with Recepta" in system
    assert "## CodeInterpreter\nWrites and runs Python code in a stateful kernel." in system
    assert fake_llm.requests[1]["messages"][-1] == {"role": "user", "content": f"Recepta: {ACKNOWLEDGEMENT}"}
