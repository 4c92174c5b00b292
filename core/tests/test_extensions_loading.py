"""Loading extensions through the real ``importlib.metadata`` entry points of fake installed distributions."""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path
from types import SimpleNamespace

import pluggy
import pytest

from weaver import defaults, hookimpl
from weaver.engine import App
from weaver.errors import ConfigError, DuplicateProviderError, ExtensionLoadError
from weaver.extensions import (
    DEFAULTS_NAME,
    ExtensionInfo,
    Hooks,
    LoadReport,
    build_registry,
    load_extensions,
    make_plugin_manager,
    selected_from_env,
)
from weaver.hookspecs import HOOK_NAMES
from weaver.memory import CompressedMemory, MemoryBudget
from weaver.specs import ConfigTable, LLMBackendSpec, RoleSpec
from weaver.testing import ECHO_ROLE, hook_context

FAKES = {"fake_good": "weaver-fake-good", "fake_broken": "weaver-fake-broken", "fake_misspelt": "weaver-fake-misspelt"}


def by_name(report: LoadReport) -> dict[str, ExtensionInfo]:
    return {info.name: info for info in report.extensions}


def isolated_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no user config file, so the machine's settings never leak in."""
    return {"WEAVER_CONFIG": str(tmp_path / "no-user-config.toml"), **extra}


def role_provider(name: str, *roles: RoleSpec) -> SimpleNamespace:
    @hookimpl
    def weaver_roles() -> list[RoleSpec]:
        return list(roles)

    return SimpleNamespace(__name__=name, weaver_roles=weaver_roles)


# ---- the fake distributions and the loader ----------------------------------------------


def test_fake_distributions_are_real_installed_distributions(fake_dists: importlib.metadata.EntryPoints) -> None:
    assert {ep.name: ep.dist.metadata["Name"] for ep in fake_dists} == FAKES
    # While the fixture is active, the ordinary global discovery sees them as installed.
    installed = {ep.name for ep in importlib.metadata.entry_points(group="weaver")}
    assert set(FAKES) <= installed
    assert importlib.metadata.version("weaver-fake-good") == "1.0.0"


def test_good_extension_registers_every_hook_it_implements(fake_dists: importlib.metadata.EntryPoints) -> None:
    pm = make_plugin_manager()
    good = by_name(load_extensions(pm, entry_points=fake_dists))["fake_good"]

    assert good == ExtensionInfo(
        name="fake_good",
        module="weaver_fake_good",
        distribution="weaver-fake-good",
        version="1.0.0",
        hooks=("weaver_cli", "weaver_config_tables", "weaver_roles"),
    )
    registry = build_registry(pm)
    assert registry.role("Greeter").name == "greeter"
    assert registry.providers[("role", "greeter")] == "fake_good"
    assert registry.providers[("config table", "fake_good")] == "fake_good"


def test_extension_that_fails_to_import_is_reported_and_skipped(
    fake_dists: importlib.metadata.EntryPoints, caplog: pytest.LogCaptureFixture
) -> None:
    pm = make_plugin_manager()
    with caplog.at_level(logging.WARNING, logger="weaver.extensions"):
        report = load_extensions(pm, entry_points=fake_dists)

    broken = by_name(report)["fake_broken"]
    assert not broken.ok
    assert broken.error == "ModuleNotFoundError: No module named 'weaver_fake_missing_dependency'"
    assert (broken.module, broken.distribution, broken.version) == ("weaver_fake_broken", "weaver-fake-broken", "0.1.0")
    assert pm.get_plugin("fake_broken") is None
    assert [info.name for info in report.failed] == ["fake_broken", "fake_misspelt"]
    assert any("fake_broken" in r.getMessage() and "weaver-fake-broken" in r.getMessage() for r in caplog.records)
    # The others still loaded.
    assert pm.get_plugin("fake_good") is not None


def test_extension_with_a_misspelt_hook_is_refused_with_the_likely_name(
    fake_dists: importlib.metadata.EntryPoints,
) -> None:
    pm = make_plugin_manager()
    misspelt = by_name(load_extensions(pm, entry_points=fake_dists))["fake_misspelt"]

    assert not misspelt.ok
    assert "weaver_role (did you mean weaver_roles?)" in misspelt.error
    assert (misspelt.distribution, misspelt.version) == ("weaver-fake-misspelt", "0.2.0")
    assert pm.get_plugin("fake_misspelt") is None


