"""The project's plugins folder: ``@weaver.plugin`` files and TaskWeaver YAML + Python pairs.

Files starting with ``_`` or ``test_`` are not plugins (helpers and tests). A plugin that is
not wanted is reported as disabled *without importing its code*, so its missing
dependencies and import-time side effects never reach the host: a TaskWeaver YAML names its
plugin (and says ``enabled``) itself; a Python file's plugins are read from its source by
:func:`declared_plugins` when its decorators name them plainly. Only a file that declares a
wanted plugin, or whose plugins only running it can tell, is imported. A Python file that
declares no plugin at all (a helper module) is not imported either.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

from weaver.errors import PluginLoadError
from weaver.plugins import taskweaver_format
from weaver.plugins.decorator import SCHEMA_ATTR
from weaver.plugins.records import LoadedPlugin, PluginOrigin, PluginState, PluginStatus
from weaver.plugins.schema import PluginSchema
from weaver.specs import PluginSpec

Unwanted = Callable[[str], "str | None"]
"""``unwanted(name)``: why the project does not want the plugin ``name`` (``None``: it does)."""


def project_plugins(folder: Path, unwanted: Unwanted) -> Iterator[LoadedPlugin | PluginStatus]:
    """Every plugin of the folder: loaded (config not yet applied), or the status saying why not."""
    implementations: set[Path] = set()
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        implementations.add(path.with_suffix(".py"))
        yield from _taskweaver_plugin(path, unwanted, implementations)
    for path in sorted(folder.glob("*.py")):
        if path not in implementations and not path.name.startswith(("_", "test_")):
            yield from _python_file(path, unwanted)


def _failed(error: PluginLoadError, origin: PluginOrigin) -> PluginStatus:
    return PluginStatus(error.name, PluginState.failed, origin, error.source, error.message)


def _taskweaver_plugin(
    path: Path, unwanted: Unwanted, implementations: set[Path]
) -> Iterator[LoadedPlugin | PluginStatus]:
    origin = PluginOrigin.taskweaver
    try:
        plugin = taskweaver_format.read(path)
    except PluginLoadError as exc:
        yield _failed(exc, origin)
        return
    implementations.add(plugin.py_path)
    name = plugin.schema.name
    reason = f"enabled: false in {path.name}" if not plugin.enabled else unwanted(name)
    if reason:
        yield PluginStatus(name, PluginState.disabled, origin, str(path), reason, plugin.schema.description)
        return
    try:
        check_importable_name(plugin.py_path)
        target, schema = taskweaver_format.implement(plugin)
    except PluginLoadError as exc:
        yield _failed(exc, origin)
        return
    spec = PluginSpec(name, target, schema.description, plugin.config, path=str(path.parent))
    yield LoadedPlugin(spec, schema, str(path), _test_file(path.parent, name), origin)


def _python_file(path: Path, unwanted: Unwanted) -> Iterator[LoadedPlugin | PluginStatus]:
    origin = PluginOrigin.project
    try:
        declared = declared_plugins(path.read_text(encoding="utf-8"))
    except (SyntaxError, ValueError, OSError):  # importing it below reports the problem as usual
        declared = None
    if declared is not None and all(unwanted(name) for name, _ in declared):
        for name, doc in declared:
            yield PluginStatus(name, PluginState.disabled, origin, str(path), str(unwanted(name)), doc)
        return
    try:
        check_importable_name(path)
        module = taskweaver_format.import_file(path, _failer(path), path.stem)
    except PluginLoadError as exc:
        yield _failed(exc, origin)
        return
    for attr, value in vars(module).items():
        schema = getattr(value, SCHEMA_ATTR, None)
        if not isinstance(schema, PluginSchema) or getattr(value, "__module__", None) != module.__name__:
            continue
        reason = unwanted(schema.name)
        if reason:
            yield PluginStatus(schema.name, PluginState.disabled, origin, str(path), reason, schema.description)
            continue
        spec = PluginSpec(
            schema.name, f"{path.stem}:{attr}", schema.description, batch=schema.batch, path=str(path.parent)
        )
        yield LoadedPlugin(spec, schema, str(path), _test_file(path.parent, schema.name), origin)


def declared_plugins(source: str) -> tuple[tuple[str, str], ...] | None:
    """``(name, docstring)`` of every plugin a file declares, read from its source without running it.

    A declaration is a module-level function or class decorated with ``@weaver.plugin`` or
    ``@plugin`` (bare, or called with a literal ``name=``). ``None`` when running the file is
    the only way to know: the decorator given a computed name or other arguments, or
    ``plugin`` used anywhere else (``top = weaver.plugin(func)``, a nested function).
    Raises ``SyntaxError`` for a file that does not parse.
    """
    tree = ast.parse(source)
    found: list[tuple[str, str]] = []
    seen: set[int] = set()
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for decorator in node.decorator_list:
            reference = decorator.func if isinstance(decorator, ast.Call) else decorator
            if not _names_plugin(reference):
                continue
            name = _declared_name(decorator, node.name)
            if name is None:
                return None
            seen.add(id(reference))
            found.append((name, ast.get_docstring(node) or ""))
    if any(_names_plugin(node) and id(node) not in seen for node in ast.walk(tree)):
        return None
    return tuple(found)


def _names_plugin(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "plugin") or (
        isinstance(node, ast.Attribute) and node.attr == "plugin"
    )


def _declared_name(decorator: ast.expr, default: str) -> str | None:
    if not isinstance(decorator, ast.Call):
        return default
    if decorator.args:
        return None
    name = next((k.value for k in decorator.keywords if k.arg == "name"), None)
    if any(k.arg is None for k in decorator.keywords):  # **options: only running it tells
        return None
    if name is None:
        return default
    return name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None


def _failer(path: Path) -> Callable[..., PluginLoadError]:
    return lambda message, name=path.stem: PluginLoadError(message, name=name, source=str(path))


def check_importable_name(py_path: Path) -> None:
    """The kernel imports the file by its stem: it must be an identifier that no installed
    module already uses, or the kernel would import that module instead."""
    stem = py_path.stem
    if not stem.isidentifier():
        raise PluginLoadError(
            f"the file name {py_path.name!r} is not importable; use letters, digits and _",
            name=stem,
            source=str(py_path),
        )
    try:
        found = importlib.util.find_spec(stem)
    except (ImportError, ValueError):
        found = None
    origin = Path(found.origin).resolve().parent if found is not None and found.origin else None
    if found is not None and origin != py_path.parent.resolve():
        raise PluginLoadError(
            f"the file name {py_path.name!r} is the name of the installed module {stem!r} ({found.origin}); rename the file",
            name=stem,
            source=str(py_path),
        )


def _test_file(folder: Path, name: str) -> str | None:
    path = folder / f"test_{name}.py"
    return str(path) if path.is_file() else None
