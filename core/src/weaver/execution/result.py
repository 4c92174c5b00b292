"""What one execution produced, as a frozen value that round-trips through JSON.

The kernel sends everything as JSON messages; nothing is ever unpickled from it.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

OUTCOMES = ("ok", "error", "timeout_interrupted", "timeout_restarted", "kernel_died", "cancelled")


@attrs.frozen
class ErrorInfo:
    """An exception raised by the code: its type name, message and plain-text traceback.

    ``mro`` names the exception's classes, most specific first (``ModuleNotFoundError``,
    ``ImportError``, ``Exception``, ``BaseException``), as the kernel reported them; empty
    when unknown (an error the host made up, such as a timeout, or another executor).
    """

    type: str
    message: str
    traceback: str = ""
    mro: tuple[str, ...] = ()


@attrs.frozen
class Artifact:
    """A file the execution produced under the session's artifacts directory."""

    path: str
    mime: str


@attrs.frozen
class Display:
    """A rich output (``display(...)``): its mime types, its text form, and the artifact
    file its richest form was saved to, if any."""

    mimes: tuple[str, ...]
    text: str = ""
    artifact: str | None = None


@attrs.frozen
class VariableInfo:
    """One user variable in the kernel: name, type, shape or length, and a short preview."""

    name: str
    type: str
    shape_or_len: str = ""
    preview: str = ""


@attrs.frozen
class FileInfo:
    """A file code can open: its name relative to the working directory, and its size in bytes."""

    name: str
    size: int


@attrs.frozen
class FileListing:
    """The files code can open (at most a prompt's worth), and how many more there are."""

    files: tuple[FileInfo, ...] = ()
    more: int = 0


@attrs.frozen
class ExecutionResult:
    """The result of running ``code`` in a session's kernel.

    ``outcome`` is one of ``ok``, ``error``, ``timeout_interrupted`` (interrupted at the
    time limit; state kept), ``timeout_restarted`` (the interrupt was not answered, the
    kernel was restarted), ``kernel_died`` or ``cancelled`` (interrupted because the
    execution was cancelled; see :class:`weaver.execution.executor.ExecutionCancelled`). ``state_lost`` says the kernel's variables
    are gone; ``lost_variables`` names them (from the last inventory). ``truncated`` holds
    a note for every output that was cut.
    """

    ok: bool
    outcome: str
    code: str = ""
    value_repr: str | None = None
    stdout: str = ""
    stderr: str = ""
    error: ErrorInfo | None = None
    displays: tuple[Display, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    duration_s: float = 0.0
    state_lost: bool = False
    lost_variables: tuple[str, ...] = ()
    truncated: tuple[str, ...] = ()
    variables: tuple[VariableInfo, ...] = ()
    plugin_calls: Mapping[str, int] = attrs.field(factory=dict)
