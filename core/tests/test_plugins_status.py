"""Which plugins load, which do not and why: disabled plugins are never imported, the project's
own plugin shadows an extension's of the same name, and only what the project must fix is
said on every run."""

from __future__ import annotations

import logging
import re
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from weaver.errors import PluginLoadError
from weaver.hookspecs import hookimpl
from weaver.plugins.folder import declared_plugins
from weaver.plugins.records import PluginOrigin, PluginState, Severity
from weaver.specs import PluginSpec

# Runs on import: leaves a mark beside itself, then needs a package that is not installed
# (as TaskWeaver's speech2text needs whisper).
SIDE_EFFECT = """\
from pathlib import Path

Path(__file__).with_name("imported.marker").write_text("imported")
import whisper_not_installed_anywhere
"""

SPEECH_YAML = """\
name: speech2text
enabled: {enabled}
required: false
description: Transcribes an audio file to text.
parameters:
  - name: audio_path
    type: str
    required: true
    description: the audio file.
returns:
  - name: text
    type: str
    description: what was said.
"""

SPEECH_PY = (
    SIDE_EFFECT
    + """
from taskweaver.plugin import Plugin, register_plugin


@register_plugin
class SpeechToText(Plugin):
    def __call__(self, audio_path: str):
        return whisper_not_installed_anywhere.transcribe(audio_path)
"""
)

TRANSCRIBE_PY = (
    SIDE_EFFECT
    + '''
import weaver


@weaver.plugin(name="hear")
def transcribe(audio_path: str) -> str:
    """Transcribe an audio file."""
    return ""


@weaver.plugin
def listen(audio_path: str) -> str:
    """Listen to an audio file."""
    return ""
'''
)

DOUBLE_PY = '''\
import weaver


@weaver.plugin
def double(x: int) -> int:
    """Twice x."""
    return 2 * x
'''


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --------------------------------------------------------------------------------------
# Disabled plugins are not imported
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "settings", "names", "detail"),
    [
        (
            {"speech2text.yaml": SPEECH_YAML.format(enabled="false"), "speech2text.py": SPEECH_PY},
            {},
            ["speech2text"],
            "enabled: false in speech2text.yaml",
        ),
        (
            {"speech2text.yaml": SPEECH_YAML.format(enabled="true"), "speech2text.py": SPEECH_PY},
            {"disabled": ["speech2text"]},
            ["speech2text"],
            "in [plugins] disabled",
        ),
        (
            {"speech2text.yaml": SPEECH_YAML.format(enabled="true"), "speech2text.py": SPEECH_PY},
            {"enabled": ["double"]},
            ["speech2text"],
            "not in [plugins] enabled",
        ),
        (
            {"transcribe.py": TRANSCRIBE_PY},
            {"disabled": ["hear", "listen"]},
            ["hear", "listen"],
            "in [plugins] disabled",
        ),
        ({"transcribe.py": TRANSCRIBE_PY}, {"enabled": ["double"]}, ["hear", "listen"], "not in [plugins] enabled"),
    ],
    ids=["yaml enabled false", "yaml in disabled", "yaml not in enabled", "py in disabled", "py not in enabled"],
)
def test_a_disabled_plugin_is_never_imported(
    make_app: Any,
    caplog: pytest.LogCaptureFixture,
    files: dict[str, str],
    settings: dict[str, Any],
    names: list[str],
    detail: str,
    plugin_files: Any,
) -> None:
    folder = plugin_files({**files, "double.py": DOUBLE_PY})
    plugins = make_app(plugins=settings).plugins

    assert not (folder / "imported.marker").exists(), "the disabled plugin's code ran on the host"
    assert plugins.names == ("double",)
    disabled = [s for s in plugins.statuses if s.state is PluginState.disabled]
    assert [(s.name, s.detail, s.severity) for s in disabled] == [(name, detail, Severity.info) for name in names]
    assert warnings(caplog) == []  # its missing dependency is nobody's concern
    assert all(s.description for s in disabled)  # read from the YAML or the source, not from running it
    with pytest.raises(PluginLoadError, match=re.escape(f"disabled: {detail}")):
        plugins.get(names[0])


