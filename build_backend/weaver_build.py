"""The build backend of this repository's distributions: PEP 517 and PEP 660 hooks that need
nothing installed.

``pip install .`` builds every local distribution the root one depends on, each in its own
isolated environment; with a backend from the index (hatchling) each of those environments
first installs it, which was most of the time the local builds took. This module builds what
these distributions are, from the standard ``[project]`` table alone: pure Python, import
packages under ``src/``, entry points, readme, an SPDX license expression. A ``[project]``
key it does not know is an error, never a silent omission.

``[tool.weaver-build]`` is optional:

- ``packages``: the package folders to put in the wheel (default ``["src/<name>"]``, the
  distribution's name with underscores); ``[]`` for a distribution of metadata only;
- ``force-include``: ``{"path/in/project" = "path/in/wheel"}``, files or folders the wheel
  carries besides the packages (not in editable installs, which point at ``src/``).

``{root:uri}`` in a dependency is the ``file:`` URL of the project folder (hatchling's
spelling), for the root distribution's references to the folders beside it.

A distribution names a ``_build.py`` beside its ``pyproject.toml`` as its backend, because
a backend must lie inside the project it builds; that file puts this folder on ``sys.path``
and re-exports these hooks. In a source distribution it is replaced by this module itself, so
an sdist builds anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

KNOWN_KEYS = frozenset(
    [
        *("name", "version", "description", "readme", "requires-python", "license", "authors", "maintainers"),
        *("keywords", "classifiers", "urls", "dependencies", "optional-dependencies", "scripts", "gui-scripts"),
        "entry-points",
    ]
)
README_TYPES = {".md": "text/markdown", ".rst": "text/x-rst", ".txt": "text/plain"}
NOT_IN_SDIST = ("build", "dist")
"""Build output in the project folder, left out of its sdist with every name that starts with a dot
(``.venv``, ``.tox``, ``.weaver``); inside packages only ``__pycache__`` and ``*.pyc`` are left out."""
WHEEL_TAG = "py3-none-any"
ZIP_EPOCH = 315532800


class Project:
    """The ``pyproject.toml`` of the project in ``root``, checked, and what it builds."""

    def __init__(self, root: Path) -> None:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # get_requires_for_build_* asked for it
            import tomli as tomllib

        self.root = root
        self.pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        self.meta: dict[str, Any] = self.pyproject["project"]
        unknown = sorted(set(self.meta) - KNOWN_KEYS)
        if unknown:
            raise ValueError(f"{root / 'pyproject.toml'}: weaver_build does not support [project] {', '.join(unknown)}")
        self.name: str = self.meta["name"]
        self.version: str = self.meta["version"]
        self.module = re.sub(r"[-_.]+", "_", self.name).lower()
        self.stem = f"{self.module}-{self.version}"
        tool = self.pyproject.get("tool", {}).get("weaver-build", {})
        self.packages = [root / p for p in tool.get("packages", [f"src/{self.module}"])]
        self.force_include: dict[str, str] = tool.get("force-include", {})
        for folder in self.packages:
            if not (folder / "__init__.py").is_file():
                raise ValueError(
                    f"{root / 'pyproject.toml'}: no package at {folder} (set [tool.weaver-build] packages)"
                )

    def metadata(self) -> str:
        """Core metadata 2.4 (``METADATA`` and ``PKG-INFO``)."""
        meta, lines = self.meta, ["Metadata-Version: 2.4", f"Name: {self.name}", f"Version: {self.version}"]
        if "description" in meta:
            lines.append(f"Summary: {meta['description']}")
        if meta.get("keywords"):
            lines.append(f"Keywords: {','.join(meta['keywords'])}")
        for role in ("Author", "Maintainer"):
            people = meta.get(f"{role.lower()}s", [])
            named = [p["name"] for p in people if "email" not in p]
            mailed = [f"{p['name']} <{p['email']}>" if "name" in p else p["email"] for p in people if "email" in p]
            if named:
                lines.append(f"{role}: {', '.join(named)}")
            if mailed:
                lines.append(f"{role}-email: {', '.join(mailed)}")
        if "license" in meta:
            if not isinstance(meta["license"], str):
                raise ValueError(f"{self.root / 'pyproject.toml'}: license must be an SPDX expression string")
            lines.append(f"License-Expression: {meta['license']}")
        lines += [f"Classifier: {c}" for c in meta.get("classifiers", [])]
        lines += [f"Project-URL: {label}, {url}" for label, url in meta.get("urls", {}).items()]
        if "requires-python" in meta:
            lines.append(f"Requires-Python: {meta['requires-python']}")
        lines += [f"Requires-Dist: {self._expand(r)}" for r in meta.get("dependencies", [])]
        for extra, requirements in meta.get("optional-dependencies", {}).items():
            extra = re.sub(r"[-_.]+", "-", extra).lower()
            lines.append(f"Provides-Extra: {extra}")
            for requirement in requirements:
                spec, _, marker = self._expand(requirement).partition(";")
                condition = f'({marker.strip()}) and extra == "{extra}"' if marker else f'extra == "{extra}"'
                lines.append(f"Requires-Dist: {spec.strip()}; {condition}")
        body = ""
        if "readme" in meta:
            if not isinstance(meta["readme"], str):
                raise ValueError(f"{self.root / 'pyproject.toml'}: readme must be a file name")
            readme = self.root / meta["readme"]
            if readme.suffix.lower() not in README_TYPES:
                raise ValueError(f"{self.root / 'pyproject.toml'}: readme must end in {', '.join(README_TYPES)}")
            lines.append(f"Description-Content-Type: {README_TYPES[readme.suffix.lower()]}")
            body = "\n" + readme.read_text(encoding="utf-8")
        return "\n".join(lines) + "\n" + body

    def _expand(self, requirement: str) -> str:
        return requirement.replace("{root:uri}", self.root.resolve().as_uri())

    def entry_points(self) -> str:
        groups = {
            "console_scripts": self.meta.get("scripts", {}),
            "gui_scripts": self.meta.get("gui-scripts", {}),
            **self.meta.get("entry-points", {}),
        }
        return "".join(
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items()) + "\n"
            for group, entries in groups.items()
            if entries
        )

    def dist_info(self) -> dict[str, bytes]:
        """The ``.dist-info`` files but ``RECORD``, by path in the wheel."""
        wheel = f"Wheel-Version: 1.0\nGenerator: weaver_build\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n"
        files = {"METADATA": self.metadata(), "WHEEL": wheel, "entry_points.txt": self.entry_points()}
        return {f"{self.stem}.dist-info/{name}": text.encode() for name, text in files.items() if text}

    def wheel_files(self) -> Iterator[tuple[str, Path]]:
        """Every file of the wheel's packages and force-included paths, with its path in the wheel."""
        for folder in self.packages:
            yield from _tree(folder, folder.name)
        for source, target in self.force_include.items():
            yield from _tree(self.root / source, target)

    def sdist_files(self) -> Iterator[tuple[str, Path]]:
        """Every file of the project folder that is not a build or tool artefact."""
        for entry in sorted(self.root.iterdir()):
            if entry.name not in NOT_IN_SDIST and not entry.name.startswith("."):
                yield from _tree(entry, f"{self.stem}/{entry.name}")


