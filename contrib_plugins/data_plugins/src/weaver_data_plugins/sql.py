"""``sql_pull_data``: a read-only SQL query over a SQLite database, as a DataFrame.

Read-only three times over, so a mistake in one layer is caught by the next:

1. the query must be one ``SELECT`` (or ``WITH ... SELECT``) statement;
2. the database is opened with ``file:...?mode=ro``, so SQLite itself refuses writes;
3. an authorizer allows only reading tables and calling functions: ``ATTACH``, ``PRAGMA``,
   writes and schema changes are denied while the statement is prepared.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import weaver

if TYPE_CHECKING:
    import pandas as pd

_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
)


class ReadOnlyQueryError(ValueError):
    """The query is not a single read-only SELECT statement."""


def check_select(query: str) -> str:
    """The query without comments and a trailing ``;``, or :class:`ReadOnlyQueryError`."""
    text = _COMMENT.sub(" ", query).strip().rstrip(";").strip()
    if not text:
        raise ReadOnlyQueryError("the query is empty; write one SELECT statement")
    if ";" in text and sqlite3.complete_statement(text.split(";", 1)[0] + ";"):
        raise ReadOnlyQueryError("only one statement may run; send each SELECT in its own call")
    first = text.split(None, 1)[0].upper()
    if first not in ("SELECT", "WITH"):
        raise ReadOnlyQueryError(
            f"only SELECT queries are allowed (this one starts with {first}); the database is read-only"
        )
    return text


def _authorize(action: int, *args: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def read_only_query(
    db_path: str | Path,
    query: str,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
    limit: int | None = 10_000,
) -> tuple[pd.DataFrame, bool]:
    """Run ``query`` on the database at ``db_path`` opened read-only.

    Returns the rows as a DataFrame and whether more than ``limit`` rows were available
    (only the first ``limit`` are returned; ``None`` returns all).
    """
    import pandas as pd

    text = check_select(query)
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"no SQLite database at {path}; check [plugins.config.sql_pull_data] db_path")
    connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    try:
        connection.set_authorizer(_authorize)
        try:
            cursor = connection.execute(text, params or ())
        except sqlite3.DatabaseError as exc:
            if "not authorized" in str(exc):
                raise ReadOnlyQueryError(
                    f"the query does something other than read ({exc}); only SELECT is allowed"
                ) from None
            raise
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
    finally:
        connection.close()
    more = limit is not None and len(rows) > limit
    return pd.DataFrame.from_records(rows[:limit] if more else rows, columns=columns), more


@weaver.plugin(config=("db_path",))
def sql_pull_data(query: str, params: list | dict | None = None, limit: int | None = 10000) -> pd.DataFrame:
    """Run a read-only SQL SELECT on the project's SQLite database and return the rows.

    Only one SELECT (or WITH ... SELECT) statement is allowed; the database is opened
    read-only. Use ``?`` placeholders with ``params`` for values instead of pasting them
    into the query. At most ``limit`` rows are returned (None for all); a warning on
    stderr says when rows were cut.

    Args:
        query: one SELECT statement, e.g. "SELECT region, SUM(amount) AS total FROM sales GROUP BY region".
        params: values for the query's ? placeholders (a list) or :name placeholders (a dict).
        limit: the most rows to return; None returns every row.

    Returns:
        df (pd.DataFrame): the rows, one column per selected column.

    Examples:
        df = sql_pull_data("SELECT * FROM sales WHERE region = ?", params=["north"])
    """
    from weaver.plugins import context

    ctx = context()
    db_path = Path(str(ctx.config["db_path"]))
    if not db_path.is_absolute():
        db_path = Path(str(ctx.config.get("project_dir", "."))) / db_path
    frame, more = read_only_query(db_path, query, params, limit)
    if more:
        ctx.log.warning("only the first %d rows are returned; pass a larger limit or aggregate in SQL", limit)
    return frame
