"""TaskWeaver's plugin format, loaded unchanged: ``name.yaml`` beside ``name.py``.

The YAML gives the schema (``name``, ``enabled``, ``description``, ``examples``,
``parameters`` and ``returns`` as lists of ``{name, type, required, description}``,
``configurations``); the Python file holds a class decorated with ``register_plugin``
whose ``__call__`` is the plugin. Keys TaskWeaver ignores too (``required``,
``plugin_only``) are accepted. The YAML's ``configurations`` are the plugin's default
config; ``[plugins.config.<name>]`` overrides them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from weaver.errors import PluginLoadError
from weaver.plugins import taskweaver_compat
from weaver.plugins.schema import Parameter, PluginSchema, ReturnValue

KERNEL_MODULE = "weaver.plugins.taskweaver_modules"
"""Imports a TaskWeaver plugin module with the compat shim in place (see that module)."""
HOST_PREFIX = "_weaver_plugin_files"


@attrs.frozen
class TaskWeaverPlugin:
    """A TaskWeaver plugin read from its YAML and Python files."""

    schema: PluginSchema
    target: str
    config: Mapping[str, Any]
    enabled: bool


def read(yaml_path: Path) -> TaskWeaverPlugin:
    """Read and check one plugin; every problem is a :class:`PluginLoadError` naming the file."""
    import yaml

    def fail(message: str, name: str = yaml_path.stem) -> PluginLoadError:
        return PluginLoadError(message, name=name, source=str(yaml_path))

    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise fail(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise fail("expected a mapping with name, description, parameters and returns")
    name = data.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise fail(f"'name' must be a Python identifier, got {name!r}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise fail("'description' is missing: say what the plugin does", name)
    parameters = tuple(_parameter(item, i, fail, name) for i, item in enumerate(_list(data, "parameters", fail, name)))
    returns = tuple(_return(item, i, fail, name) for i, item in enumerate(_list(data, "returns", fail, name)))
    config = data.get("configurations") or {}
    if not isinstance(config, dict):
        raise fail("'configurations' must be a mapping of key: value", name)
    examples = data.get("examples") or ""
    if not isinstance(examples, str):
        raise fail("'examples' must be text (example code)", name)
    py_path = yaml_path.with_suffix(".py")
    if not py_path.is_file():
        raise fail(f"the implementation {py_path.name} is missing beside {yaml_path.name}", name)
    class_name = _registered_class(py_path, fail, name)
    schema = PluginSchema(
        name=name,
        description=" ".join(description.split()),
        parameters=parameters,
        returns=returns,
        examples=(examples.strip(),) if examples.strip() else (),
        config_keys=tuple(str(key) for key in config),
    )
    return TaskWeaverPlugin(
        schema=schema,
        target=f"{KERNEL_MODULE}:{py_path.stem}.{class_name}",
        config={str(k): v for k, v in config.items() if v is not None},
        enabled=bool(data.get("enabled", True)),
    )


def _list(data: dict[str, Any], key: str, fail: Any, name: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise fail(f"'{key}' must be a list of {{name, type, description}} entries", name)
    return value


def _parameter(item: Any, index: int, fail: Any, plugin: str) -> Parameter:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].isidentifier():
        raise fail(f"parameters[{index}] needs a 'name' that is a Python identifier", plugin)
    kind = item.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise fail(f"parameter {item['name']!r} needs a 'type' (the model must see its real type)", plugin)
    required = bool(item.get("required", False))
    default = None if required else repr(item.get("default"))
    return Parameter(item["name"], kind.strip(), required, " ".join(str(item.get("description", "")).split()), default)


def _return(item: Any, index: int, fail: Any, plugin: str) -> ReturnValue:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise fail(f"returns[{index}] needs a 'name'", plugin)
    kind = item.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise fail(f"return value {item['name']!r} needs a 'type'", plugin)
    return ReturnValue(item["name"], kind.strip(), " ".join(str(item.get("description", "")).split()))


def _registered_class(py_path: Path, fail: Any, name: str) -> str:
    """Import the file with the compat shim and find the class it registers."""
    with taskweaver_compat.collecting() as registered:
        import_file(py_path, fail, name)
    if not registered:
        raise fail(f"{py_path.name} registers no plugin: decorate a Plugin subclass with @register_plugin", name)
    cls = registered[-1]
    if cls.__call__ is taskweaver_compat.Plugin.__call__:
        raise fail(f"{cls.__name__} in {py_path.name} does not define __call__", name)
    return cls.__name__


def import_file(py_path: Path, fail: Any, name: str) -> Any:
    """Import a plugin file on the host under a private name, its folder on the path meanwhile."""
    module_name = f"{HOST_PREFIX}.{py_path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, py_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    folder = str(py_path.parent)
    added = folder not in sys.path
    if added:
        sys.path.append(folder)
    sys.modules[module_name] = module
    try:
        with taskweaver_compat.installed():
            spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure of the plugin's code is reported with its file
        sys.modules.pop(module_name, None)
        raise fail(f"{py_path.name} failed to import: {type(exc).__name__}: {exc}", name) from None
    finally:
        if added:
            sys.path.remove(folder)
    return module
