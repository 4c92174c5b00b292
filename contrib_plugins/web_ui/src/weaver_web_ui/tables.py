"""Tables out of what code showed or saved, to render as tables rather than as text.

Two sources: a rich display whose richest form the kernel saved as HTML (``display(df)``
saves pandas' ``<table>``), and a CSV or TSV file the code wrote among its artifacts. The
HTML is the model's and never reaches the page as HTML: only the text of its cells is
taken out (with the standard library's parser), and the page renders that as a Markdown
table, which the chat sanitizes like any message. Only the first rows are kept; the caller
reads the file (without following links, within :data:`MAX_BYTES`).
"""

from __future__ import annotations

import csv
import html
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import attrs

MAX_BYTES = 2 * 2**20
"""Files larger than this are offered as downloads, not read."""
MAX_ROWS = 50
MAX_COLUMNS = 30
MAX_CELL_CHARS = 200
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@attrs.frozen
class Table:
    """A table's header and its first rows; ``total`` is how many rows it has."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table, every cell escaped (text, never markup)."""
        width = len(self.header)
        lines = [_row(self.header), "|" + "---|" * width]
        lines += [_row((*row, *[""] * (width - len(row)))[:width]) for row in self.rows]
        return "\n".join(lines)


def _cell(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    # Markdown would read these as markup; escaped, they are shown as typed.
    text = re.sub(r"([\\`*_{}\[\]#+!~])", r"\\\1", text)
    return html.escape(text, quote=False).replace("|", "\\|") if text else " "


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table(header_rows: list[list[str]], body: list[list[str]]) -> Table | None:
    """One header out of the header rows (pandas writes the index's name on a row of its own)."""
    width = max((len(r) for r in [*header_rows, *body]), default=0)
    if width == 0:
        return None
    width = min(width, MAX_COLUMNS)
    header = [""] * width
    for row in header_rows:
        for index, text in enumerate(row[:width]):
            if text.strip():
                header[index] = f"{header[index]} {text.strip()}".strip()
    rows = tuple(tuple(row[:width]) for row in body[:MAX_ROWS])
    return Table(tuple(header), rows, len(body))


class _TableParser(HTMLParser):
    """The cells of the first ``<table>``: header rows (``<thead>``) and body rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.done = False
        self.in_head = False
        self.head: list[list[str]] = []
        self.body: list[list[str]] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.span = 1

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "table":
            self.depth += 1
        elif self.depth != 1:
            return
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
            span = dict(attributes).get("colspan") or "1"
            self.span = min(int(span), MAX_COLUMNS) if span.isdigit() and int(span) > 0 else 1

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if tag == "table":
            self.depth -= 1
            self.done = self.depth == 0
        elif self.depth != 1:
            return
        elif tag == "thead":
            self.in_head = False
        elif tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row += ["".join(self.cell)] * self.span
            self.cell = None
        elif tag == "tr" and self.row is not None:
            (self.head if self.in_head else self.body).append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None and self.depth == 1:
            self.cell.append(data)


def from_html(text: str) -> Table | None:
    """The first table in ``text`` (pandas' ``to_html``, or any ``<table>``), or ``None``."""
    parser = _TableParser()
    parser.feed(text)
    parser.close()
    if not parser.head and parser.body:
        parser.head, parser.body = parser.body[:1], parser.body[1:]
    return _table(parser.head, parser.body)


def from_delimited(text: str, delimiter: str) -> Table | None:
    """A CSV or TSV text as a table, its first line the header."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error:
        return None
    rows = [row for row in rows if row]
    return _table(rows[:1], rows[1:]) if rows else None


def is_table_file(name: str) -> bool:
    """Whether a file of this name may hold a table :func:`table_of` reads."""
    return Path(name).suffix.lower() in (".html", *TABLE_SUFFIXES)


def table_of(name: str, data: bytes) -> Table | None:
    """The table in a saved display (``.html``) or a data file (``.csv``, ``.tsv``) named
    ``name`` whose content is ``data``; ``None`` when it holds none."""
    suffix = Path(name).suffix.lower()
    text = data.decode("utf-8", "replace")
    if suffix == ".html":
        return from_html(text) if "<table" in text.lower() else None
    if suffix in TABLE_SUFFIXES:
        return from_delimited(text, TABLE_SUFFIXES[suffix])
    return None