def test_a_plugin_enabled_by_name_but_disabled_in_its_yaml_is_a_warning(make_app: Any, plugin_files: Any) -> None:
    plugin_files({"speech2text.yaml": SPEECH_YAML.format(enabled="false"), "speech2text.py": SPEECH_PY})
    (status,) = make_app(plugins={"enabled": ["speech2text"]}).plugins.statuses
    assert (status.state, status.requested, status.severity) == (PluginState.disabled, True, Severity.warn)


@pytest.mark.parametrize("enabled", ['"false"', "0", "maybe"])
def test_enabled_must_be_a_boolean_not_text_that_python_calls_true(
    make_app: Any, plugin_files: Any, enabled: str
) -> None:
    folder = plugin_files({"speech2text.yaml": SPEECH_YAML.format(enabled=enabled), "speech2text.py": SPEECH_PY})
    (status,) = make_app().plugins.statuses
    assert status.state is PluginState.failed and status.detail.startswith("'enabled' must be true or false")
    assert not (folder / "imported.marker").exists()


@pytest.mark.parametrize(
    "files",
    [
        {"speech2text.yaml": SPEECH_YAML.format(enabled="true"), "speech2text.py": SPEECH_PY},
        {"transcribe.py": TRANSCRIBE_PY},
    ],
    ids=["yaml", "py"],
)
def test_the_same_plugin_enabled_is_imported_and_its_failure_said(
    make_app: Any,
    caplog: pytest.LogCaptureFixture,
    files: dict[str, str],
    plugin_files: Any,
) -> None:
    """The control for test_a_disabled_plugin_is_never_imported: enabled, the file does run and fail."""
    folder = plugin_files(files)
    plugins = make_app().plugins
    assert (folder / "imported.marker").exists()
    (status,) = plugins.statuses
    assert status.state is PluginState.failed and "ModuleNotFoundError" in status.detail
    assert warnings(caplog) == [f"plugin left out: {status}"]


def test_a_file_with_one_wanted_plugin_is_imported_but_binds_only_that_one(make_app: Any, plugin_files: Any) -> None:
    text = TRANSCRIBE_PY.replace(SIDE_EFFECT, "")
    plugin_files({"transcribe.py": text})
    plugins = make_app(plugins={"disabled": ["hear"]}).plugins
    assert plugins.names == ("listen",)
    assert [(s.name, s.state) for s in plugins.statuses] == [
        ("hear", PluginState.disabled),
        ("listen", PluginState.loaded),
    ]


def test_a_helper_module_without_plugins_is_not_imported(make_app: Any, plugin_files: Any) -> None:
    folder = plugin_files({"helpers.py": SIDE_EFFECT, "double.py": DOUBLE_PY})
    assert make_app().plugins.names == ("double",)
    assert not (folder / "imported.marker").exists()


