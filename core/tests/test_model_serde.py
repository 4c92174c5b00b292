"""Every value type of the data model, the event stream and the hook records round-trips
through the one converter in :mod:`weaver.serde`, and a Round has TaskWeaver's wire shape."""

from __future__ import annotations

import json
from typing import Any

import attrs
import cattrs
import pytest

from weaver import serde
from weaver.events import DURABLE, SCHEMA_VERSION, Event, EventType
from weaver.extensions import ExtensionInfo, LoadReport
from weaver.memory import CompressedMemory, MemoryBudget
from weaver.model import USER, Attachment, AttachmentType, Post, Round, RoundState, Usage
from weaver.plugins.records import PluginOrigin, PluginState, PluginStatus, Severity
from weaver.specs import PluginSpec, Verdict, VerdictAction, VerifyMode, Violation


def _post(send_from: str = USER, send_to: str = "Planner", *types: AttachmentType) -> Post:
    return Post(
        send_from=send_from,
        send_to=send_to,
        message=f"{send_from} → {send_to}: ünïcode and \"quotes\"\nnew line",
        attachments=tuple(Attachment(kind, f"content of {kind.value}") for kind in types),
    )


def _round(state: RoundState = RoundState.finished) -> Round:
    plan = Attachment(
        AttachmentType.init_plan,
        "1. load data\n2. compute mean <sequentially depends on 1>",
        extra={"steps": [{"n": 1, "text": "load data", "depends_on": []}, {"n": 2, "depends_on": [1]}]},
    )
    return Round(
        user_query="mean of col x in data.csv",
        state=state,
        reason="Completed",
        posts=(
            _post(USER, "Planner"),
            Post("Planner", "CodeInterpreter", "compute the mean", (plan,)),
            _post("CodeInterpreter", "Planner", AttachmentType.thought, AttachmentType.reply_content),
            _post("Planner", USER, AttachmentType.stop),
        ),
        answer="the mean is 4.5",
        usage=Usage(prompt_tokens=120, completion_tokens=30, cost=0.0012, llm_calls=3, estimated=True),
        ended_at=1_800_000_000.25,
    )


def _assert_round_trip(value: Any) -> None:
    text = serde.to_json(value)
    assert "\n" not in text, "one value is one line of JSON (the event log relies on it)"
    again = serde.from_json(text, type(value))
    assert again == value
    assert type(again) is type(value)
    assert serde.to_json(again) == text


@pytest.mark.parametrize("kind", list(AttachmentType), ids=lambda k: k.value)
def test_every_attachment_type_round_trips(kind: AttachmentType) -> None:
    attachment = Attachment(kind, f"text for {kind.value}", extra={"nested": [1, 2.5, None, {"k": "v"}]})
    _assert_round_trip(attachment)
    assert serde.to_data(attachment)["type"] == kind.value


@pytest.mark.parametrize("state", list(RoundState), ids=lambda s: s.value)
def test_round_in_every_state_round_trips(state: RoundState) -> None:
    _assert_round_trip(_round(state))


@pytest.mark.parametrize(
    "value",
    [
        Usage(),
        Usage(prompt_tokens=1, completion_tokens=2, cost=0.5, llm_calls=1, estimated=True),
        _post(USER, "Planner"),
        _post("Planner", "CodeInterpreter", *AttachmentType),
        Post("Recepta", USER),
        Round("an empty round"),
        Event(EventType.round_start, "session-1", "round-1", data={"user_query": "hi"}),
        Event(EventType.post_end, "session-1", "round-1", "post-1", {"post": serde.to_data(_post())}),
        Event(EventType.round_end, "session-1", "round-1", data={"round": serde.to_data(_round())}),
        Event(EventType.status, "session-1"),
        PluginSpec("sql_pull_data", "weaver_sql.plugin:sql_pull_data", "Run SQL", {"dsn": "sqlite://"}, "sql_batch"),
        Violation(line=3, rule="no-exec", message="exec is not allowed", col=4, source="ast_verifier"),
        Verdict.warn("careful", source="g"),
        Verdict.stop("budget spent"),
        Verdict.inject("try a batch call"),
        MemoryBudget(max_tokens=4000, trigger_share=0.6, keep_recent_rounds=2),
        CompressedMemory(summary="earlier: loaded data", rounds=(_round(),)),
        ExtensionInfo("planner", "weaver_planner", "weaver-planner", "0.1.0", ("weaver_roles",)),
        LoadReport((ExtensionInfo("broken", "broken_mod", error="ImportError: nope"),)),
        PluginStatus("anomaly_detection", PluginState.loaded, PluginOrigin.taskweaver, "/p/plugins/anomaly.yaml"),
        PluginStatus(
            "sql_pull_data",
            PluginState.not_configured,
            PluginOrigin.extension,
            "extension data_plugins",
            "config db_path not set",
            "Run SQL.",
            "weaver-data-plugins 0.1.0",
            requested=True,
        ),
    ],
    ids=lambda v: type(v).__name__,
)
def test_value_round_trips(value: Any) -> None:
    _assert_round_trip(value)


