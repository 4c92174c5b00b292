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


def test_aliases_partials_containers_and_lambdas_are_followed_into_the_loop() -> None:
    found = _found(
        """\
        import functools
        from functools import partial
        gp = get_price
        again = gp
        usd = functools.partial(get_price, currency="USD")
        eur = partial(get_price, currency="EUR")
        fns = {"price": get_price, "find": search}
        lam = lambda t: get_price(t)
        for t in tickers:
            again(t)
            usd(t)
            eur(t)
            fns["price"](t)
            lam(t)
        for f in [get_price, search]:
            f("x")
        for key, f in fns.items():
            f(key)
        """
    )
    assert [(plugin, line) for plugin, line, _, _ in found] == [
        ("get_price", 10),
        ("get_price", 11),
        ("get_price", 12),
        ("get_price", 13),
        ("search", 13),
        ("get_price", 14),
        ("get_price", 16),
        ("search", 16),
        ("get_price", 18),
        ("search", 18),
    ]
    assert found[0][3] == "again"


def test_recursion_repeats_a_plugin_call_like_a_loop() -> None:
    found = _found(
        """\
        def fetch(items):
            if not items:
                return []
            return [get_price(items[0])] + fetch(items[1:])

        def ping(n):
            search("x")
            if n:
                pong(n - 1)

        def pong(n):
            ping(n)

        fetch(tickers)
        """
    )
    assert found == [
        ("get_price", 4, "the recursive function `fetch` (line 1)", None),
        ("search", 7, "the recursive function `ping` (line 6)", None),
    ]


def test_not_aliases_a_plugins_result_or_a_method_of_a_container() -> None:
    assert _found(
        """\
        value = get_price("A")
        kept = [get_price, search]
        for t in tickers:
            value.real
            kept.append(t)
            print(value)
        """
    ) == []


def test_how_many_times_when_the_code_says() -> None:
    def times(code: str) -> list[int | None]:
        return [c.times for c in find_loop_calls(textwrap.dedent(code), PLUGINS)]

    assert times("for t in range(10):\n    get_price(t)\n") == [10]
    assert times("n = 4\nfor t in range(2, n * 3):\n    get_price(t)\n") == [None]
    assert times("n = 12\nfor t in range(2, n, 2):\n    get_price(t)\n") == [5]
    assert times("ts = [f'T{n}' for n in range(50)]\nfor t in ts:\n    get_price(t)\n") == [50]
    assert times("for i, t in enumerate(['a', 'b', 'c']):\n    for j in range(4):\n        get_price(t)\n") == [12]
    assert times("for t in tickers:\n    get_price(t)\n") == [None]
    assert times("quotes = [get_price(t) for t in 'ABCDE' for _ in (1, 2)]\n") == [10]
    assert times("quotes = [get_price(t) for t in range(100) if t % 2]\n") == [None]
    assert times("list(map(get_price, ['A', 'B']))\n") == [2]
    assert times("ts = ['A']\nts = ['A', 'B']\nfor t in ts:\n    get_price(t)\n") == [None]  # bound twice


def test_the_description_says_how_many_calls_and_how_many_are_left() -> None:
    call = LoopCall("get_price", 4, 4, "the for loop on line 3", times=50)
    text = describe(call, "get_prices", remaining=25)
    assert "is called 50 times once per item" in text and "25 more calls to it are allowed now" in text
    assert "`get_prices`" in text
