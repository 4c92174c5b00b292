"""Plugins from extensions and from the project's ``plugins/`` folder (``@weaver.plugin`` files
and TaskWeaver's YAML + Python format): validation, config, secrets, and their own tests."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from weaver.errors import PluginLoadError, UnknownNameError
from weaver.hookspecs import hookimpl
from weaver.plugins.records import PluginState, Severity
from weaver.plugins.testing import run_plugin_tests
from weaver.specs import PluginSpec

DECORATED = '''\
from __future__ import annotations

import weaver


@weaver.plugin(config=("factor",))
def scale(values: list[float], offset: float = 0.0) -> list[float]:
    """Multiply every value by the configured factor, then add offset.

    Args:
        values: the numbers.
        offset: added after scaling.

    Examples:
        >>> scale([1, 2])
        [3.0, 6.0]
        >>> scale([1], offset=0.5)
        [3.5]
    """
    factor = float(weaver.plugins.context().config["factor"])
    return [v * factor + offset for v in values]


def helper() -> int:
    return 1
'''

TW_YAML = """\
name: shout
enabled: true
required: false
description: Upper-cases a text and adds the configured suffix.
examples: |-
  >>> shout("hi")
  'HI!'
parameters:
  - name: text
    type: str
    required: true
    description: what to shout.
returns:
  - name: shouted
    type: str
    description: the text in capitals.
configurations:
  suffix: "!"
  api_key:
"""

TW_PY = """\
from taskweaver.plugin import Plugin, register_plugin


@register_plugin
class Shout(Plugin):
    def __call__(self, text: str):
        return text.upper() + self.config.get("suffix", "")
