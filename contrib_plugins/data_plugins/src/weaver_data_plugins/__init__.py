"""Sample data plugins for Weaver: ``sql_pull_data`` and ``anomaly_detection``.

Both are ordinary typed functions decorated with ``@weaver.plugin``; this module declares
them through the ``weaver_plugins`` hook. pandas is imported inside the functions, so
loading the extension (and ``weaver --help``) stays fast.

Configuration (``weaver.toml``)::

    [plugins.config.sql_pull_data]
    db_path = "data/sales.db"     # absolute, or relative to the project directory
"""

from __future__ import annotations

from weaver.config import Config
from weaver.hookspecs import hookimpl
from weaver.specs import PluginSpec


@hookimpl
def weaver_plugins(config: Config) -> list[PluginSpec]:
    return [
        PluginSpec(
            "sql_pull_data",
            "weaver_data_plugins.sql:sql_pull_data",
            config={"project_dir": str(config.project_dir)},
        ),
        PluginSpec("anomaly_detection", "weaver_data_plugins.anomaly:anomaly_detection"),
    ]
