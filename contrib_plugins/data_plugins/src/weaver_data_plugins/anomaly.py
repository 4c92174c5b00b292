"""``anomaly_detection``: flag outliers in one numeric column of a DataFrame.

Two robust methods, both resistant to the outliers they look for (unlike mean ± 3σ,
where one huge value inflates σ and hides itself):

``robust_z`` (default)
    Modified z-score of Iglewicz and Hoaglin: ``0.6745 * (x - median) / MAD`` with MAD the
    median absolute deviation; ``|score| > threshold`` (default 3.5) is an outlier. When
    more than half the values are equal (MAD = 0), the mean absolute deviation scaled by
    1.2533 stands in for it; when every value is equal, nothing is an outlier.
``iqr``
    Tukey's fences: outside ``[Q1 - k·IQR, Q3 + k·IQR]`` with ``k = threshold``
    (default 1.5).

Missing values are never flagged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import weaver

if TYPE_CHECKING:
    import pandas as pd

METHODS = {"robust_z": 3.5, "iqr": 1.5}
"""Each method and its default threshold."""


def outlier_mask(values: pd.Series, method: str = "robust_z", threshold: float | None = None) -> pd.Series:
    """A boolean Series: ``True`` where the value is an outlier by ``method``."""
    import numpy as np
    import pandas as pd

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    limit = METHODS[method] if threshold is None else float(threshold)
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    present = numbers.dropna()
    none = pd.Series(False, index=values.index)
    if present.empty:
        return none
    if method == "iqr":
        q1, q3 = present.quantile(0.25), present.quantile(0.75)
        spread = q3 - q1
        flagged = (numbers < q1 - limit * spread) | (numbers > q3 + limit * spread)
    else:
        median = present.median()
        deviation = (present - median).abs()
        mad = deviation.median()
        scale = mad / 0.6745 if mad > 0 else deviation.mean() * 1.2533
        if scale == 0 or not np.isfinite(scale):
            return none
        flagged = ((numbers - median).abs() / scale) > limit
    return flagged.astype(bool)


@weaver.plugin
def anomaly_detection(
    df: pd.DataFrame,
    column: str,
    method: str = "robust_z",
    threshold: float | None = None,
    flag_column: str = "is_anomaly",
) -> pd.DataFrame:
    """Flag outliers in a numeric column; returns a copy of df with a boolean flag column.

    Methods: "robust_z" (modified z-score from the median and MAD, |z| > threshold,
    default 3.5) and "iqr" (outside Q1 - k*IQR .. Q3 + k*IQR, k = threshold, default 1.5).
    Missing values are never flagged. A non-numeric column is an error.

    Args:
        df: the data.
        column: the numeric column to check.
        method: "robust_z" or "iqr".
        threshold: the cut-off; None uses the method's default.
        flag_column: the name of the added True/False column.

    Returns:
        flagged (pd.DataFrame): a copy of df with flag_column added (True for outliers).

    Examples:
        flagged = anomaly_detection(df, "amount")
        outliers = flagged[flagged["is_anomaly"]]
    """
    import pandas as pd

    if column not in df.columns:
        raise KeyError(f"column {column!r} is not in the DataFrame; its columns are {list(df.columns)}")
    values = df[column]
    if not (
        pd.api.types.is_numeric_dtype(values)
        or pd.to_numeric(values, errors="coerce").notna().sum() == values.notna().sum()
    ):
        raise TypeError(f"column {column!r} is not numeric (dtype {values.dtype}); pick a numeric column")
    result = df.copy()
    result[flag_column] = outlier_mask(values, method, threshold)
    return result
