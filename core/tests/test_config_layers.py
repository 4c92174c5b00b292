"""Layered configuration: defaults < user file < project weaver.toml < environment <
Python overrides < --set, validated against the tables extensions own."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest

from weaver.config import build_config, env_layer, read_layers, user_config_path
from weaver.errors import ConfigError
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable


@attrs.frozen
class ProbeLimits:
    depth: int = 1


@attrs.frozen
class ProbeConfig:
    """The table a test extension owns; every field has a default, as the contract asks."""

    count: int = 1
    ratio: float = 0.5
    enabled: bool = False
    name: str = "default"
    tags: tuple[str, ...] = ()
    endpoint: str | None = None
    limits: ProbeLimits = ProbeLimits()


@hookimpl
def _probe_tables() -> list[ConfigTable]:
    return [ConfigTable("probe", ProbeConfig, "A table owned by a test extension")]


probe_extension = SimpleNamespace(weaver_config_tables=_probe_tables)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def build(make_app: Any, register_plugin: Any, project: Path) -> Any:
    """``build(environ=..., **overrides)``: an App with the probe table, in ``project``."""
    register_plugin(probe_extension)

    def make(environ: dict[str, str] | None = None, **overrides: Any) -> Any:
        return make_app(project, environ=environ or {}, **overrides)

    return make


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def probe(app: Any) -> ProbeConfig:
    return app.config.table("probe")


def source_of(app: Any, key: str) -> str:
    return {dotted: source for dotted, _, source in app.config.rows()}[key]


# ---- layers and precedence ---------------------------------------------------------------


def test_defaults_come_from_the_schema(build: Any) -> None:
    app = build()
    assert probe(app) == ProbeConfig()
    assert source_of(app, "probe.count") == "defaults"
    assert app.config.table("session").max_hops == 30


def test_user_file_named_by_weaver_config(build: Any, tmp_path: Path) -> None:
    user = write(tmp_path / "elsewhere" / "mine.toml", "[probe]\ncount = 2\nname = 'user'\n")
    app = build(environ={"WEAVER_CONFIG": str(user)})
    assert probe(app).count == 2
    assert source_of(app, "probe.count") == str(user)


def test_user_file_at_the_xdg_path(build: Any, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    user = write(xdg / "weaver" / "config.toml", "[probe]\ncount = 4\n")
    environ = {"XDG_CONFIG_HOME": str(xdg)}
    assert user_config_path(environ) == user
    app = build(environ=environ)
    assert probe(app).count == 4
    assert source_of(app, "probe.count") == str(user)


def test_weaver_config_wins_over_the_xdg_path(tmp_path: Path) -> None:
    named = tmp_path / "named.toml"
    assert user_config_path({"WEAVER_CONFIG": str(named), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}) == named


def test_every_layer_in_order(build: Any, project: Path, tmp_path: Path) -> None:
    """Each layer sets the keys of the layers below it plus one more; the highest layer wins."""
    user = write(
        tmp_path / "user.toml",
        "[probe]\ncount = 2\nratio = 0.2\nname = 'user'\ntags = ['u']\nendpoint = 'user'\n",
    )
    write(project / "weaver.toml", "[probe]\nratio = 0.3\nname = 'project'\ntags = ['p']\nendpoint = 'project'\n")
    environ = {
        "WEAVER_CONFIG": str(user),
        "WEAVER_PROBE__NAME": "env",
        "WEAVER_PROBE__TAGS": "e",
        "WEAVER_PROBE__ENDPOINT": "env",
    }
    app = build(environ=environ, probe={"tags": ["o"], "endpoint": "override"}, cli_sets=["probe.endpoint=set"])
    assert probe(app) == ProbeConfig(
        count=2, ratio=0.3, name="env", tags=("o",), endpoint="set", enabled=False, limits=ProbeLimits()
    )
    assert [source_of(app, f"probe.{key}") for key in ("enabled", "count", "ratio", "name", "tags", "endpoint")] == [
        "defaults",
        str(user),
        str(project / "weaver.toml"),
        "environment",
        "overrides",
        "--set",
    ]


def test_overrides_dotted_and_table_forms(build: Any) -> None:
    app = build(**{"probe.count": 7, "probe.limits.depth": 3}, session={"max_hops": 9})
    assert probe(app).count == 7
    assert probe(app).limits.depth == 3
    assert app.config.table("session").max_hops == 9
    assert source_of(app, "session.max_hops") == "overrides"


def test_nested_table_form_override(build: Any) -> None:
    app = build(probe={"limits.depth": 5, "name": "n"})
    assert probe(app).limits == ProbeLimits(5)
    assert probe(app).name == "n"


# ---- text values (environment and --set) are converted to the schema's types -----------------


def test_environment_text_is_converted(build: Any) -> None:
    app = build(
        environ={
            "WEAVER_PROBE__COUNT": "12",
            "WEAVER_PROBE__RATIO": "0.75",
            "WEAVER_PROBE__ENABLED": "true",
            "WEAVER_PROBE__TAGS": "alpha, beta,,gamma",
            "WEAVER_PROBE__LIMITS__DEPTH": "6",
        }
    )
    assert probe(app) == ProbeConfig(count=12, ratio=0.75, enabled=True, tags=("alpha", "beta", "gamma"), limits=ProbeLimits(6))


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("yes", True), ("On", True), ("0", False), ("no", False), ("FALSE", False)])
def test_boolean_spellings(build: Any, text: str, expected: bool) -> None:
    assert probe(build(cli_sets=[f"probe.enabled={text}"])).enabled is expected


def test_set_text_is_converted(build: Any) -> None:
    app = build(cli_sets=["probe.count=3", "probe.ratio=2", "probe.tags=a,b", "probe.name = spaced "])
    assert probe(app) == ProbeConfig(count=3, ratio=2.0, tags=("a", "b"), name="spaced")
    assert isinstance(probe(app).ratio, float)


def test_integers_are_accepted_for_floats_but_not_the_reverse(build: Any, project: Path) -> None:
    write(project / "weaver.toml", "[probe]\nratio = 1\n")
    assert probe(build()).ratio == 1.0
    write(project / "weaver.toml", "[probe]\ncount = 1.5\n")
    with pytest.raises(ConfigError, match=r"\[probe\.count\]: expected int"):
        build()


def test_unrelated_environment_is_ignored(build: Any) -> None:
    app = build(environ={"WEAVER_LOAD_EXTENSIONS": "", "WEAVER_CONFIG": "/nonexistent/x.toml", "WEAVERISH": "1", "PATH": "/bin"})
    assert probe(app) == ProbeConfig()
    assert app.config.unowned == {}


def test_openai_sdk_variables_map_to_the_llm_table(tmp_path: Path) -> None:
    @attrs.frozen
    class LLMSchema:
        api_key: str = ""
        base_url: str = ""

    tables = {"llm": ConfigTable("llm", LLMSchema)}
    environ = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    assert env_layer(environ).data == {"llm": {"api_key": "sk-test", "base_url": "http://127.0.0.1:9/v1"}}
    config = build_config(tmp_path, read_layers(tmp_path, environ=environ), tables)
    assert config.table("llm") == LLMSchema("sk-test", "http://127.0.0.1:9/v1")

    both = {**environ, "WEAVER_LLM__API_KEY": "sk-weaver"}
    config = build_config(tmp_path, read_layers(tmp_path, environ=both), tables)
    assert config.table("llm").api_key == "sk-weaver", "Weaver's own variable is more specific than the SDK's"
    masked = {key: value for key, value, _ in config.rows()}
    assert masked["llm.api_key"] == "****"
    assert masked["llm.base_url"] == "http://127.0.0.1:9/v1"


# ---- errors name the source, the table and the key -------------------------------------------


def test_unknown_key_names_file_table_and_key(build: Any, project: Path) -> None:
    path = write(project / "weaver.toml", "[probe]\ncount = 2\ncoutn = 3\n")
    with pytest.raises(ConfigError) as caught:
        build()
    error = caught.value
    assert (error.source, error.table, error.key) == (str(path), "probe", "coutn")
    assert str(error) == f"{path}: [probe.coutn]: unknown key (did you mean 'count'?)"


def test_unknown_nested_key(build: Any, project: Path) -> None:
    path = write(project / "weaver.toml", "[probe.limits]\ndepht = 2\n")
    with pytest.raises(ConfigError) as caught:
        build()
    assert (caught.value.source, caught.value.table, caught.value.key) == (str(path), "probe", "limits.depht")


def test_wrong_type_in_user_file(build: Any, tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", "[probe]\ncount = 'three'\n")
    with pytest.raises(ConfigError) as caught:
        build(environ={"WEAVER_CONFIG": str(user)})
    error = caught.value
    assert (error.source, error.table, error.key) == (str(user), "probe", "count")
    assert "expected int" in str(error) and "'three'" in str(error)


def test_wrong_type_inside_a_list(build: Any, project: Path) -> None:
    path = write(project / "weaver.toml", "[probe]\ntags = ['a', 2]\n")
    with pytest.raises(ConfigError) as caught:
        build()
    assert (caught.value.source, caught.value.key) == (str(path), "tags")
    assert "expected str" in str(caught.value)


def test_a_string_is_not_a_list(build: Any, project: Path) -> None:
    write(project / "weaver.toml", "[probe]\ntags = 'a,b'\n")
    with pytest.raises(ConfigError, match=r"\[probe\.tags\]: expected a list"):
        build()


def test_a_table_that_is_not_a_table(build: Any, project: Path) -> None:
    path = write(project / "weaver.toml", "probe = 3\n")
    with pytest.raises(ConfigError) as caught:
        build()
    assert (caught.value.source, caught.value.table) == (str(path), "probe")


def test_bad_environment_text_names_the_environment(build: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build(environ={"WEAVER_PROBE__ENABLED": "maybe"})
    assert (caught.value.source, caught.value.table, caught.value.key) == ("environment", "probe", "enabled")
    assert "expected true or false" in str(caught.value)


def test_bad_set_text_names_set(build: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build(cli_sets=["probe.count=many"])
    assert (caught.value.source, caught.value.key) == ("--set", "count")


def test_malformed_set(build: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build(cli_sets=["count=3"])
    assert caught.value.source == "--set"
    assert "table.key=value" in str(caught.value) and "'count=3'" in str(caught.value)


def test_wrong_type_in_python_overrides_is_not_converted(build: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build(probe={"count": "5"})
    assert (caught.value.source, caught.value.key) == ("overrides", "count")
    with pytest.raises(ConfigError, match="expected int, got bool"):
        build(**{"probe.count": True})


def test_an_error_in_a_lower_layer_is_hidden_by_a_valid_higher_one(build: Any, project: Path) -> None:
    write(project / "weaver.toml", "[probe]\ncount = 'bad'\n")
    assert probe(build(cli_sets=["probe.count=2"])).count == 2


def test_bad_toml_names_the_file(build: Any, project: Path, tmp_path: Path) -> None:
    path = write(project / "weaver.toml", "[probe\ncount = 2\n")
    with pytest.raises(ConfigError) as caught:
        build()
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: not valid TOML")

    (project / "weaver.toml").unlink()
    user = write(tmp_path / "user.toml", "count = = 2\n")
    with pytest.raises(ConfigError) as caught:
        build(environ={"WEAVER_CONFIG": str(user)})
    assert caught.value.source == str(user)


# ---- tables nobody owns -----------------------------------------------------------------------


def test_unowned_tables_are_warnings_not_errors(build: Any, project: Path) -> None:
    path = write(project / "weaver.toml", "[probe]\ncount = 2\n\n[uninstalled_guard]\nlimit = 'anything'\n")
    app = build(environ={"WEAVER_ANOTHER_GONE__X": "1"})
    assert probe(app).count == 2
    assert app.config.unowned == {"uninstalled_guard": {"limit": "anything"}, "another_gone": {"x": "1"}}
    warnings = app.config.warnings
    assert len(warnings) == 2
    assert any("[uninstalled_guard]" in w and str(path) in w for w in warnings)
    assert any("[another_gone]" in w and "environment" in w for w in warnings)


def test_asking_for_a_table_nobody_owns_is_a_config_error(build: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build().config.table("uninstalled_guard")
    assert caught.value.table == "uninstalled_guard"


def test_secrets_are_masked_in_rows(build: Any, register_plugin: Any, project: Path) -> None:
    write(project / "weaver.toml", "[probe]\nendpoint = 'https://example.invalid'\n")

    @attrs.frozen
    class Secretive:
        api_token: str = ""
        region: str = "eu"
        hidden: str = ""

    @hookimpl
    def weaver_config_tables() -> list[ConfigTable]:
        return [ConfigTable("secretive", Secretive, secret_keys=frozenset({"hidden"}))]

    register_plugin(SimpleNamespace(weaver_config_tables=weaver_config_tables))
    app = build(secretive={"api_token": "t0ken", "hidden": "h"})
    rows = {key: value for key, value, _ in app.config.rows(secret_keys={"secretive": frozenset({"hidden"})})}
    assert rows["secretive.api_token"] == "****"
    assert rows["secretive.hidden"] == "****"
    assert rows["secretive.region"] == "eu"
    assert rows["probe.endpoint"] == "https://example.invalid"
