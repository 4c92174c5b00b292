"""``weaver doctor`` checks the configured LLM endpoint through the real openai client."""

from __future__ import annotations

import json
from pathlib import Path

from weaver.testing import FakeOpenAIServer, run_weaver


def doctor_rows(tmp_path: Path, **env: str) -> dict[str, dict[str, str]]:
    done = run_weaver("doctor", "--json", cwd=tmp_path, env=env)
    return {row["name"]: row for row in json.loads(done.stdout)}


def test_a_reachable_endpoint_serving_the_model_is_ok(tmp_path: Path) -> None:
    with FakeOpenAIServer(model="fake-model") as server:
        rows = doctor_rows(
            tmp_path, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=server.base_url, WEAVER_LLM__MODEL="fake-model"
        )
        assert any(path.rstrip("/").endswith("/models") for path in server.paths)
    assert rows["llm"]["status"] == "ok", rows["llm"]
    assert "fake-model" in rows["llm"]["detail"] and "sk-test" not in rows["llm"]["detail"]


def test_a_model_the_endpoint_does_not_list_is_a_warning(tmp_path: Path) -> None:
    with FakeOpenAIServer(model="fake-model") as server:
        rows = doctor_rows(
            tmp_path, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=server.base_url, WEAVER_LLM__MODEL="other"
        )
    assert rows["llm"]["status"] == "warn" and "'other'" in rows["llm"]["detail"]


def test_an_unreachable_endpoint_fails_without_leaking_the_key(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        base_url = server.base_url
    rows = doctor_rows(
        tmp_path,
        OPENAI_API_KEY="sk-secret-123",
        OPENAI_BASE_URL=base_url,
        WEAVER_LLM__MAX_RETRIES="0",
        WEAVER_LLM__MODEL="fake-model",
    )
    assert rows["llm"]["status"] == "fail"
    assert base_url in rows["llm"]["detail"] and "sk-secret-123" not in rows["llm"]["detail"]


def test_no_model_configured_is_a_warning_naming_the_settings(tmp_path: Path) -> None:
    rows = doctor_rows(tmp_path)
    assert rows["llm"]["status"] == "warn"
    assert "WEAVER_LLM__MODEL" in rows["llm"]["detail"] or "model" in rows["llm"]["detail"]
