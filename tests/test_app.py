"""The real Streamlit app, driven through streamlit.testing.v1.AppTest."""

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT

APP = str(ROOT / "app.py")


def _markdown(app) -> str:
    return "\n".join(element.value for element in app.markdown)


def test_asking_shows_the_answer_and_its_source(monkeypatch, corpus_index):
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    assert "5 reports" in app.caption[0].value
    app.chat_input[0].set_value("How many children were looked after by Middlesbrough as of 10 August 2018?").run()
    assert not app.exception
    text = _markdown(app)
    assert "507" in text
    assert "Current Children Looked After \\(LAC\\)\\: 507" in text  # the cited excerpt, shown as text
    labels = [e.label for e in app.expander]
    assert any("Executive Member Report to Council" in l and "2018-09" in l for l in labels)

    app.chat_input[0].set_value("How many potholes did Middlesbrough fill in 2021?").run()
    assert "do not appear to answer" in _markdown(app)
    assert len(app.chat_message) == 4  # the history is kept


def test_without_an_index_the_app_says_how_to_build_one(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "missing"))
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert "no index yet" in app.info[0].value
    assert app.code[0].value == "rag index"
