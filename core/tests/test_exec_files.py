"""The host's side of the boundary without a kernel: file operations that follow no link
planted where a kernel writes, what a kernel may reach, the log's bounded tail."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from weaver.config import Config
from weaver.errors import ConfigError
from weaver.execution.boundary import (
    KernelSite,
    UploadPlace,
    files_for_code,
    kernel_access,
    readable_paths,
    site_for,
    upload_place,
)
from weaver.execution.config import ExecutionConfig
from weaver.execution.files import UnsafePathError, chown_tree, copy_in, regular_file_beneath, relative_parts, write_new
from weaver.execution.logtail import LogTail
from weaver.execution.sandbox import _parents
from weaver.testing.kernels import kernel_app


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("the host's own file")
    return path


@pytest.mark.parametrize("name", ["", "/etc/passwd", "..", "../x", "a/../../x", "a/\0b", ".", "./", "//"])
def test_names_that_leave_their_directory_are_refused(name: str) -> None:
    with pytest.raises(UnsafePathError):
        relative_parts(name)


def test_relative_names_keep_their_folders() -> None:
    assert relative_parts("data/x.csv") == ("data", "x.csv")
    assert relative_parts("./data//x.csv") == ("data", "x.csv")
    assert relative_parts("r\u00e9sum\u00e9 \udcff.txt") == ("r\u00e9sum\u00e9 \udcff.txt",)  # not UTF-8: still a name


def test_an_upload_replaces_a_link_planted_at_its_name(tmp_path: Path, victim: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "data.csv").symlink_to(victim)
    os.mkfifo(cwd / "fifo.csv")  # opening a FIFO to write would block the host
    source = tmp_path / "upload.csv"
    source.write_text("a,b\n1,2\n")
    for name in ("data.csv", "fifo.csv"):
        target = copy_in(source, cwd, name)
        assert not target.is_symlink() and target.read_text() == "a,b\n1,2\n"
    assert victim.read_text() == "the host's own file"
    assert sorted(p.name for p in cwd.iterdir()) == ["data.csv", "fifo.csv"]  # no temporary file left


def test_an_upload_keeps_its_relative_path_and_never_crosses_a_link(tmp_path: Path, victim: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    source = tmp_path / "x.csv"
    source.write_text("x\n1\n")
    assert copy_in(source, cwd, "inputs/2024/x.csv") == cwd / "inputs" / "2024" / "x.csv"
    assert (cwd / "inputs" / "2024" / "x.csv").read_text() == "x\n1\n"
    (cwd / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="links are not followed"):
        copy_in(source, cwd, "elsewhere/victim.txt")
    with pytest.raises(UnsafePathError):
        copy_in(source, cwd, "../victim.txt")
    assert victim.read_text() == "the host's own file"
    (tmp_path / "linked-cwd").symlink_to(cwd)
    with pytest.raises(UnsafePathError):
        copy_in(source, tmp_path / "linked-cwd")


def test_a_new_file_never_overwrites_nor_writes_through_a_link(tmp_path: Path, victim: Path) -> None:
    (tmp_path / "display-1-1.png").symlink_to(victim)
    first = write_new(tmp_path, "display-1-1.png", b"one")
    second = write_new(tmp_path, "display-1-1.png", b"two")
    assert (first.name, second.name) == ("display-1-1-2.png", "display-1-1-3.png")
    assert (first.read_bytes(), second.read_bytes(), victim.read_text()) == (b"one", b"two", "the host's own file")
    (tmp_path / "artifacts").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePathError):
        write_new(tmp_path / "artifacts", "x.png", b"x")


def test_only_plain_files_inside_artifacts_count_as_artifacts(tmp_path: Path, victim: Path) -> None:
    artifacts = tmp_path / "artifacts"
    (artifacts / "sub").mkdir(parents=True)
    (artifacts / "sub" / "plot.png").write_bytes(b"png")
    (artifacts / "link.png").symlink_to(victim)
    (artifacts / "dirlink").symlink_to(tmp_path)
    assert regular_file_beneath(artifacts, str(artifacts / "sub" / "plot.png"))
    for path in (artifacts / "link.png", artifacts / "dirlink" / "victim.txt", victim, artifacts / ".." / "victim.txt"):
        assert not regular_file_beneath(artifacts, str(path)), path


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_giving_a_tree_to_a_kernel_user_follows_no_link(tmp_path: Path, victim: Path) -> None:
    tree = tmp_path / "cwd"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "own.csv").write_text("x")
    (tree / "link").symlink_to(victim)
    os.link(victim, tree / "hardlink")
    chown_tree(tree, 1_500_000_001, 1_500_000_001)
    owners = {p.name: p.lstat().st_uid for p in (tree, tree / "sub", tree / "sub" / "own.csv", tree / "link")}
    assert set(owners.values()) == {1_500_000_001}
    assert victim.stat().st_uid == 0  # neither through the link nor the hard link


@pytest.mark.parametrize("entry", ["../shared", "/srv/data", ".", "data/../..", "", "a\0b", "data/"])
def test_project_files_must_be_folders_inside_the_project(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ConfigError, match="project_files"):
        kernel_app(tmp_path, execution={"project_files": [entry]})


def test_a_project_folder_that_resolves_elsewhere_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "inputs").symlink_to("/etc")
    config = Config({"execution": ExecutionConfig(project_files=("data", "inputs", "missing"))}, {}, tmp_path)
    site = site_for(config, session=tmp_path / ".weaver" / "sessions" / "s")
    assert site.project_files == (("data", str(tmp_path.resolve() / "data")),)


def test_nothing_above_a_session_or_the_project_is_readable(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".weaver" / "sessions").mkdir(parents=True)
    candidates = [str(tmp_path), str(project), "/usr", str(project / "data")]
    (project / "data").mkdir()
    hidden = [str(project / ".weaver" / "sessions"), str(project)]
    assert readable_paths(candidates, hidden) == ["/usr", str(project / "data")]


def test_the_sandbox_makes_every_directory_above_a_bind_enterable() -> None:
    binds = ["/usr", "/root/.pyenv/versions/3.11", "/tmp/weaver-kernel-1/channels", "/work/a/.venv", "/work/a/.venv/bin"]
    assert _parents(binds) == ["/root", "/work", "/root/.pyenv", "/tmp/weaver-kernel-1", "/work/a", "/root/.pyenv/versions"]


def test_a_kernel_reaches_no_directory_that_holds_its_session(tmp_path: Path) -> None:
    import sys

    site = KernelSite(sessions=str(tmp_path / "w" / "sessions"), project_dir=str(tmp_path))
    access = kernel_access(
        site, python=sys.executable, env={"PYTHONPATH": str(tmp_path)}, private=tmp_path / "k", channels=tmp_path / "c"
    )
    assert str(tmp_path) not in access.read  # on the kernel's import path, and yet never readable
    assert access.write == (str(tmp_path / "w" / "sessions"), str(tmp_path / "k"))


def test_the_files_code_sees_are_listed_with_their_sizes(tmp_path: Path) -> None:
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "sales.csv").write_text("a\n1\n")
    (tmp_path / "data" / "raw" / "2024.csv").write_text("b\n")
    (tmp_path / "weaver.toml").write_text("")
    cwd = tmp_path / ".weaver" / "sessions" / "s" / "cwd"
    cwd.mkdir(parents=True)
    (cwd / "upload.txt").write_text("hello")
    (cwd / ".cache").mkdir()
    (cwd / "data").symlink_to(tmp_path / "data")  # the link Weaver makes: listed from the project
    (cwd / "escape").symlink_to("/etc")
    config = Config({"execution": ExecutionConfig()}, {}, tmp_path)
    listing = files_for_code(config, cwd.parent)
    assert [(f.name, f.size) for f in listing.files] == [("data/raw/2024.csv", 2), ("data/sales.csv", 4), ("upload.txt", 5)]
    assert listing.more == 0
    listing = files_for_code(config, cwd.parent, limit=1)
    assert len(listing.files) == 1 and listing.more == 2


@pytest.mark.parametrize(
    ("given", "place"),
    [
        ("reports/q1.csv", UploadPlace("reports/q1.csv", copy=True)),
        ("./reports//q1.csv", UploadPlace("reports/q1.csv", copy=True)),
        ("notes.txt", UploadPlace("notes.txt", copy=True)),
        ("data/sales.csv", UploadPlace("data/sales.csv", copy=False)),  # the project's own file
        ("reports/../data/sales.csv", UploadPlace("data/sales.csv", copy=False)),
        ("data/raw/2024.csv", UploadPlace("data/raw/2024.csv", copy=False)),
        ("../elsewhere/targets.csv", UploadPlace("targets.csv", copy=True)),
        ("{tmp}/elsewhere/targets.csv", UploadPlace("targets.csv", copy=True)),
        ("{tmp}/project/data/sales.csv", UploadPlace("data/sales.csv", copy=False)),
        ("shadow/data/new.csv", UploadPlace("shadow/data/new.csv", copy=True)),
        ("link.csv", UploadPlace("data/sales.csv", copy=False)),  # a link to a project file is that file
    ],
)
def test_an_upload_is_where_the_user_named_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str, place: UploadPlace
) -> None:
    project = tmp_path / "project"
    (project / "data" / "raw").mkdir(parents=True)
    (project / "data" / "sales.csv").write_text("a\n1\n")
    (project / "data" / "raw" / "2024.csv").write_text("a\n2\n")
    (project / "reports").mkdir()
    (project / "reports" / "q1.csv").write_text("a\n3\n")
    (project / "link.csv").symlink_to(project / "data" / "sales.csv")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "targets.csv").write_text("a\n4\n")
    monkeypatch.chdir(project)
    site = site_for(Config({"execution": ExecutionConfig()}, {}, project))
    assert upload_place(site, given.format(tmp=tmp_path)) == place


def test_a_name_under_a_read_only_project_folder_keeps_only_its_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another directory, ``data/new.csv`` is not the project's: it cannot go into the
    project's read-only ``data/``, so code finds it by its file name."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (tmp_path / "here" / "data").mkdir(parents=True)
    (tmp_path / "here" / "data" / "new.csv").write_text("a\n1\n")
    monkeypatch.chdir(tmp_path / "here")
    site = site_for(Config({"execution": ExecutionConfig()}, {}, project))
    assert upload_place(site, "data/new.csv") == UploadPlace("new.csv", copy=True)


def test_the_log_keeps_a_bounded_tail() -> None:
    async def scenario() -> tuple[str, int]:
        log = LogTail(keep=1000)
        writer = os.dup(log.write_fd)
        log.start()
        for n in range(300):
            os.write(writer, f"line {n:04d} ".encode() * 20)
            await asyncio.sleep(0)
        os.write(writer, b"the end")
        os.close(writer)
        await asyncio.sleep(0.1)
        text, total = log.text(100), log.total
        log.close()
        return text, total

    text, total = asyncio.run(scenario())
    assert total == 300 * 20 * 10 + 7
    assert len(text) <= 100 and text.endswith("line 0299 the end")


@pytest.mark.skipif(os.geteuid() != 0, reason="kernels have users of their own only on a root host")
def test_kernel_users_are_never_shared_and_leave_no_lock_behind() -> None:
    from weaver.execution.identity import FIRST_ID, ID_COUNT, allocate

    users = [allocate() for _ in range(5)]
    try:
        assert len({user.uid for user in users}) == 5
        assert all(FIRST_ID <= user.uid < FIRST_ID + ID_COUNT and user.gid == user.uid for user in users)
        paths = [user.lock_path for user in users]
        assert all(path is not None and path.exists() for path in paths)
    finally:
        for user in users:
            user.release()
    assert not any(path.exists() for path in paths if path is not None)