def _tree(path: Path, arcname: str) -> Iterator[tuple[str, Path]]:
    if path.is_file():
        yield arcname, path
        return
    if not path.is_dir():
        raise FileNotFoundError(f"nothing to include at {path}")
    for entry in sorted(path.iterdir()):
        if entry.name != "__pycache__" and entry.suffix not in (".pyc", ".pyo"):
            yield from _tree(entry, f"{arcname}/{entry.name}")


def _epoch() -> int:
    """``SOURCE_DATE_EPOCH`` if set, else 1980-01-01 (the earliest a zip can say): reproducible archives."""
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", ZIP_EPOCH)), ZIP_EPOCH)


def _zip_info(arcname: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, time.gmtime(_epoch())[:6])
    info.external_attr = 0o644 << 16
    return info


def _write_wheel(directory: str, project: Project, files: Mapping[str, bytes]) -> str:
    name = f"{project.stem}-{WHEEL_TAG}.whl"
    record = f"{project.stem}.dist-info/RECORD"
    rows = []
    with zipfile.ZipFile(Path(directory) / name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, data in {**files, **project.dist_info()}.items():
            wheel.writestr(_zip_info(arcname), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append(f"{arcname},sha256={digest},{len(data)}\n")
        wheel.writestr(_zip_info(record), "".join(rows) + f"{record},,\n")
    return name


def _write_metadata(metadata_directory: str) -> str:
    project = Project(Path.cwd())
    for path, data in project.dist_info().items():
        (Path(metadata_directory) / path).parent.mkdir(parents=True, exist_ok=True)
        (Path(metadata_directory) / path).write_bytes(data)
    return f"{project.stem}.dist-info"


def get_requires_for_build_wheel(config_settings: Any = None) -> list[str]:
    """Nothing on Python 3.11 and later; ``tomli`` before (no ``tomllib``)."""
    return [] if sys.version_info >= (3, 11) else ["tomli>=1.1"]


get_requires_for_build_sdist = get_requires_for_build_editable = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Any = None) -> str:
    return _write_metadata(metadata_directory)


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Any = None, metadata_directory: str | None = None) -> str:
    project = Project(Path.cwd())
    return _write_wheel(wheel_directory, project, {arc: path.read_bytes() for arc, path in project.wheel_files()})


def build_editable(wheel_directory: str, config_settings: Any = None, metadata_directory: str | None = None) -> str:
    """A wheel of metadata and a ``.pth`` naming the folders that hold the packages (``src/``)."""
    project = Project(Path.cwd())
    roots = dict.fromkeys(str(folder.parent.resolve()) for folder in project.packages)
    pth = {f"_{project.module}.pth": "".join(f"{root}\n" for root in roots).encode()} if roots else {}
    return _write_wheel(wheel_directory, project, pth)


def build_sdist(sdist_directory: str, config_settings: Any = None) -> str:
    """The project folder with ``PKG-INFO``, and this module in place of the ``_build.py`` that finds it."""
    project = Project(Path.cwd())
    system = project.pyproject.get("build-system", {})
    backend = system.get("build-backend", "weaver_build").replace(".", "/") + ".py"
    shim = project.root.joinpath(*system.get("backend-path", ["."])[:1], backend).resolve()
    name = f"{project.stem}.tar.gz"
    with tarfile.open(Path(sdist_directory) / name, "w:gz", format=tarfile.PAX_FORMAT) as sdist:
        members = [
            (arc, p.read_bytes() if p.resolve() != shim else Path(__file__).read_bytes())
            for arc, p in project.sdist_files()
        ]
        for arcname, data in [*members, (f"{project.stem}/PKG-INFO", project.metadata().encode())]:
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime, info.mode = len(data), _epoch(), 0o644
            sdist.addfile(info, io.BytesIO(data))
    return name
