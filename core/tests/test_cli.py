"""The ``weaver`` command line, run as a real subprocess with the fake distributions installed."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from weaver import hookspecs
from weaver.testing import FAKE_DISTS_DIR, run_weaver

HEAVY = ("openai", "jupyter_client", "ipykernel", "zmq", "pandas", "numpy", "matplotlib")
BROKEN_ERROR = "ModuleNotFoundError: No module named 'weaver_fake_missing_dependency'"
FAKES = "fake_good,fake_broken,fake_misspelt"
"""Selected by default, so extensions installed in the test environment don't change the output."""


def run(
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    select: str | None = FAKES,
    script: bool = False,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``weaver ARGS`` in a fresh process with the fake distributions installed.

    ``select`` is WEAVER_LOAD_EXTENSIONS (``None``: unset, so every installed extension loads).
    """
    return run_weaver(*args, cwd=cwd or tmp_path, load=select, env=env or {}, fake_dists=True, script=script)


def extensions(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return {item["name"]: item for item in json.loads(result.stdout)["extensions"]}


def test_version_from_the_installed_script(tmp_path: Path) -> None:
    result = run("--version", tmp_path=tmp_path, script=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"weaver {importlib.metadata.version('weaver-core')}\n"


def test_help_lists_core_and_extension_commands(tmp_path: Path) -> None:
    result = run("--help", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    for name in ("plugins", "roles", "config", "fake-greet", "--strict-extensions", "--set", "--project"):
        assert name in result.stdout
    assert result.stderr == ""


def test_plugins_json_lists_good_broken_and_misspelt_extensions(tmp_path: Path) -> None:
    result = run("extensions", "--json", tmp_path=tmp_path, select=None)
    found = extensions(result)

    assert found["weaver.defaults"]["builtin"] is True
    assert next(iter(found)) == "weaver.defaults"
    good = found["fake_good"]
    assert (good["ok"], good["distribution"], good["version"], good["module"]) == (
        True,
        "weaver-fake-good",
        "1.0.0",
        "weaver_fake_good",
    )
    assert good["hooks"] == ["weaver_cli", "weaver_config_tables", "weaver_roles"]
    broken = found["fake_broken"]
    assert (broken["ok"], broken["distribution"], broken["version"], broken["error"]) == (
        False,
        "weaver-fake-broken",
        "0.1.0",
        BROKEN_ERROR,
    )
    assert found["fake_misspelt"]["ok"] is False
    assert "weaver_role (did you mean weaver_roles?)" in found["fake_misspelt"]["error"]
    # Failures are also said on stderr, once each, without disturbing the JSON on stdout.
    assert result.stderr.count("fake_broken") == 1 and result.stderr.count("fake_misspelt") == 1


def test_plugins_text_shows_failures(tmp_path: Path) -> None:
    result = run("extensions", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "fake_broken  weaver-fake-broken 0.1.0  [FAILED]" in result.stdout
    assert BROKEN_ERROR in result.stdout
    assert "hooks:  weaver_cli, weaver_config_tables, weaver_roles" in result.stdout


def test_plugins_all_lists_every_hook_spec_and_its_implementers(tmp_path: Path) -> None:
    result = run("extensions", "--all", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    specs = {spec["name"]: spec for spec in json.loads(result.stdout)["hooks"]}

    assert list(specs) == list(hookspecs.HOOK_NAMES)
    assert specs["weaver_roles"]["implemented_by"] == ["fake_good"]
    assert specs["weaver_config_tables"]["implemented_by"] == ["fake_good", "weaver.defaults"]
    assert specs["weaver_configure"]["historic"] is False
    assert specs["weaver_compress_memory"]["firstresult"] is True
    assert specs["weaver_roles"]["summary"] == hookspecs.weaver_roles.__doc__.strip().splitlines()[0]

    text = run("extensions", "--all", tmp_path=tmp_path)
    assert "Hook specs:" in text.stdout and "weaver_event" in text.stdout


def test_broken_extension_leaves_every_other_command_working(tmp_path: Path) -> None:
    roles = run("roles", tmp_path=tmp_path)
    assert roles.returncode == 0, roles.stderr
    assert "greeter  Greeter  fake_good  no       Greets whoever writes." in roles.stdout
    assert "skipping extension 'fake_broken'" in roles.stderr

    roles_json = run("--set", "session.roles=greeter", "roles", "--json", tmp_path=tmp_path)
    assert roles_json.returncode == 0, roles_json.stderr
    greeter = next(r for r in json.loads(roles_json.stdout) if r["name"] == "greeter")
    assert greeter == {
        "name": "greeter",
        "alias": "Greeter",
        "provider": "fake_good",
        "description": "Greets whoever writes.",
        "enabled": True,
    }

    config = run("config", "show", tmp_path=tmp_path)
    assert config.returncode == 0, config.stderr
    assert "[fake_good]" in config.stdout

    greet = run("--set", "fake_good.greeting=hi", "fake-greet", "--name", "you", tmp_path=tmp_path)
    assert (greet.returncode, greet.stdout) == (0, "hi, you\n"), greet.stderr


@pytest.mark.parametrize(
    ("args", "env", "toml"),
    [
        (("--strict-plugins",), {}, ""),
        ((), {"WEAVER_EXTENSIONS__STRICT": "true"}, ""),
        ((), {}, "[extensions]\nstrict = true\n"),
    ],
    ids=["flag", "environment", "weaver.toml"],
)
def test_strict_mode_exits_2_with_one_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], toml: str
) -> None:
    (tmp_path / "weaver.toml").write_text(toml)
    result = run(*args, "roles", tmp_path=tmp_path, env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: extension 'fake_broken' from weaver-fake-broken 0.1.0 failed to load: {BROKEN_ERROR}"
    ]


def test_verbose_adds_the_traceback(tmp_path: Path) -> None:
    result = run("-v", "--strict-extensions", "extensions", tmp_path=tmp_path, select="fake_broken")

    assert result.returncode == 2
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "ExtensionLoadError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: extension 'fake_broken'")


def test_load_plugins_variable_selects_extensions(tmp_path: Path) -> None:
    only_good = run("extensions", "--json", tmp_path=tmp_path, select="fake_good")
    assert set(extensions(only_good)) == {"weaver.defaults", "fake_good"}
    assert only_good.stderr == ""

    none = run("extensions", "--json", tmp_path=tmp_path, select="")
    assert list(extensions(none)) == ["weaver.defaults"]

    without_fake_greet = run("--help", tmp_path=tmp_path, select="")
    assert "fake-greet" not in without_fake_greet.stdout


def test_config_show_masks_secrets_and_names_the_source_of_each_value(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    toml = project / "weaver.toml"
    toml.write_text('[fake_good]\napi_token = "sk-very-secret"\n\n[session]\nmax_hops = 7\n\n[not_installed]\nx = 1\n')
    env = {"WEAVER_FAKE_GOOD__GREETING": "hey"}

    result = run(
        "-p", str(project), "--set", "session.entry=greeter", "config", "show", "--json",
        tmp_path=tmp_path, env=env, select="fake_good",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    values = {row["key"]: (row["value"], row["source"]) for row in shown["values"]}
    assert values["fake_good.api_token"] == ("****", str(toml))
    assert values["fake_good.greeting"] == ("hey", "environment")
    assert values["session.max_hops"] == (7, str(toml))
    assert values["session.entry"] == ("greeter", "--set")
    assert values["workspace.dir"] == (".weaver", "defaults")
    assert shown["warnings"] == [f"[not_installed] in {toml} is not used: no installed extension owns it"]
    assert result.stderr == f"warning: [not_installed] in {toml} is not used: no installed extension owns it\n"
    assert "sk-very-secret" not in result.stdout + result.stderr

    text = run("-p", str(project), "config", "show", tmp_path=tmp_path, env=env, select="fake_good")
    assert text.returncode == 0, text.stderr
    assert f'api_token = "****"  # {toml}' in text.stdout
    assert "sk-very-secret" not in text.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("--set", "nonsense", "config", "show"), "error: --set: expected table.key=value, got 'nonsense'"),
        (("--set", "session.max_hops=many", "roles"), "error: --set: [session.max_hops]: expected int, got 'many'"),
        (("--set", "session.colour=red", "roles"), "error: --set: [session.colour]: unknown key"),
    ],
)
def test_a_configuration_error_is_one_line_and_exit_status_2(tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    result = run(*args, tmp_path=tmp_path, select="")

    assert (result.returncode, result.stdout, result.stderr.splitlines()) == (2, "", [line])


def test_two_installed_providers_of_one_role_are_named_in_one_line(tmp_path: Path) -> None:
    dists = tmp_path / "site"
    (dists / "copycat-1.0.dist-info").mkdir(parents=True)
    (dists / "copycat-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: copycat\nVersion: 1.0\n")
    (dists / "copycat-1.0.dist-info" / "entry_points.txt").write_text("[weaver]\ncopycat = copycat_ext\n")
    (dists / "copycat_ext.py").write_text(
        "import weaver\nfrom weaver.specs import RoleSpec\n\n"
        "@weaver.hookimpl\ndef weaver_roles():\n    return [RoleSpec('greeter', 'Copy', factory=object)]\n"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(FAKE_DISTS_DIR), str(dists)])}

    result = run("roles", tmp_path=tmp_path, env=env, select="fake_good,copycat")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert re.fullmatch(
        r"error: role 'greeter' is provided by more than one extension: (copycat, fake_good|fake_good, copycat); "
        r"uninstall one or disable it with WEAVER_LOAD_EXTENSIONS",
        line,
    ), line


def test_import_weaver_loads_nothing_heavy(tmp_path: Path) -> None:
    code = f"import sys, weaver; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )

    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr


def test_help_loads_nothing_heavy_even_with_extensions_installed(tmp_path: Path) -> None:
    modules_file = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        "from weaver.cli import main\n"
        "try:\n    main(['--help'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"json.dump(sorted(sys.modules), open({str(modules_file)!r}, 'w'))\n"
    )
    environ = {**os.environ, "PYTHONPATH": str(FAKE_DISTS_DIR), "WEAVER_CONFIG": str(tmp_path / "none.toml")}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, env=environ
    )

    assert result.returncode == 0, result.stderr
    modules = set(json.loads(modules_file.read_text()))
    assert "weaver_fake_good" in modules  # extensions' top-level modules do load, for their commands
    assert [m for m in HEAVY if m in modules] == []
    assert "weaver.engine" not in modules
