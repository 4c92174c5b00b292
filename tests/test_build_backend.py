"""The repository's build backend, ``build_backend/weaver_build.py``, on every real distribution
of the repository and on broken projects: wheels that installers accept (checked with
``packaging``, the parser pip vendors), metadata that says what ``[project]`` says, editable
wheels that point at ``src/``, and source distributions that build again away from the repository.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import importlib.util
import runpy
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.metadata import Metadata
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
LOCAL: list[str] = runpy.run_path(str(ROOT / ".ci" / "packages.py"))["package_dirs"](ROOT)
TEMPLATE = "examples/third_party_extension"
"""Meant to be copied out of the repository, so it keeps a backend from the index (hatchling)."""
BUILT_HERE = [d for d in LOCAL if d != TEMPLATE]


@pytest.fixture(scope="module")
def backend() -> ModuleType:
    spec = importlib.util.spec_from_file_location("weaver_build_under_test", ROOT / "build_backend" / "weaver_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pyproject(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))


def wheel_of(
    backend: ModuleType, project: Path, out: Path, monkeypatch: pytest.MonkeyPatch, hook: str = "build_wheel"
) -> Path:
    monkeypatch.chdir(project)  # PEP 517: hooks run in the project's folder
    out.mkdir(exist_ok=True)
    return out / getattr(backend, hook)(str(out))


def checked(wheel: Path) -> tuple[dict[str, bytes], Metadata]:
    """The wheel's files by name, after checking RECORD against them; its metadata, validated."""
    with zipfile.ZipFile(wheel) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    dist_info = wheel.name.split("-py3-")[0] + ".dist-info"
    rows = [line.split(",") for line in files[f"{dist_info}/RECORD"].decode().splitlines()]
    assert {row[0] for row in rows} == set(files)
    for name, digest, size in rows:
        if name != f"{dist_info}/RECORD":
            expected = base64.urlsafe_b64encode(hashlib.sha256(files[name]).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(files[name])), name
    assert b"Tag: py3-none-any" in files[f"{dist_info}/WHEEL"]
    return files, Metadata.from_email(files[f"{dist_info}/METADATA"], validate=True)


def entry_points(files: dict[str, bytes]) -> dict[str, dict[str, str]]:
    """The wheel's own entry points (core also ships fake ``.dist-info`` folders as test data)."""
    record = next(name for name in files if name.count("/") == 1 and name.endswith(".dist-info/RECORD"))
    text = files.get(record.replace("RECORD", "entry_points.txt"), b"").decode()
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # entry-point names keep their case
    parser.read_string(text)
    return {group: dict(parser[group]) for group in parser.sections()}


def test_every_local_distribution_uses_the_shared_backend() -> None:
    # A new distribution copied from a sibling keeps the fast path; one that does not is named.
    for package in BUILT_HERE:
        system = pyproject(ROOT / package)["build-system"]
        assert (system["requires"], system["build-backend"], system["backend-path"]) == ([], "_build", ["."]), package
        assert (ROOT / package / "_build.py").is_file(), package
    root = pyproject(ROOT)["build-system"]
    assert (root["requires"], root["build-backend"], root["backend-path"]) == ([], "weaver_build", ["build_backend"])


