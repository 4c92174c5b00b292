"""What the default code verifier costs per cell: the ordinary-analysis corpus verified,
against only parsing the same text (the floor any AST check pays); the attack corpus; and
plugin-only cells of TaskWeaver's shape.

Run it against another checkout's code to compare (the corpus is read from this file's
checkout): ``/path/to/other/venv/bin/python bench/run.py --only code_verifier``."""

from __future__ import annotations

import ast
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "contrib_plugins/code_verifier/tests/corpus"


def _cells() -> tuple[list[str], list[str]]:
    """The safe corpus split into plain Python and cells with IPython syntax (``%magic``)."""
    texts = [path.read_text(encoding="utf-8") for path in sorted((CORPUS / "safe").glob("*.ipy"))]
    plain, ipython = [], []
    for text in texts:
        try:
            ast.parse(text)
            plain.append(text)
        except SyntaxError:
            ipython.append(text)
    return plain, ipython


def _unsafe_cells() -> list[str]:
    """The attack corpus, but for the cell built to exceed the recursion limit: it measures
    the interpreter's limit, not the rules (and an older verifier raises on it)."""
    texts = [path.read_text(encoding="utf-8") for path in sorted((CORPUS / "unsafe").glob("*.ipy"))]
    return [text for text in texts if "# expect: too-deep" not in text]


PLUGIN_ONLY_CELLS = [
    'r0 = sql_pull_data(query="SELECT * FROM sales")\nr1 = anomaly_detection(df=r0, column="amount")\nr0, r1',
    'q = "SELECT * FROM t"\nn = 5\nr0 = anomaly_detection(df=sql_pull_data(query=q, limit=n), **{"method": "iqr"})\nr0',
    'flagged, summary = anomaly_detection(df, "amount", threshold=3.0, keep=[1, 2, None])\nflagged, summary',
]


def _per_cell_ms(function, cells: list[str], repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    for cell in cells:
        function(cell)  # warm: imports, caches
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for cell in cells:
            function(cell)
        samples.append((time.perf_counter() - start) * 1000 / len(cells))
    return samples


def run(repeats: int) -> list[dict]:
    from weaver.specs import VerifyMode
    from weaver_code_verifier import verify

    plain, ipython = _cells()
    return [
        {
            "name": "ast.parse per plain cell",
            "unit": "ms",
            "samples": _per_cell_ms(ast.parse, plain, repeats),
            "baseline": None,
            "note": f"{len(plain)} plain-Python cells of the safe corpus",
        },
        {
            "name": "verify per plain cell",
            "unit": "ms",
            "samples": _per_cell_ms(verify, plain, repeats),
            "baseline": "ast.parse per plain cell",
            "note": "every normal-mode rule on the same cells",
        },
        {
            "name": "verify per attack cell",
            "unit": "ms",
            "samples": _per_cell_ms(verify, _unsafe_cells(), repeats),
            "baseline": "ast.parse per plain cell",
            "note": f"{len(_unsafe_cells())} cells of the unsafe corpus (each refused)",
        },
        {
            "name": "verify per plugin-only cell",
            "unit": "ms",
            "samples": _per_cell_ms(
                lambda cell: verify(cell, VerifyMode.plugin_only, ("sql_pull_data", "anomaly_detection")),
                PLUGIN_ONLY_CELLS,
                repeats,
            ),
            "baseline": "ast.parse per plain cell",
            "note": f"{len(PLUGIN_ONLY_CELLS)} cells of TaskWeaver's plugin-only shape",
        },
        {
            "name": "verify per IPython cell",
            "unit": "ms",
            "samples": _per_cell_ms(verify, ipython, repeats),
            "baseline": "ast.parse per plain cell",
            "note": f"{len(ipython)} cells with %magic lines: IPython's rewriting is parsed too",
        },
    ]
