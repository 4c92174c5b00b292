"""Generate the example data: ``data/shop.db`` (SQLite) and ``data/orders.csv``.

A small shop's 2024 orders in four regions. The numbers are random but seeded, so running
this again writes byte-identical files (the recorded demo session depends on them)::

    python examples/data_analysis/make_data.py

Only the standard library is used, so it runs before anything else is installed.
"""

from __future__ import annotations

import csv
import datetime
import random
import sqlite3
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SEED = 2024
REGIONS = (
    (1, "North", "Ana Ruiz", 1.00, 0.010),
    (2, "South", "Ben Okafor", 1.15, -0.004),
    (3, "East", "Chen Wei", 0.85, 0.022),
    (4, "West", "Dana Kim", 0.70, 0.055),
)
"""id, name, manager, base demand, monthly growth of demand."""
PRODUCTS = (
    (1, "Green tea", "tea", 4.50),
    (2, "Black tea", "tea", 3.90),
    (3, "Espresso beans", "coffee", 12.00),
    (4, "Filter coffee", "coffee", 8.50),
    (5, "Ceramic mug", "accessories", 9.00),
    (6, "Tea infuser", "accessories", 6.50),
)
"""id, name, category, unit price."""
ORDERS_PER_MONTH = 45
"""Orders in a month for a region of base demand 1.0, before growth and seasonality."""
SEASON = (1.10, 0.95, 1.00, 0.95, 0.90, 0.85, 0.80, 0.85, 0.95, 1.05, 1.15, 1.35)
"""Demand by month: hot drinks sell in winter, and December has the holidays."""


def orders(rng: random.Random) -> list[tuple[int, str, int, int, int, float]]:
    """(order_id, order_date, region_id, product_id, quantity, revenue), in date order."""
    rows = []
    for month in range(1, 13):
        days = (datetime.date(2024 + month // 12, month % 12 + 1, 1) - datetime.date(2024, month, 1)).days
        for region_id, _, _, base, growth in REGIONS:
            count = round(ORDERS_PER_MONTH * base * (1 + growth) ** (month - 1) * SEASON[month - 1])
            for _ in range(count):
                day = rng.randint(1, days)
                product_id, _, _, price = rng.choice(PRODUCTS)
                quantity = rng.choices((1, 2, 3, 4, 6), weights=(40, 30, 15, 10, 5))[0]
                rows.append((f"2024-{month:02d}-{day:02d}", region_id, product_id, quantity, round(quantity * price, 2)))
    rows.sort()
    return [(number, *row) for number, row in enumerate(rows, 1)]


def write_database(path: Path, rows: list[tuple]) -> None:
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE regions (region_id INTEGER PRIMARY KEY, name TEXT NOT NULL, manager TEXT NOT NULL);
            CREATE TABLE products (
                product_id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, unit_price REAL NOT NULL
            );
            CREATE TABLE orders (
                order_id INTEGER PRIMARY KEY,
                order_date TEXT NOT NULL,
                region_id INTEGER NOT NULL REFERENCES regions(region_id),
                product_id INTEGER NOT NULL REFERENCES products(product_id),
                quantity INTEGER NOT NULL,
                revenue REAL NOT NULL
            );
            """
        )
        db.executemany("INSERT INTO regions VALUES (?, ?, ?)", [r[:3] for r in REGIONS])
        db.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", PRODUCTS)
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.close()


def write_csv(path: Path, rows: list[tuple]) -> None:
    regions = {r[0]: r[1] for r in REGIONS}
    products = {p[0]: p for p in PRODUCTS}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("order_id", "order_date", "region", "product", "category", "quantity", "revenue"))
        for order_id, date, region_id, product_id, quantity, revenue in rows:
            product = products[product_id]
            writer.writerow((order_id, date, regions[region_id], product[1], product[2], quantity, f"{revenue:.2f}"))


def main(target: Path = DATA) -> None:
    target.mkdir(parents=True, exist_ok=True)
    rows = orders(random.Random(SEED))
    write_database(target / "shop.db", rows)
    write_csv(target / "orders.csv", rows)
    print(f"wrote {len(rows)} orders to {target / 'shop.db'} and {target / 'orders.csv'}")


if __name__ == "__main__":
    main()
