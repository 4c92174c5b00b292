"""The boundary around the kernel, attacked from inside with code the default verifier lets
through (pathlib, numpy, pandas, ``display()``), in both modes: the bubblewrap sandbox and
the plain launcher. Each test is an attack that worked before the boundary existed.

The host is root here (CI, containers): the kernel must still be an ordinary user, read
none of the host's secrets, and never make the host read or write a file of its choosing.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import weaver_code_verifier
from weaver.engine import Session
from weaver.events import EventType
from weaver.execution import ExecutionResult
from weaver.execution.sandbox import bwrap_status
from weaver.extensions import load_extensions, make_plugin_manager
from weaver.store import read_log
from weaver.testing.kernels import kernel_app, reachable_dir, reachable_python
from weaver.testing.roles import echo_extension

CI = os.environ.get("CI") == "true"
SECRETS = ("sk-host-env-secret", "sk-project-secret", "sk-user-config-secret", "sk-cassette-secret", "other-session-secret")
MB = 1024 * 1024


def passes_the_verifier(code: str) -> str:
    problems = weaver_code_verifier.verify(code)
    assert problems == [], problems
    return code


def mode_available(mode: str) -> str | None:
    """Why ``mode`` cannot run on this machine, or ``None``."""
    if mode == "bwrap":
        available, detail = bwrap_status()
        return None if available else f"bubblewrap unavailable: {detail}"
    return None if reachable_python() else "no Python here that another user may run"


@pytest.fixture(scope="module", params=["bwrap", "none"])
def world(request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """A project full of secrets, its App (in one mode) with the echo role, two sessions."""
    mode = request.param
    why = mode_available(mode)
    if why is not None:
        if CI:
            pytest.fail(why)
        pytest.skip(why)
    if os.geteuid() != 0:
        pytest.skip("the boundary's user of its own needs a root host (as in containers and CI)")
    with reachable_dir() as root, pytest.MonkeyPatch.context() as patch:
        project = root / "project"
        (project / "data").mkdir(parents=True)
        (project / "data" / "data.csv").write_text("x,y\n1,2\n3,4\n")
        (project / "weaver.toml").write_text('[llm]\napi_key = "sk-project-secret-1"\n')
        (project / "cassettes").mkdir()
        (project / "cassettes" / "demo.jsonl").write_text('{"key": "sk-cassette-secret"}\n')
        (root / "user-config.toml").write_text('[llm]\napi_key = "sk-user-config-secret"\n')
        (root / "victim.txt").write_text("the host's own file\n")
        patch.setenv("OPENAI_API_KEY", "sk-host-env-secret-2")
        pm = make_plugin_manager()
        load_extensions(pm, only=(), entry_points=())
        pm.register(echo_extension, name="echo")
        python = (reachable_python() or "") if mode == "none" else ""
        execution = {"sandbox": mode, "python": python, "timeout_s": 60, "max_processes": 64}
        app = kernel_app(project, pm=pm, execution=execution, session={"roles": ["echo"]})
        other = app.session()
        run(other, "note = 'other-session-secret'")
        app.run(other.asend_message("remember other-session-secret"))
        session = app.session()
        run(session, "1")  # its kernel starts while the secrets are in the host's environment
        yield SimpleNamespace(mode=mode, root=root, project=project, app=app, session=session, other=other)
        app.close()


def run(session: Session, code: str) -> ExecutionResult:
    return session.app.run(session.execute(code))


def everything_the_host_kept(world: SimpleNamespace) -> str:
    """Every result, log and prompt-bound text the host holds for the world's sessions."""
    return "\n".join(path.read_text(errors="replace") for path in world.project.rglob("events.jsonl"))


READ_SELF = passes_the_verifier(
    textwrap.dedent(
        """
        import json
        from pathlib import Path
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        keys = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")
        print(json.dumps({key: status[key].split() for key in keys}))
        """
    )
)