"""


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_hook_weaver_plugins(
    make_app: Any, register_plugin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site"
    package.mkdir()
    (package / "ext_plugins.py").write_text(
        "def total(values: list[float], skip_none: bool = True) -> float:\n"
        "    '''Add up numbers.'''\n"
        "    return sum(v for v in values if v is not None)\n"
    )
    monkeypatch.syspath_prepend(str(package))

    @hookimpl
    def weaver_plugins(config: Any) -> list[PluginSpec]:
        return [PluginSpec("total", "ext_plugins:total", config={"api_key": "sk-secret"}, batch="total_many")]

    register_plugin(SimpleNamespace(weaver_plugins=weaver_plugins), name="ext")
    app = make_app()
    (plugin,) = app.plugins.plugins
    assert plugin.source == "extension ext"
    assert plugin.spec.target == "ext_plugins:total" and plugin.spec.path is None
    assert plugin.schema.signature() == "total(values: list[float], skip_none: bool = True) -> float"
    assert plugin.schema.batch == "total_many"
    assert "sk-secret" not in repr(plugin) and "sk-secret" not in app.plugins.render()


def test_project_folder_plugins_load_in_both_formats(make_app: Any, tmp_path: Path) -> None:
    folder = project(
        tmp_path,
        {
            "scaling.py": DECORATED,
            "shout.yaml": TW_YAML,
            "shout.py": TW_PY,
            "_private.py": "x = (",
            "test_scale.py": "def test_nothing():\n    pass\n",
        },
    )
    app = make_app(plugins={"config": {"scale": {"factor": 3}, "shout": {"api_key": "sk-123"}}})
    assert app.plugins.errors == ()
    assert app.plugins.names == ("scale", "shout")
    scale, shout = app.plugins.plugins
    assert scale.spec.target == "scaling:scale" and scale.spec.path == str(folder)
    assert scale.test_file == str(folder / "test_scale.py")
    assert shout.spec.target == "weaver.plugins.taskweaver_modules:shout.Shout"
    assert dict(shout.spec.config) == {"suffix": "!", "api_key": "sk-123"}
    assert shout.schema.signature() == "shout(text: str) -> str"
    rendered = app.plugins.render()
    assert "def scale(values: list[float], offset: float = 0.0) -> list[float]:" in rendered
    assert "sk-123" not in rendered and "api_key" not in rendered


def test_enabled_and_disabled_choose_plugins(make_app: Any, tmp_path: Path) -> None:
    project(tmp_path, {"scaling.py": DECORATED, "shout.yaml": TW_YAML, "shout.py": TW_PY})
    assert make_app(plugins={"disabled": ["shout"], "config": {"scale": {"factor": 1}}}).plugins.names == ("scale",)
    assert make_app(plugins={"enabled": ["shout"], "config": {"shout": {"api_key": "k"}}}).plugins.names == ("shout",)


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"scaling.py": DECORATED},
            "config factor not set: set it in [plugins.config.scale] or with WEAVER_PLUGINS__CONFIG__SCALE__FACTOR",
        ),
        ({"shout.yaml": TW_YAML}, "the implementation shout.py is missing beside shout.yaml"),
        (
            {
                "shout.yaml": TW_YAML.replace("    type: str\n    required: true", "    required: true"),
                "shout.py": TW_PY,
            },
            "parameter 'text' needs a 'type'",
        ),
        (
            {"shout.yaml": TW_YAML, "shout.py": "import not_a_module_anywhere\n"},
            "shout.py failed to import: ModuleNotFoundError",
        ),
        ({"shout.yaml": TW_YAML, "shout.py": "x = 1\n"}, "shout.py registers no plugin"),
        ({"shout.yaml": "name: shout\n", "shout.py": TW_PY}, "'description' is missing"),
        ({"json.py": DECORATED}, "the file name 'json.py' is the name of the installed module 'json'"),
        ({"broken.py": "def f(:\n"}, "broken.py failed to import: SyntaxError"),
    ],
)
def test_broken_plugins_are_left_out_with_a_clear_error(
    make_app: Any, tmp_path: Path, files: dict[str, str], problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    project(tmp_path, files)
    app = make_app()
    assert app.plugins.plugins == ()
    (status,) = app.plugins.statuses
    assert status.state in (PluginState.failed, PluginState.not_configured)
    assert problem in status.detail
    assert status.source.startswith(str(tmp_path / "plugins"))
    # a project plugin that cannot be used is the project's problem: said on every run
    assert status.severity is Severity.fail
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [f"plugin left out: {status}"]
    with pytest.raises((PluginLoadError, UnknownNameError)) as caught:
        app.plugins.get(status.name)
    assert problem in str(caught.value)


def test_one_name_from_two_project_files_is_an_error_for_the_second(make_app: Any, tmp_path: Path) -> None:
    project(tmp_path, {"a_scale.py": DECORATED, "b_scale.py": DECORATED})
    app = make_app(plugins={"config": {"scale": {"factor": 2}}})
    assert app.plugins.names == ("scale",)
    assert app.plugins.get("scale").source.endswith("a_scale.py")
    (error,) = app.plugins.errors
    assert "also defined by" in error.message and "a_scale.py" in error.message and error.source.endswith("b_scale.py")


def test_config_comes_from_the_environment_too(make_app: Any, tmp_path: Path) -> None:
    project(tmp_path, {"scaling.py": DECORATED})
    app = make_app(environ={"WEAVER_PLUGINS__CONFIG__SCALE__FACTOR": "4"})
    assert app.plugins.get("scale").spec.config == {"factor": "4"}


@pytest.mark.slow
def test_plugins_test_runs_examples_in_a_kernel_and_the_test_file(make_app: Any, tmp_path: Path) -> None:
    folder = project(tmp_path, {"scaling.py": DECORATED, "shout.yaml": TW_YAML, "shout.py": TW_PY})
    (folder / "test_scale.py").write_text(
        "from scaling import helper\n\ndef test_helper():\n    assert helper() == 1\n"
    )
    configs = {"scale": {"factor": 3}, "shout": {"api_key": "k"}}
    app = make_app(session={"roles": []}, execution={"pool_size": 0}, plugins={"config": configs})
    report = run_plugin_tests(app, "scale")
    assert (report.examples_attempted, report.examples_failed) == (2, 0)
    assert report.test_exit_code == 0 and "1 passed" in report.test_output
    assert report.ok
    shout = run_plugin_tests(app, "shout")
    assert (shout.examples_attempted, shout.examples_failed, shout.ok) == (1, 0, True)

    wrong = make_app(session={"roles": []}, execution={"pool_size": 0}, plugins={"config": {"scale": {"factor": 5}}})
    failed = run_plugin_tests(wrong, "scale")
    assert (failed.examples_attempted, failed.examples_failed, failed.ok) == (2, 2, False)
    assert "Expected:\n    [3.0, 6.0]\nGot:\n    [5.0, 10.0]" in failed.examples_output


@pytest.mark.slow
def test_weaver_plugins_test_command(tmp_path: Path) -> None:
    project(tmp_path, {"scaling.py": DECORATED})
    (tmp_path / "weaver.toml").write_text(
        "[session]\nroles = []\n[execution]\npool_size = 0\n[plugins.config.scale]\nfactor = 3\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "weaver.cli", "plugins", "test", "scale"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "WEAVER_LOAD_EXTENSIONS": "", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "examples: 2 passed, 0 failed"
