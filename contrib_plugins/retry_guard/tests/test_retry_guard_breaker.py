"""The circuit breaker as a pure function: trips on the Nth identical error, resets on success."""

from __future__ import annotations

from weaver_retry_guard.breaker import NO_STEP, Attempt, BreakerState, failure_of, observe

MISSING = Attempt("ModuleNotFoundError", "No module named 'pyarrow'")


def _run(state: BreakerState, failures: list[Attempt | None], *, step: str | None = "1. load", round_id: str = "r1", limit: int = 3):
    trips = []
    for failure in failures:
        state, trip = observe(state, round_id=round_id, step=step, role="CodeInterpreter", failure=failure, limit=limit)
        trips.append(trip)
    return state, trips


def test_the_third_identical_error_trips_and_the_message_names_the_cause_and_the_attempts() -> None:
    state, trips = _run(BreakerState(), [MISSING, MISSING, MISSING])
    assert trips[:2] == [None, None]
    trip = trips[2]
    assert trip is not None and trip.error_class == "ModuleNotFoundError" and len(trip.attempts) == 3
    assert "likely environmental" in trip.message
    assert "not installed" in trip.message
    assert trip.message.count("No module named 'pyarrow'") == 3
    assert "'1. load'" in trip.message
    assert state.tripped("1. load") == trip


def test_a_success_resets_the_count() -> None:
    state, trips = _run(BreakerState(), [MISSING, MISSING, None, MISSING, MISSING])
    assert trips == [None] * 5
    assert state.tripped("1. load") is None
    _, more = _run(state, [MISSING])
    assert more[0] is not None


def test_a_different_error_class_restarts_the_count() -> None:
    key_error = Attempt("KeyError", "'revenue_usd'")
    _, trips = _run(BreakerState(), [MISSING, MISSING, key_error, MISSING, MISSING])
    assert trips == [None] * 5


def test_steps_count_separately_and_a_new_round_starts_clean() -> None:
    state, _ = _run(BreakerState(), [MISSING, MISSING], step="1. load")
    state, trips = _run(state, [MISSING, MISSING], step="2. plot")
    assert trips == [None, None]
    state, trips = _run(state, [MISSING], step="2. plot", round_id="r2")
    assert trips == [None] and state.round_id == "r2" and dict(state.streaks) == {"2. plot": (MISSING,)}


def test_without_a_plan_step_the_round_is_the_step() -> None:
    state, trips = _run(BreakerState(), [MISSING] * 3, step=None)
    assert trips[2] is not None and trips[2].step == NO_STEP
    assert state.tripped(None) is trips[2]
    assert "this task failed 3 times" in trips[2].message


def test_limit_zero_turns_the_breaker_off() -> None:
    _, trips = _run(BreakerState(), [MISSING] * 10, limit=0)
    assert trips == [None] * 10


def test_a_timeout_counts_by_its_outcome_and_a_success_is_no_failure() -> None:
    assert failure_of(True, "ok", None, None) is None
    assert failure_of(False, "timeout_interrupted", None, None) == Attempt("timeout_interrupted", "")
    long = failure_of(False, "error", "ValueError", "x" * 500 + "\nsecond line")
    assert long is not None and long.message == "x" * 200