def test_kernel_code_runs_as_an_ordinary_user_without_capabilities(world: SimpleNamespace) -> None:
    result = run(world.session, READ_SELF)
    assert result.ok, result.error
    status = json.loads(result.stdout)
    assert "0" not in status["Uid"] and "0" not in status["Gid"], status
    assert status["Groups"] == []
    assert all(int(status[key][0], 16) == 0 for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")), status
    assert status["NoNewPrivs"] == ["1"]


SNOOP = textwrap.dedent(
    """
    import json
    from pathlib import Path
    found = {}
    def attempt(label, path):
        try:
            text = Path(path).read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            found[label] = type(exc).__name__
        else:
            found[label] = "READ " + text[:400]
    pid = "self"
    for level in range(4):  # the kernel's parent, its parent, ...: the host is among them
        stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
        pid = stat.rsplit(")", 1)[1].split()[1] if stat else "1"
        attempt(f"environ of ancestor {level}", f"/proc/{pid}/environ")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            attempt(f"environ of {entry.name}", entry / "environ")
    for label, path in TARGETS.items():
        attempt(label, path)
    print(json.dumps(found))
    """
)


def test_kernel_code_reads_none_of_the_hosts_secrets(world: SimpleNamespace) -> None:
    targets = {
        "weaver.toml": str(world.project / "weaver.toml"),
        "user config": str(world.root / "user-config.toml"),
        "cassette": str(world.project / "cassettes" / "demo.jsonl"),
        "other session's log": str(world.other.paths.log),
        "other session's cwd": str(world.other.cwd),
        "root's home": "/root/.bashrc",
    }
    code = passes_the_verifier(f"TARGETS = {targets!r}\n" + SNOOP)
    result = run(world.session, code)
    assert result.ok, result.error
    found = json.loads(result.stdout)
    read = {label: value for label, value in found.items() if value.startswith("READ") and "secret" in value}
    assert read == {}
    assert not any(found[label].startswith("READ") for label in targets), found
    kept = result.stdout + everything_the_host_kept(world)
    assert not [secret for secret in SECRETS[:4] if secret in kept]


PLANT_DISPLAY_LINKS = textwrap.dedent(
    """
    from pathlib import Path
    import pandas as pd
    names = [f"{SEEN}-{n}" for n in range(1, 4)] + [f"display-{count}-{n}" for count in range(60) for n in range(1, 4)]
    for name in names:
        for suffix in (".png", ".html", ".svg"):
            link = Path(ARTIFACTS) / f"{name}{suffix}"
            if link.exists() or link.is_symlink():
                link.unlink()  # the host's file, in a directory the kernel may write
            link.symlink_to(VICTIM)
    display(pd.DataFrame({"planted": [1, 2]}))
    """
)


def test_a_display_never_writes_through_a_link_the_kernel_planted(world: SimpleNamespace) -> None:
    """The model reads the artifact names in its feedback, so the next one is predictable."""
    victim = world.root / "victim.txt"
    first = run(world.session, passes_the_verifier("import pandas as pd\ndisplay(pd.DataFrame({'a': [1]}))"))
    seen = Path(first.displays[0].artifact or "").stem.rsplit("-", 1)[0]  # display-<...> without its number
    code = passes_the_verifier(
        f"ARTIFACTS = {str(world.session.artifacts_dir)!r}\nVICTIM = {str(victim)!r}\nSEEN = {seen!r}\n"
        + PLANT_DISPLAY_LINKS
    )
    result = run(world.session, code)
    assert result.ok, result.error
    assert victim.read_text() == "the host's own file\n"
    (shown,) = result.displays
    assert shown.artifact is not None
    saved = Path(shown.artifact)
    assert not saved.is_symlink() and saved.parent == world.session.artifacts_dir
    assert "planted" in saved.read_text()


def test_an_artifact_is_a_plain_file_in_artifacts_never_a_link_out_of_it(world: SimpleNamespace) -> None:
    """A UI serving a result's artifacts must not end up serving a host file."""
    code = passes_the_verifier(
        textwrap.dedent(
            f"""
            from pathlib import Path
            artifacts = Path({str(world.session.artifacts_dir)!r})
            (artifacts / "passwd.csv").symlink_to("/etc/passwd")
            (artifacts / "table.csv").write_text("a,b\\n1,2\\n")
            """
        )
    )
    result = run(world.session, code)
    assert result.ok, result.error
    assert [Path(a.path).name for a in result.artifacts] == ["table.csv"]


def test_displays_of_different_executions_never_overwrite_each_other(world: SimpleNamespace) -> None:
    show = passes_the_verifier("import pandas as pd\ndisplay(pd.DataFrame({'round': [ROUND]}))")
    first = run(world.session, show.replace("ROUND", "'first'"))
    second = run(world.session, show.replace("ROUND", "'second'"))
    paths = [Path(r.displays[0].artifact or "") for r in (first, second)]
    assert paths[0] != paths[1]
    assert "first" in paths[0].read_text() and "second" in paths[1].read_text()


def test_an_upload_never_copies_through_a_link_the_kernel_planted(world: SimpleNamespace) -> None:
    victim = world.root / "victim.txt"
    plant = passes_the_verifier(f"from pathlib import Path\nPath('report.csv').symlink_to({str(victim)!r})")
    assert run(world.session, plant).ok
    upload = world.root / "report.csv"
    upload.write_text("a,b\n1,2\n")
    round = world.app.run(world.session.asend_message("here is the report", files=[upload]))
    assert round.state.value == "finished", round.reason
    assert victim.read_text() == "the host's own file\n"
    target = world.session.cwd / "report.csv"
    assert not target.is_symlink() and target.read_text() == "a,b\n1,2\n"
    readable = run(world.session, passes_the_verifier("import pandas as pd\nlen(pd.read_csv('report.csv'))"))
    assert readable.value_repr == "1"


CRASH_AFTER_600_MB = passes_the_verifier(
    textwrap.dedent(
        """
        from pathlib import Path
        import numpy as np
        for name in ("kernel.log", "log", "stderr"):
            for directory in (Path.cwd(), Path.cwd().parent, Path.home()):
                try:
                    (directory / name).symlink_to(TOML_PATH)
                except OSError:
                    pass
        chunk = b"x" * (10 * 1024 * 1024)
        for _ in range(60):
            Path("/dev/stderr").write_bytes(chunk)
        np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2,), strides=(10**15,))[1]
        """
    )
)


@pytest.mark.slow
def test_a_kernel_crashing_after_600_mb_of_output_costs_the_host_no_memory_and_no_secret(
    world: SimpleNamespace,
) -> None:
    status = Path("/proc/self/status")

    def peak_rss() -> int:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read_text()).group(1)) * 1024  # type: ignore[union-attr]

    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on (Linux >= 4.0)
    before = peak_rss()
    code = f"TOML_PATH = {str(world.project / 'weaver.toml')!r}\n" + CRASH_AFTER_600_MB
    result = run(world.session, code)
    growth = peak_rss() - before
    assert result.outcome == "kernel_died", result
    assert result.error is not None and "SIGSEGV" in result.error.message
    assert 0 < len(result.error.traceback) <= 2000 and "xxxx" in result.error.traceback  # the log's tail
    assert growth < 100 * MB, f"the host's peak memory grew by {growth / MB:.0f} MB"
    assert "sk-project-secret" not in everything_the_host_kept(world)
    assert run(world.session, "1 + 1").value_repr == "2"  # a new kernel took over


