"""The circuit breaker as pure functions: root causes from real error messages, and the count."""

from __future__ import annotations

import pytest

from weaver.specs import Violation
from weaver_retry_guard.breaker import Attempt, BreakerState, observe
from weaver_retry_guard.causes import Cause, cause_of_error, cause_of_outcome, cause_of_refusal

PYARROW = Cause("module", "pyarrow")


@pytest.mark.parametrize(
    ("error_type", "message", "mro", "cause"),
    [
        ("ModuleNotFoundError", "No module named 'pyarrow'", (), PYARROW),
        ("ModuleNotFoundError", "No module named 'pyarrow.parquet'", (), PYARROW),
        (
            "ImportError",
            "Missing optional dependency 'pyarrow'.  pyarrow is required for parquet support. Use pip or conda to install pyarrow.",
            (),
            PYARROW,
        ),
        (
            "ImportError",
            "Unable to find a usable engine; tried using: 'pyarrow', 'fastparquet'.\nA suitable version of pyarrow...",
            (),
            PYARROW,
        ),
        # A library's own subclass of ImportError, known only through the hierarchy the kernel reports.
        ("OptionalDependencyError", "'pyarrow' is needed", ("OptionalDependencyError", "ImportError", "Exception"), PYARROW),
        ("ImportError", "cannot import name 'read_table' from 'pyarrow.parquet' (...)", (), Cause("module", "pyarrow.parquet.read_table")),
        ("KeyError", "'revenue_usd'", (), Cause("key", "revenue_usd")),
        ("KeyError", "\"None of [Index(['revenue_usd'], dtype='object')] are in the [columns]\"", (), Cause("key", "revenue_usd")),
        ("AttributeError", "'DataFrame' object has no attribute 'revenue'", (), Cause("attribute", "DataFrame.revenue")),
        ("AttributeError", "module 'pandas' has no attribute 'read_parket'", (), Cause("attribute", "pandas.read_parket")),
        ("FileNotFoundError", "[Errno 2] No such file or directory: 'sales.parquet'", (), Cause("file", "sales.parquet")),
        ("NameError", "name 'df' is not defined", (), Cause("name", "df")),
        ("IndexError", "list index out of range", (), Cause("LookupError", "list index out of range")),
        ("ValueError", "cannot reshape array of size 12 into shape (5,)", (), Cause("ValueError", "cannot reshape array of size # into shape (#,)")),
        ("ParserError", "Error tokenizing data. C error: Expected 3 fields in line 7, saw 4", ("ParserError", "ValueError", "Exception"), Cause("ValueError", "Error tokenizing data. C error: Expected # fields in line #, saw #")),
        ("PluginBudgetExceeded", "plugin call budget exceeded: `get_price` may be called 25 times per step", (), Cause("plugin-budget", "get_price")),
    ],
)
def test_the_cause_of_an_error(error_type: str, message: str, mro: tuple[str, ...], cause: Cause) -> None:
    assert cause_of_error(error_type, message, mro) == cause


def test_a_refused_import_is_the_same_blocker_as_a_missing_module() -> None:
    refused = Violation(1, "import-not-allowed", "line 1: importing 'pyarrow.parquet' is not allowed. Allowed modules: pandas")
    assert cause_of_refusal([refused]) == PYARROW
    loop = Violation(3, "plugin-call-in-loop", "line 3: plugin `get_price` is called once per item by the for loop")
    dunder = Violation(2, "dunder-attribute", "line 2: '__class__' reaches interpreter internals")
    # The first finding by line names the cause.
    assert cause_of_refusal([loop, dunder]) == Cause("refused:dunder-attribute", "__class__")
    assert cause_of_refusal([loop]) == Cause("refused:plugin-call-in-loop", "get_price")
    assert cause_of_outcome("timeout_interrupted") == Cause("timeout", "timeout_interrupted")


def attempt(cause: Cause, shown: str = "") -> Attempt:
    return Attempt(cause, shown or f"{cause.kind}: {cause.subject}")


def run(state: BreakerState, failures: list[Attempt | None], limit: int = 3) -> tuple[BreakerState, list[str | None]]:
    stops = []
    for failure in failures:
        state, stop = observe(state, failure, limit)
        stops.append(stop)
    return state, stops


def test_one_cause_under_alternating_exception_classes_trips_at_the_third_attempt() -> None:
    shown = [
        attempt(PYARROW, "ModuleNotFoundError: No module named 'pyarrow'"),
        attempt(PYARROW, "ImportError: Missing optional dependency 'pyarrow'"),
        attempt(PYARROW, "the verifier refused the code: line 1: importing 'pyarrow' is not allowed"),
    ]
    state, stops = run(BreakerState("r1"), shown)
    assert stops[:2] == [None, None] and stops[2] is not None
    assert "'pyarrow'" in stops[2] and "install" in stops[2]
    assert all(a.evidence in stops[2] for a in shown)
    assert PYARROW in state.trips and state.ended is None


def test_the_tripped_cause_coming_back_ends_the_round() -> None:
    state, _ = run(BreakerState("r1"), [attempt(PYARROW)] * 3)
    state, stops = run(state, [attempt(Cause("key", "x")), None, attempt(PYARROW)])
    assert stops[:2] == [None, None]
    assert stops[2] is not None and "the round ends here" in stops[2]
    assert state.ended is not None and state.ended.cause == PYARROW


def test_progress_restarts_the_count_so_three_different_missing_columns_never_trip() -> None:
    columns = [attempt(Cause("key", name)) for name in ("Revenue", "Region", "Units")]
    _, stops = run(BreakerState("r1"), columns)
    assert stops == [None, None, None]


def test_a_success_resets_the_count_and_alternating_causes_never_trip() -> None:
    _, stops = run(BreakerState("r1"), [attempt(PYARROW), attempt(PYARROW), None, attempt(PYARROW), attempt(PYARROW)])
    assert stops == [None] * 5
    a, b = attempt(PYARROW), attempt(Cause("key", "x"))
    _, stops = run(BreakerState("r1"), [a, b, a, b, a, b])
    assert stops == [None] * 6


def test_a_budget_stop_is_explained_as_a_budget() -> None:
    _, stops = run(BreakerState("r1"), [attempt(Cause("plugin-budget", "get_price"))] * 3)
    assert stops[2] is not None
    assert "budget, not a problem of the environment" in stops[2] and "[plugins] call_budget" in stops[2]
    assert "batch form" in stops[2]


def test_a_new_round_starts_clean_and_limit_zero_turns_it_off() -> None:
    state, _ = run(BreakerState("r1"), [attempt(PYARROW)] * 2)
    fresh = state.for_round("r2", 1)
    assert fresh.streak == () and fresh.rounds_before == 1
    assert state.for_round("r1", 5) is state
    _, stops = run(BreakerState("r1"), [attempt(PYARROW)] * 10, limit=0)
    assert stops == [None] * 10
