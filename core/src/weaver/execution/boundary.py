"""What a kernel may reach on the host: the paths it reads, the paths it writes, and as whom.

One description serves both ways of enforcing it: bubblewrap's mounts
(:mod:`weaver.execution.sandbox`) and, without bubblewrap, the Landlock ruleset the kernel
applies to itself (:mod:`weaver.execution.runtime.landlock`).

- Read-only: the system (``/usr``, ``/etc``, ...), the kernel's Python (its prefixes and
  import paths), the project folders of ``[execution] project_files`` and the folders
  plugins are imported from. Never the project directory itself (``weaver.toml``), the
  user's configuration, cassettes, or a directory above a session.
- Writable: the session's ``cwd/`` and ``artifacts/``, and the kernel's private directory
  (home, temporary files). A kernel started before its session is known (the warm pool)
  gets the workspace's ``sessions/`` instead, which is safe only where file permissions
  tell sessions apart: the host is root and every kernel has a user of its own, and each
  session directory is given to its kernel's user when the kernel takes it
  (:func:`weaver.execution.kernel.prepare_session`).
- The socket directory, where the kernel may only create its channel sockets.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from weaver.execution.config import ExecutionConfig
from weaver.execution.identity import host_is_root
from weaver.execution.result import FileInfo, FileListing
from weaver.execution.runtime import landlock
from weaver.store import sessions_dir

log = logging.getLogger("weaver.execution")

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
"""System directories every kernel reads (bound read-only in the sandbox)."""
_LANDLOCK_READ = ("/proc", "/sys", "/dev")
_LANDLOCK_WRITE = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/shm")
"""Outside a sandbox the kernel sees the host's ``/proc``, ``/sys`` and ``/dev``; only
these devices (and POSIX shared memory, which multiprocessing needs) are writable."""


@attrs.frozen
class KernelSite:
    """The host paths one kernel may use besides the system and its Python.

    ``session`` is the session directory a kernel is started for; ``None`` for a kernel
    that may be given any session of ``sessions`` (see the module docstring).
    """

    sessions: str
    session: str | None = None
    project_dir: str = ""
    project_files: tuple[tuple[str, str], ...] = ()
    """``(relative name, absolute path)`` of each project folder the code sees."""
    plugin_dirs: tuple[str, ...] = ()

    @property
    def writable(self) -> tuple[str, ...]:
        if self.session is None:
            return (self.sessions,)
        return (os.path.join(self.session, "cwd"), os.path.join(self.session, "artifacts"))

    @property
    def readable(self) -> tuple[str, ...]:
        return (*(path for _, path in self.project_files), *self.plugin_dirs)


def shared_kernels_allowed(config: ExecutionConfig) -> bool:
    """Whether a kernel may be started before its session is known (see :class:`KernelSite`)."""
    if host_is_root():
        return True
    return sandbox_of(config) == "none" and landlock.abi() == 0


def sandbox_of(config: ExecutionConfig) -> str:
    """``bwrap`` or ``none``: what ``[execution] sandbox`` means on this machine."""
    if config.sandbox != "auto":
        return config.sandbox
    from weaver.execution.sandbox import bwrap_status

    return "bwrap" if bwrap_status()[0] else "none"


def site_for(
    config: Any,
    *,
    session: Path | None = None,
    plugin_dirs: Iterable[str] = (),
) -> KernelSite:
    """The site of a kernel for ``session`` (a session directory) under ``config`` (a
    :class:`weaver.config.Config`); a shared one (``session`` left out of it) when
    :func:`shared_kernels_allowed`. Without ``session``, the workspace and the project's
    plugins folder come from the configuration (for kernels of the warm pool)."""
    execution: ExecutionConfig = config.table("execution")
    project = Path(config.project_dir).resolve()
    tables = config.tables
    if session is not None:
        sessions = Path(session).parent
    else:
        workspace = tables["workspace"].dir if "workspace" in tables else ".weaver"
        sessions = sessions_dir((project / workspace).resolve())
    dirs = set(plugin_dirs)
    if "plugins" in tables:
        folder = (project / tables["plugins"].dir).resolve()
        if folder.is_dir():
            dirs.add(str(folder))
    site = KernelSite(
        sessions=str(sessions),
        session=None,
        project_dir=str(project),
        project_files=tuple(_project_files(project, execution.project_files, sessions)),
        plugin_dirs=tuple(sorted(d for d in dirs if d)),
    )
    if session is None or (shared_kernels_allowed(execution) and own_users_reach(execution, site)):
        return site
    return attrs.evolve(site, session=str(session))


def own_users_reach(execution: ExecutionConfig, site: KernelSite) -> bool:
    """Whether a kernel user of its own could reach what ``site`` gives it outside a sandbox.

    When it cannot (a fresh machine's Python under ``/root``, a project in a directory only
    root may enter), a root host's kernel stays root without capabilities and is confined to
    one session by Landlock alone, so it must be started for that session, never shared.
    """
    if sandbox_of(execution) == "bwrap" or not host_is_root():
        return True
    from weaver.execution.identity import FIRST_ID

    python = execution.python or sys.executable
    paths = (*python_paths(python, os.environ.get("PYTHONPATH", "")), *site.readable, site.sessions)
    return unreachable(paths, FIRST_ID, FIRST_ID) is None


def _project_files(project: Path, names: Sequence[str], sessions: Path) -> Iterable[tuple[str, str]]:
    for name in names:
        path = (project / name).resolve()
        if not path.exists():
            continue
        if project not in path.parents or path == sessions or path in sessions.parents or sessions in path.parents:
            log.warning("[execution] project_files: %r is left out: it resolves to %s, outside the project's own files", name, path)
            continue
        yield name, str(path)


@functools.lru_cache(maxsize=8)
def python_paths(python: str, pythonpath: str) -> tuple[str, ...]:
    """The directories ``python`` imports from (prefixes and ``sys.path``), asked of it once."""
    code = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, *sys.path]))"
    env = {"PATH": os.defpath, "PYTHONPATH": pythonpath}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    return (os.path.dirname(python), *json.loads(out.stdout))


def readable_paths(candidates: Iterable[str], hidden: Sequence[str]) -> list[str]:
    """Existing absolute ``candidates``, each once, leaving out ``/`` and any directory that
    holds (or is) one of ``hidden``: reading it would reach the sessions or the project."""
    found: list[str] = []
    hidden_paths = [Path(h).resolve() for h in hidden if h]
    for raw in candidates:
        if not raw or not os.path.isabs(raw) or raw in found or not os.path.exists(raw):
            continue
        path = Path(raw).resolve()
        if path == Path("/") or any(path == h or path in h.parents for h in hidden_paths):
            continue
        found.append(raw)
    return found


@attrs.frozen
class Access:
    """The host paths one kernel reads, writes, and creates its sockets in."""

    read: tuple[str, ...]
    write: tuple[str, ...]
    sockets: tuple[str, ...]

    def landlock_rules(self, *, sandboxed: bool) -> dict[str, list[str]]:
        """The same access as a Landlock ruleset, with what a process needs of ``/proc``,
        ``/sys`` and ``/dev`` (and, in the sandbox, its private ``/tmp``)."""
        read = [*self.read, *_LANDLOCK_READ]
        write = [*self.write, *_LANDLOCK_WRITE]
        if sandboxed:
            write.append("/tmp")
        else:
            read += _link_targets("/etc", read)
        return {"read": read, "write": write, "sockets": list(self.sockets)}


def kernel_access(site: KernelSite, *, python: str, env: Mapping[str, str], private: Path, channels: Path) -> Access:
    """What the kernel of ``site`` may reach: ``private`` is its own directory, ``channels``
    the one for its sockets."""
    write = (*site.writable, str(private))
    python_dirs = python_paths(python, env.get("PYTHONPATH", ""))
    read = readable_paths((*SYSTEM, *python_dirs, *site.readable), hidden=(*write, site.project_dir))
    return Access(tuple(read), write, (str(channels),))


def _link_targets(directory: str, covered: Sequence[str]) -> list[str]:
    """Where the links directly in ``directory`` point, when outside ``covered`` (such as
    ``/etc/resolv.conf`` pointing into ``/run``)."""
    targets = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if os.path.exists(target) and not any(target == c or target.startswith(c.rstrip("/") + "/") for c in covered):
                    targets.append(target)
    return sorted(set(targets))


def unreachable(paths: Iterable[str], uid: int, gid: int) -> str | None:
    """The first directory a process of ``uid``/``gid`` (no other groups) cannot enter on
    the way to one of ``paths``, or ``None``. Outside a sandbox the kernel reaches its
    Python, the project files and its session by these very paths."""
    for raw in paths:
        for path in (Path(raw), Path(raw).resolve()):
            for directory in [*reversed(path.parents), path]:
                try:
                    info = directory.stat()
                except OSError:
                    break
                if not stat.S_ISDIR(info.st_mode):
                    break
                if info.st_uid == uid:
                    allowed = info.st_mode & stat.S_IXUSR
                elif info.st_gid == gid:
                    allowed = info.st_mode & stat.S_IXGRP
                else:
                    allowed = info.st_mode & stat.S_IXOTH
                if not allowed:
                    return str(directory)
    return None


SCAN_LIMIT = 10_000
"""Directory entries :func:`files_for_code` looks at, at most."""


def files_for_code(config: Any, session: Path, limit: int = 50) -> FileListing:
    """The files code sees in ``session``'s working directory (its own files and the
    project files of ``config``), by name, at most ``limit`` of them, and how many more
    there are (counted up to :data:`SCAN_LIMIT` entries). For a prompt: the listing is
    what the kernel can really open, not a claim. Hidden files and links are left out
    (the project folders are listed from the project itself)."""
    site = site_for(config, session=session)
    found: list[FileInfo] = []
    budget = [SCAN_LIMIT]
    _walk(Path(session) / "cwd", "", found, budget)  # links, the project files' included, are skipped
    for name, path in site.project_files:
        _walk(Path(path), name, found, budget)
    found.sort(key=lambda f: f.name)
    return FileListing(tuple(found[:limit]), max(0, len(found) - limit))


def _walk(directory: Path, prefix: str, found: list[FileInfo], budget: list[int]) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        budget[0] -= 1
        if budget[0] < 0:
            return
        name = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.name.startswith("."):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(Path(entry.path), name, found, budget)
        elif stat.S_ISREG(info.st_mode):
            found.append(FileInfo(name, info.st_size))


@attrs.frozen
class UploadPlace:
    """Where an uploaded file is for code: ``name`` relative to the working directory, and
    whether it must be copied there (``False``: it is a project file code already sees)."""

    name: str
    copy: bool


def upload_place(site: KernelSite, source: str | os.PathLike[str]) -> UploadPlace:
    """Where the upload ``source`` goes, as the user named it.

    A relative path that stays inside the directory it was given from keeps its folders
    (``reports/q1.csv`` is ``reports/q1.csv`` for code); an absolute path or one through
    ``..`` keeps only its file name. A file inside one of the project folders code reads
    (``data/sales.csv`` with ``project_files = ["data"]``) is not copied: code opens the
    project's own file by its project path. Any other name under such a folder would land
    in a read-only folder, so it keeps only its file name.
    """
    path = Path(source)
    real = path.resolve()
    for name, folder in site.project_files:
        if Path(folder) in real.parents:
            return UploadPlace(str(PurePosixPath(name, real.relative_to(folder))), copy=False)
    text = os.fspath(path)
    parts = tuple(part for part in text.split("/") if part not in ("", "."))
    if path.is_absolute() or ".." in parts or not parts:
        return UploadPlace(path.name, copy=True)
    relative = "/".join(parts)
    for name, _ in site.project_files:
        if relative == name or relative.startswith(name.rstrip("/") + "/"):
            return UploadPlace(path.name, copy=True)
    return UploadPlace(relative, copy=True)
