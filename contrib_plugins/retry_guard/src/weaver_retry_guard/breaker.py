"""The circuit breaker: one error class, N executions of one step in a row, and the step stops.

A persistent blocker (a package missing from the kernel, a column the data does not have)
fails every rewrite of the code the same way: the exception class stays while the traceback
changes with each attempt. Left alone, the CodeInterpreter retries and the Planner re-plans
until a hop or step limit ends the round. The breaker counts consecutive failures of one step
by exception class; a success or a different class restarts the count.

The state is a frozen value kept in the session's guard scratch space and replaced on each
observation, so the counting is a pure function that tests can drive without a session.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

NO_STEP = ""
"""The key used when the Planner gave no plan step: the whole round is then one step."""

_HINTS: Mapping[str, str] = {
    "ModuleNotFoundError": "a package the code imports is not installed in the kernel",
    "ImportError": "a package the code imports is not installed in the kernel, or not in this version",
    "KeyError": "the data does not have the column or key the code expects (a schema mismatch)",
    "AttributeError": "an object does not have the attribute the code expects (a schema or version mismatch)",
    "FileNotFoundError": "a file the code reads is not where it expects it",
    "PermissionError": "the kernel is not allowed to touch a file or resource",
    "ConnectionError": "a network resource is unreachable from the kernel",
}


@attrs.frozen
class Attempt:
    """One failed execution: its error class and the first line of its message."""

    error_class: str
    message: str


@attrs.frozen
class Trip:
    """A tripped step: who executed it, how it failed, and the message sent to the Planner."""

    step: str
    role: str
    error_class: str
    attempts: tuple[Attempt, ...]
    message: str


@attrs.frozen
class BreakerState:
    """Consecutive failures per step of one round, and the steps already tripped."""

    round_id: str | None = None
    streaks: Mapping[str, tuple[Attempt, ...]] = attrs.field(factory=dict)
    trips: Mapping[str, Trip] = attrs.field(factory=dict)

    def for_round(self, round_id: str | None) -> BreakerState:
        """This state if it is about ``round_id``; else a fresh one (a new request starts clean)."""
        return self if round_id == self.round_id else BreakerState(round_id)

    def tripped(self, step: str | None) -> Trip | None:
        return self.trips.get(step or NO_STEP)


def observe(
    state: BreakerState,
    *,
    round_id: str | None,
    step: str | None,
    role: str,
    failure: Attempt | None,
    limit: int,
) -> tuple[BreakerState, Trip | None]:
    """Record one execution of ``step`` (``failure`` is ``None`` for a success).

    Returns the new state and the :class:`Trip` when this execution trips the breaker.
    ``limit`` 0 disables it.
    """
    state = state.for_round(round_id)
    key = step or NO_STEP
    streaks = dict(state.streaks)
    if failure is None:
        streaks.pop(key, None)
        return attrs.evolve(state, streaks=streaks), None
    previous = streaks.get(key, ())
    same = previous and previous[-1].error_class == failure.error_class
    streak = (*previous, failure) if same else (failure,)
    streaks[key] = streak
    if limit <= 0 or len(streak) < limit:
        return attrs.evolve(state, streaks=streaks), None
    trip = Trip(
        step=key,
        role=role,
        error_class=failure.error_class,
        attempts=streak,
        message=trip_message(key, failure.error_class, streak),
    )
    streaks.pop(key)
    return attrs.evolve(state, streaks=streaks, trips={**state.trips, key: trip}), trip


def trip_message(step: str, error_class: str, attempts: tuple[Attempt, ...]) -> str:
    """The one message the Planner gets: the likely cause, what was tried, what to do now."""
    where = f"step {step!r}" if step else "this task"
    hint = _HINTS.get(error_class, "something outside the code (the environment or the data) is wrong")
    tried = "; ".join(
        f"{n}) {a.error_class}: {a.message}" if a.message else f"{n}) {a.error_class}" for n, a in enumerate(attempts, 1)
    )
    return (
        f"Circuit breaker: {where} failed {len(attempts)} times in a row "
        f"with {error_class}, so it will not be retried. The blocker is likely environmental, "
        f"not the code: {hint}. Attempts: {tried}. Do not assign this step again; continue "
        f"with a different approach that avoids the blocker, or tell the user what was achieved "
        f"and what is needed (for example a package to install or the correct column names)."
    )


def failure_of(ok: bool, outcome: str, error_type: str | None, error_message: str | None) -> Attempt | None:
    """The :class:`Attempt` an execution result stands for, or ``None`` for a success.

    A timeout or a dead kernel has no exception; its outcome is its class, so three
    timeouts in a row trip the breaker too.
    """
    if ok:
        return None
    first_line = (error_message or "").strip().splitlines()[:1]
    message = first_line[0][:200] if first_line else ""
    return Attempt(error_type or outcome, message)
