"""A stranger's extension, built from its own pyproject.toml and pip-installed into a fresh virtualenv.

The virtualenv gets weaver-core installed from this source tree (so its ``bin/weaver`` is a
real console script), a well-behaved third-party extension, a broken one, and the extension
the README's "Writing an extension" shows (its files are read from the README itself, so the
documentation cannot drift from what works); ``weaver`` must list them, run the README's
extension in real rounds, and keep working beside the broken one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

import pytest

CORE_DIR = Path(__file__).resolve().parents[1]
README = CORE_DIR.parent / "README.md"
README_EXTENSIONS = "tally_role,tally_guard,tally_verifier,tally_compressor,tally_plugin"

GOOD = {
    "pyproject.toml": """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "weaver-hello-role"
        version = "0.3.1"
        dependencies = ["weaver-core"]

        [project.entry-points.weaver]
        hello = "weaver_hello_role"
    """,
    "src/weaver_hello_role/__init__.py": '''
        """A third-party role that says hello, and a command that does too."""

        import weaver
        from weaver.model import USER
        from weaver.specs import RoleSpec


        class Hello:
            async def reply(self, ctx):
                post = ctx.new_post(send_to=USER)
                post.message_delta("hello from a third party")
                return post.build()


        @weaver.hookimpl
        def weaver_roles():
            return [RoleSpec(name="hello", alias="Hello", factory=Hello, description="Says hello.")]


        @weaver.hookimpl
        def weaver_cli(app):
            @app.command("hello")
            def hello():
                """Say hello (from weaver-hello-role)."""
                print("hello from the hello command")
    ''',
}

BROKEN = {
    "pyproject.toml": """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "weaver-broken-ext"
        version = "0.0.1"

        [project.entry-points.weaver]
        broken = "weaver_broken_ext"
    """,
    "src/weaver_broken_ext/__init__.py": """
        raise RuntimeError("misconfigured on purpose")
    """,
}


def readme_extension() -> dict[str, str]:
    """The files of the README's "Writing an extension": each code block whose first line names a path."""
    section = README.read_text(encoding="utf-8").split("## Writing an extension", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```(?:python|toml)\n(.*?)```", section, re.DOTALL):
        first, _, body = block.partition("\n")
        if first.startswith("# ") and "/" in first or first == "# pyproject.toml":
            files[first[2:].strip()] = body
    return files


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def clean_environ(tmp: Path, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "PYTHON", "PIP_"))}
    return {**environ, "WEAVER_CONFIG": str(tmp / "no-user-config.toml"), "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with weaver-core, weaver-hello-role and weaver-broken-ext installed by pip."""
    import hatchling.build  # noqa: F401 - pip builds the distributions with it (--no-build-isolation)

    tmp = tmp_path_factory.mktemp("third_party")
    root = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # A venv made from a venv sees the base interpreter's packages, not this environment's;
    # this gives it weaver-core's dependencies, pip and hatchling without any download.
    (Path(purelib) / "_parent_environment.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n"
    )
    good = write_project(tmp / "good", GOOD)
    broken = write_project(tmp / "broken", BROKEN)
    tally = write_project(tmp / "tally", readme_extension())
    install = [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
    result = subprocess.run(
        [*install, str(CORE_DIR), str(good), str(broken), str(tally)],
        check=False, capture_output=True, text=True, env=clean_environ(tmp),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def weaver(venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "weaver"), *args],
        check=False, capture_output=True, text=True, timeout=120, cwd=venv.parent, env=clean_environ(venv.parent, **env),
    )  # fmt: skip


def listed(venv: Path, **env: str) -> dict[str, dict[str, Any]]:
    result = weaver(venv, "extensions", "--json", **env)
    assert result.returncode == 0, result.stderr
    return {item["name"]: item for item in json.loads(result.stdout)["extensions"]}


@pytest.mark.slow
def test_installed_core_is_the_venvs_own_copy_with_its_data_files(venv: Path) -> None:
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import weaver; print(weaver.__file__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    package = Path(where).parent

    assert package.is_relative_to(venv)
    assert (package / "testing/fake_dists/weaver_fake_good-1.0.0.dist-info/entry_points.txt").is_file()


@pytest.mark.slow
def test_third_party_extension_appears_in_extensions_json(venv: Path) -> None:
    hello = listed(venv)["hello"]

    assert hello == {
        "name": "hello",
        "module": "weaver_hello_role",
        "distribution": "weaver-hello-role",
        "version": "0.3.1",
        "hooks": ["weaver_cli", "weaver_roles"],
        "error": None,
        "builtin": False,
        "ok": True,
    }


@pytest.mark.slow
def test_broken_third_party_extension_is_listed_as_failed(venv: Path) -> None:
    result = weaver(venv, "extensions", "--json")
    broken = {item["name"]: item for item in json.loads(result.stdout)["extensions"]}["broken"]

    assert result.returncode == 0
    assert (broken["ok"], broken["distribution"], broken["version"], broken["error"]) == (
        False,
        "weaver-broken-ext",
        "0.0.1",
        "RuntimeError: misconfigured on purpose",
    )
    assert "skipping extension 'broken' from weaver-broken-ext: RuntimeError: misconfigured on purpose" in result.stderr


@pytest.mark.slow
def test_every_other_command_still_works_beside_the_broken_extension(venv: Path) -> None:
    roles = weaver(venv, "--set", "session.roles=hello", "roles", "--json")
    assert roles.returncode == 0, roles.stderr
    hello = next(role for role in json.loads(roles.stdout) if role["name"] == "hello")
    assert (hello["alias"], hello["provider"], hello["enabled"]) == ("Hello", "hello", True)

    assert weaver(venv, "config", "show").returncode == 0
    command = weaver(venv, "hello")
    assert (command.returncode, command.stdout) == (0, "hello from the hello command\n"), command.stderr
    assert "broken" not in listed(venv, WEAVER_LOAD_EXTENSIONS="hello")


@pytest.mark.slow
def test_strict_plugins_refuses_the_broken_extension(venv: Path) -> None:
    result = weaver(venv, "--strict-plugins", "roles", WEAVER_LOAD_EXTENSIONS="hello,broken")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: extension 'broken' from weaver-broken-ext 0.0.1 failed to load: RuntimeError: misconfigured on purpose"
    ]


def test_the_readme_shows_each_kind_of_extension_in_25_lines_or_fewer() -> None:
    files = readme_extension()
    modules = {Path(name).stem: text for name, text in files.items() if name.endswith(".py")}
    assert set(modules) == {"role", "guard", "verifier", "compressor", "plugin"}
    for name, text in modules.items():
        assert len(text.strip().splitlines()) <= 25, f"{name}.py has {len(text.strip().splitlines())} lines"
        assert "global " not in text
    assert 'attachment_types=("tally",)' in modules["role"] and "ctx.scratch" in modules["guard"]


def tally(venv: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return weaver(venv, "-p", str(project), *args, WEAVER_LOAD_EXTENSIONS=README_EXTENSIONS)


@pytest.fixture(scope="module")
def tally_project(venv: Path) -> Path:
    project = venv.parent / "tally_project"
    project.mkdir()
    (project / "weaver.toml").write_text('[session]\nroles = ["tally"]\n\n[execution]\npool_size = 0\n')
    return project


@pytest.mark.slow
def test_the_readme_extension_installs_and_runs_in_real_rounds(venv: Path, tally_project: Path) -> None:
    names = listed(venv, WEAVER_LOAD_EXTENSIONS=README_EXTENSIONS)
    assert {name for name, item in names.items() if item["ok"]} >= set(README_EXTENSIONS.split(","))
    plugins = tally(venv, tally_project, "plugins", "--json")
    assert [p["name"] for p in json.loads(plugins.stdout)["plugins"]] == ["add_up"], plugins.stderr

    first = tally(venv, tally_project, "run", "1 2 3", "--json")
    assert first.returncode == 0, first.stderr
    round = json.loads(first.stdout)
    answer = round["posts"][-1]
    assert answer["message"] == "total 6; no earlier rounds"
    (note,) = [a for a in answer["attachments"] if a["type"] == "tally"]
    assert "Value:\n6" in note["content"] and "execution 1 of at most 3 in this round" in note["content"]

    session = re.search(r"session (session-[\w-]+)", first.stderr).group(1)
    tally(venv, tally_project, "run", "4 5", "--session", session, "--json")
    third = json.loads(tally(venv, tally_project, "run", "10", "--session", session, "--json").stdout)
    assert third["answer"] == "total 10; 1 older rounds omitted"  # the compressor, in a new process

    refused = json.loads(tally(venv, tally_project, "--set", "tally_rules.banned=add_up", "run", "1", "--json").stdout)
    assert refused["answer"].startswith("refused")
    (note,) = [a for a in refused["posts"][-1]["attachments"] if a["type"] == "tally"]
    assert "[banned-name] 'add_up' is not allowed" in note["content"]