@pytest.mark.parametrize("package", BUILT_HERE)
def test_wheel_of_each_distribution(
    backend: ModuleType, package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = ROOT / package
    project = pyproject(folder)["project"]
    files, metadata = checked(wheel_of(backend, folder, tmp_path, monkeypatch))

    assert (metadata.name, str(metadata.version)) == (project["name"], project["version"])
    assert metadata.summary == project["description"]
    assert str(metadata.license_expression) == project["license"]
    assert metadata.description == (folder / project["readme"]).read_text(encoding="utf-8")
    assert metadata.description_content_type == "text/markdown"
    extras = project.get("optional-dependencies", {})
    assert sorted(map(str, metadata.provides_extra or [])) == sorted(extras)
    requires = metadata.requires_dist or []
    plain = [str(r) for r in requires if "extra" not in str(r.marker)]
    assert sorted(plain) == sorted(str(Requirement(r)) for r in project["dependencies"])
    for extra, wanted in extras.items():
        with_extra = [
            r.name for r in requires if "extra" in str(r.marker) and r.marker and r.marker.evaluate({"extra": extra})
        ]
        assert sorted(with_extra) == sorted(Requirement(r).name for r in wanted)

    declared = {group: dict(entries) for group, entries in project.get("entry-points", {}).items()}
    if "scripts" in project:
        declared["console_scripts"] = project["scripts"]
    assert entry_points(files) == declared

    packages = (
        pyproject(folder)
        .get("tool", {})
        .get("weaver-build", {})
        .get("packages", [f"src/{project['name'].replace('-', '_')}"])
    )
    on_disk = {
        f"{Path(p).name}/{f.relative_to(folder / p).as_posix()}"
        for p in packages
        for f in (folder / p).rglob("*")
        if f.is_file() and "__pycache__" not in f.parts
    }
    shipped = {name for name in files if not name.startswith(f"{project['name'].replace('-', '_')}-")}
    included = pyproject(folder).get("tool", {}).get("weaver-build", {}).get("force-include", {})
    assert on_disk <= shipped
    assert all(name in on_disk or name.startswith(tuple(included.values())) for name in shipped)


def test_demo_wheel_carries_the_example_project(
    backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = ROOT / "examples" / "data_analysis"
    files, _ = checked(wheel_of(backend, folder, tmp_path, monkeypatch))
    assert files["weaver_demo/project/weaver.toml"] == (folder / "weaver.toml").read_bytes()
    for source in ("data", "plugins", "cassettes"):
        for path in (folder / source).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert files[f"weaver_demo/project/{path.relative_to(folder).as_posix()}"] == path.read_bytes()


def test_root_wheel_is_metadata_pointing_at_the_folders_beside_it(
    backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, metadata = checked(wheel_of(backend, ROOT, tmp_path, monkeypatch))
    assert all(".dist-info/" in name for name in files)
    urls = {r.name: r.url for r in metadata.requires_dist or []}
    assert urls and all(url is not None and url.startswith("file:///") for url in urls.values())
    for url in urls.values():
        assert url is not None and (Path(url.removeprefix("file://")) / "pyproject.toml").is_file(), url
    # Every local distribution but the third-party template, so `pip install .` is batteries included.
    assert set(urls) == {pyproject(ROOT / d)["project"]["name"] for d in BUILT_HERE}


def test_editable_wheel_points_at_src(backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, metadata = checked(wheel_of(backend, ROOT / "core", tmp_path, monkeypatch, hook="build_editable"))
    assert metadata.name == "weaver-core"
    assert files["_weaver_core.pth"].decode() == f"{ROOT / 'core' / 'src'}\n"
    assert not [name for name in files if name.startswith("weaver/")]
    assert "weaver = weaver.cli:main" in files["weaver_core-0.1.0.dist-info/entry_points.txt"].decode()


def test_prepared_metadata_is_the_wheels(backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = ROOT / "contrib_plugins" / "retry_guard"
    files, _ = checked(wheel_of(backend, folder, tmp_path / "wheel", monkeypatch))
    name = backend.prepare_metadata_for_build_wheel(str(tmp_path))
    assert (tmp_path / name / "METADATA").read_bytes() == files[f"{name}/METADATA"]


def test_sdist_builds_the_same_wheel_away_from_the_repository(
    backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = ROOT / "contrib_plugins" / "retry_guard"
    monkeypatch.chdir(folder)
    sdist = tmp_path / backend.build_sdist(str(tmp_path))
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / "weaver_retry_guard-0.1.0"
    assert {f"weaver_retry_guard-0.1.0/{n}" for n in ("PKG-INFO", "pyproject.toml", "README.md", "_build.py")} <= set(
        names
    )
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # The shim that looks for ../../build_backend is replaced by the backend itself.
    assert (unpacked / "_build.py").read_bytes() == (ROOT / "build_backend" / "weaver_build.py").read_bytes()

    # The sdist's own backend, imported from the sdist alone, as a frontend would.
    spec = importlib.util.spec_from_file_location("sdist_backend", unpacked / "_build.py")
    assert spec is not None and spec.loader is not None
    own = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(own)
    from_sdist, _ = checked(wheel_of(own, unpacked, tmp_path / "a", monkeypatch))
    from_repo, _ = checked(wheel_of(backend, folder, tmp_path / "b", monkeypatch))
    assert from_sdist == from_repo


def project_at(folder: Path, project: str, package: bool = True) -> Path:
    """A project ``weaver-x`` in ``folder``: that ``pyproject.toml``, and its package unless told."""
    folder.mkdir()
    (folder / "pyproject.toml").write_text(project, encoding="utf-8")
    if package:
        (folder / "src" / "weaver_x").mkdir(parents=True)
        (folder / "src" / "weaver_x" / "__init__.py").write_text('"""x"""\n')
    return folder


BASE = '[project]\nname = "weaver-x"\nversion = "1.0"\n'


@pytest.mark.parametrize(
    ("project", "package", "message"),
    [
        (BASE + 'dynamic = ["dependencies"]\n', True, "does not support [project] dynamic"),
        (BASE + 'license-files = ["LICENSE"]\n', True, "does not support [project] license-files"),
        (BASE, False, "no package at"),
        (BASE + '[tool.weaver-build]\npackages = ["src/elsewhere"]\n', True, "no package at"),
        (BASE + 'license = { text = "MIT" }\n', True, "SPDX expression"),
        (BASE + 'readme = "README.html"\n', True, "readme must end in"),
        (BASE + '[tool.weaver-build.force-include]\n"missing" = "weaver_x/missing"\n', True, "nothing to include"),
    ],
)
def test_a_project_it_cannot_build_fails_loudly(
    backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: str, package: bool, message: str
) -> None:
    folder = project_at(tmp_path / "p", project, package)
    with pytest.raises((ValueError, FileNotFoundError), match=message.replace("[", r"\[")):
        wheel_of(backend, folder, tmp_path / "out", monkeypatch)


def test_extras_markers_and_people(backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = project_at(
        tmp_path / "p",
        BASE
        + 'authors = [{ name = "Ada" }, { name = "Bob", email = "bob@example.org" }, { email = "c@example.org" }]\n'
        + 'keywords = ["agents", "kernels"]\nclassifiers = ["Programming Language :: Python :: 3"]\n'
        + '[project.urls]\nSource = "https://example.org/x"\n'
        + '[project.optional-dependencies]\nOld_Pythons = ["tomli>=1.1; python_version < \'3.11\'", "attrs"]\n'
        + '[project.gui-scripts]\nx-gui = "weaver_x:main"\n',
    )
    files, metadata = checked(wheel_of(backend, folder, tmp_path / "out", monkeypatch))
    assert (metadata.author, metadata.author_email) == ("Ada", "Bob <bob@example.org>, c@example.org")
    assert metadata.keywords == ["agents", "kernels"]
    assert metadata.project_urls == {"Source": "https://example.org/x"}
    assert [str(e) for e in metadata.provides_extra or []] == ["old-pythons"]
    tomli = next(r for r in metadata.requires_dist or [] if r.name == "tomli")
    assert tomli.marker is not None
    assert tomli.marker.evaluate({"extra": "old-pythons", "python_version": "3.10"})
    assert not tomli.marker.evaluate({"extra": "old-pythons", "python_version": "3.12"})
    assert not tomli.marker.evaluate({"extra": "", "python_version": "3.10"})
    assert entry_points(files) == {"gui_scripts": {"x-gui": "weaver_x:main"}}


def test_a_shim_finds_the_backend_from_its_folder(tmp_path: Path) -> None:
    # The same file pip imports: run it in a fresh interpreter from the distribution's folder.
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "build_backend", copy / "build_backend")
    shutil.copytree(
        ROOT / "contrib_plugins" / "retry_guard",
        copy / "contrib_plugins" / "retry_guard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = subprocess.run(
        [sys.executable, "-c", "import _build, sys; print(_build.build_wheel(sys.argv[1]))", str(tmp_path)],
        cwd=copy / "contrib_plugins" / "retry_guard",
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "weaver_retry_guard-0.1.0-py3-none-any.whl"
    checked(tmp_path / out.stdout.strip())


def test_only_caches_are_left_out_of_a_package(
    backend: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sub-packages named like build output, and dot-folders, are the package's own: they ship.
    folder = project_at(tmp_path / "p", BASE)
    for name in ("build/__init__.py", "dist/x.txt", ".hidden/y.txt", "__pycache__/z.cpython-311.pyc", "w.pyc"):
        (folder / "src" / "weaver_x" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "src" / "weaver_x" / name).write_text("x\n")
    (folder / "build" / "lib").mkdir(parents=True)
    (folder / "build" / "lib" / "stale.py").write_text("x\n")
    files, _ = checked(wheel_of(backend, folder, tmp_path / "out", monkeypatch))
    shipped = {name for name in files if not name.startswith("weaver_x-")}
    assert shipped == {f"weaver_x/{n}" for n in ("__init__.py", "build/__init__.py", "dist/x.txt", ".hidden/y.txt")}
    sdist = tmp_path / backend.build_sdist(str(tmp_path))
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    assert "weaver_x-1.0/src/weaver_x/build/__init__.py" in names
    assert not [n for n in names if n.startswith("weaver_x-1.0/build/") or n.endswith(".pyc")]
