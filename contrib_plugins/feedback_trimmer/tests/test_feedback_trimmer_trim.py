"""Feedback trimming: the model's own frames and the exception kept, library frames counted,
output cut by tokens, an earlier attempt in one line. The tracebacks are IPython's own, as a
real kernel printed them (``ipython_tracebacks.txt``)."""

from __future__ import annotations

from pathlib import Path

from weaver.execution.feedback import format_result
from weaver.execution.pipeline import CodeRun
from weaver.execution.result import ErrorInfo, ExecutionResult
from weaver.specs import Violation
from weaver_feedback_trimmer import FeedbackTrimmerConfig
from weaver_feedback_trimmer.result import attempt_line, code_hash, trim_result
from weaver_feedback_trimmer.trim import failing_line, trim_output, trim_traceback

SAMPLES = (Path(__file__).parent / "ipython_tracebacks.txt").read_text(encoding="utf-8").split("=====\n")
PANDAS_KEY_ERROR, IN_A_FUNCTION, SYNTAX_ERROR = SAMPLES[0], SAMPLES[1], SAMPLES[2]
CODE = "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.to_string())\ndf['revenue_usd'].sum()"


def test_a_pandas_traceback_keeps_the_cells_failing_line_and_the_exception_and_counts_the_rest() -> None:
    trimmed = trim_traceback(PANDAS_KEY_ERROR)
    assert trimmed.text.splitlines() == [
        "... [1 chained exception(s) before this one omitted] ...",
        "Cell In[1], line 4",
        "----> 4 df['revenue_usd'].sum()",
        "... [2 library frame(s) omitted: core/frame.py, indexes/base.py] ...",
        "KeyError: 'revenue_usd'",
    ]
    assert len(trimmed.text) < len(PANDAS_KEY_ERROR) / 10
    assert failing_line(PANDAS_KEY_ERROR) == 4
    without = trim_traceback(PANDAS_KEY_ERROR, exception=False)
    assert without.text.splitlines()[-1].startswith("... [2 library frame(s)")


def test_every_frame_of_the_cell_is_kept_down_to_the_deepest() -> None:
    trimmed = trim_traceback(IN_A_FUNCTION)
    assert "----> 4 f({'a': 1})" in trimmed.text and "----> 2     return x['nope']" in trimmed.text
    assert "Cell In[2], line 2, in f(x)" in trimmed.text
    assert failing_line(IN_A_FUNCTION) == 2


def test_a_short_traceback_is_kept_whole_but_without_colour_codes() -> None:
    assert trim_traceback(SYNTAX_ERROR).text.rstrip() == SYNTAX_ERROR.rstrip()
    text = "\x1b[0;31mTraceback\x1b[0m (most recent call last):\nValueError: bad"
    assert trim_traceback(text).text == "Traceback (most recent call last):\nValueError: bad"


def test_a_traceback_in_an_unknown_format_keeps_its_head_and_tail() -> None:
    text = "\n".join(f"frame {n}" for n in range(60))
    trimmed = trim_traceback(text, head=4, tail=5)
    assert trimmed.text.splitlines()[4] == "... [51 traceback lines omitted] ..." and trimmed.omitted_lines == 51


def test_output_is_cut_by_tokens_keeping_whole_lines_at_both_ends() -> None:
    frame = "\n".join(f"{n:>3}  North  product-{n % 7}  {n * 13 % 900}.50" for n in range(41)) + "\n"
    trimmed = trim_output(frame, head_tokens=60, tail_tokens=30)
    lines = trimmed.text.splitlines()
    assert lines[0] == frame.splitlines()[0] and lines[-1] == frame.splitlines()[-1]
    assert len(lines) < 12 and "output lines, about" in trimmed.text
    assert trimmed.text.endswith("\n")
    wide = trim_output("x" * 5000, max_line_chars=400, head_tokens=10_000)
    assert wide.text.startswith("x" * 400) and "[4600 more characters]" in wide.text and wide.omitted_chars == 4600
    assert trim_output("a\nb\nc\n").text == "a\nb\nc\n" and not trim_output("a\nb\nc\n").cut


def test_trim_result_keeps_the_failing_line_and_costs_a_fraction() -> None:
    result = ExecutionResult(
        ok=False,
        outcome="error",
        code=CODE,
        stdout="\n".join(f"{n:>3}  North  product-{n % 7}  {n * 13 % 900}.50" for n in range(40)),
        error=ErrorInfo("KeyError", "'revenue_usd'", PANDAS_KEY_ERROR, ("KeyError", "LookupError", "Exception")),
    )
    trimmed = trim_result(result, FeedbackTrimmerConfig())
    full, short = format_result(result), format_result(trimmed)
    assert len(short) < len(full) * 0.3
    assert "----> 4 df['revenue_usd'].sum()" in short and "Error: KeyError: 'revenue_usd'" in short
    assert short.count("KeyError: 'revenue_usd'") == 1  # said once, not in the traceback again
    assert any(note.startswith("traceback: ") for note in trimmed.truncated)
    assert "omitted by the feedback trimmer" in short


def test_an_attempt_in_one_line() -> None:
    error = ErrorInfo("KeyError", "'revenue_usd'", PANDAS_KEY_ERROR)
    run = CodeRun(CODE, result=ExecutionResult(ok=False, outcome="error", code=CODE, error=error))
    assert attempt_line(run) == f"code {code_hash(CODE)}: KeyError: 'revenue_usd' at line 4: `df['revenue_usd'].sum()`"
    refused = CodeRun("import pyarrow", violations=(Violation(1, "import-not-allowed", "line 1: importing 'pyarrow' is not allowed"),))
    assert attempt_line(refused).endswith("refused by the verifier: [import-not-allowed] line 1: importing 'pyarrow' is not allowed")
    assert attempt_line(CodeRun("1", result=ExecutionResult(ok=True, outcome="ok"))) is None
