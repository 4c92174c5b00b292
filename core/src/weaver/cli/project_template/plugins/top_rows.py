"""An example plugin: generated code may call ``top_rows(df, "amount", 3)``.

A plugin is a typed function with a docstring; Weaver shows its signature and description
to the model and loads it into the session's kernel. Add your own next to this file.
The ``>>>`` lines of its examples are its tests: ``weaver plugins test top_rows`` runs them
in a real kernel, as generated code would call the plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import weaver

if TYPE_CHECKING:
    import pandas as pd


@weaver.plugin
def top_rows(df: pd.DataFrame, column: str, n: int = 5) -> pd.DataFrame:
    """The ``n`` rows of ``df`` with the largest values in ``column``, largest first.

    Args:
        df: the table to rank.
        column: the numeric column to rank by.
        n: how many rows to keep.

    Returns:
        top (pd.DataFrame): the ``n`` highest-ranked rows.

    Examples:
        >>> import pandas as pd
        >>> sales = pd.DataFrame({"region": ["north", "south", "east"], "amount": [120.0, 340.0, 90.0]})
        >>> top_rows(sales, "amount", n=2)["region"].tolist()
        ['south', 'north']
    """
    return df.nlargest(n, column)