def test_project_files_are_there_read_only_and_writes_stay_in_the_session(world: SimpleNamespace) -> None:
    code = passes_the_verifier(
        textwrap.dedent(
            """
            from pathlib import Path
            import pandas as pd
            frame = pd.read_csv("data/data.csv")
            outcome = []
            for target in ("data/new.csv", "data/data.csv"):
                try:
                    Path(target).write_text("overwritten")
                    outcome.append("written")
                except OSError as exc:
                    outcome.append(type(exc).__name__)
            frame.to_csv("result.csv", index=False)
            print(int(frame["x"].mean()), outcome)
            """
        )
    )
    result = run(world.session, code)
    assert result.ok, result.error
    mean, outcome = result.stdout.split(" ", 1)
    assert mean == "2" and "written" not in outcome
    assert (world.project / "data" / "data.csv").read_text() == "x,y\n1,2\n3,4\n"
    assert not (world.project / "data" / "new.csv").exists()
    assert (world.session.cwd / "result.csv").read_text().startswith("x,y\n")


def test_the_sessions_log_records_no_secret(world: SimpleNamespace) -> None:
    events = read_log(world.session.paths.log).events
    assert any(e.type is EventType.execution for e in events)
    text = json.dumps([e.data for e in events])
    assert not [secret for secret in SECRETS[:4] if secret in text]


# ---- beyond the verifier: the boundary must hold for any code, as an escape from the
# verifier (every in-process Python sandbox has had one) would run it -----------------

REMOUNT = textwrap.dedent(
    """
    import ctypes, json, os
    libc = ctypes.CDLL(None, use_errno=True)
    MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
    CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000

    def attempt():
        outcome = {"remount": libc.mount(None, b"/usr", None, MS_REMOUNT | MS_BIND, None) == 0}
        outcome["remount errno"] = ctypes.get_errno()
        try:
            with open(PROBE, "w"):
                outcome["created"] = True
        except OSError as exc:
            outcome["created"] = type(exc).__name__
        return outcome

    found = {"as it is": attempt()}
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # single-threaded, so it may enter namespaces of its own
        own = libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0
        os.write(write, json.dumps({"own namespaces": own, **attempt()}).encode())
        os._exit(0)
    os.close(write)
    found["in a user namespace of its own"] = json.loads(os.read(read, 4096))
    os.waitpid(child, 0)
    print(json.dumps(found))
    """
)


def test_a_read_only_mount_cannot_be_made_writable_nor_the_host_written(world: SimpleNamespace) -> None:
    probe = Path(f"/usr/weaver-remount-probe-{uuid.uuid4().hex}")
    try:
        result = run(world.session, f"PROBE = {str(probe)!r}\n" + REMOUNT)
        created = probe.exists()
    finally:
        probe.unlink(missing_ok=True)  # an attack that worked leaves nothing behind on the host
    assert result.ok, result.error
    found = json.loads(result.stdout)
    for how, outcome in found.items():
        assert outcome["remount"] is False and outcome["remount errno"] != 0, (how, outcome)
        assert outcome["created"] is not True, (how, outcome)
    assert not created


PROCESSES = textwrap.dedent(
    """
    import os
    read, write = os.pipe()
    started, refused = [], 0
    for _ in range(LIMIT + 10):
        try:
            child = os.fork()
        except BlockingIOError:
            refused += 1
            continue
        if child == 0:
            os.close(write)
            os.read(read, 1)  # until the parent lets go
            os._exit(0)
        started.append(child)
    os.close(write)
    for child in started:
        os.waitpid(child, 0)
    print(len(started), refused)
    """
)


def test_a_bounded_fork_probe_stops_at_the_process_limit(world: SimpleNamespace) -> None:
    limit = world.app.config.table("execution").max_processes
    result = run(world.session, PROCESSES.replace("LIMIT", str(limit)))
    assert result.ok, result.error
    started, refused = map(int, result.stdout.split())
    assert started < limit and refused > 0 and started + refused == limit + 10
