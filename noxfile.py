"""Developer sessions: ``nox -s tests | package | lint | bench | enterprise_gateway`` (``nox`` alone
runs tests and lint).

``package`` installs one package on top of ``weaver-core`` with only the sibling
distributions it declares (its dependencies and its ``test`` extra) and runs only its tests,
so a package that leans on a sibling it does not declare fails here, not on a user's machine.
"""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PACKAGES: list[str] = runpy.run_path(str(ROOT / ".ci" / "packages.py"))["package_dirs"](ROOT)
BUILD_DEPS = ("editables>=0.5", "hatchling>=1.21")
"""Editable installs build without isolation, in one environment: every distribution builds with
the repository's backend (``build_backend/``, nothing to install) but the third-party template,
which uses hatchling as a project outside this repository would."""
TEST_DEPS = (
    *BUILD_DEPS,
    "pytest>=8",
    "pexpect>=4.8",
    "pyyaml>=6.0",
    "pandas>=2.0",
    "matplotlib>=3.7",
    "hypothesis>=6",
    "jupyter_kernel_gateway>=3",  # a real gateway for the gateway executor's tests
    "psutil>=5.9",  # the service's tests count the kernels and descriptors of `weaver serve`
    "playwright>=1.40",  # the web UI's browser tests, driving Debian's chromium (never a downloaded browser)
)

nox.options.sessions = ["tests", "lint"]

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def _project(package: str) -> dict:
    return tomllib.loads((ROOT / package / "pyproject.toml").read_text())["project"]


LOCAL = {_project(p)["name"]: p for p in PACKAGES}
"""This repository's distributions by name, so a declared sibling installs from its folder."""


def declared_siblings(package: str) -> list[str]:
    """The folders of the local distributions ``package`` depends on, for use or for its tests."""
    project = _project(package)
    wanted = [*project.get("dependencies", ()), *project.get("optional-dependencies", {}).get("test", ())]
    names = (re.split(r"[\s<>=!~;\[@]", requirement, maxsplit=1)[0] for requirement in wanted)
    return [LOCAL[name] for name in names if name in LOCAL]


def install_editable(session: nox.Session, *dirs: str) -> None:
    session.install("--no-build-isolation", *(arg for d in dirs for arg in ("-e", d)))


@nox.session
def tests(session: nox.Session) -> None:
    """Every package installed; the whole repository's tests (what tox and CI run)."""
    session.install(*TEST_DEPS)
    install_editable(session, *PACKAGES)
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("package", PACKAGES, ids=[Path(p).name for p in PACKAGES])
def package(session: nox.Session, package: str) -> None:
    """One package on top of weaver-core with only its declared siblings; its own tests only."""
    session.install(*TEST_DEPS)
    install_editable(session, *dict.fromkeys(["core", *declared_siblings(package), package]))
    session.run("pytest", f"{package}/tests", *session.posargs)


@nox.session
def enterprise_gateway(session: nox.Session) -> None:
    """The executor conformance suite against Jupyter Enterprise Gateway. Its pins (jupyter_client 6,
    jupyter_server 1) clash with the test environment's, so the test builds it a virtualenv of its
    own from the package index, cached under the temporary directory."""
    session.install(*TEST_DEPS)
    install_editable(session, *PACKAGES)
    session.run("pytest", "contrib_plugins/gateway/tests/test_enterprise_gateway.py", *session.posargs)


LINT_DEPS = ("ruff", "mypy>=1.10", "types-PyYAML", "tomli")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check over the whole repository, and mypy over every package."""
    session.install(*TEST_DEPS, *LINT_DEPS)
    install_editable(session, *PACKAGES)
    session.run("ruff", "check", ".", *session.posargs)
    session.run("python", ".ci/packages.py", "typecheck")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks in bench/: a table on stdout and bench-results/latest.json."""
    session.install(*TEST_DEPS)
    install_editable(session, *PACKAGES)
    session.run("python", "bench/run.py", *session.posargs)
