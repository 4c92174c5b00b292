"""A project plugin: growth of a value between the first and the last period, per group.

Weaver finds every ``@weaver.plugin`` in this folder ([plugins] dir), shows the model its
typed signature and docstring, and binds it in the session's kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import weaver

if TYPE_CHECKING:
    import pandas as pd


@weaver.plugin
def period_growth(df: pd.DataFrame, value: str, group: str, period: str) -> pd.DataFrame:
    """Growth of ``value`` from each group's first period to its last, fastest first.

    Periods are sorted as text, so use sortable labels such as "2024-01".

    Args:
        df: one row per group and period.
        value: the numeric column to compare, e.g. "revenue".
        group: the column naming the groups, e.g. "region".
        period: the column naming the periods, e.g. "month".

    Returns:
        growth (pd.DataFrame): one row per group with the columns first_period, last_period,
            first, last, change and growth_pct, sorted by growth_pct, largest first.

    Examples:
        growth = period_growth(monthly, value="revenue", group="region", period="month")
    """
    ordered = df.sort_values([group, period])
    grouped = ordered.groupby(group)
    result = grouped.agg(
        first_period=(period, "first"), last_period=(period, "last"), first=(value, "first"), last=(value, "last")
    )
    result["change"] = result["last"] - result["first"]
    result["growth_pct"] = (100 * result["change"] / result["first"]).round(1)
    return result.sort_values("growth_pct", ascending=False)
