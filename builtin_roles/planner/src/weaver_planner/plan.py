"""The plan as data: steps, typed dependencies, the current step and each step's status.

The Planner writes three texts each turn: ``init_plan`` (every step, annotated with
``<sequentially depends on 1>`` or ``<interactively depends on 1 and 3>``), ``plan`` (the
steps it will actually carry out, adjacent sequential steps merged) and
``current_plan_step``. :func:`build_plan` parses them into a :class:`Plan`; whatever cannot
be parsed is kept as text and reported in :attr:`Plan.notes`, never raised, because a
slightly malformed plan is still a usable plan.

A plan is a frozen value and round-trips through :mod:`weaver.serde`; the Planner puts it,
as JSON values, in the ``extra`` of its ``plan`` attachment, where workers and UIs read it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence

import attrs

from weaver.model import AttachmentType, Post, Round, as_tuple
from weaver.serde import from_data


class DependencyKind(str, enum.Enum):
    """How a step depends on earlier ones.

    ``sequential``: it can follow directly (the same worker can do both in one go);
    ``interactive``: the Planner must look at the earlier result, or ask the user, first;
    ``unspecified``: the annotation named no kind (reported in the plan's notes).
    """

    sequential = "sequential"
    interactive = "interactive"
    unspecified = "unspecified"


class StepStatus(str, enum.Enum):
    pending = "pending"
    in_progress = "in_progress"
    done = "done"
    failed = "failed"


@attrs.frozen
class Dependency:
    """One annotation: ``kind`` of dependency on the steps numbered ``on``."""

    kind: DependencyKind = attrs.field(converter=DependencyKind)
    on: tuple[int, ...] = attrs.field(converter=as_tuple)


@attrs.frozen
class InitStep:
    """A step of ``init_plan``; ``text`` is the step without its annotations."""

    number: int
    text: str
    dependencies: tuple[Dependency, ...] = attrs.field(default=(), converter=as_tuple)


@attrs.frozen
class PlanStep:
    """A step of the refined ``plan`` and how far it has got."""

    number: int
    text: str
    status: StepStatus = attrs.field(default=StepStatus.pending, converter=StepStatus)


@attrs.frozen
class Plan:
    """The Planner's plan after one turn.

    ``current`` is the number of the step in ``steps`` the Planner is on (``None`` when
    ``current_text`` names no step). ``turn`` counts the Planner's turns in the round and
    ``revision`` how many of them changed the plan. ``notes`` report what could not be
    parsed or looks wrong.
    """

    init_steps: tuple[InitStep, ...] = attrs.field(default=(), converter=as_tuple)
    steps: tuple[PlanStep, ...] = attrs.field(default=(), converter=as_tuple)
    current: int | None = None
    current_text: str = ""
    stop: str = ""
    turn: int = 1
    revision: int = 0
    notes: tuple[str, ...] = attrs.field(default=(), converter=as_tuple)

    def step(self, number: int | None) -> PlanStep | None:
        return next((s for s in self.steps if s.number == number), None)

    def progress(self) -> str:
        """One line for people: which steps are done and which one is under way."""
        if not self.steps:
            return "no plan yet"
        done = [str(s.number) for s in self.steps if s.status is StepStatus.done]
        parts = [f"{len(done)} of {len(self.steps)} plan steps done" + (f" ({', '.join(done)})" if done else "")]
        current = self.step(self.current)
        if current is not None and current.status is not StepStatus.done:
            parts.append(f"step {current.number} ({current.text}) {current.status.value.replace('_', ' ')}")
        return "; ".join(parts)


# --------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------

_NUMBERED = re.compile(r"^\s*(?:step\s*)?(\d+)\s*[.):]\s*(.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*[-*\u2022]\s+(.*)$")


def parse_steps(text: str, what: str) -> tuple[list[tuple[int, str]], list[str]]:
    """Numbered lines (``1. …``, ``2) …``, ``Step 3: …``) as ``(number, text)``, and notes.

    A line that starts no step continues the previous one; bullets are numbered by position.
    ``what`` names the field in the notes (``init_plan``, ``plan``).
    """
    steps: list[tuple[int, str]] = []
    notes: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        numbered, bullet = _NUMBERED.match(line), _BULLET.match(line)
        if numbered:
            steps.append((int(numbered.group(1)), numbered.group(2).strip()))
        elif bullet:
            steps.append((len(steps) + 1, bullet.group(1).strip()))
            notes.append(f"{what}: step {len(steps)} is a bullet, not a numbered step; numbered by position")
        elif steps:
            number, previous = steps[-1]
            steps[-1] = (number, f"{previous} {line.strip()}")
        else:
            steps.append((1, line.strip()))
            notes.append(f"{what}: the text does not start with a numbered step; read it as step 1")
    numbers = [n for n, _ in steps]
    if numbers != list(range(1, len(numbers) + 1)):
        notes.append(f"{what}: steps are numbered {', '.join(map(str, numbers))}, expected 1 to {len(numbers)}")
    return steps, notes


# --------------------------------------------------------------------------------------
# Dependency annotations
# --------------------------------------------------------------------------------------

_ANGLE = re.compile(r"<([^<>]*)>|<([^<>]*)$")
_ANNOTATION = re.compile(
    r"(?:(?P<kind>[a-z]+)\s+)?\bdepend(?:s|ent|ing)?\b\s*(?:on|upon)?\s*(?:steps?\b\s*)?(?P<refs>.*?)\s*$",
    re.IGNORECASE,
)
_KINDS = {
    "sequential": DependencyKind.sequential,
    "sequentially": DependencyKind.sequential,
    "interactive": DependencyKind.interactive,
    "interactively": DependencyKind.interactive,
}
_REF_SEPARATORS = re.compile(r"\s*(?:,|&|\band\b)\s*", re.IGNORECASE)
_RANGE = re.compile(r"^(\d+)\s*(?:-|\u2013|to)\s*(\d+)$", re.IGNORECASE)


def parse_annotations(number: int, text: str, known: Iterable[int]) -> tuple[str, tuple[Dependency, ...], list[str]]:
    """Split a step's text into its plain text, its dependencies and notes on malformed ones.

    Accepted: ``<sequentially depends on 1>``, ``<interactively depends on 1 and 3>``,
    ``<interactively depends on 1, 2>``, ``1, 2 and 3``, ranges ``1-3``, ``sequential`` /
    ``depend`` spelling variants, any case. Angle brackets that do not mention a
    dependency are ordinary text. A reference to a step that does not exist, to the step
    itself or to a later step is dropped and noted.
    """
    known = set(known)
    dependencies: list[Dependency] = []
    notes: list[str] = []
    kept: list[str] = []
    position = 0
    for match in _ANGLE.finditer(text):
        body = match.group(1) if match.group(1) is not None else match.group(2)
        parsed = _ANNOTATION.search(body)
        if parsed is None:
            continue
        kept.append(text[position : match.start()])
        position = match.end()
        where = f"init_plan step {number}: annotation {match.group(0).strip()!r}"
        if match.group(2) is not None:
            notes.append(f"{where} has no closing '>'")
        word = (parsed.group("kind") or "").lower()
        kind = _KINDS.get(word, DependencyKind.unspecified)
        if kind is DependencyKind.unspecified:
            said = f"says {word!r}" if word else "names no kind"
            notes.append(f"{where} {said}; expected 'sequentially' or 'interactively'")
        refs, problems = _parse_refs(parsed.group("refs"))
        notes.extend(f"{where}: {problem}" for problem in problems)
        valid = []
        for ref in refs:
            if ref == number:
                notes.append(f"{where}: a step cannot depend on itself")
            elif ref > number:
                notes.append(f"{where}: depends on a later step ({ref})")
            elif ref not in known:
                notes.append(f"{where}: there is no step {ref}")
            else:
                valid.append(ref)
        if valid:
            dependencies.append(Dependency(kind, tuple(valid)))
        elif not refs and not problems:
            notes.append(f"{where}: names no step it depends on")
    kept.append(text[position:])
    plain = re.sub(r"\s{2,}", " ", "".join(kept)).strip()
    return plain, tuple(dependencies), notes


def _parse_refs(text: str) -> tuple[list[int], list[str]]:
    refs: list[int] = []
    problems: list[str] = []
    for part in _REF_SEPARATORS.split(text.strip().rstrip(".")):
        part = part.strip()
        if not part:
            continue
        ranged = _RANGE.match(part)
        if part.isdigit():
            refs.append(int(part))
        elif ranged and int(ranged.group(1)) <= int(ranged.group(2)):
            refs.extend(range(int(ranged.group(1)), int(ranged.group(2)) + 1))
        else:
            problems.append(f"{part!r} is not a step number")
    return sorted(set(refs)), problems


def parse_init_plan(text: str) -> tuple[tuple[InitStep, ...], list[str]]:
    """``init_plan`` as steps with their typed dependencies, and notes on what was malformed."""
    raw, notes = parse_steps(text, "init_plan")
    known = {n for n, _ in raw}
    steps = []
    for number, body in raw:
        plain, dependencies, found = parse_annotations(number, body, known)
        steps.append(InitStep(number, plain, dependencies))
        notes.extend(found)
    return tuple(steps), notes


# --------------------------------------------------------------------------------------
# The current step and statuses
# --------------------------------------------------------------------------------------

_LEADING_NUMBER = re.compile(r"^\s*(?:step\s*)?(\d+)\b", re.IGNORECASE)


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def locate_current(text: str, steps: Sequence[PlanStep]) -> tuple[int | None, list[str]]:
    """The plan step ``current_plan_step`` names: by its leading number, else by its text."""
    numbers = {s.number for s in steps}
    leading = _LEADING_NUMBER.match(text)
    if leading and int(leading.group(1)) in numbers:
        return int(leading.group(1)), []
    wanted = _normalize(_NUMBERED.sub(r"\2", text))
    for step in steps:
        have = _normalize(step.text)
        if wanted and have and (wanted == have or wanted.startswith(have) or have.startswith(wanted)):
            return step.number, []
    if not text.strip():
        return None, ["current_plan_step is empty"]
    return None, [f"current_plan_step {text.strip()!r} matches no step of the plan"]


def _status(number: int, current: int | None, stop: str) -> StepStatus:
    if current is None:
        return StepStatus.done if stop == "Completed" else StepStatus.pending
    if number < current or (number == current and stop == "Completed"):
        return StepStatus.done
    if number == current:
        return StepStatus.failed if stop == "TaskFailure" else StepStatus.in_progress
    return StepStatus.pending


def build_plan(
    init_plan: str,
    plan: str,
    current_plan_step: str,
    stop: str,
    previous: Plan | None = None,
) -> Plan:
    """Parse one turn's plan texts into a :class:`Plan`, continuing ``previous`` (same round).

    Steps before the current one are done; the current one is in progress (done when the
    Planner stops with ``Completed``, failed with ``TaskFailure``); later ones are pending.
    """
    init_steps, notes = parse_init_plan(init_plan)
    raw, plan_notes = parse_steps(plan, "plan")
    notes.extend(plan_notes)
    steps = [PlanStep(number, text) for number, text in raw]
    current, current_notes = locate_current(current_plan_step, steps)
    notes.extend(current_notes)
    steps = [attrs.evolve(s, status=_status(s.number, current, stop)) for s in steps]
    turn, revision = 1, 0
    if previous is not None:
        turn = previous.turn + 1
        changed = [(s.number, s.text) for s in previous.steps] != [(s.number, s.text) for s in steps]
        revision = previous.revision + (1 if changed and previous.steps else 0)
        if current is not None and previous.current is not None and current < previous.current and not changed:
            notes.append(f"the current step went back from {previous.current} to {current}")
    return Plan(
        init_steps=tuple(init_steps),
        steps=tuple(steps),
        current=current,
        current_text=current_plan_step.strip(),
        stop=stop,
        turn=turn,
        revision=revision,
        notes=tuple(notes),
    )


def plan_of(post: Post) -> Plan | None:
    """The structured plan a Planner post carries, if any."""
    attachment = post.attachment(AttachmentType.plan)
    if attachment is None or not isinstance(attachment.extra, dict):
        return None
    return from_data(attachment.extra, Plan)


def latest_plan(round: Round, planner: str) -> Plan | None:
    """The plan of ``planner``'s latest post in ``round``."""
    for post in reversed(round.posts):
        if post.send_from == planner:
            found = plan_of(post)
            if found is not None:
                return found
    return None
