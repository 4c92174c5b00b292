"""TaskWeaver's plugin format, loaded unchanged: ``name.yaml`` beside ``name.py``.

The YAML gives the schema (``name``, ``enabled``, ``description``, ``examples``,
``parameters`` and ``returns`` as lists of ``{name, type, required, description}``,
``configurations``, ``code``); the Python file holds a class decorated with
``register_plugin`` whose ``__call__`` is the plugin. Keys TaskWeaver ignores too
(``required``, ``plugin_only``) are accepted.

Reading is in two steps, so a disabled plugin's code never runs on the host: :func:`read`
parses the YAML alone; :func:`implement` imports the Python file (with the compat shim),
finds the registered class and checks the YAML's parameters against its ``__call__``.

- ``code: other`` names the implementation ``other.py`` (several YAML files may share one,
  as in TaskWeaver); without it the implementation is the YAML file's own stem.
- ``configurations`` are the plugin's default config; ``[plugins.config.<name>]`` overrides
  them. An entry left blank (TaskWeaver's Azure-only keys under ``api_type: openai``) is a
  value like any other: the plugin receives it as ``None``.
- ``host: true`` (Weaver's own key, opt-in) runs the plugin on the host: the kernel gets a
  typed stub, and the ``configurations`` (API keys) never enter it.
- A parameter the YAML marks ``required: false`` is shown to the model with the default of
  the Python signature (``size: int = 5``), or the YAML's own ``default:`` when the function
  takes ``**kwargs``; one the function cannot do without is shown as required, since a call
  without it would fail. A YAML parameter the function does not take is a load error.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from weaver.errors import PluginLoadError
from weaver.plugins import taskweaver_compat
from weaver.plugins.schema import Parameter, PluginSchema, ReturnValue

KERNEL_MODULE = "weaver.plugins.taskweaver_modules"
"""Imports a TaskWeaver plugin module with the compat shim in place (see that module)."""
HOST_PREFIX = "_weaver_plugin_files"

Fail = Callable[..., PluginLoadError]
"""``fail(message, name=...)``: the load error to raise, naming the file it is about."""


@attrs.frozen
class TaskWeaverPlugin:
    """A TaskWeaver plugin as its YAML describes it; nothing of it has been imported."""

    schema: PluginSchema
    yaml_path: Path
    py_path: Path
    """The implementation: ``<code>.py``, else the YAML's own stem with ``.py``."""
    config: Mapping[str, Any]
    """The YAML's ``configurations``, blank entries as ``None``."""
    enabled: bool


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, with libyaml's parser when PyYAML has it: parsing is most of what
    reading a project's plugins and examples costs, and the C parser is several times faster."""
    import yaml  # PyYAML only for projects that have YAML files

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def read(yaml_path: Path) -> TaskWeaverPlugin:
    """Parse one plugin's YAML (its Python file is not touched); every problem is a
    :class:`PluginLoadError` naming the file."""
    import yaml  # for its error type, as in load_yaml

    def fail(message: str, name: str = yaml_path.stem) -> PluginLoadError:
        return PluginLoadError(message, name=name, source=str(yaml_path))

    try:
        data = load_yaml(yaml_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise fail(f"not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot be read: {exc}") from None
    schema, config, enabled = describe(data, fail)
    code = data.get("code")
    if code is not None and (not isinstance(code, str) or not code.isidentifier()):
        raise fail(f"'code' must name the implementation file without .py, got {code!r}", schema.name)
    py_path = yaml_path.with_name(f"{code}.py") if code else yaml_path.with_suffix(".py")
    return TaskWeaverPlugin(schema, yaml_path, py_path, config, enabled)


def describe(data: Any, fail: Fail) -> tuple[PluginSchema, dict[str, Any], bool]:
    """The schema, config and ``enabled`` flag of one plugin entry in TaskWeaver's format
    (a plugin YAML file, or an entry of an example conversation's ``plugins`` list)."""
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
    schema = PluginSchema(
        name=name,
        description=" ".join(description.split()),
        parameters=parameters,
        returns=returns,
        examples=(examples.strip(),) if examples.strip() else (),
        config_keys=tuple(str(key) for key in config),
        host=_flag(data, "host", False, fail, name),
    )
    enabled = _flag(data, "enabled", True, fail, name)
    return schema, {str(k): v for k, v in config.items()}, enabled


def _flag(data: dict[str, Any], key: str, default: bool, fail: Fail, name: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):  # "false" in quotes is a true value to Python
        raise fail(f"'{key}' must be true or false, got {value!r}", name)
    return value




def _list(data: dict[str, Any], key: str, fail: Fail, name: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise fail(f"'{key}' must be a list of {{name, type, description}} entries", name)
    return value


def _parameter(item: Any, index: int, fail: Fail, plugin: str) -> Parameter:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].isidentifier():
        raise fail(f"parameters[{index}] needs a 'name' that is a Python identifier", plugin)
    kind = item.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise fail(f"parameter {item['name']!r} needs a 'type' (the model must see its real type)", plugin)
    required = bool(item.get("required", False))
    default = None if required else repr(item.get("default"))
    return Parameter(item["name"], kind.strip(), required, " ".join(str(item.get("description", "")).split()), default)


def _return(item: Any, index: int, fail: Fail, plugin: str) -> ReturnValue:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise fail(f"returns[{index}] needs a 'name'", plugin)
    kind = item.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise fail(f"return value {item['name']!r} needs a 'type'", plugin)
    return ReturnValue(item["name"], kind.strip(), " ".join(str(item.get("description", "")).split()))


def implement(plugin: TaskWeaverPlugin) -> tuple[str, PluginSchema]:
    """Import the plugin's Python file: the kernel target of the class it registers, and the
    schema with the parameters its ``__call__`` really has."""
    name, py_path, yaml_name = plugin.schema.name, plugin.py_path, plugin.yaml_path.name

    def fail(message: str, name: str = name) -> PluginLoadError:
        return PluginLoadError(message, name=name, source=str(plugin.yaml_path))

    if not py_path.is_file():
        raise fail(f"the implementation {py_path.name} is missing beside {yaml_name}")
    with taskweaver_compat.collecting() as registered:
        import_file(py_path, fail, name)
    if not registered:
        raise fail(f"{py_path.name} registers no plugin: decorate a Plugin subclass with @register_plugin")
    cls = registered[-1]
    if cls.__call__ is taskweaver_compat.Plugin.__call__:
        raise fail(f"{cls.__name__} in {py_path.name} does not define __call__")
    schema = _real_defaults(plugin.schema, cls, f"{cls.__name__}.__call__ in {py_path.name}", yaml_name, fail)
    return f"{KERNEL_MODULE}:{py_path.stem}.{cls.__name__}", schema


def _real_defaults(schema: PluginSchema, cls: type, where: str, yaml_name: str, fail: Fail) -> PluginSchema:
    try:
        signature = taskweaver_compat.call_signature(cls)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to compare with
        return schema
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    real = {p.name: p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    parameters = []
    for param in schema.parameters:
        found = real.get(param.name)
        if found is None:
            if not takes_any:
                raise fail(
                    f"parameter {param.name!r} of {yaml_name} is not a parameter of {where} "
                    f"(it takes {', '.join(real) or 'nothing'}); a call passing it would fail"
                )
        elif not param.required:
            if found.default is not found.empty:
                param = attrs.evolve(param, default=repr(found.default))
            else:
                param = attrs.evolve(param, required=True, default=None)
        parameters.append(param)
    return attrs.evolve(schema, parameters=tuple(parameters))


def import_file(py_path: Path, fail: Fail, name: str) -> Any:
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
