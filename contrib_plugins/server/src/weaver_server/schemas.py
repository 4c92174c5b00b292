"""The request and response bodies of the API, as pydantic models (they make the OpenAPI schema).

Rounds, posts and events are Weaver's own values in their JSON form (:mod:`weaver.serde`),
described here as objects; their shapes are documented in :mod:`weaver.model` and
:mod:`weaver.events`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Json = dict[str, Any]


def _unicode(text: str) -> str:
    """Refuse a lone surrogate (JSON's ``"\\ud800"``): no model, log or file can take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text: a lone surrogate at position {exc.start}") from None
    return text


Text = Annotated[str, AfterValidator(_unicode)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(Strict):
    text: Text = Field(description="What to ask, in plain words.")
    files: list[Text] | None = Field(
        default=None,
        description="Uploads to take into the session with this message, by name; omitted: every upload waiting.",
    )


class AnswerIn(Strict):
    decision: Literal["approved", "edited", "rejected"]
    content: Text | None = Field(default=None, description="The edited code or plan (required when edited).")
    reason: Text = Field(default="", description="Why: shown to the model when rejected.")


class LoginIn(Strict):
    token: str


class UserOut(BaseModel):
    user: str


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    cost: float
    llm_calls: int
    estimated: bool


class SessionSummary(BaseModel):
    id: str
    rounds: int
    running_round: str | None = Field(description="The id of the round running now, if one is.")
    last_state: str | None
    first_request: str | None
    created_at: float | None
    updated_at: float | None
    usage: UsageOut


class PlanOut(BaseModel):
    round_id: str
    post_id: str
    role: str
    text: str
    current_step: str | None
    structure: Any = Field(description="The plan parsed into steps and dependencies, as the role attached it.")


class FileOut(BaseModel):
    path: str = Field(description="Relative to the area (artifacts/, files/ or uploads/).")
    size: int
    modified: float
    media_type: str


class SessionDetail(SessionSummary):
    round_list: list[Json] = Field(description="Every round as weaver.model.Round JSON, posts included.")
    plan: PlanOut | None
    variables: list[Json] = Field(description="The kernel's variables after the latest execution: name, type, shape, preview.")
    last_event_id: int = Field(description="The id of the session's last durable event: stream from here for what comes next.")
    problems: list[str] = Field(description="Lines of the log that could not be read.")
    open: bool = Field(description="Whether this server has the session open (its kernel may be running).")
    pending_approvals: list[Json]
    uploads: list[FileOut] = Field(description="Uploads waiting for the next message.")


class RoundStarted(BaseModel):
    session_id: str
    round_id: str
    after: int = Field(description="The id of the last event before the round: GET .../events?after=this shows all of it.")


class Cancelled(BaseModel):
    cancelled: bool = Field(description="False when the round was not running (it had ended).")


class Answered(BaseModel):
    answered: bool


class CostOut(BaseModel):
    session_id: str
    total: UsageOut
    failed_calls: int
    by_role: dict[str, UsageOut]
    by_round: list[Json]
    by_model: dict[str, UsageOut]


class ErrorOut(BaseModel):
    detail: str
    error_type: str = Field(description="The kind of error: SessionNotFoundError, InvalidName, Busy, ...")
