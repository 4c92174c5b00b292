"""Plugins: typed Python functions that generated code calls inside the session's kernel.

- :mod:`weaver.plugins.decorator`: ``@weaver.plugin`` builds a schema from a function's
  type hints and docstring.
- :mod:`weaver.plugins.schema`: the schema, rendered as a typed signature for prompts.
- :mod:`weaver.plugins.taskweaver_format`: TaskWeaver's YAML + ``register_plugin`` format.
- :mod:`weaver.plugins.folder`: the project's ``plugins/`` folder, read without importing
  what is disabled.
- :mod:`weaver.plugins.loader`: gathers plugins from the project and extensions (the
  project's own wins a name), validates them and resolves their config (``[plugins]``).
- :mod:`weaver.plugins.records`: what the loader found: loaded plugins and the status of
  every plugin, which ``weaver plugins`` and ``weaver doctor`` show.
- :mod:`weaver.plugins.testing`: ``weaver plugins test NAME``.

Inside the kernel a plugin function reaches its config, logger and the session's
directories with :func:`context`::

    @weaver.plugin(config=("db_path",))
    def rows(query: str) -> pd.DataFrame:
        \"\"\"...\"\"\"
        db_path = weaver.plugins.context().config["db_path"]

This package imports nothing heavy: the kernel loads it too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["context", "plugin"]


def __getattr__(name: str) -> Any:
    if name == "plugin":
        from weaver.plugins.decorator import plugin

        return plugin
    if name == "context":
        from weaver.execution.runtime import context

        return context
    raise AttributeError(f"module 'weaver.plugins' has no attribute {name!r}")
