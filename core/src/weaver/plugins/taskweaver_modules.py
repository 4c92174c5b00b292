"""Kernel-side import of TaskWeaver plugin modules, reached through plugin targets.

A TaskWeaver plugin's target is ``weaver.plugins.taskweaver_modules:<module>.<Class>``.
The kernel's binding imports this module and looks up ``<module>``: this module has no such
attribute, so :func:`__getattr__` imports the plugin module (from the project's plugins
folder, which the binding put on ``sys.path``) with ``taskweaver.plugin`` resolving to
:mod:`weaver.plugins.taskweaver_compat`. The binding then instantiates ``<Class>`` with the
plugin's context.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    if name.startswith("__"):
        raise AttributeError(name)
    from weaver.plugins.taskweaver_compat import installed

    with installed():
        return importlib.import_module(name)
