"""The root cause of a failed attempt: what blocks it, independent of how the code was written.

A persistent blocker shows itself in many ways. A missing package is ``ModuleNotFoundError:
No module named 'pyarrow'`` for ``import pyarrow``, ``ImportError: Missing optional
dependency 'pyarrow'`` for ``pd.read_parquet``, and a verifier refusal of ``import pyarrow``
under a strict verifier; a missing column is a ``KeyError`` whatever line reads it. So a
:class:`Cause` is a *kind* found through the exception's class hierarchy (``ModuleNotFoundError``
is an ``ImportError``) and the *subject* the message names (the module's top-level name, the
key, the file). Two attempts with the same cause are the same failure; a different subject
(the next missing column) is progress.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence

import attrs

from weaver.specs import Violation

_QUOTED = re.compile(r"'([^'\n]{1,200})'")
_BACKTICKED = re.compile(r"`([^`\n]{1,200})`")
_NUMBER = re.compile(r"\d+")
_NO_ATTRIBUTE = re.compile(r"'([\w.]+)' (?:object )?has no attribute '(\w+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")


@attrs.frozen
class Cause:
    """What blocks an attempt: ``kind`` (``module``, ``key``, ``attribute``, ``file``, ``name``,
    ``plugin-budget``, ``refused:<rule>``, ``timeout``, ``kernel``, or an exception family)
    and ``subject`` (``pyarrow``, ``'revenue_usd'``, ...)."""

    kind: str
    subject: str


# Most specific first: the first class of an exception's hierarchy found here gives its kind.
_KINDS = (
    ("PluginBudgetExceeded", "plugin-budget"),
    ("ImportError", "module"),
    ("KeyError", "key"),
    ("AttributeError", "attribute"),
    ("FileNotFoundError", "file"),
    ("NameError", "name"),
)


def hierarchy(error_type: str, mro: Sequence[str]) -> tuple[str, ...]:
    """The exception's classes, most specific first: as reported, else a builtin's own."""
    if mro:
        return tuple(mro)
    builtin = getattr(builtins, error_type, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return tuple(cls.__name__ for cls in builtin.__mro__[:-1])
    return (error_type,)


def family(classes: Sequence[str]) -> str:
    """The broadest class below ``Exception``: ``LookupError`` for ``KeyError`` and ``IndexError``."""
    if "Exception" in classes and classes.index("Exception") > 0:
        return classes[classes.index("Exception") - 1]
    return classes[0]


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(1) if found else None


def _gist(message: str) -> str:
    """A message's first line with numbers blanked: ``cannot reshape array of size # into shape (#,)``."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return _NUMBER.sub("#", first)[:200]


def _module(message: str) -> str:
    cannot = _CANNOT_IMPORT.search(message)
    if cannot:
        return f"{cannot.group(2)}.{cannot.group(1)}"
    quoted = _first(_QUOTED, message)
    return quoted.split(".")[0] if quoted else _gist(message)


def cause_of_error(error_type: str, message: str, mro: Sequence[str] = ()) -> Cause:
    """The cause an exception stands for."""
    classes = hierarchy(error_type, mro)
    kind = next((kind for name, kind in _KINDS if name in classes), None)
    if kind == "module":
        return Cause(kind, _module(message))
    if kind == "plugin-budget":
        return Cause(kind, _first(_BACKTICKED, message) or _gist(message))
    if kind == "attribute":
        found = _NO_ATTRIBUTE.search(message)
        return Cause(kind, f"{found.group(1)}.{found.group(2)}" if found else _gist(message))
    if kind is not None:
        return Cause(kind, _first(_QUOTED, message) or _gist(message))
    return Cause(family(classes), _gist(message))


def cause_of_outcome(outcome: str) -> Cause:
    """The cause of an execution that ended without an exception of the code's own."""
    return Cause("timeout" if outcome.startswith("timeout") else "kernel", outcome)


def cause_of_refusal(violations: Sequence[Violation]) -> Cause:
    """The cause of a verifier refusal: its first finding's rule and what it names.

    A refused import is the same blocker as the module missing from the kernel, so it has
    the same cause.
    """
    first = min(violations, key=lambda v: (v.line, v.col))
    named = _first(_QUOTED, first.message) or _first(_BACKTICKED, first.message)
    if first.rule == "import-not-allowed" and named:
        return Cause("module", named.split(".")[0])
    return Cause(f"refused:{first.rule}", named or _gist(first.message.split(": ", 1)[-1]))