def extension_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, body: str) -> Path:
    """An importable module ``module`` that leaves ``<module>.marker`` when imported."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    marker = site / f"{module}.marker"
    (site / f"{module}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n" + textwrap.dedent(body)
    )
    monkeypatch.syspath_prepend(str(site))
    return marker


LOOKUP = '''
import weaver


@weaver.plugin(config=("db_path",))
def lookup(key: str) -> str:
    """The value stored under key."""
    return key
'''


def register_lookup(register_plugin: Any, module: str) -> None:
    @hookimpl
    def weaver_plugins(config: Any) -> list[PluginSpec]:
        return [PluginSpec("lookup", f"{module}:lookup")]

    register_plugin(SimpleNamespace(weaver_plugins=weaver_plugins), name="lookup_ext")


def test_a_disabled_extension_plugin_is_not_imported(
    make_app: Any, register_plugin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = extension_module(tmp_path, monkeypatch, "status_ext_disabled", LOOKUP)
    register_lookup(register_plugin, "status_ext_disabled")
    (status,) = make_app(plugins={"disabled": ["lookup"]}).plugins.statuses
    assert (status.state, status.origin, status.source) == (
        PluginState.disabled,
        PluginOrigin.extension,
        "extension lookup_ext",
    )
    assert not marker.exists() and "status_ext_disabled" not in sys.modules


# --------------------------------------------------------------------------------------
# Quiet by default: an optional plugin nobody configured is listed, not warned about
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "severity", "said"),
    [({}, Severity.info, False), ({"enabled": ["lookup"]}, Severity.fail, True)],
    ids=["optional", "asked for by name"],
)
def test_an_unconfigured_extension_plugin_is_listed_and_said_only_if_the_project_asked_for_it(
    make_app: Any,
    register_plugin: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    settings: dict[str, Any],
    severity: Severity,
    said: bool,
) -> None:
    module = f"status_ext_{severity.value}"
    extension_module(tmp_path, monkeypatch, module, LOOKUP)
    register_lookup(register_plugin, module)
    plugins = make_app(plugins=settings).plugins
    (status,) = plugins.statuses
    assert (status.state, status.severity, status.requested) == (PluginState.not_configured, severity, said)
    assert "config db_path not set" in status.detail and "WEAVER_PLUGINS__CONFIG__LOOKUP__DB_PATH" in status.detail
    assert plugins.names == () and plugins.errors == ()
    assert warnings(caplog) == ([f"plugin left out: {status}"] if said else [])
    with pytest.raises(PluginLoadError, match="not configured: config db_path not set"):
        plugins.get("lookup")  # `weaver plugins test lookup` says why


def test_a_plugin_named_in_enabled_that_nothing_provides_is_an_error(
    make_app: Any,
    caplog: pytest.LogCaptureFixture,
    plugin_files: Any,
) -> None:
    plugin_files({"double.py": DOUBLE_PY})
    plugins = make_app(plugins={"enabled": ["double", "tripel"]}).plugins
    assert plugins.names == ("double",)
    missing = next(s for s in plugins.statuses if s.name == "tripel")
    assert (missing.state, missing.origin, missing.severity) == (PluginState.failed, PluginOrigin.config, Severity.fail)
    assert "no plugin of that name" in missing.detail
    assert warnings(caplog) == [f"plugin left out: {missing}"]


# --------------------------------------------------------------------------------------
# The project's own plugin wins a name, and says so
# --------------------------------------------------------------------------------------

ANOMALY_YAML = """\
name: anomaly_detection
enabled: {enabled}
required: false
description: Marks the values of a time series that are anomalies.
parameters:
  - name: df
    type: DataFrame
    required: true
    description: the series.
  - name: time_col_name
    type: str
    required: true
    description: the time column.
  - name: value_col_name
    type: str
    required: true
    description: the value column.
returns:
  - name: df
    type: DataFrame
    description: the series with an Is_Anomaly column.
"""

ANOMALY_PY = """\
from taskweaver.plugin import Plugin, register_plugin


@register_plugin
class AnomalyDetection(Plugin):
    def __call__(self, df, time_col_name, value_col_name):
        return df
