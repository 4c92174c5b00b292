"""The plan model: dependency annotations, steps, the current step and statuses."""

from __future__ import annotations

import pytest

from weaver.serde import from_json, to_json
from weaver_planner.plan import (
    Dependency,
    DependencyKind,
    Plan,
    StepStatus,
    build_plan,
    parse_annotations,
    parse_init_plan,
    parse_steps,
)

SEQ, INT, UNSPEC = DependencyKind.sequential, DependencyKind.interactive, DependencyKind.unspecified
STEPS = range(1, 6)  # annotations below sit on step 5 of a five-step plan unless said otherwise

# (step text, plain text, dependencies, substrings the notes must contain; () = no notes)
CASES = [
    ("Load the data", "Load the data", (), ()),
    ("Count rows <sequentially depends on 1>", "Count rows", (Dependency(SEQ, (1,)),), ()),
    ("Ask <interactively depends on 1 and 3>", "Ask", (Dependency(INT, (1, 3)),), ()),
    ("Join <interactively depends on 1, 2>", "Join", (Dependency(INT, (1, 2)),), ()),
    ("Join <sequentially depends on 1, 2 and 3>", "Join", (Dependency(SEQ, (1, 2, 3)),), ()),
    ("Join <sequentially depends on 1,2,and 3>", "Join", (Dependency(SEQ, (1, 2, 3)),), ()),
    ("Train <sequentially depends on steps 1-3>", "Train", (Dependency(SEQ, (1, 2, 3)),), ()),
    ("Go <Interactively Depends On 4>", "Go", (Dependency(INT, (4,)),), ()),
    # TaskWeaver's older prompt spelled it this way
    ("Count <sequential depend on 1>", "Count", (Dependency(SEQ, (1,)),), ()),
    ("Count <interactive dependent on 2.>", "Count", (Dependency(INT, (2,)),), ()),
    (
        "Both <sequentially depends on 1> <interactively depends on 3>",
        "Both",
        (Dependency(SEQ, (1,)), Dependency(INT, (3,))),
        (),
    ),
    ("Report <interactively depends on 2> to the user", "Report to the user", (Dependency(INT, (2,)),), ()),
    ("Read the <file name> first", "Read the <file name> first", (), ()),
    ("Keep <independent> steps", "Keep <independent> steps", (), ()),
    # malformed: tolerated, reported
    ("Fit <depends on 1>", "Fit", (Dependency(UNSPEC, (1,)),), ("names no kind",)),
    ("Fit <… depends on 1, 2>", "Fit", (Dependency(UNSPEC, (1, 2)),), ("names no kind",)),
    ("Fit <loosely depends on 2>", "Fit", (Dependency(UNSPEC, (2,)),), ("says 'loosely'",)),
    ("Fit <sequentially depends on 1", "Fit", (Dependency(SEQ, (1,)),), ("no closing '>'",)),
    ("Fit <sequentially depends on the first>", "Fit", (), ("'the first' is not a step number",)),
    ("Fit <interactively depends on>", "Fit", (), ("names no step",)),
    ("Fit <sequentially depends on 5>", "Fit", (), ("cannot depend on itself",)),
    ("Fit <sequentially depends on 7>", "Fit", (), ("later step (7)",)),
    (
        "Fit <interactively depends on 1, x and 2>",
        "Fit",
        (Dependency(INT, (1, 2)),),
        ("'x' is not a step number",),
    ),
]


@pytest.mark.parametrize(("text", "plain", "dependencies", "notes"), CASES, ids=[c[0] for c in CASES])
def test_dependency_annotations(text: str, plain: str, dependencies: tuple, notes: tuple[str, ...]) -> None:
    got_plain, got_dependencies, got_notes = parse_annotations(5, text, STEPS)
    assert got_plain == plain
    assert got_dependencies == dependencies
    if notes:
        joined = "\n".join(got_notes)
        for expected in notes:
            assert expected in joined
        assert all(note.startswith("init_plan step 5: annotation") for note in got_notes)
    else:
        assert got_notes == []


def test_reference_to_a_missing_step_is_dropped_and_reported() -> None:
    # step 3 of a plan that has no step 2
    plain, dependencies, notes = parse_annotations(3, "Go <sequentially depends on 1 and 2>", {1, 3})
    assert plain == "Go"
    assert dependencies == (Dependency(SEQ, (1,)),)
    assert notes == ["init_plan step 3: annotation '<sequentially depends on 1 and 2>': there is no step 2"]


