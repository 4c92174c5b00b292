"""The contract on hook specs: each is documented with an example, typed, and tested somewhere.

Like datasette's ``test_plugin_hooks_have_tests``: adding a hook without an example in its
docstring or without a ``test_hook_<name>`` test anywhere in the repository fails here, so
the table of contents in :mod:`weaver.hookspecs` cannot drift from what is tested.
"""

from __future__ import annotations

import ast
import inspect
from functools import cache
from pathlib import Path

import pytest

from weaver import hookspecs

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".tox", ".nox", ".venv", "venv", "build", "dist", "node_modules", "__pycache__"}


@cache
def repository_test_names() -> frozenset[str]:
    """Names of every test function (module level or in a class) in the repository's test_*.py files."""
    names = set()
    for path in REPO.rglob("test_*.py"):
        if SKIPPED_DIRS.intersection(path.relative_to(REPO).parts) or "site-packages" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names.update(node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return frozenset(names)


def test_hook_names_are_the_specs_in_order() -> None:
    specs = [name for name, value in vars(hookspecs).items() if name.startswith("weaver_") and callable(value)]

    assert list(hookspecs.HOOK_NAMES) == specs
    assert len(specs) == len(set(specs)) > 10


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_has_an_example(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""

    assert "Example::" in doc, f"{name} has no 'Example::' block in its docstring"
    example = doc.split("Example::", 1)[1]
    assert "@weaver.hookimpl" in example and f"def {name}(" in example, f"{name}'s example implements no hook"


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_is_typed(name: str) -> None:
    spec = getattr(hookspecs, name)
    annotations = spec.__annotations__

    assert "return" in annotations, f"{name} has no return annotation"
    missing = [param for param in inspect.signature(spec).parameters if param not in annotations]
    assert missing == [], f"{name} has parameters without annotations: {missing}"


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_has_a_test(name: str) -> None:
    tested = f"test_hook_{name}" in repository_test_names()
    assert tested, f"no test function named test_hook_{name} in any test_*.py under {REPO}"