@pytest.mark.parametrize("kind", list(EventType), ids=lambda k: k.value)
def test_every_event_type_round_trips(kind: EventType) -> None:
    event = Event(kind, "session-1", "round-1", "post-1", {"k": [1, "two", {"three": 3.0}]})
    _assert_round_trip(event)
    data = serde.to_data(event)
    assert data["type"] == kind.value
    assert data["v"] == SCHEMA_VERSION
    assert event.durable is (kind in DURABLE)


@pytest.mark.parametrize(
    "enum_type", [AttachmentType, RoundState, EventType, VerifyMode, VerdictAction, PluginState, PluginOrigin, Severity]
)
def test_enums_travel_as_their_wire_names(enum_type: type) -> None:
    for member in enum_type:
        assert serde.to_data(member) == member.value
        assert serde.from_data(member.value, enum_type) is member


def test_round_has_taskweavers_wire_shape() -> None:
    data = json.loads(serde.to_json(_round()))
    assert {"id", "state", "reason", "user_query", "posts", "answer", "usage"} <= set(data)
    assert data["state"] == "finished"
    assert data["reason"] == "Completed"
    assert data["answer"] == "the mean is 4.5"
    assert data["usage"]["prompt_tokens"] == 120
    assert data["usage"]["llm_calls"] == 3
    assert [(p["send_from"], p["send_to"]) for p in data["posts"]] == [
        ("User", "Planner"),
        ("Planner", "CodeInterpreter"),
        ("CodeInterpreter", "Planner"),
        ("Planner", "User"),
    ]
    for post in data["posts"]:
        assert {"send_from", "send_to", "message", "attachments"} <= set(post)
        for attachment in post["attachments"]:
            assert {"type", "content"} <= set(attachment)
            assert isinstance(attachment["type"], str)
    plan = data["posts"][1]["attachments"][0]
    assert plan["type"] == "init_plan"
    assert plan["extra"]["steps"][1]["depends_on"] == [1]


def test_reading_ignores_keys_a_newer_writer_added() -> None:
    original = _round()
    data = serde.to_data(original)
    data["added_in_a_later_version"] = {"anything": True}
    data["posts"][0]["another_new_key"] = 1
    assert serde.from_data(data, Round) == original


def test_values_are_frozen_and_posts_hold_tuples() -> None:
    post = Post(USER, "Planner", "hi", [Attachment("plan", "1. x")])
    assert isinstance(post.attachments, tuple)
    assert Round("q", posts=[post]).posts == (post,)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        post.message = "changed"  # type: ignore[misc]


def test_attachment_type_is_checked_on_the_way_in() -> None:
    assert Attachment("plan", "x").type is AttachmentType.plan
    assert Attachment("sql_query", "x").type == "sql_query"  # an extension's own type
    for bad in ("Not A Type", "../x", "", "x" * 65, "plan!"):
        with pytest.raises(ValueError):
            Attachment(bad, "x")
    with pytest.raises(cattrs.BaseValidationError):
        serde.from_data({"type": "not a type", "content": "x"}, Attachment)
    back = serde.from_json(serde.to_json(Attachment("summary", "y")), Attachment)
    assert back.type == "summary" and back.content == "y"


def test_post_attachment_lookup_returns_the_last_of_a_type() -> None:
    post = Post("Planner", USER, attachments=(Attachment("stop", "InProcess"), Attachment("stop", "Completed")))
    assert post.attachment(AttachmentType.stop).content == "Completed"
    assert post.attachment("plan") is None


def test_usage_adds_up() -> None:
    total = Usage(1, 2, 0.1, 1) + Usage(10, 20, 0.2, 1, estimated=True)
    assert (total.prompt_tokens, total.completion_tokens, total.llm_calls, total.estimated) == (11, 22, 2, True)
    assert total.cost == pytest.approx(0.3)
    assert total.total_tokens == 33


def test_ids_are_unique_and_prefixed() -> None:
    ids = {Post(USER, "Planner").id for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("post-") for i in ids)
    assert Round("q").id.startswith("round-")
