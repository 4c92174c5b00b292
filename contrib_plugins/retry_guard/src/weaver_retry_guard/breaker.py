"""The circuit breaker: N failed attempts in a row with one root cause, and the work stops.

A persistent blocker (a package missing from the kernel, a column the data does not have, a
construct the verifier refuses, a spent plugin budget) fails every rewrite of the code, and
the Planner's re-plans, however they are worded. So the breaker counts consecutive failed
attempts of the round by :class:`~weaver_retry_guard.causes.Cause`, not by step text or
exception class: a success or a different cause (the next missing column: progress) starts
the count again. At the limit the cause *trips*: the work stops with one message naming the
blocker and what the user can do. If a tripped cause fails an attempt again in that round,
the re-plan did not avoid it, and the round ends at its next LLM call.

The state is a frozen value in the round's scratch space, replaced on each observation, so
the counting is a pure function that tests can drive without a session.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from weaver_retry_guard.causes import Cause


@attrs.frozen
class Attempt:
    """One failed attempt: its cause and how it showed (``ImportError: Missing optional ...``)."""

    cause: Cause
    evidence: str


@attrs.frozen
class Trip:
    """A tripped cause, the attempts that tripped it, and the message for the Planner."""

    cause: Cause
    attempts: tuple[Attempt, ...]
    message: str


@attrs.frozen
class BreakerState:
    """One round's consecutive failures with one cause, its tripped causes, and whether it must end.

    ``ended`` is the trip whose cause came back after it tripped; ``rounds_before`` the
    number of rounds that had ended when the state was made, so that work after this round
    (a summary written between rounds) is never stopped.
    """

    round_id: str | None = None
    rounds_before: int = 0
    streak: tuple[Attempt, ...] = ()
    trips: Mapping[Cause, Trip] = attrs.field(factory=dict)
    ended: Trip | None = None

    def for_round(self, round_id: str | None, rounds_before: int) -> BreakerState:
        """This state if it is about ``round_id``; else a fresh one (a new request starts clean)."""
        return self if round_id == self.round_id else BreakerState(round_id, rounds_before)


def observe(state: BreakerState, failure: Attempt | None, limit: int) -> tuple[BreakerState, str | None]:
    """Record one attempt (``failure`` is ``None`` for a success) of the state's round.

    Returns the new state and the message of a ``stop`` when this attempt stops the work.
    ``limit`` 0 disables the breaker.
    """
    if failure is None or limit <= 0:
        return attrs.evolve(state, streak=()), None
    tripped = state.trips.get(failure.cause)
    if tripped is not None:
        message = f"{tripped.message} The same blocker came back after that ({failure.evidence}), so the round ends here."
        return attrs.evolve(state, streak=(), ended=attrs.evolve(tripped, message=message)), message
    same = state.streak and state.streak[-1].cause == failure.cause
    streak = (*state.streak, failure) if same else (failure,)
    if len(streak) < limit:
        return attrs.evolve(state, streak=streak), None
    trip = Trip(failure.cause, streak, trip_message(failure.cause, streak))
    return attrs.evolve(state, streak=(), trips={**state.trips, failure.cause: trip}), trip.message


def _what(cause: Cause) -> tuple[str, str]:
    """The blocker in words, and what the user (or the Planner) can do about it."""
    subject = cause.subject
    if cause.kind == "module":
        return (
            (f"the module {subject!r} is not usable: it is missing from the kernel's environment, or the code "
            f"verifier does not allow it"),
            (f"ask the User to install {subject!r} in the kernel's Python (or to allow it with [code_verifier] "
            f"extra_allowed_imports), or continue without it"),
        )
    if cause.kind == "key":
        return (
            f"the data has no column or key {subject} (a schema mismatch)",
            "use one of the columns the data really has (its inventory lists them), or ask the User which is meant",
        )
    if cause.kind == "attribute":
        return (
            f"{subject} does not exist (a schema or version mismatch)",
            "use what the object really has, or ask the User",
        )
    if cause.kind == "file":
        return f"the file {subject} is not there", "ask the User for the file or its right name"
    if cause.kind == "name":
        return f"the name {subject} is not defined in the kernel", "define it first, or ask the User what it should be"
    if cause.kind == "plugin-budget":
        return (
            (f"the plugin call budget for `{subject}` is spent: this is a budget, not a problem of the environment "
            f"or the code"),
            ("call the plugin's batch form once with all the items if it has one, work on fewer items, or ask "
            "the User to raise [plugins] call_budget"),
        )
    if cause.kind.startswith("refused:"):
        return (
            f"the code verifier refuses it ({cause.kind.removeprefix('refused:')}: {subject})",
            "write the code without that construct, or ask the User to allow it in [code_verifier]",
        )
    if cause.kind == "timeout":
        return "the execution runs out of time", "work on less data at a time, or ask the User to raise [execution] timeout_s"
    if cause.kind == "kernel":
        return "the kernel crashes", "use less memory (fewer rows, smaller objects), or ask the User"
    return f"{cause.kind}: {subject}", "try a different approach, or tell the User what is needed"


def trip_message(cause: Cause, attempts: tuple[Attempt, ...]) -> str:
    """The one message the Planner gets: the blocker, what was tried, what to do now."""
    blocker, remedy = _what(cause)
    tried = "; ".join(f"{n}) {a.evidence}" for n, a in enumerate(attempts, 1))
    return (
        f"Circuit breaker: {len(attempts)} attempts in a row failed on the same blocker, so it will not be "
        f"retried: {blocker}. Attempts: {tried}. Rewording or rewriting will not get past it; do not hand out "
        f"work that needs it again. What can be done: {remedy}."
    )


def evidence(first: str, detail: str) -> str:
    """``first: detail`` with the detail's first line, shortened."""
    line = detail.strip().splitlines()[0][:200] if detail.strip() else ""
    return f"{first}: {line}" if line else first
