"""The bubblewrap profile: no network, nothing outside the session, ordinary work still runs,
and so does everything Weaver ships: project plugins in both formats, the ``weaver init``
template, matplotlib. (The attacks on the boundary, in both modes, are in the repository's
``tests/test_kernel_boundary.py``.)"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from weaver.engine import App, Session
from weaver.execution import ExecutionResult, lifecycle
from weaver.execution.sandbox import bwrap_status
from weaver.extensions import load_extensions, make_plugin_manager
from weaver.testing.kernels import kernel_app, wait_gone

AVAILABLE, DETAIL = bwrap_status()


def test_bwrap_is_available_in_ci() -> None:
    if os.environ.get("CI") == "true":
        assert AVAILABLE, DETAIL
    elif not AVAILABLE:
        pytest.skip(f"bubblewrap unavailable: {DETAIL}")
    assert "bwrap" in DETAIL


pytestmark = pytest.mark.skipif(not AVAILABLE and os.environ.get("CI") != "true", reason=f"bubblewrap: {DETAIL}")


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Session]]:
    root = tmp_path_factory.mktemp("exec_sandbox")
    (root / "outside.txt").write_text("not for the kernel")
    (root / "project").mkdir()
    (root / "project" / "notes.txt").write_text("the project's own files are not the session's")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", "sk-host-secret-789")
        app = kernel_app(root / "project", execution={"sandbox": "bwrap", "timeout_s": 30})
        session = app.session()
        run(session, "1")  # start the kernel while the secret is in the host's environment
    yield app, session
    app.close()


def run(session: Session, code: str) -> ExecutionResult:
    return session.app.run(session.execute(code))


def test_the_kernel_has_no_network(sandboxed: tuple[App, Session]) -> None:
    _, session = sandboxed
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = run(
            session,
            "import socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n    print('connected')\n"
            "except OSError as exc:\n    print(type(exc).__name__)\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n    print('connected')\n"
            "except OSError as exc:\n    print(type(exc).__name__)\n"
            "print(sorted(line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:]))",
        )
    assert result.stdout.splitlines() == ["ConnectionRefusedError", "OSError", "['lo']"], result


def test_files_outside_the_session_are_unreachable(sandboxed: tuple[App, Session]) -> None:
    _, session = sandboxed
    project = session.paths.root.parents[2]
    probes = {
        "outside": project.parent / "outside.txt",
        "project": project / "notes.txt",
    }
    code = "import os\n" + "".join(f"print({name!r}, os.path.exists({str(path)!r}))\n" for name, path in probes.items())
    code += f"print('log', os.access({str(session.paths.log)!r}, os.R_OK))\n"
    code += (
        "for target in ('/usr/weaver-probe', '/etc/weaver-probe'):\n"
        "    try:\n        open(target, 'w')\n        print(target, 'writable')\n"
        "    except OSError as exc:\n        print(target, type(exc).__name__)\n"
        "open('written.txt', 'w').write('inside')\n"
    )
    result = run(session, code)
    assert result.ok, result.error
    assert result.stdout.splitlines() == [
        "outside False",
        "project False",
        "log False",  # there, as the host's alone
        "/usr/weaver-probe OSError",
        "/etc/weaver-probe OSError",
    ]
    assert (session.cwd / "written.txt").read_text() == "inside"


def test_the_host_and_its_secrets_are_invisible(sandboxed: tuple[App, Session]) -> None:
    _, session = sandboxed
    result = run(
        session,
        "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "def environ(pid):\n"
        "    try:\n        return open(f'/proc/{pid}/environ', 'rb').read()\n"
        "    except OSError:\n        return b''\n"  # the sandbox's init is not the kernel's user
        "found = any(b'sk-host-secret' in environ(p) for p in pids)\n"
        "print(len(pids) < 10, found)",
    )
    assert result.stdout == "True False\n", result  # its own pid namespace: a few sandbox processes


def test_pandas_and_matplotlib_work_in_the_sandbox(sandboxed: tuple[App, Session]) -> None:
    _, session = sandboxed
    result = run(
        session,
        "import pandas as pd\nimport matplotlib.pyplot as plt\n"
        "frame = pd.DataFrame({'x': range(10), 'y': [v * v for v in range(10)]})\n"
        "frame.plot(x='x', y='y')\nframe.to_csv('squares.csv', index=False)\nframe['y'].sum()",
    )
    assert result.ok, result.error
    assert result.value_repr == "np.int64(285)"
    assert [a.mime for a in result.artifacts] == ["image/png"]
    assert (session.cwd / "squares.csv").read_text().startswith("x,y\n0,0\n")


@pytest.mark.slow
def test_a_sandboxed_kernel_is_interrupted_and_closed(tmp_path: Path) -> None:
    before = set(lifecycle.live_pids())
    app = kernel_app(tmp_path, execution={"sandbox": "bwrap", "timeout_s": 3, "interrupt_grace_s": 5})
    session = app.session()
    try:
        looping = run(session, "kept = 1\nwhile True:\n    pass")
        after = run(session, "kept + 1")
        (pid,) = set(lifecycle.live_pids()) - before
    finally:
        app.close()
    assert looping.outcome == "timeout_interrupted"
    assert after.value_repr == "2"
    assert wait_gone(pid)


DECORATED = """\
import weaver


@weaver.plugin
def double(x: int) -> int:
    \"\"\"Twice ``x``.\"\"\"
    return 2 * x
"""

TW_YAML = yaml.safe_dump(
    {
        "name": "shout",
        "enabled": True,
        "required": False,
        "description": "Upper-cases a text.",
        "parameters": [{"name": "text", "type": "str", "required": True, "description": "what to shout."}],
        "returns": [{"name": "shouted", "type": "str", "description": "the text in capitals."}],
    }
)

TW_PY = """\
from taskweaver.plugin import Plugin, register_plugin


@register_plugin
class Shout(Plugin):
    def __call__(self, text: str):
        return text.upper()
"""


def plugin_app(project: Path) -> App:
    """An App with the project's plugins as the CLI loads them, in the sandbox."""
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    return kernel_app(project, pm=pm, execution={"sandbox": "bwrap"})


def test_project_plugins_of_both_formats_load_in_the_sandbox(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name, text in {"doubling.py": DECORATED, "shout.yaml": TW_YAML, "shout.py": TW_PY}.items():
        (folder / name).write_text(text)
    app = plugin_app(tmp_path)
    try:
        assert {"double", "shout"} <= {spec.name for spec in app.plugins.specs}
        session = app.session()
        session_result = app.run(session.execute("double(21), shout('hi')"))
    finally:
        app.close()
    assert session_result.ok, session_result.error
    assert session_result.value_repr == "(42, 'HI')"


def test_the_init_template_runs_in_the_sandbox(tmp_path: Path) -> None:
    from weaver.testing import run_weaver

    done = run_weaver("init", str(tmp_path / "project"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    app = plugin_app(tmp_path / "project")
    try:
        session = app.session()
        result = app.run(
            session.execute("import pandas as pd\nsales = pd.read_csv('data/sales.csv')\nlen(top_rows(sales, sales.columns[-1], 2))")
        )
    finally:
        app.close()
    assert result.ok, result.error
    assert result.value_repr == "2"
