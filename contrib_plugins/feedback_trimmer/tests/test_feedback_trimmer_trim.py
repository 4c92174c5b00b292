"""Feedback trimming: a traceback's head and tail, an output's head and tail, counts of cuts."""

from __future__ import annotations

from weaver.execution.feedback import format_result
from weaver.execution.result import ErrorInfo, ExecutionResult
from weaver_feedback_trimmer import FeedbackTrimmerConfig
from weaver_feedback_trimmer.result import trim_result
from weaver_feedback_trimmer.trim import trim_output, trim_traceback


def _traceback(frames: int) -> str:
    lines = ["Traceback (most recent call last):", '  Cell In[3], line 2', "    df['revenue_usd'].sum()"]
    for n in range(frames):
        lines += [f'  File "/site-packages/pandas/core/frame.py", line {n}, in __getitem__', f"    indexer = self.columns.get_loc(key{n})"]
    lines.append("KeyError: 'revenue_usd'")
    return "\n".join(lines)


def test_a_long_traceback_keeps_its_head_and_last_15_lines_and_counts_the_rest() -> None:
    text = _traceback(40)
    total = len(text.splitlines())
    trimmed = trim_traceback(text, head=4, tail=15)
    lines = trimmed.text.splitlines()
    assert lines[:4] == text.splitlines()[:4]
    assert lines[-15:] == text.splitlines()[-15:]
    assert lines[-1] == "KeyError: 'revenue_usd'"
    assert lines[4] == f"... [{total - 19} traceback lines omitted] ..."
    assert trimmed.omitted_lines == total - 19 and len(lines) == 20


def test_a_short_traceback_is_kept_whole_but_without_colour_codes() -> None:
    text = "\x1b[0;31mTraceback\x1b[0m (most recent call last):\nValueError: bad"
    trimmed = trim_traceback(text)
    assert trimmed.text == "Traceback (most recent call last):\nValueError: bad"
    assert not trimmed.cut


def test_output_keeps_head_and_tail_lines_caps_long_lines_and_total_characters() -> None:
    text = "\n".join(f"row {n}" for n in range(1000)) + "\n"
    trimmed = trim_output(text, head=10, tail=10, max_chars=10_000)
    lines = trimmed.text.splitlines()
    assert lines[:10] == [f"row {n}" for n in range(10)]
    assert lines[-10:] == [f"row {n}" for n in range(990, 1000)]
    assert "[980 output lines omitted]" in lines[10]
    assert trimmed.text.endswith("\n")

    wide = trim_output("x" * 5000, max_line_chars=400, max_chars=10_000)
    assert wide.text.startswith("x" * 400) and "[4600 more characters]" in wide.text and wide.omitted_chars == 4600

    capped = trim_output("\n".join("y" * 300 for _ in range(30)), head=15, tail=15, max_chars=1000)
    assert len(capped.text) < 1100 and "characters omitted" in capped.text


def test_nothing_is_cut_from_small_outputs() -> None:
    trimmed = trim_output("a\nb\nc\n")
    assert trimmed.text == "a\nb\nc\n" and not trimmed.cut


def test_trim_result_cuts_every_long_text_and_notes_each_cut_for_the_model() -> None:
    result = ExecutionResult(
        ok=False,
        outcome="error",
        code="df['revenue_usd'].sum()",
        stdout="\n".join(f"line {n}" for n in range(200)),
        error=ErrorInfo("KeyError", "'revenue_usd'", _traceback(40)),
        value_repr=None,
    )
    trimmed = trim_result(result, FeedbackTrimmerConfig())
    full, short = format_result(result), format_result(trimmed)
    assert len(short) < len(full) / 3
    assert "KeyError: 'revenue_usd'" in short and "Cell In[3], line 2" in short
    assert any(note.startswith("traceback: ") for note in trimmed.truncated)
    assert any(note.startswith("stdout: 170 lines") for note in trimmed.truncated)
    assert "omitted by the feedback trimmer" in short