"""

EXTENSION_ANOMALY = '''
from __future__ import annotations

import weaver


@weaver.plugin
def anomaly_detection(values: list[float], column: str) -> list[bool]:
    """Flags outliers."""
    return []
'''


@pytest.mark.parametrize(
    ("enabled", "py", "project_state"),
    [
        ("true", ANOMALY_PY, PluginState.loaded),
        ("false", ANOMALY_PY, PluginState.disabled),
        ("true", "raise RuntimeError('broken')\n", PluginState.failed),
    ],
    ids=["loaded", "disabled", "broken"],
)
def test_the_projects_plugin_shadows_the_extensions_of_the_same_name(
    make_app: Any,
    register_plugin: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    enabled: str,
    py: str,
    project_state: PluginState,
    plugin_files: Any,
) -> None:
    module = f"status_ext_anomaly_{project_state.value}"
    marker = extension_module(tmp_path, monkeypatch, module, EXTENSION_ANOMALY)

    @hookimpl
    def weaver_plugins(config: Any) -> list[PluginSpec]:
        return [PluginSpec("anomaly_detection", f"{module}:anomaly_detection")]

    register_plugin(SimpleNamespace(weaver_plugins=weaver_plugins), name="data_ext")
    folder = plugin_files({"anomaly_detection.yaml": ANOMALY_YAML.format(enabled=enabled), "anomaly_detection.py": py})
    caplog.set_level(logging.INFO, logger="weaver.plugins")
    plugins = make_app().plugins

    ours, theirs = plugins.statuses
    assert (ours.state, ours.origin, ours.source) == (
        project_state,
        PluginOrigin.taskweaver,
        str(folder / "anomaly_detection.yaml"),
    )
    assert (theirs.state, theirs.origin, theirs.severity) == (
        PluginState.shadowed,
        PluginOrigin.extension,
        Severity.warn,
    )
    assert theirs.source == "extension data_ext"
    assert theirs.detail == f"by {folder / 'anomaly_detection.yaml'}: the project's own plugin of that name wins"
    assert not marker.exists() and module not in sys.modules  # the shadowed plugin is not imported
    assert f"{theirs}" in [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    if project_state is PluginState.loaded:
        assert plugins.names == ("anomaly_detection",)
        assert "def anomaly_detection(df: DataFrame, time_col_name: str, value_col_name: str)" in plugins.render()
        assert plugins.get("anomaly_detection").source == str(folder / "anomaly_detection.yaml")
        assert warnings(caplog) == []  # a documented precedence, not a problem on every run
    else:
        assert plugins.names == ()  # never a silent fallback to the extension's other signature


# --------------------------------------------------------------------------------------
# Reading a file's plugin names without running it
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import weaver\n\n@weaver.plugin\ndef a(x: int) -> int:\n    'Doc.'\n", (("a", "Doc."),)),
        ("from weaver import plugin\n\n@plugin\ndef a(x: int) -> int: ...\n", (("a", ""),)),
        ("import weaver\n\n@weaver.plugin(name='b', config=('k',))\nasync def a(): ...\n", (("b", ""),)),
        ("import weaver\n\n@weaver.plugin\nclass C:\n    'A callable.'\n", (("C", "A callable."),)),
        ("import weaver\nimport functools\n\n@functools.cache\ndef helper(): ...\n", ()),
        ("import weaver\n\nx = weaver.plugins.context\n", ()),
        ("import weaver\nNAME = 'b'\n\n@weaver.plugin(name=NAME)\ndef a(): ...\n", None),
        ("import weaver\n\ndef a(): ...\n\nb = weaver.plugin(a)\n", None),
        ("import weaver\n\ndef outer():\n    @weaver.plugin\n    def a(): ...\n", None),
        ("import weaver\nopts = {}\n\n@weaver.plugin(**opts)\ndef a(): ...\n", None),
        ("import weaver\n\n@weaver.plugin('a')\ndef a(): ...\n", None),
    ],
    ids=[
        "decorator",
        "imported name",
        "literal name",
        "class",
        "no plugin",
        "plugins package",
        "computed name",
        "call form",
        "nested",
        "options mapping",
        "positional",
    ],
)
def test_declared_plugins_reads_names_only_where_the_source_says_them(
    source: str, expected: tuple[tuple[str, str], ...] | None
) -> None:
    assert declared_plugins(source) == expected


def test_declared_plugins_refuses_a_file_that_does_not_parse() -> None:
    with pytest.raises(SyntaxError):
        declared_plugins("def f(:\n")
