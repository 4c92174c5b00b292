"""The template extension, tested the way any extension can be: Weaver's fixtures, a fake model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import weaver_translator

from weaver.model import RoundState
from weaver.specs import VerdictAction

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


@pytest.fixture
def app(make_app, register_plugin, fake_llm):
    register_plugin(weaver_translator)
    return make_app(session={"roles": ["translator"]}, translator={"language": "German"}, llm=fake_llm.llm_config())


def test_translator_answers_with_the_models_translation(app, fake_llm):
    fake_llm.add("Guten Morgen")
    round = app.session().send_message("Good morning")
    assert (round.state, round.answer) == (RoundState.finished, "Guten Morgen")
    system, user = fake_llm.requests[0]["messages"]
    assert "into German" in system["content"]
    assert user["content"] == "Good morning"
    assert round.usage.llm_calls == 1


@pytest.mark.parametrize(
    ("code", "stopped"),
    [
        ("import shutil\nshutil.rmtree('data')", True),
        ("import os\nos.remove('out.csv')", True),
        ("from pathlib import Path\nPath('x').unlink()", True),
        ("import pandas as pd\ndf = pd.read_csv('data.csv')", False),
    ],
)
def test_guard_stops_code_that_deletes_files(app, code, stopped):
    outcome = app.hooks.before_execute(code, app.session().hook_context("CodeInterpreter"))
    if stopped:
        assert outcome.stopped is not None and outcome.stopped.action is VerdictAction.stop
        assert outcome.stopped.source == "translator.no_delete"
    else:
        assert outcome.stopped is None


def test_the_entry_point_names_this_module():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["weaver"] == {"translator": "weaver_translator"}