def test_strict_loading_raises_naming_extension_distribution_and_version(
    fake_dists: importlib.metadata.EntryPoints,
) -> None:
    with pytest.raises(ExtensionLoadError) as raised:
        load_extensions(make_plugin_manager(), strict=True, entry_points=fake_dists)

    error = raised.value
    assert (error.name, error.distribution, error.version) == ("fake_broken", "weaver-fake-broken", "0.1.0")
    assert str(error) == (
        "extension 'fake_broken' from weaver-fake-broken 0.1.0 failed to load: "
        "ModuleNotFoundError: No module named 'weaver_fake_missing_dependency'"
    )


def test_strict_mode_from_any_config_layer_makes_the_app_refuse_a_failed_extension(
    fake_dists: importlib.metadata.EntryPoints, tmp_path: Path
) -> None:
    environ = isolated_environ(tmp_path, WEAVER_LOAD_EXTENSIONS="fake_good,fake_misspelt")

    with pytest.raises(ExtensionLoadError, match="'fake_misspelt' from weaver-fake-misspelt 0.2.0"):
        App(tmp_path, environ=environ, **{"extensions.strict": True})
    with pytest.raises(ExtensionLoadError, match="fake_misspelt"):
        App(tmp_path, environ={**environ, "WEAVER_EXTENSIONS__STRICT": "true"})
    (tmp_path / "weaver.toml").write_text("[extensions]\nstrict = true\n")
    with pytest.raises(ExtensionLoadError, match="fake_misspelt"):
        App(tmp_path, environ=environ)

    # The same failure is only reported when not strict, and the good extension works.
    (tmp_path / "weaver.toml").write_text("[extensions]\nstrict = false\n")
    with App(tmp_path, environ=environ) as app:
        assert [info.name for info in app.load_report.failed] == ["fake_misspelt"]
        assert app.registry.role("greeter").alias == "Greeter"


def test_strict_mode_applies_to_a_report_handed_to_the_app(tmp_path: Path) -> None:
    pm = make_plugin_manager()
    report = load_extensions(pm, entry_points=())
    failed = LoadReport(
        (*report.extensions, ExtensionInfo(name="x", module="x", distribution="x-dist", version="2", error="boom"))
    )

    with pytest.raises(ExtensionLoadError, match="extension 'x' from x-dist 2 failed to load: boom"):
        App(
            tmp_path,
            plugin_manager=pm,
            load_report=failed,
            environ=isolated_environ(tmp_path),
            **{"extensions.strict": True},
        )


def test_a_strict_value_that_is_not_a_bool_is_a_config_error_naming_its_file(tmp_path: Path) -> None:
    (tmp_path / "weaver.toml").write_text('[extensions]\nstrict = "maybe"\n')

    with pytest.raises(ConfigError) as raised:
        App(tmp_path, environ=isolated_environ(tmp_path, WEAVER_LOAD_EXTENSIONS=""))
    assert str(raised.value) == f"{tmp_path / 'weaver.toml'}: [extensions.strict]: expected bool, got str 'maybe'"


# ---- WEAVER_LOAD_EXTENSIONS ----------------------------------------------------------------


def test_load_plugins_variable_selects_by_entry_point_name() -> None:
    assert selected_from_env({}) is None
    assert selected_from_env({"WEAVER_LOAD_EXTENSIONS": ""}) == frozenset()
    assert selected_from_env({"WEAVER_LOAD_EXTENSIONS": " fake_good , fake_misspelt,"}) == {"fake_good", "fake_misspelt"}


def test_load_plugins_a_b_loads_only_those_from_the_installed_distributions(
    fake_dists: importlib.metadata.EntryPoints,
) -> None:
    pm = make_plugin_manager()
    only = selected_from_env({"WEAVER_LOAD_EXTENSIONS": "fake_good,fake_misspelt"})
    report = load_extensions(pm, only=only)  # real discovery over sys.path, not the fixture's list

    assert [info.name for info in report.extensions] == [DEFAULTS_NAME, "fake_good", "fake_misspelt"]
    assert "weaver_fake_broken" not in {getattr(p, "__name__", "") for p in pm.get_plugins()}


def test_empty_load_plugins_loads_no_extension_but_the_core_defaults(
    fake_dists: importlib.metadata.EntryPoints, tmp_path: Path
) -> None:
    with App(tmp_path, environ=isolated_environ(tmp_path, WEAVER_LOAD_EXTENSIONS="")) as app:
        assert [info.name for info in app.load_report.extensions] == [DEFAULTS_NAME]
        assert app.registry.roles == {}
        assert {"session", "workspace", "extensions"} <= set(app.registry.config_tables)
        assert {app.registry.providers[("config table", name)] for name in app.registry.config_tables} == {
            DEFAULTS_NAME
        }


