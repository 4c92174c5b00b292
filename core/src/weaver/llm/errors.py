"""Errors of the LLM layer; each carries the facts, none ever carries a secret."""

from __future__ import annotations

import attrs

from weaver.errors import WeaverError


@attrs.define(eq=False)
class LLMError(WeaverError):
    """A call failed in transport after its bounded retries (or could not be served).

    ``endpoint`` is the base URL called; ``status`` the last HTTP status, when there was one.
    """

    endpoint: str = ""
    status: int | None = None


@attrs.define(eq=False)
class ReplayMissError(LLMError):
    """Replay mode found no recorded reply for a request.

    The message shows the request that had no match and a diff against its nearest recorded
    neighbour, which is usually enough to see what changed in the prompt.
    """

    cassette: str = ""


@attrs.define(eq=False)
class ReplyFormatError(WeaverError):
    """The model's reply could not be used: no JSON object, invalid JSON, or a schema mismatch.

    ``feedback`` says precisely what was wrong and what is expected, written for the model
    to act on in its retry; ``raw`` is the reply as received.
    """

    feedback: str = ""
    raw: str = ""
