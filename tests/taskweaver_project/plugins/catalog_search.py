import pandas as pd
from taskweaver.plugin import Plugin, register_plugin

CATALOG = [
    ("desk lamp", "2024-01-05", 39),
    ("floor lamp", "2024-02-11", 89),
    ("lamp shade", "2024-03-02", 12),
    ("reading lamp", "2024-03-20", 45),
    ("oak chair", "2024-01-17", 120),
]


@register_plugin
class CatalogSearch(Plugin):
    def __call__(self, query: str, size: int = 5, min_price: int = 0, max_price: int = 1000):
        rows = [row for row in CATALOG if query in row[0] and min_price <= row[2] <= max_price]
        df = pd.DataFrame(sorted(rows, key=lambda row: row[2])[:size], columns=["name", "listed", "price"])
        blank = ", ".join(key for key, value in self.config.items() if value is None)
        description = (
            f"{len(df)} products matching {query!r} between {min_price} and {max_price} euros "
            f"(api_type={self.config.get('api_type')}; blank: {blank})"
        )
        return df, description