# ---- registration: duplicates and the core's defaults ------------------------------------


def test_two_providers_of_one_role_name_is_an_error_naming_both(weaver_pm: pluggy.PluginManager) -> None:
    weaver_pm.register(role_provider("ext_a", ECHO_ROLE), name="ext_a")
    weaver_pm.register(role_provider("ext_b", RoleSpec("echo", "OtherEcho", factory=object)), name="ext_b")

    with pytest.raises(DuplicateProviderError) as raised:
        build_registry(weaver_pm)
    assert (raised.value.kind, raised.value.name) == ("role", "echo")
    assert set(raised.value.providers) == {"ext_a", "ext_b"}
    assert "ext_a" in str(raised.value) and "ext_b" in str(raised.value)


def test_an_installed_extension_and_another_claiming_its_role_alias_are_both_named(
    fake_dists: importlib.metadata.EntryPoints,
) -> None:
    pm = make_plugin_manager()
    load_extensions(pm, entry_points=fake_dists)
    pm.register(role_provider("copycat", RoleSpec("copy", "Greeter", factory=object)), name="copycat")

    with pytest.raises(DuplicateProviderError, match=r"role 'Greeter' is provided by more than one extension: .*"):
        build_registry(pm)
    with pytest.raises(DuplicateProviderError) as raised:
        build_registry(pm)
    assert sorted(raised.value.providers) == ["copycat", "fake_good"]


def test_a_role_whose_name_is_its_alias_is_not_a_duplicate(weaver_pm: pluggy.PluginManager) -> None:
    weaver_pm.register(role_provider("solo", RoleSpec("Solo", "Solo", factory=object)), name="solo")

    assert build_registry(weaver_pm).role("Solo").name == "Solo"


def test_two_providers_of_one_backend_or_table_are_errors_too(weaver_pm: pluggy.PluginManager) -> None:
    @hookimpl
    def weaver_config_tables() -> list[ConfigTable]:
        return [ConfigTable("session", dict)]

    weaver_pm.register(SimpleNamespace(weaver_config_tables=weaver_config_tables), name="hijacker")

    with pytest.raises(DuplicateProviderError) as raised:
        build_registry(weaver_pm)
    assert (raised.value.kind, raised.value.name) == ("config table", "session")
    assert set(raised.value.providers) == {"hijacker", DEFAULTS_NAME}

    weaver_pm.unregister(name="hijacker")
    for name in ("one", "two"):

        @hookimpl
        def weaver_llm_backends() -> list[LLMBackendSpec]:
            return [LLMBackendSpec("same", factory=object)]

        weaver_pm.register(SimpleNamespace(weaver_llm_backends=weaver_llm_backends), name=name)
    with pytest.raises(DuplicateProviderError, match="LLM backend 'same' .*: (one, two|two, one)"):
        build_registry(weaver_pm)


def test_core_defaults_register_through_the_same_path_as_extensions(fake_dists: importlib.metadata.EntryPoints) -> None:
    pm = make_plugin_manager()
    report = load_extensions(pm, entry_points=fake_dists)

    core = report.extensions[0]
    assert core == ExtensionInfo(
        name=DEFAULTS_NAME,
        module="weaver.defaults",
        distribution="weaver-core",
        version=importlib.metadata.version("weaver-core"),
        hooks=tuple(sorted(name for name in HOOK_NAMES if hasattr(defaults, name))),
        builtin=True,
    )
    assert {"weaver_config_tables", "weaver_compress_memory"} <= set(core.hooks)
    assert pm.get_plugin(DEFAULTS_NAME) is defaults
    registry = build_registry(pm)
    assert registry.providers[("config table", "session")] == DEFAULTS_NAME
    assert registry.providers[("config table", "fake_good")] == "fake_good"


def test_an_extension_answer_wins_over_the_core_fallback_whatever_the_order(weaver_pm: pluggy.PluginManager) -> None:
    @hookimpl
    def weaver_compress_memory(rounds: object, budget: object, role: str) -> CompressedMemory:
        return CompressedMemory(summary=f"compressed for {role}")

    # weaver_pm registered the core defaults first; the extension comes after and still wins.
    weaver_pm.register(SimpleNamespace(weaver_compress_memory=weaver_compress_memory), name="compressor")

    ctx = hook_context(role="Planner")
    assert Hooks(weaver_pm).compress_memory((), MemoryBudget(max_tokens=100), ctx).summary == "compressed for Planner"
    weaver_pm.unregister(name="compressor")
    assert Hooks(weaver_pm).compress_memory((), MemoryBudget(max_tokens=100), ctx) == CompressedMemory()
