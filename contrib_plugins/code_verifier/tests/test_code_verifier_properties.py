"""Properties of the verifier over generated code.

* Whatever the text (noise, Python-like fragments, generated programs), ``verify`` returns
  violations with a line and a fixable message: it never raises, and finishes within a
  generous liveness bound.
* The scope rules are checked against Python itself: a generated program runs with
  builtins that record every lookup that reaches them; each blocked builtin a run reads
  must be one the verifier refused.
"""

from __future__ import annotations

import builtins
import string
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weaver.specs import VerifyMode
from weaver_code_verifier import verify

LIVENESS = settings(
    max_examples=150, deadline=timedelta(seconds=20), suppress_health_check=[HealthCheck.too_slow]
)

WATCHED = ("open", "vars", "eval", "input")
NAMES = st.sampled_from([*WATCHED, "a", "b", "f"])
CONSTANTS = st.sampled_from(["1", "'x'", "None", "[1, 2]", "'{0.__class__}'", "'a > @b'"])


def expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        NAMES | CONSTANTS,
        lambda inner: st.one_of(
            st.builds("{}()".format, NAMES),
            st.builds("(lambda {}={}: {})".format, NAMES, inner, inner),
            st.builds("[{} for {} in [1, 2]]".format, inner, NAMES),
            st.builds("({} := {})".format, NAMES, inner),
            st.builds("({} if {} else {})".format, inner, inner, inner),
        ),
        max_leaves=4,
    )


EXPR = expressions()


def indent(block: str) -> str:
    return "\n".join("    " + line for line in block.splitlines())


def statements() -> st.SearchStrategy[str]:
    simple = st.one_of(
        st.builds("{} = {}".format, NAMES, EXPR),
        st.builds("{}, {} = {}, {}".format, NAMES, NAMES, EXPR, EXPR),
        st.builds("{} += 1".format, NAMES),
        st.builds("del {}".format, NAMES),
        st.builds("{}()".format, NAMES),
        st.builds("global {}".format, NAMES),
        st.just("pass"),
    )

    def compound(block: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        body = block.map(indent)
        return st.one_of(
            st.builds("def {}({}={}):\n{}".format, NAMES, NAMES, EXPR, body),
            st.builds("@{}\ndef {}():\n{}".format, NAMES, NAMES, body),
            st.builds("class {}:\n{}".format, NAMES, body),
            st.builds("if {}:\n{}\nelse:\n{}".format, EXPR, body, body),
            st.builds("for {} in [1, 2]:\n{}".format, NAMES, body),
            st.builds("try:\n{}\nexcept Exception as {}:\n{}\nfinally:\n{}".format, body, NAMES, body, body),
            st.builds("try:\n{}\nexcept Exception:\n{}".format, body, body),
        )

    return st.recursive(simple, lambda inner: st.lists(inner | compound(inner), min_size=1, max_size=4).map("\n".join), max_leaves=8)


PROGRAMS = st.lists(statements(), min_size=1, max_size=6).map("\n".join)


class RecordingBuiltins(dict):  # type: ignore[type-arg]
    """Builtins that record each lookup of a watched name (a dict subclass is asked by item)."""

    def __init__(self) -> None:
        super().__init__({k: v for k, v in vars(builtins).items() if k not in WATCHED})
        self.reached: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        if name in WATCHED:
            self.reached.add(name)
            return lambda *args, **kwargs: None
        return super().__getitem__(name)


def run(source: str) -> set[str] | None:
    """The watched builtins a run of ``source`` reached; ``None`` if it does not compile."""
    try:
        code = compile(source, "<cell>", "exec")
    except SyntaxError:
        return None
    recorder = RecordingBuiltins()
    try:
        exec(code, {"__builtins__": recorder})  # noqa: S102 - generated from the grammar above: no imports, no I/O
    except BaseException:  # noqa: BLE001,S110 - a failing program still tells which builtins it reached
        pass
    return recorder.reached


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
def test_every_builtin_a_program_reaches_is_refused(source: str) -> None:
    reached = run(source)
    if not reached:
        return
    messages = " | ".join(v.message for v in verify(source))
    for name in reached:
        assert f"{name}()" in messages or f"{name!r}" in messages, (name, source, messages)


FRAGMENTS = st.sampled_from(
    [
        "\n", "    ", "x", "eval", "open", "=", "(", ")", "[", "]", "{", "}", ":", ",", ".", "__class__", "_x",
        "lambda", "def ", "class ", "match ", "case ", "for ", " in ", "if ", "else", "try", "except", "as ",
        "del ", "global ", "nonlocal ", "import ", "from ", "*", "**", "@", "!", "%", "%%", "'", '"', "f'",
        "{0.__class__}", "df.query(", "pd.eval(", "get_ipython()", "yield", "await ", ":=", "\\", "#", "1",
    ]
)


@LIVENESS
@given(st.one_of(st.text(max_size=400), st.lists(FRAGMENTS, max_size=80).map("".join), PROGRAMS))
def test_any_text_gives_violations_or_none_and_never_raises(source: str) -> None:
    for mode in (VerifyMode.normal, VerifyMode.plugin_only):
        found = verify(source, mode, ("sql_pull_data",))
        for violation in found:
            assert violation.line >= 1 and violation.rule and violation.source == "code_verifier"
            assert violation.message.startswith(f"line {violation.line}: ")


@LIVENESS
@given(st.text(alphabet=string.printable, max_size=200), st.sampled_from(["query", "eval"]))
def test_any_pandas_expression_string_is_judged_without_raising(expression: str, method: str) -> None:
    verify(f"import pandas as pd\ndf.{method}({expression!r})\npd.eval({expression!r})")
