"""What the default code verifier costs per cell: the ordinary-analysis corpus verified,
against only parsing the same text (the floor any AST check pays)."""

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
            "name": "verify per IPython cell",
            "unit": "ms",
            "samples": _per_cell_ms(verify, ipython, repeats),
            "baseline": "ast.parse per plain cell",
            "note": f"{len(ipython)} cells with %magic lines: IPython's rewriting is parsed too",
        },
    ]
