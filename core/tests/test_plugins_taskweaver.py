"""TaskWeaver plugins as their projects ship them: blank configuration entries, YAML parameters
without defaults shown with the function's real ones, one implementation for several YAML files."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

import pytest

from weaver.plugins import taskweaver_compat
from weaver.plugins.records import PluginOrigin, PluginState

# Shaped like TaskWeaver's klarna_search.yaml + sql_pull_data.yaml: optional parameters with
# no default in the YAML, Azure-only configuration keys left blank under api_type: openai.
SEARCH_YAML = """\
name: catalog_search
enabled: true
required: false
plugin_only: true
description: >-
  Search the product catalog.
examples: |-
  result, description = catalog_search("lamp", 10, 0, 200)
parameters:
  - name: query
    type: str
    required: true
    description: what to look for.
  - name: size
    type: int
    required: false
    description: how many products to return.
  - name: min_price
    type: int
    required: false
    description: the lowest price.
  - name: max_price
    type: int
    required: false
    description: the highest price.
returns:
  - name: df
    type: DataFrame
    description: the products found.
  - name: description
    type: str
    description: what was searched.
configurations:
  api_type: openai
  api_base:
  api_key:
  api_version:
  deployment_name:
"""

SEARCH_PY = """\
from taskweaver.plugin import Plugin, register_plugin


@register_plugin
class CatalogSearch(Plugin):
    def __call__(self, query: str, size: int = 5, min_price: int = 0, max_price: int = 1000000):
        blanks = sorted(key for key, value in self.config.items() if value is None)
        return [query] * size, f"api_type={self.config['api_type']} blank={blanks}"
"""


def registered_class(path: Path) -> type:
    """The class the file registers, imported the way TaskWeaver would."""
    spec = importlib.util.spec_from_file_location(f"check_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with taskweaver_compat.collecting() as found, taskweaver_compat.installed():
        spec.loader.exec_module(module)
    return found[-1]


def test_blank_configuration_entries_load_and_are_passed_blank(make_app: Any, plugin_files: Any) -> None:
    plugin_files({"catalog_search.yaml": SEARCH_YAML, "catalog_search.py": SEARCH_PY})
    plugins = make_app().plugins
    (status,) = plugins.statuses
    assert (status.state, status.origin) == (PluginState.loaded, PluginOrigin.taskweaver), status
    assert dict(plugins.get("catalog_search").spec.config) == {
        "api_type": "openai",
        "api_base": None,
        "api_key": None,
        "api_version": None,
        "deployment_name": None,
    }
    overridden = make_app(plugins={"config": {"catalog_search": {"api_key": "sk-1"}}}).plugins.get("catalog_search")
    assert overridden.spec.config["api_key"] == "sk-1" and overridden.spec.config["api_base"] is None


def test_parameters_without_a_yaml_default_show_the_functions_real_default(make_app: Any, plugin_files: Any) -> None:
    folder = plugin_files({"catalog_search.yaml": SEARCH_YAML, "catalog_search.py": SEARCH_PY})
    schema = make_app().plugins.get("catalog_search").schema
    real = inspect.signature(registered_class(folder / "catalog_search.py").__call__).parameters
    for param in schema.parameters:
        if param.required:
            assert real[param.name].default is inspect.Parameter.empty
        else:
            assert param.default == repr(real[param.name].default), param
    assert schema.signature() == (
        "catalog_search(query: str, size: int = 5, min_price: int = 0, max_price: int = 1000000)"
        " -> tuple[DataFrame, str]"
    )
    assert "= None" not in make_app().plugins.render()


@pytest.mark.parametrize(
    ("call", "signature"),
    [
        # the YAML says optional, the function needs it: shown as required, since a call without it fails
        ("def __call__(self, query, size, min_price=0, max_price=1):", "query: str, size: int, min_price: int = 0"),
        # **kwargs: the YAML's own word stands (its default: key, else None)
        ("def __call__(self, query, **options):", "query: str, size: int = None, min_price: int = None"),
    ],
    ids=["function requires it", "function takes **kwargs"],
)
def test_the_function_decides_what_is_optional(make_app: Any, call: str, signature: str, plugin_files: Any) -> None:
    py = SEARCH_PY.replace(
        "def __call__(self, query: str, size: int = 5, min_price: int = 0, max_price: int = 1000000):", call
    )
    plugin_files({"catalog_search.yaml": SEARCH_YAML, "catalog_search.py": py})
    assert signature in make_app().plugins.get("catalog_search").schema.signature()


def test_a_registered_function_gives_its_own_defaults(make_app: Any, plugin_files: Any) -> None:
    py = (
        "from taskweaver.plugin import register_plugin\n\n\n@register_plugin\n"
        "def catalog_search(query, size=7, min_price=3, max_price=9):\n    return [query] * size, ''\n"
    )
    plugin_files({"catalog_search.yaml": SEARCH_YAML, "catalog_search.py": py})
    assert "size: int = 7, min_price: int = 3, max_price: int = 9" in make_app().plugins.render()


def test_a_yaml_parameter_the_function_does_not_take_is_a_load_error(make_app: Any, plugin_files: Any) -> None:
    py = SEARCH_PY.replace("max_price: int = 1000000", "limit: int = 10")
    plugin_files({"catalog_search.yaml": SEARCH_YAML, "catalog_search.py": py})
    (status,) = make_app().plugins.statuses
    assert status.state is PluginState.failed
    assert status.detail.startswith(
        "parameter 'max_price' of catalog_search.yaml is not a parameter of CatalogSearch.__call__ in catalog_search.py"
    )


def test_two_yaml_files_may_share_one_implementation_with_code(make_app: Any, plugin_files: Any) -> None:
    """TaskWeaver's multi-YAML, single-implementation layout: ``code: <module>``."""
    lamps = SEARCH_YAML.replace("name: catalog_search", "name: lamp_search\ncode: catalog_impl")
    chairs = SEARCH_YAML.replace("name: catalog_search", "name: chair_search\ncode: catalog_impl").replace(
        "api_type: openai", "api_type: azure"
    )
    plugin_files({"lamps.yaml": lamps, "chairs.yaml": chairs, "catalog_impl.py": SEARCH_PY})
    plugins = make_app().plugins
    assert plugins.names == ("chair_search", "lamp_search")  # catalog_impl.py is not a plugin file of its own
    assert {p.spec.target for p in plugins.plugins} == {"weaver.plugins.taskweaver_modules:catalog_impl.CatalogSearch"}
    assert plugins.get("chair_search").spec.config["api_type"] == "azure"


@pytest.mark.slow
def test_in_the_kernel_the_plugin_gets_its_blank_entries_and_the_real_defaults(
    make_app: Any, plugin_files: Any
) -> None:
    plugin_files({"catalog_search.yaml": SEARCH_YAML, "catalog_search.py": SEARCH_PY})
    app = make_app(session={"roles": []}, execution={"pool_size": 0})
    session = app.session()
    try:
        result = app.run(session.execute('items, description = catalog_search("lamp")\nprint(len(items), description)'))
    finally:
        session.close()
    assert result.ok, result.error
    assert result.stdout == "5 api_type=openai blank=['api_base', 'api_key', 'api_version', 'deployment_name']\n"