def test_steps_numbered_bulleted_and_continued() -> None:
    steps, notes = parse_steps("1. Load a.csv\n   and b.csv\n2) Join them\nStep 3: Report\n", "plan")
    assert steps == [(1, "Load a.csv and b.csv"), (2, "Join them"), (3, "Report")]
    assert notes == []
    steps, notes = parse_steps("- Load\n- Count", "plan")
    assert steps == [(1, "Load"), (2, "Count")]
    assert len(notes) == 2 and "bullet" in notes[0]
    steps, notes = parse_steps("1. a\n3. b", "init_plan")
    assert steps == [(1, "a"), (3, "b")]
    assert notes == ["init_plan: steps are numbered 1, 3, expected 1 to 2"]
    steps, notes = parse_steps("just do it", "plan")
    assert steps == [(1, "just do it")]
    assert "does not start with a numbered step" in notes[0]


def test_seed_init_plan() -> None:
    text = (
        "1. Request historical stock price data from the user\n"
        "2. Ask the user to specify a forecasting model\n"
        "3. Load the historical stock price data <interactively depends on 1>\n"
        "4. Train the forecasting model using the historical data <interactively depends on 2 and 3>\n"
        "5. Predict the stock price for the next 7 days <sequentially depends on 4>\n"
        "6. Report the prediction results to the user <interactively depends on 5>"
    )
    steps, notes = parse_init_plan(text)
    assert notes == []
    assert [s.number for s in steps] == [1, 2, 3, 4, 5, 6]
    assert steps[3].text == "Train the forecasting model using the historical data"
    assert steps[3].dependencies == (Dependency(INT, (2, 3)),)
    assert steps[4].dependencies == (Dependency(SEQ, (4,)),)
    assert steps[0].dependencies == steps[1].dependencies == ()


INIT = "1. Extract\n2. Validate <interactively depends on 1>\n3. Write SQL <interactively depends on 1>"
PLAN = "1. Extract the data\n2. Validate the role\n3. Write the SQL query"


def test_current_step_and_statuses_advance_across_turns() -> None:
    first = build_plan(INIT, PLAN, "1. Extract the data", "InProcess")
    assert (first.current, first.turn, first.revision) == (1, 1, 0)
    assert [s.status for s in first.steps] == [StepStatus.in_progress, StepStatus.pending, StepStatus.pending]
    second = build_plan(INIT, PLAN, "2. Validate the role", "InProcess", previous=first)
    assert (second.current, second.turn, second.revision) == (2, 2, 0)
    assert [s.status for s in second.steps] == [StepStatus.done, StepStatus.in_progress, StepStatus.pending]
    last = build_plan(INIT, PLAN, "3. Write the SQL query", "Completed", previous=second)
    assert [s.status for s in last.steps] == [StepStatus.done] * 3
    assert last.progress() == "3 of 3 plan steps done (1, 2, 3)"
    assert second.progress() == "1 of 3 plan steps done (1); step 2 (Validate the role) in progress"


def test_current_step_found_by_text_failure_and_revision() -> None:
    first = build_plan(INIT, PLAN, "Validate the role", "InProcess")
    assert first.current == 2 and first.notes == ()
    failed = build_plan(INIT, PLAN, "2. Validate the role", "TaskFailure", previous=first)
    assert failed.step(2).status is StepStatus.failed
    revised = build_plan(
        INIT, "1. Extract the data\n2. Write the SQL query", "2. Write the SQL query", "InProcess", failed
    )
    assert (revised.turn, revised.revision) == (3, 1)
    lost = build_plan(INIT, PLAN, "9. Something else", "InProcess")
    assert lost.current is None
    assert lost.notes == ("current_plan_step '9. Something else' matches no step of the plan",)
    assert all(s.status is StepStatus.pending for s in lost.steps)


def test_going_back_is_noted() -> None:
    ahead = build_plan(INIT, PLAN, "3. Write the SQL query", "InProcess")
    back = build_plan(INIT, PLAN, "2. Validate the role", "InProcess", previous=ahead)
    assert back.notes == ("the current step went back from 3 to 2",)


def test_plan_round_trips_through_json() -> None:
    plan = build_plan(INIT + "\n4. Report <depends on 9>", PLAN, "2. Validate the role", "InProcess")
    assert plan.notes  # the malformed mark is reported in the value itself
    assert from_json(to_json(plan), Plan) == plan
