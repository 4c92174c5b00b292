"""The trimmer through the hooks, with real results and a real kernel: it shortens what the
model reads, composes with the core's formatter, and its settings come from the App's own
configuration."""

from __future__ import annotations

from typing import Any

import pytest

import weaver_feedback_trimmer
from weaver.execution.feedback import format_result
from weaver.execution.result import ExecutionResult
from weaver.extensions import Hooks

LONG = ExecutionResult(ok=True, outcome="ok", stdout="\n".join(str(n) for n in range(1000)))


def test_trimmed_feedback_only_with_the_trimmer(weaver_pm: Any, register_extension: Any, make_app: Any) -> None:
    hooks = Hooks(weaver_pm)
    bare = make_app(session={"roles": []})
    assert hooks.feedback(LONG, "", bare.session().hook_context("CodeInterpreter")) == format_result(LONG)
    register_extension(weaver_feedback_trimmer)
    app = make_app(session={"roles": []})
    trimmed = hooks.feedback(LONG, "", app.session().hook_context("CodeInterpreter"))
    assert len(trimmed) < len(format_result(LONG)) / 5 and "[970 output lines omitted]" in trimmed


def test_two_apps_trim_by_their_own_settings(weaver_pm: Any, register_extension: Any, make_app: Any) -> None:
    register_extension(weaver_feedback_trimmer)
    short = make_app(session={"roles": []}, feedback_trimmer={"output_head_lines": 2, "output_tail_lines": 2})
    off = make_app(session={"roles": []}, feedback_trimmer={"enabled": False})
    hooks = Hooks(weaver_pm)
    assert "[996 output lines omitted]" in hooks.feedback(LONG, "", short.session().hook_context("CodeInterpreter"))
    assert hooks.feedback(LONG, "", off.session().hook_context("CodeInterpreter")) == format_result(LONG)
    assert "[996 output lines omitted]" in hooks.feedback(LONG, "", short.session().hook_context("CodeInterpreter"))


def test_the_old_retry_guard_keys_still_work_with_a_warning(
    weaver_pm: Any, register_extension: Any, make_app: Any
) -> None:
    import weaver_retry_guard

    register_extension(weaver_feedback_trimmer)
    register_extension(weaver_retry_guard)
    app = make_app(session={"roles": []}, retry_guard={"trim_feedback": False, "output_head_lines": 3})
    settings = app.config.table(weaver_feedback_trimmer.FeedbackTrimmerConfig)
    assert settings.enabled is False and settings.output_head_lines == 3
    assert any("[retry_guard] trim_feedback" in w and "[feedback_trimmer] enabled" in w for w in app.config.warnings)


@pytest.mark.parametrize("key", ["traceback_tail_lines", "max_output_chars"])
def test_negative_settings_are_refused_naming_the_key(register_extension: Any, make_app: Any, key: str) -> None:
    from weaver.errors import ConfigError

    register_extension(weaver_feedback_trimmer)
    with pytest.raises(ConfigError) as caught:
        make_app(session={"roles": []}, feedback_trimmer={key: -1})
    assert caught.value.table == "feedback_trimmer" and caught.value.key == key
    assert "must be at least 0" in str(caught.value)


@pytest.mark.slow
def test_hook_weaver_summarize_attempt(weaver_pm: Any, register_extension: Any, make_app: Any, tmp_path: Any) -> None:
    """Through the real pipeline and kernel: a failed run gets its one line, a success none."""
    from types import SimpleNamespace

    from weaver.hookspecs import hookimpl

    @hookimpl
    def weaver_verify_code(code):  # type: ignore[no-untyped-def]
        return []

    register_extension(SimpleNamespace(weaver_verify_code=weaver_verify_code), name="permissive_verifier")
    register_extension(weaver_feedback_trimmer)
    app = make_app(tmp_path, session={"roles": []}, execution={"pool_size": 0})
    session = app.session()
    failed = session.run_code("rows = {'a': 1}\nrows['b']")
    assert failed.summary is not None and failed.summary.endswith("KeyError: 'b' at line 2: `rows['b']`")
    assert session.run_code("rows['a']").summary is None
    off = make_app(tmp_path, session={"roles": []}, execution={"pool_size": 0}, feedback_trimmer={"summarize_attempts": False})
    assert off.session().run_code("{}['x']").summary is None
