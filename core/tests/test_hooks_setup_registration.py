"""One test per setup, registration and observation hook: ``test_hook_<name>`` (see test_hookspecs.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import attrs
import pluggy
import pytest
import typer
from typer.testing import CliRunner

from weaver import hookimpl
from weaver.cli import CliState
from weaver.cli.root import build
from weaver.config import Config
from weaver.errors import ConfigError, DuplicateProviderError
from weaver.events import Event, EventType
from weaver.extensions import DEFAULTS_NAME, ExtensionInfo, LoadReport, build_registry
from weaver.model import RoundState
from weaver.specs import ConfigTable, LLMBackendSpec, RoleSpec
from weaver.testing import ECHO_ROLE, echo_extension

RegisterPlugin = Callable[..., object]
MakeApp = Callable[..., Any]


def test_hook_weaver_configure(make_app: MakeApp, register_plugin: RegisterPlugin) -> None:
    seen: list[tuple[str, Config]] = []

    @hookimpl
    def weaver_configure(config: Config) -> None:
        seen.append(("early", config))

    register_plugin(SimpleNamespace(weaver_configure=weaver_configure), name="early")
    app = make_app(**{"session.max_hops": 4})
    assert [(who, c.table("session").max_hops) for who, c in seen] == [("early", 4)]
    assert seen[0][1] is app.config

    # Once per App, with that App's configuration: a second App does not replay the first's.
    other = make_app(**{"session.max_hops": 9})
    assert [c.table("session").max_hops for _, c in seen] == [4, 9]
    assert seen[1][1] is other.config


def test_hook_weaver_configure_can_refuse_a_configuration(make_app: MakeApp, register_plugin: RegisterPlugin) -> None:
    @hookimpl
    def weaver_configure(config: Config) -> None:
        if config.table("session").max_hops > 10:
            raise ConfigError("at most 10 hops", table="session", key="max_hops")

    register_plugin(SimpleNamespace(weaver_configure=weaver_configure), name="picky")
    with pytest.raises(ConfigError, match=r"\[session.max_hops\]: at most 10 hops"):
        make_app(**{"session.max_hops": 11})


def _cli_state(pm: pluggy.PluginManager, *names: str) -> CliState:
    return CliState(pm, LoadReport(tuple(ExtensionInfo(name=n, module=n) for n in (DEFAULTS_NAME, *names))))


def test_hook_weaver_cli(weaver_pm: pluggy.PluginManager, register_plugin: RegisterPlugin, tmp_path: Any) -> None:
    @hookimpl
    def weaver_cli(app: typer.Typer) -> None:
        @app.command()
        def hello(ctx: typer.Context, name: str = "world") -> None:
            """Say hello with the number of hops the project allows."""
            hops = CliState.of(ctx).app().config.table("session").max_hops
            typer.echo(f"hello {name} ({hops} hops)")

    @hookimpl
    def broken_cli(app: typer.Typer) -> None:
        raise RuntimeError("cannot add commands")

    register_plugin(SimpleNamespace(weaver_cli=weaver_cli), name="greeter_ext")
    register_plugin(SimpleNamespace(weaver_cli=broken_cli), name="broken_ext")
    app, state = build(_cli_state(weaver_pm, "greeter_ext", "broken_ext"))
    runner = CliRunner()

    result = runner.invoke(
        app, ["-p", str(tmp_path), "--set", "session.max_hops=3", "hello", "--name", "you"], obj=state
    )
    assert (result.exit_code, result.output) == (0, "hello you (3 hops)\n")
    assert "hello" in runner.invoke(app, ["--help"], obj=state).output
    # The extension whose hook raised is reported as failed and dropped; the CLI still works.
    failed = {info.name: info.error for info in state.report.failed}
    assert failed == {"broken_ext": "its weaver_cli hook raised RuntimeError: cannot add commands"}
    assert weaver_pm.get_plugin("broken_ext") is None
    state.close()


def test_hook_weaver_config_tables(make_app: MakeApp, register_plugin: RegisterPlugin, tmp_path: Any) -> None:
    @attrs.frozen
    class LimitsConfig:
        per_day: int = 10
        names: tuple[str, ...] = ()
        password: str = ""
        max_tokens: int = 100
        api_key_env: str = "LIMITS_API_KEY"

    @hookimpl
    def weaver_config_tables() -> list[ConfigTable]:
        return [ConfigTable("limits", LimitsConfig, "Daily limits")]

    register_plugin(SimpleNamespace(weaver_config_tables=weaver_config_tables), name="limits_ext")
    (tmp_path / "weaver.toml").write_text('[limits]\nnames = ["a", "b"]\npassword = "hunter2"\n')

    app = make_app(**{"limits.per_day": 3})
    assert app.config.table("limits") == LimitsConfig(per_day=3, names=("a", "b"), password="hunter2")
    assert app.registry.providers[("config table", "limits")] == "limits_ext"
    rows = {key: (value, source) for key, value, source in app.config.rows()}
    assert rows["limits.password"] == ("****", str(tmp_path / "weaver.toml"))
    assert rows["limits.per_day"] == (3, "overrides")
    # Masking goes by what a key names, not by any substring: these are not secrets.
    assert rows["limits.max_tokens"] == (100, "defaults")
    assert rows["limits.api_key_env"] == ("LIMITS_API_KEY", "defaults")

    with pytest.raises(ConfigError) as wrong_type:
        make_app(environ={"WEAVER_LIMITS__PER_DAY": "lots"})
    assert str(wrong_type.value) == "environment: [limits.per_day]: expected int, got 'lots'"
    (tmp_path / "weaver.toml").write_text("[limits]\nper_week = 1\n")
    with pytest.raises(ConfigError) as unknown:
        make_app()
    assert str(unknown.value) == f"{tmp_path / 'weaver.toml'}: [limits.per_week]: unknown key"


def test_hook_weaver_roles(make_app: MakeApp, register_plugin: RegisterPlugin, weaver_pm: pluggy.PluginManager) -> None:
    register_plugin(echo_extension, name="echo_ext")

    app = make_app(session={"roles": ["echo"]})
    assert app.registry.role("echo") is ECHO_ROLE
    assert app.registry.role("Echo") is ECHO_ROLE
    assert app.registry.providers[("role", "Echo")] == "echo_ext"
    finished = app.session().send_message("hi")
    assert (finished.state, finished.answer) == (RoundState.finished, "echo: hi")

    @hookimpl
    def weaver_roles() -> list[RoleSpec]:
        return [RoleSpec(name="parrot", alias="Echo", factory=object)]

    register_plugin(SimpleNamespace(weaver_roles=weaver_roles), name="parrot_ext")
    with pytest.raises(DuplicateProviderError) as raised:
        build_registry(weaver_pm)
    assert (raised.value.kind, raised.value.name, set(raised.value.providers)) == (
        "role",
        "Echo",
        {"echo_ext", "parrot_ext"},
    )


def test_hook_weaver_llm_backends(register_plugin: RegisterPlugin, weaver_pm: pluggy.PluginManager) -> None:
    class EchoBackend:
        def __init__(self, model_config: Any) -> None:
            self.model_config = model_config

    @hookimpl
    def weaver_llm_backends() -> list[LLMBackendSpec]:
        return [LLMBackendSpec(name="echo", factory=EchoBackend, description="Repeats the prompt.")]

    register_plugin(SimpleNamespace(weaver_llm_backends=weaver_llm_backends), name="echo_backend")
    registry = build_registry(weaver_pm)
    assert registry.llm_backends["echo"].factory is EchoBackend
    assert registry.providers[("LLM backend", "echo")] == "echo_backend"

    @hookimpl
    def other_backends() -> list[LLMBackendSpec]:
        return [LLMBackendSpec(name="echo", factory=object)]

    register_plugin(SimpleNamespace(weaver_llm_backends=other_backends), name="other_backend")
    with pytest.raises(DuplicateProviderError) as raised:
        build_registry(weaver_pm)
    assert (raised.value.kind, set(raised.value.providers)) == ("LLM backend", {"echo_backend", "other_backend"})


def test_hook_weaver_event(
    make_app: MakeApp, register_plugin: RegisterPlugin, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[Event] = []

    @hookimpl
    def weaver_event(event: Event) -> None:
        received.append(event)

    @hookimpl
    def failing_event(event: Event) -> None:
        raise RuntimeError(f"observer broke on {event.type.value}")

    register_plugin(echo_extension, name="echo_ext")
    register_plugin(SimpleNamespace(weaver_event=weaver_event), name="recorder")
    register_plugin(SimpleNamespace(weaver_event=failing_event), name="faulty_observer")
    app = make_app(session={"roles": ["echo"]})

    with caplog.at_level(logging.ERROR, logger="weaver.extensions"):
        finished = app.session().send_message("ping")

    assert (finished.state, finished.answer) == (RoundState.finished, "echo: ping")
    types = [event.type for event in received]
    assert types[0] is EventType.round_start and types[-1] is EventType.round_end
    assert {EventType.post_start, EventType.message_delta, EventType.post_end} <= set(types)
    assert {event.round_id for event in received} == {finished.id}
    assert received[-1].data["round"]["answer"] == "echo: ping"
    failures = [r for r in caplog.records if "faulty_observer" in r.getMessage()]
    assert len(failures) == len(received)
    assert all(r.exc_info and "observer broke" in str(r.exc_info[1]) for r in failures)
