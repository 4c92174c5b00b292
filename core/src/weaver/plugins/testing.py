"""``weaver plugins test NAME``: run a plugin's own tests.

A plugin's tests are:

1. the doctests in its examples (``>>>`` lines in the docstring's ``Examples:`` section, or
   in a TaskWeaver YAML's ``examples``), run in a real kernel of a fresh session with every
   enabled plugin bound and its config applied, exactly as generated code would call it;
2. ``test_<name>.py`` beside a project plugin's file, run with pytest in a subprocess
   (from the plugins folder, so it can import the plugin's module by name).

A plugin with neither has no tests, which counts as a failure: the command exists to
prove the plugin works.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from weaver.engine import App
    from weaver.plugins.loader import LoadedPlugin

MARKER = "WEAVER_DOCTEST "
_DOCTEST_CODE = """\
import doctest as _weaver_doctest, json as _weaver_json
_weaver_test = _weaver_doctest.DocTestParser().get_doctest({text!r}, dict(globals()), {name!r}, {source!r}, 0)
_weaver_runner = _weaver_doctest.DocTestRunner(optionflags=_weaver_doctest.ELLIPSIS | _weaver_doctest.NORMALIZE_WHITESPACE)
_weaver_runner.run(_weaver_test)
print({marker!r} + _weaver_json.dumps(_weaver_runner.summarize(verbose=False)._asdict()))
"""


@attrs.frozen
class PluginTestReport:
    """What running one plugin's tests found."""

    name: str
    examples_attempted: int = 0
    examples_failed: int = 0
    examples_output: str = ""
    test_file: str | None = None
    test_exit_code: int | None = None
    test_output: str = ""

    @property
    def has_tests(self) -> bool:
        return self.examples_attempted > 0 or self.test_file is not None

    @property
    def ok(self) -> bool:
        return self.has_tests and self.examples_failed == 0 and self.test_exit_code in (None, 0)


def doctest_text(plugin: LoadedPlugin) -> str:
    return "\n\n".join(example for example in plugin.schema.examples if ">>>" in example)


def run_examples(app: App, plugin: LoadedPlugin) -> tuple[int, int, str]:
    """``(attempted, failed, output)`` of the plugin's doctests, run in a fresh session's kernel."""
    text = doctest_text(plugin)
    if not text:
        return 0, 0, ""
    session = app.session()
    try:
        code = _DOCTEST_CODE.format(text=text, name=plugin.name, source=plugin.source, marker=MARKER)
        result = app.run(session.execute(code))
    finally:
        session.close()
    lines = result.stdout.splitlines()
    summary = next((line for line in reversed(lines) if line.startswith(MARKER)), None)
    if summary is None:
        error = f"{result.error.type}: {result.error.message}" if result.error else result.outcome
        return 1, 1, f"the examples did not run: {error}\n{result.stderr}".rstrip()
    counts = json.loads(summary[len(MARKER) :])
    output = "\n".join(line for line in lines if not line.startswith(MARKER))
    return counts["attempted"], counts["failed"], output


def run_test_file(path: str) -> tuple[int, str]:
    """Run ``test_<name>.py`` with pytest from its folder; ``(exit code, output)``."""
    folder = Path(path).parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", Path(path).name],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def run_plugin_tests(app: App, name: str) -> PluginTestReport:
    """Run every test of the plugin ``name``; a plugin that failed to load raises its load error."""
    plugin = app.plugins.get(name)
    attempted, failed, output = run_examples(app, plugin)
    exit_code, test_output = run_test_file(plugin.test_file) if plugin.test_file else (None, "")
    return PluginTestReport(
        name=name,
        examples_attempted=attempted,
        examples_failed=failed,
        examples_output=output,
        test_file=plugin.test_file,
        test_exit_code=exit_code,
        test_output=test_output,
    )
