"""The CLI's documented contract, driven from outside in a subprocess: exit statuses for every
command (0 done, 1 failed, 2 usage or configuration error, 130 cancelled), a configuration
error that stores no session, configuration typos warned once with "did you mean", and help
text that reads cleanly when piped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from weaver.testing import run_weaver

GREETER = '[session]\nroles = ["greeter"]\n'
COMMANDS = (
    ("init",),
    ("chat",),
    ("run",),
    ("extensions",),
    ("roles",),
    ("check",),
    ("doctor",),
    ("install",),
    ("uninstall",),
    ("sessions",),
    ("sessions", "list"),
    ("sessions", "show"),
    ("sessions", "resume"),
    ("sessions", "export"),
    ("plugins",),
    ("plugins", "test"),
    ("config",),
    ("config", "show"),
)


def weaver(*args: str, project: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return run_weaver("-p", str(project), *args, cwd=project, load="fake_good", fake_dists=True, **kw)  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "weaver.toml").write_text(GREETER)
    return tmp_path


def stored_sessions(project: Path) -> list[Path]:
    root = project / ".weaver" / "sessions"
    return sorted(root.iterdir()) if root.is_dir() else []


# ---- exit statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "toml",
    [
        pytest.param('[session\nroles = ["greeter"]\n', id="invalid TOML"),
        pytest.param('[session]\nroles = ["greeter"]\nmax_hops = -3\n', id="refused value"),
        pytest.param('[session]\nrolse = ["greeter"]\n', id="unknown key"),
    ],
)
@pytest.mark.parametrize("command", [("run", "hi"), ("chat",), ("config", "show"), ("sessions", "list"), ("doctor",)])
def test_a_configuration_error_exits_2_in_every_command_and_stores_nothing(
    tmp_path: Path, toml: str, command: tuple[str, ...]
) -> None:
    (tmp_path / "weaver.toml").write_text(toml)
    result = weaver(*command, project=tmp_path, stdin="")
    assert result.returncode == 2, (result.stdout, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "weaver.toml" in last, result.stderr
    assert "Traceback" not in result.stderr
    assert stored_sessions(tmp_path) == []


@pytest.mark.parametrize("command", [("run", "hi"), ("chat",)])
def test_an_unknown_role_exits_2_where_a_round_would_run_and_stores_nothing(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "weaver.toml").write_text('[session]\nroles = ["greter"]\n')
    result = weaver(*command, project=tmp_path, stdin="")
    assert result.returncode == 2, result.stderr
    assert stored_sessions(tmp_path) == []


def test_an_unknown_role_still_lets_the_project_be_inspected_and_doctor_says_why(tmp_path: Path) -> None:
    (tmp_path / "weaver.toml").write_text('[session]\nroles = ["greter"]\n')
    assert weaver("config", "show", project=tmp_path).returncode == 0
    roles = weaver("roles", project=tmp_path)
    assert roles.returncode == 0 and "greeter" in roles.stdout
    doctor = weaver("doctor", project=tmp_path)
    assert doctor.returncode == 1
    assert "unknown role 'greter'" in doctor.stdout and "did you mean 'greeter'?" in doctor.stdout


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(lambda p: (p / "weaver.toml").write_bytes(b'[session]\nroles = ["gr\xe9eter"]\n'), "not UTF-8", id="not UTF-8"),
        pytest.param(lambda p: ((p / "weaver.toml").unlink(), (p / "weaver.toml").mkdir()), "is a directory", id="a directory"),
    ],
)
def test_an_unreadable_weaver_toml_is_one_line_and_exit_2(project: Path, setup: object, expected: str) -> None:
    setup(project)  # type: ignore[operator]
    result = weaver("run", "hi", project=project)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {project / 'weaver.toml'}: {expected}"), lines


@pytest.mark.parametrize("session_id", ["session-nope", "../../etc", "/abs", "a b", "."])
@pytest.mark.parametrize("command", [("run", "hi", "--session"), ("chat", "--session"), ("sessions", "show"), ("sessions", "export")])
def test_a_session_that_does_not_exist_or_cannot_be_one_exits_2(
    project: Path, session_id: str, command: tuple[str, ...]
) -> None:
    result = weaver(*command, session_id, project=project, stdin="")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert not (project / "etc").exists() and not Path("/abs").exists()


def test_usage_errors_exit_2_and_help_exits_0(project: Path) -> None:
    assert weaver("no-such-command", project=project).returncode == 2
    assert weaver("run", project=project).returncode == 2  # the request is missing
    assert weaver("run", "hi", "--no-such-option", project=project).returncode == 2
    assert weaver("--help", project=project).returncode == 0
    assert weaver(project=project).returncode in (0, 2)  # no command: the help, as click does it


def test_done_is_0_and_a_failed_round_is_1(project: Path) -> None:
    assert weaver("run", "world", project=project).returncode == 0
    failed = weaver("run", "fail", project=project)
    assert failed.returncode == 1 and "✗ failed: the greeter was asked to fail" in failed.stderr
    assert len(stored_sessions(project)) == 2


# ---- typos -----------------------------------------------------------------------------------


def test_a_misspelt_table_is_warned_once_with_did_you_mean_in_every_command(project: Path) -> None:
    (project / "weaver.toml").write_text(GREETER + "\n[fake_goood]\ngreeting = 'hey'\n")
    for command in (("run", "world"), ("config", "show"), ("sessions", "list"), ("roles",)):
        result = weaver(*command, project=project, stdin="")
        warnings = [line for line in result.stderr.splitlines() if "[fake_goood]" in line]
        assert len(warnings) == 1, (command, result.stderr)
        assert "did you mean 'fake_good'?" in warnings[0] and "weaver.toml" in warnings[0]


def test_a_misspelt_key_names_the_file_table_and_the_likely_key(project: Path) -> None:
    (project / "weaver.toml").write_text('[session]\nroles = ["greeter"]\nmax_hop = 5\n')
    result = weaver("run", "world", project=project)
    assert result.returncode == 2
    assert f"error: {project / 'weaver.toml'}: [session.max_hop]: unknown key (did you mean 'max_hops'?)" in result.stderr


def test_a_misspelt_role_names_the_file_and_the_likely_role(project: Path) -> None:
    (project / "weaver.toml").write_text('[session]\nroles = ["greter"]\n')
    result = weaver("run", "world", project=project)
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {project / 'weaver.toml'}: [session.roles]: unknown role 'greter'")
    assert "did you mean 'greeter'?" in line


def test_a_folder_without_weaver_toml_is_said_where_sessions_go(tmp_path: Path) -> None:
    environ = {"WEAVER_SESSION__ROLES": "greeter"}
    result = run_weaver("run", "world", cwd=tmp_path, load="fake_good", fake_dists=True, env=environ)
    assert result.returncode == 0, result.stderr
    assert f"no weaver.toml in {tmp_path}" in result.stderr and str(tmp_path / ".weaver") in result.stderr
    (tmp_path / "taskweaver_config.json").write_text("{}")  # a TaskWeaver project copied unchanged
    quiet = run_weaver("run", "world", cwd=tmp_path, load="fake_good", fake_dists=True, env=environ)
    assert quiet.returncode == 0 and "no weaver.toml" not in quiet.stderr


# ---- help and piped output -------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_renders_cleanly_when_piped(project: Path, command: tuple[str, ...]) -> None:
    result = weaver(*command, "--help", project=project)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "``" not in text, "reStructuredText markup in the help"
    options = [line for line in text.splitlines() if line.lstrip().startswith("-")]
    assert not [line for line in options if "<bool>" in line or "<list[" in line], "type labels on options"
    assert not [line for line in text.splitlines() if line != line.rstrip()], "trailing spaces"
    assert "Exit status: 0 done, 1 failed, 2 usage or configuration error, 130 cancelled." in " ".join(text.split())


def test_piped_listings_have_no_trailing_spaces_and_plurals_are_right(project: Path) -> None:
    weaver("run", "world", project=project)
    for command in (("sessions", "list"), ("roles",), ("extensions",), ("plugins",), ("config", "show")):
        out = weaver(*command, project=project).stdout
        assert not [line for line in out.splitlines() if line != line.rstrip()], command
    (session,) = stored_sessions(project)
    shown = weaver("sessions", "show", session.name, project=project).stdout
    assert shown.splitlines()[0].endswith("· 1 round")


def test_every_command_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"weaver {' '.join(command)}" in readme, command
