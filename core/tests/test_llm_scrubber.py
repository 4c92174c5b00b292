"""What a cassette keys on: secrets and volatile values scrubbed, a session's place made one."""

from __future__ import annotations

from weaver.llm.cassette import Scrubber

PROJECT = "/home/ana/shop"
SESSION = "session-20261204-230516-5a4764"


def test_a_session_is_in_one_place_whatever_workspace_holds_it() -> None:
    scrubber = Scrubber(paths=(PROJECT,))
    default = scrubber.normalized(f"- {PROJECT}/.weaver/sessions/{SESSION}/artifacts/plot.png (image/png)")
    service = scrubber.normalized(f"- {PROJECT}/.weaver/users/ana/sessions/{SESSION}/artifacts/plot.png (image/png)")
    embedded = scrubber.normalized(f"'{PROJECT}/runs/2026/sessions/{SESSION}/cwd'")
    assert default == service == "- <project>/.weaver/sessions/<id>/artifacts/plot.png (image/png)"
    assert embedded == "'<project>/.weaver/sessions/<id>/cwd'"


def test_other_paths_and_words_named_sessions_are_left_alone() -> None:
    scrubber = Scrubber(paths=(PROJECT,), secrets=("sk-0123456789",))
    text = f"read {PROJECT}/data/sessions.csv and /srv/sessions/{SESSION} with sk-0123456789"
    assert scrubber.normalized(text) == "read <project>/data/sessions.csv and /srv/sessions/<id> with <secret>"
