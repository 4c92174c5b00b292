"""Finding plugin calls that repeat per item, from the syntax tree."""

from __future__ import annotations

import textwrap

from weaver_loop_detector.detect import LoopCall, describe, find_loop_calls

PLUGINS = ("get_price", "search")


def _found(code: str) -> list[tuple[str, int, str, str | None]]:
    return [(c.plugin, c.line, c.repeated_by, c.via) for c in find_loop_calls(textwrap.dedent(code), PLUGINS)]


def test_loops_comprehensions_and_map_are_found() -> None:
    found = _found(
        """\
        for t in tickers:
            prices[t] = get_price(t)
        quotes = [get_price(t) for t in tickers]
        hits = {q: search(q) for q in queries}
        mapped = list(map(get_price, tickers))
        lam = list(map(lambda t: get_price(t), tickers))
        df["p"] = df["t"].apply(get_price)
        while search("next"):
            break
        ranked = sorted(tickers, key=get_price)
        """
    )
    assert found == [
        ("get_price", 2, "the for loop on line 1", None),
        ("get_price", 3, "the list comprehension on line 3", None),
        ("search", 4, "the dict comprehension on line 4", None),
        ("get_price", 5, "map() on line 5", None),
        ("get_price", 6, "map() on line 6", None),
        ("get_price", 7, ".apply() on line 7", None),
        ("search", 8, "the while loop on line 8", None),
        ("get_price", 10, "sorted() on line 10", None),
    ]


def test_a_local_function_that_calls_a_plugin_is_followed_into_the_loop() -> None:
    found = _found(
        """\
        def price_of(t):
            return get_price(t)

        def doubled(t):
            return price_of(t) * 2

        values = [doubled(t) for t in tickers]
        """
    )
    assert found == [("get_price", 7, "the list comprehension on line 7", "doubled")]


def test_single_calls_and_loop_iterables_are_not_flagged() -> None:
    assert _found(
        """\
        prices = get_price(tickers)
        for row in search("all tickers"):
            print(row)
        values = [x * 2 for x in search("numbers")]
        def later(t):
            return get_price(t)
        biggest = max(get_price("x"))
        """
    ) == []


def test_nested_loops_report_a_call_once_and_broken_code_reports_nothing() -> None:
    assert _found("for a in A:\n    for b in B:\n        get_price(b)\n") == [
        ("get_price", 3, "the for loop on line 2", None)
    ]
    assert find_loop_calls("for x in :\n", PLUGINS) == []
    assert find_loop_calls("for x in y:\n    get_price(x)\n", ()) == []


def test_the_description_names_the_batch_form_when_there_is_one() -> None:
    call = LoopCall("get_price", 2, 4, "the for loop on line 1")
    assert "`get_prices`" in describe(call, "get_prices")
    assert "batch form" not in describe(call, None) and "once with all the items" in describe(call, None)
