"""Commands that run rounds check, before any session is stored, that the roles' model is
configured: with the real Planner and CodeInterpreter installed, a project without a model
exits 2 (a configuration error) and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from weaver.testing import run_weaver


def stored_sessions(project: Path) -> list[Path]:
    root = project / ".weaver" / "sessions"
    return sorted(root.iterdir()) if root.is_dir() else []


def test_a_model_that_is_not_configured_exits_2_before_a_session_is_stored(tmp_path: Path) -> None:
    (tmp_path / "weaver.toml").write_text('[session]\nroles = ["planner", "code_interpreter"]\n')
    result = run_weaver("-p", str(tmp_path), "run", "hi", cwd=tmp_path, load="planner,code_interpreter,code_verifier")
    assert result.returncode == 2
    assert "no LLM is configured" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert stored_sessions(tmp_path) == []
