"""`rag trend`: every stated value of one measure, in period order, each cited; and the chat's trend
view. Real index of the sample corpus (real model, SQLite, FTS5), real Streamlit app."""

import csv
import io
import json

import pytest
from conftest import DATA, ROOT, need
from streamlit.testing.v1 import AppTest

from rag.app.conversation import answer_as_text
from rag.build.ingest import build_index
from rag.cli import main
from rag.dates import months_before
from rag.index.store import open_index
from rag.settings import Settings
from rag.trends import find_measure, read_passage, read_table, trend, trend_chart, trend_question
from rag.trends.measures import head, without_place

LAC = "children looked after"


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_follows_the_contract_in_period_order_with_exact_excerpts(capsys, corpus_index):
    code, out, _ = run(capsys, "trend", LAC, "--json", "--index-dir", str(corpus_index.index_dir))
    result = json.loads(out)
    assert code == 0 and set(result) == {"measure", "status", "points", "candidates", "timings_ms"}
    assert result["measure"] == LAC and result["status"] == "found" and result["timings_ms"]["total"] > 0
    chunk_texts = [row[0] for row in corpus_index.query("SELECT text FROM chunks")]
    for point in result["points"]:
        assert set(point) == {"value", "value_text", "unit", "period", "council", "citation", "also_in"}
        assert set(point["citation"]) == {"doc_id", "title", "source", "page", "paragraph", "date", "text"}
        assert any(point["citation"]["text"] in text for text in chunk_texts)
        assert point["value_text"] in point["citation"]["text"]
    periods = [p["period"] for p in result["points"]]
    assert periods == sorted(periods)
    stated = {(p["value"], p["unit"], p["period"]) for p in result["points"]}
    assert {(507, "count", "2018-08-10"), (702, "count", "2020-08"), (433, "count", "2017-06")} <= stated
    assert (156.5, "rate per 10,000", "2018-08-10") in stated
    high = next(p for p in result["points"] if p["value"] == 702)
    assert high["citation"]["date"] == "2021-03-24" and high["period"] == "2020-08"  # meeting date kept apart
    assert high["citation"]["paragraph"] == "8"
    # the sentences offered beside the points are exact excerpts too, and none is a point's own
    cited = {p["citation"]["text"] for p in result["points"]}
    for offered in result["candidates"]:
        assert offered["text"] == offered["citation"]["text"] and offered["text"] not in cited
        assert any(offered["text"] in text for text in chunk_texts)
    found_by = [c["found_by"] for c in result["candidates"]]
    assert "search" in found_by and found_by == sorted(found_by)  # "name" ones first


VACANCIES = "The above represents a much improved position than 12 months ago when we had 15 FTE Social Worker vacancies"


def test_a_value_the_reader_cannot_place_is_offered_in_its_sentence(capsys, corpus_index):
    """The reader takes no point from "12 months ago when we had 15 FTE Social Worker vacancies" (a
    period it cannot date): the trend offers the sentence, cited, to the person reading it; a
    sentence with the name's words and no figure is not offered."""
    result = trend(corpus_index, "social worker vacancies")
    assert result.status == "not_found" and result.message.endswith("with a figure, to check")
    assert result.offered[0].text.startswith(VACANCIES)
    quote = result.offered[0]
    assert quote.paragraph == "15" and quote.date == "2017-09-14" and "stockton" in quote.source
    # offered within the trend's filters: another council's reports, or reports before `since`, are not read
    assert all(
        "stockton" not in q.source
        for q in trend(corpus_index, "social worker vacancies", "Middlesbrough").offered
    )
    assert not trend(corpus_index, "social worker vacancies", since="2018-01-01").offered
    code, out, err = run(
        capsys, "trend", "social worker vacancies", "--index-dir", str(corpus_index.index_dir)
    )
    assert code == 0 and "not found" in err and VACANCIES in out and "para 15" in out
    assert "name its words with a figure" in out
    # beside points, only sentences the points do not cite
    found = trend(corpus_index, "children in need")
    assert found.points and not {q.text for q in found.offered} & {p.citation.text for p in found.points}


def test_a_name_in_one_sentence_and_its_figure_in_the_next_are_offered_together_after_whole_sentences(
    tmp_path,
):
    index = _report_index(
        tmp_path,
        "2025-03-quarterly-performance-report.md",
        "Number of NHS Health Checks delivered. Latest: 33,550 Target: 31,000.\n\n"
        "Overall, 7,678 NHS Health Checks were delivered.\n\n"
        "NHS Health Checks are offered to every adult in Kent.",
    )
    offered = [q.text for q in trend(index, "NHS health checks").offered]
    assert offered[0] == "Overall, 7,678 NHS Health Checks were delivered."
    assert offered[1] == "Number of NHS Health Checks delivered. Latest: 33,550 Target: 31,000."
    assert len(offered) == 2  # a sentence with the name and no figure is not offered, nor paired


HEALTH_VISITING = "In Quarter 3, the Health Visiting Service delivered 17,051 mandated universal health and wellbeing reviews."


def test_a_measure_the_reports_name_otherwise_is_offered_in_the_sentences_a_search_finds(tmp_path, capsys):
    """No sentence holds the words of "health visitor checks": the report counts "mandated universal
    health and wellbeing reviews". The trend offers the sentences with a figure of the passages a
    search for the name finds (not one whose only number is a year, nor one with none), within its
    filters, after any sentence that names its words."""
    body = (
        f"{HEALTH_VISITING}\n\nThe health visiting service was recommissioned in 2019.\n\n4.\n\n"
        "Health visitors support every family with a new baby."
    )
    index = _report_index(tmp_path, "2025-03-quarterly-performance-report.md", body)
    result = trend(index, "health visitor checks")
    assert result.status == "not_found" and not result.offered
    assert [q.text for q in result.searched] == [HEALTH_VISITING]  # not "4." alone
    assert result.searched[0].date == "2025-03" and result.message.endswith("a search for it finds, to check")
    assert trend(index, "health visitor checks", "Kent").searched == []  # another council's reports: none
    assert trend(index, "health visitor checks", since="2026-01-01").searched == []  # reports before it
    assert trend(index, "health visitor checks", since="2030", until="2020").searched == []  # no such time
    assert not trend(index, "health visitor checks", search=False).searched
    # a report with no date may state a value of any time, as the reader's own passages may
    (tmp_path / "undated").mkdir()
    undated = _report_index(tmp_path / "undated", "quarterly-performance-report.md", body)
    assert [q.text for q in trend(undated, "health visitor checks", since="2026-01-01").searched] == [
        HEALTH_VISITING
    ]
    code, out, err = run(
        capsys, "trend", "health visitor checks", "--json", "--index-dir", str(index.index_dir)
    )
    candidates = json.loads(out)["candidates"]
    assert code == 0 and [(c["text"], c["found_by"]) for c in candidates] == [(HEALTH_VISITING, "search")]
    code, out, err = run(capsys, "trend", "health visitor checks", "--index-dir", str(index.index_dir))
    assert code == 0 and "no passage names 'health visitor checks'" in err
    assert "a search for it finds, where the reports may name it otherwise" in out and HEALTH_VISITING in out


def test_the_chat_offers_the_sentences_of_a_trend_it_cannot_chart(monkeypatch, corpus_index):
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.chat_input[0].set_value("How have social worker vacancies changed over time?").run()
    assert not app.exception and not app.get("vega_lite_chart")
    assert any(
        "No value of social worker vacancies that the reader could date" in w.value for w in app.warning
    )
    shown = [m.value.replace("\\", "") for m in app.markdown]  # as the reader sees it, unescaped
    assert any("name it with a figure" in m for m in shown)
    assert any("15 FTE Social Worker vacancies" in m and "2017-09-14" in m for m in shown)
    answer = app.session_state["turns"][0]["answer"]
    assert answer["status"] == "not_found" and answer["candidates"][0]["text"].startswith(VACANCIES)
    # beside a chart, the sentences the reader did not take are one click away
    app.chat_input[0].set_value("How has the number of child protection plans changed over time?").run()
    assert not app.exception and len(app.get("vega_lite_chart")) == 1
    offered = app.session_state["turns"][1]["trend"].offered
    assert offered and any(e.label.startswith(f"{len(offered)} more sentences name it") for e in app.expander)
    searched = app.session_state["turns"][1]["trend"].searched
    assert searched and any(
        e.label == f"{len(searched)} sentences with a figure that a search for it finds" for e in app.expander
    )
    assert any(offered[0].text[:40] in m.value.replace("\\", "") for m in app.markdown)


def test_one_measure_only(corpus_index):
    looked_after = {p.value for p in trend(corpus_index, LAC).points}
    assert not looked_after & {1015, 313.3, 224, 69.1}  # children in need, child protection
    assert {p.value for p in trend(corpus_index, "children in need").points} == {1015, 313.3}
    plans = trend(corpus_index, "child protection plans").points
    assert {p.value for p in plans} == {307, 276, 224, 69.1}  # not the conferences' 98% and 93%
    text = "There were 1,015 children in need and 507 children looked after on 10 August 2018."
    found = read_passage(text, find_measure(LAC), "2018-09")
    assert [(f.value, f.period) for f in found] == [(507, "2018-08-10")]


def test_a_value_stated_again_is_one_point_with_several_sources(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "There were 433 children in our care at the end of June 2017."
    for name in ("2017-09-14-cabinet-progress.md", "2017-10-12-council-progress.md"):
        (corpus / name).write_text(
            f"# Children's services progress report\n\nStockton-on-Tees Borough Council\n\n"
            f"1. {sentence} This number remains high.\n",
            encoding="utf-8",
        )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    points = trend(open_index(settings), LAC).points
    assert len(points) == 1 and points[0].value == 433 and points[0].period == "2017-06"
    assert points[0].citation.source.endswith("2017-09-14-cabinet-progress.md")
    assert [c.source.rsplit("/", 1)[-1] for c in points[0].also_in] == ["2017-10-12-council-progress.md"]


def test_csv_has_one_row_per_point(capsys, corpus_index):
    _, out, _ = run(
        capsys, "trend", "child protection plans", "--json", "--index-dir", str(corpus_index.index_dir)
    )
    points = json.loads(out)["points"]
    code, out, _ = run(
        capsys, "trend", "child protection plans", "--csv", "--index-dir", str(corpus_index.index_dir)
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == len(points)
    assert [r["period"] for r in rows] == [p["period"] for p in points]
    assert [r["text"] for r in rows] == [p["citation"]["text"] for p in points]


def test_the_table_escapes_control_characters(capsys, corpus_index):
    code, out, _ = run(capsys, "trend", LAC, "--index-dir", str(corpus_index.index_dir))
    assert code == 0 and "507" in out and "\t" not in out


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["   "], 1, "the measure is empty"),
        (['looked "after*'], 1, "holds search syntax"),
        (["potholes"], 0, "no passage names 'potholes': try another name"),
        (["NOT potholes' kerbs'"], 0, "no passage names"),  # search words and apostrophes are only words
        (["children looked after far away"], 0, "try a shorter name, 'children looked after' ("),
        ([LAC, "--council", "Kent"], 0, "no report matches council 'Kent'"),
        ([LAC, "--since", "2030"], 0, "but none states its value between 2030 and now"),
        ([LAC, "--since", "last year"], 1, "is not a date"),
    ],
)
def test_bad_input_gets_one_clear_line(capsys, corpus_index, args, code, message):
    got, out, err = run(capsys, "trend", *args, "--json", "--index-dir", str(corpus_index.index_dir))
    assert got == code and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if code == 0:
        assert json.loads(out)["status"] == "not_found" and json.loads(out)["points"] == []


def test_trend_questions_are_told_from_others():
    assert trend_question("How has the number of children looked after changed since 2017?").measure == (
        "children looked after"
    )
    assert trend_question("Child protection plans over time").measure == "child protection plan"
    assert trend_question("smoking prevalence since 2010").measure == "smoking prevalence"
    assert (
        trend_question("How many children were looked after by Middlesbrough as of 10 August 2018?") is None
    )
    in_kent = trend_question("How have potholes in Kent changed since 2019?")
    assert (in_kent.measure, in_kent.since, in_kent.council) == ("potholes", "2019", "Kent County Council")
    assert trend_question("Children looked after over time in Middlesbrough and Stockton").council is None


def test_a_trend_question_that_names_a_council_charts_that_council_only(monkeypatch, corpus_index):
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.chat_input[0].set_value("How has the number of children looked after changed in Stockton?").run()
    assert not app.exception
    points = app.session_state["turns"][0]["trend"].points
    assert points and {p.council for p in points} == {"Stockton-on-Tees Borough Council"}
    everywhere = trend(corpus_index, "children looked after").points
    assert {p.council for p in everywhere} > {"Stockton-on-Tees Borough Council"}


def test_the_chat_answers_a_trend_question_with_a_chart_and_a_cited_table(monkeypatch, corpus_index):
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.chat_input[0].set_value("How has the number of children looked after changed since 2017?").run()
    assert not app.exception
    charts = app.get("vega_lite_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    assert spec["facet"]["row"]["field"] == "unit"  # a count and a rate per 10,000: a panel each
    assert spec["resolve"]["scale"]["y"] == "independent"
    assert {t["field"] for t in spec["spec"]["encoding"]["tooltip"]} >= {"quote", "source", "unit"}
    table = app.dataframe[0].value
    assert {"Period", "Value", "Quote", "Report"} <= set(table.columns)
    assert "507" in set(table["Value"]) and any(
        "Children Looked After (LAC): 507" in q for q in table["Quote"]
    )
    assert [b for b in app.get("download_button") if "CSV" in b.proto.label]
    # and every passage that names the measure, for values the reader could not place in time
    named = app.session_state["turns"][0]["named"]
    assert named.total >= len({p.citation.text for p in app.session_state["turns"][0]["trend"].points})
    assert any(f"{named.total} passages in" in c.value for c in app.caption)
    assert [b for b in app.get("download_button") if "names it" in b.proto.label]
    answer = app.session_state["turns"][0]["answer"]  # saved and exported as an answered question
    assert answer["status"] == "answered" and answer["citations"]
    assert "Sources:\n[1] " in answer_as_text(answer)


def _report_index(tmp_path, name: str, body: str):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text(
        f"# Needs assessment\n\nWest Sussex County Council\n\n{body}\n", encoding="utf-8"
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    return open_index(settings)


def test_a_subgroup_or_a_share_of_something_else_is_not_a_point(tmp_path):
    index = _report_index(
        tmp_path,
        "2016-05-smoking-needs-assessment.md",
        "1. In 2015 smoking prevalence in West Sussex was 15.1%.\n\n"
        "2. In 2015 smoking prevalence in routine and manual workers was 29.2%.\n\n"
        "3. Smoking prevalence decreases with age to 9.2% in the 65+ age groups.\n\n"
        "3a. In 2015 the highest smoking prevalence was 23% in the 18-24 and 25-34 year old groups.\n\n"
        "4. In 2015 there were 820 children looked after, of whom 10% were placed out of county.\n\n"
        "5. In 2015 the number of non-UASC children in care was 700.",
    )
    smoking = trend(index, "smoking prevalence")
    assert [(p.value, p.unit, p.period) for p in smoking.points] == [(15.1, "%", "2015")]
    chart = trend_chart(smoking).to_dict()  # one unit: one panel, the unit in the axis title
    assert "facet" not in chart and chart["encoding"]["y"]["title"] == "smoking prevalence (%)"
    looked_after = trend(index, LAC).points
    assert [(p.value, p.unit, p.period) for p in looked_after] == [(820, "count", "2015")]


def test_a_council_named_in_the_measure_chooses_its_reports(tmp_path):
    """ "West Sussex employment rate" is the employment rate in West Sussex County Council's
    reports: the place is no word of the measure's name. A change "from 73.8% in 2016 to 78.9% in
    2023" gives both values, each for its year."""
    index = _report_index(
        tmp_path,
        "2024-03-economy.md",
        "The employment rate in West Sussex has risen since the plan was adopted, from 73.8% in 2016 "
        "to 78.9% in 2023.",
    )
    for typed in ("West Sussex employment rate", "employment rate in West Sussex", "employment rate"):
        found = trend(index, typed)
        assert found.measure == typed
        assert [(p.value, p.period, p.council) for p in found.points] == [
            (73.8, "2016", "West Sussex County Council"),
            (78.9, "2023", "West Sussex County Council"),
        ]
    assert trend(index, "Kent employment rate").points == []  # another council's reports: none here
    kent = {"Kent County Council"}
    assert without_place("Kent's employment rate", kent) == ("employment rate", "Kent County Council")
    assert without_place("Kent", kent) == ("Kent", None)
    # a council whose reports the index lacks is a word; a place joined to another stays
    assert without_place("pupils reaching the expected standard in reading", kent)[1] is None
    assert without_place("Kent and Medway NHS waiting times", kent)[1] is None


def test_life_expectancy_is_in_years_and_a_clause_after_the_name_does_not_link_its_figures():
    """ "77.8 years in 2000 to 2002" is a life expectancy for those three years; a preposition
    four words into another clause links nothing ("... population, to demand ... the premise of
    the 3 basic groups"), but a phrase naming the value again does ("; a directly age
    standardised rate of 262.7")."""
    life = find_measure("life expectancy")
    rise = "Life expectancy at birth has increased from 77.8 years in 2000 to 2002 to 80.5 years in 2013 to 2015."
    assert _values(rise, life) == [(77.8, "2000-01/2002-12"), (80.5, "2013-01/2015-12")]
    population = find_measure("population")
    groups = (
        "To ensure coherence from need in the wider population, to demand within a social care system "
        "we have maintained the premise of the 3 basic groups in 2015."
    )
    assert _values(groups, population) == []
    self_harm = find_measure("hospital admissions for self-harm")
    rate = (
        "In 2015/16, there were 2,051 emergency hospital admissions for self-harm in Kent; a directly "
        "age standardised rate of 262.7 per 100,000 population."
    )
    assert [v for v, _ in _values(rate, self_harm)] == [2051, 262.7]
    # a preposition without an article still links: "down by a third to 24", "risen again to 1,109"
    sleepers = find_measure("rough sleepers")
    down = "The number of rough sleepers fell this year, down by a third to 24 in November 2024."
    assert _values(down, sleepers) == [(24, "2024-11")]
    care = find_measure("children in care")
    again = "At 31 December 2024 the number of children in care fell in the spring but has since risen again to 1,109."
    assert _values(again, care) == [(1109, "2024-12-31")]
    equivalent = "In 2024 the rate of children in care was 52.1 per 10,000 children, equivalent to 1,109 children in care."
    assert [(f.value, f.unit) for f in read_passage(equivalent, care, "2025-01-30", None)] == [
        (52.1, "rate per 10,000"),
        (1109, "count"),
    ]


def test_a_period_after_the_place_dates_the_value_and_an_undated_past_figure_is_no_point(tmp_path):
    index = _report_index(
        tmp_path,
        "ohna-children.md",  # no meeting date in the name
        "1. There were 665 “looked after” children in West Sussex in 2016/17.\n\n"
        "2. The number of looked after children reached 700 on a number of occasions.\n\n"
        "3. Data shows that over 900 children looked after had their placement in West Sussex in 2013.",
    )
    points = trend(index, LAC).points
    assert [(p.value, p.period) for p in points] == [(665, "2016-04/2017-03")]
    assert points[0].citation.text.startswith("There were 665")


QUARTERLY_TABLE = """Children in Care
The number of non-UASC children in care decreased by 25 in the Quarter to 1,409.

Status Dec-23 Mar-24 Jun-24 Sep-24 Dec-24
Non-UASC 1,466 1,460 1,444 1,434 1,409
UASC 531 480 476 555 475
Total 1,997 1,940 1,920 1,989 1,884"""

YEARLY_TABLE = """Table 18 Children Looked After at 31 March
2009 2010 2011 2012 2013

West Sussex 745 785 745 670 670
Source: DfE"""


def _points(text: str, measure: str, council: str | None = None, about: str = ""):
    found = read_passage(text, find_measure(measure), "2025-02-01", council, about)
    return [(f.value, f.period, text[f.start : f.end]) for f in found]


def test_a_table_of_figures_gives_one_point_per_column_from_the_row_that_is_the_measure():
    """Performance tables head their columns with periods ("Dec-23"): the row named by the measure
    ("UASC"), or the Total row of a table under the measure's name, is read, each figure with its
    column's period; "Non-UASC" is a part, not the measure."""
    uasc = [(v, p) for v, p, _ in _points(QUARTERLY_TABLE, "UASC")]
    assert uasc == [(531, "2023-12"), (480, "2024-03"), (476, "2024-06"), (555, "2024-09"), (475, "2024-12")]
    in_care = _points(QUARTERLY_TABLE, LAC)
    assert [(v, p) for v, p, _ in in_care if p != "2025-02-01"][:5] == [
        (1997, "2023-12"),
        (1940, "2024-03"),
        (1920, "2024-06"),
        (1989, "2024-09"),
        (1884, "2024-12"),
    ]
    assert all(quote.startswith("Total ") for v, p, quote in in_care if p.startswith("202") and len(p) == 7)


def test_a_table_of_years_under_a_day_of_the_year_is_counted_on_that_day_for_the_report_s_council():
    points = _points(YEARLY_TABLE, LAC, council="West Sussex County Council")
    assert [(v, p) for v, p, _ in points] == [
        (745, "2009-03-31"),
        (785, "2010-03-31"),
        (745, "2011-03-31"),
        (670, "2012-03-31"),
        (670, "2013-03-31"),
    ]
    assert _points(YEARLY_TABLE, LAC, council="Kent County Council") == []  # another council's row
    assert _points(YEARLY_TABLE, "child protection plans", council="West Sussex County Council") == []


NEIGHBOUR_TABLE = """Children in Need rate per 10,000

CIN 1 CIN 2 CIN 3 CIN 4
Statistical Neighbours Change from
- - 2009 2010 2011 2012 - previous year
CI 855 Leicestershire ----414.20349.40265.10372.80--220.10
881 Essex - - 238.00 - 309.40 265.70 - -4.70
938 West Sussex - - 78.00 313.00 331.30 215.60 - -15.90
The averages presented here are simple averages."""


def test_a_table_s_empty_columns_missing_figures_and_run_together_rows_keep_each_figure_in_its_column():
    points = read_passage(
        NEIGHBOUR_TABLE, find_measure("children in need"), None, "West Sussex County Council"
    )
    assert [(f.value, f.unit, f.period) for f in points] == [
        (78.0, "rate per 10,000", "2009"),
        (313.0, "rate per 10,000", "2010"),
        (331.3, "rate per 10,000", "2011"),
        (215.6, "rate per 10,000", "2012"),
    ]
    essex = read_passage(
        NEIGHBOUR_TABLE.replace("West Sussex", "Kent"), find_measure("children in need"), None, "Essex"
    )
    assert [(f.value, f.period) for f in essex] == [(238.0, "2009"), (309.4, "2011"), (265.7, "2012")]


def test_a_table_whose_caption_names_another_measure_is_not_read_by_its_total_row():
    table = (
        "Number of clients supported by service type – West Sussex 2008/9 to 2013/14\n"
        "2008/09 2009/10 2010/11 2011/12\nResidential Care 2,985 2,890 2,815 2,510\n"
        "Total 16,875 16,755 17,580 12,820"
    )
    above = "The population of West Sussex is ageing.\n"
    assert read_passage(above + table, find_measure("population"), None, "West Sussex County Council") == []
    generic = table.replace("Number of clients supported by service type", "Table 5: Five-year trend")
    assert [f.value for f in read_passage(above + generic, find_measure("population"), None, None)][:1] == [
        16875
    ]
    named = table.replace("clients supported by service type", "people in the population")
    assert [f.value for f in read_passage(above + named, find_measure("population"), None, None)] == [
        16875,
        16755,
        17580,
        12820,
    ]


def test_a_table_is_the_measure_named_last_above_it_and_a_column_of_shares_is_no_count():
    other_measure_last = "Children in need were counted too.\n" + YEARLY_TABLE
    assert _points(other_measure_last, LAC, council="West Sussex County Council")  # ours is last
    under_another = YEARLY_TABLE.replace("Children Looked After", "Child protection plans")
    assert (
        _points("Children looked after rose.\n" + under_another, LAC, council="West Sussex County Council")
        == []
    )
    shares = (
        "Category of need of children looked after\nNeed 2003/04 2006/07 2007/08\n % % %\nTOTAL 100 100 100"
    )
    assert _points(shares, LAC) == []
    assert [(v, p) for v, p, _ in _points(shares.replace("\n % % %", ""), LAC)][:1] == [
        (100, "2003-04/2004-03")
    ]


def test_a_table_cut_into_passages_is_read_from_the_passages_after_the_one_naming_the_measure(tmp_path):
    """The real PDF: its title names the measure, its header line is in the next passage and the
    report's own row in the one after (rows of eleven figures fill a passage in three or four)."""
    pdf = need(DATA / "reports" / "west-sussex-jsna" / "starting-well" / "CIN-WSx-in-Comparison-with-SN.pdf")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / pdf.name).write_bytes(pdf.read_bytes())
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    index = open_index(settings)
    points = trend(index, "children in need").points
    assert [(p.value, p.unit, p.period) for p in points] == [
        (78.0, "rate per 10,000", "2009"),
        (313.0, "rate per 10,000", "2010"),
        (331.3, "rate per 10,000", "2011"),
        (215.6, "rate per 10,000", "2012"),
        (233.8, "rate per 10,000", "2013"),
        (298.2, "rate per 10,000", "2014"),
        (282.3, "rate per 10,000", "2015"),
    ]
    assert all(p.citation.text.startswith("938 West Sussex - - 78.00 313.00") for p in points)
    passages = {row["text"] for row in index.query("SELECT text FROM chunks")}
    assert all(any(p.citation.text in text for text in passages) for p in points)
    assert not any("Children in Need" in p.citation.text for p in points)  # not the title's passage


def test_a_count_before_whom_it_counts_and_the_measure_s_name_is_a_point():
    text = (
        "On 31st December 2024, there were 1,109 children subject to a child protection plan.\n\n"
        "As of January 2024, this totalled 19,407 children and young people with an EHCP in Kent.\n\n"
        "In 2024 there were 350 pupils with an EHCP in special schools.\n\n"
        "In 2024, 40 children were seen by 12 social workers with a child protection plan audit."
    )
    cpp = _points(text, "child protection plans")
    assert [(v, p) for v, p, _ in cpp] == [(1109, "2024-12-31")]
    assert [(v, p) for v, p, _ in _points(text, "EHCP")] == [(19407, "2024-01")]


def test_a_figure_for_the_previous_quarter_or_year_is_a_point_for_that_earlier_period():
    cpp = find_measure("child protection plans")
    text = (
        "On 31st December 2024, there were 1,109 children subject to a child protection plan, an increase "
        "of 14 children from the end of the previous Quarter (1,095). The rate per 10,000 children (aged "
        "0-17) was 32.9, which remains below the last published rate for England of 41.6 (31st March 2024)."
    )
    found = {
        (f.value, f.unit, f.period) for f in read_passage(text, cpp, "2025-03-04", "Kent County Council")
    }
    # the next sentence's rate is for the first sentence's day, not the meeting's; England's is no point
    assert found == {
        (1109, "count", "2024-12-31"),
        (1095, "count", "2024-09-30"),
        (32.9, "rate per 10,000", "2024-12-31"),
    }
    text = "There were 500 children in care at 31 March 2024, up from 450 last year."
    found = read_passage(text, find_measure(LAC), "2024-06-10")
    assert [(f.value, f.period) for f in found] == [(500, "2024-03-31"), (450, "2023-03-31")]
    undated = "There are 480 children in care, up from 450 last year."  # no date to go back from
    assert [(f.value, f.period) for f in read_passage(undated, find_measure(LAC), "2024-06-10")] == [
        (480, "2024-06-10")
    ]


def test_a_period_moved_back_keeps_its_form():
    assert months_before("2024-12-31", 3) == "2024-09-30"  # a month's last day stays its last day
    assert months_before("2024-05-15", 3) == "2024-02-15"
    assert months_before("2024-01", 1) == "2023-12"
    assert months_before("2024-10/2024-12", 3) == "2024-07/2024-09"
    assert months_before("2024", 12) == "2023" and months_before("2024", 3) is None


def test_a_table_s_years_are_counted_on_the_day_its_report_gives_the_measure_after_the_table(tmp_path):
    """The real PDF: the header reads "2007 2008 ... 2015"; the day ("Rate of children who were the
    subject of a child protection plan at 31 March per 10,000 children") comes seven passages on."""
    pdf = need(
        DATA
        / "reports"
        / "west-sussex-jsna"
        / "starting-well"
        / "CPP-Rate-WSx-in-comparison-with-SN-2015.pdf"
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / pdf.name).write_bytes(pdf.read_bytes())
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    points = trend(open_index(settings), "child protection plans").points
    table = [(p.value, p.period) for p in points if p.citation.text.startswith("938 West Sussex")]
    assert table == [
        (20.0, "2007-03-31"),
        (23.0, "2008-03-31"),
        (25.0, "2009-03-31"),
        (29.9, "2010-03-31"),
        (30.0, "2011-03-31"),
        (24.3, "2012-03-31"),
        (22.9, "2013-03-31"),
        (29.3, "2014-03-31"),
        (29.7, "2015-03-31"),
    ]
    assert all(p.unit == "rate per 10,000" for p in points if p.citation.text.startswith("938"))


def test_a_name_with_a_possessive_is_found_with_either_apostrophe():
    centres = find_measure("children's centres")
    for text in (
        "There are 85 children's centres in the county.",
        "There are 85 children’s centres in the county.",
    ):
        assert [(f.value, f.period) for f in read_passage(text, centres, "2024-05-01")] == [
            (85, "2024-05-01")
        ]
    homes = "There are 12 looked after children’s homes in the county."  # homes, not a count of children
    assert read_passage(homes, find_measure(LAC), "2024-05-01") == []


def test_a_count_may_say_what_kind_before_the_measure_s_name_but_not_that_it_is_a_change():
    harm = find_measure("hospital admissions for self-harm")
    text = (
        "In 2014/15, there were 1,810 emergency hospital admissions for self-harm in West Sussex. This "
        "equates to a directly age standardised rate of 231.3 emergency hospital admissions for self-harm "
        "per 100,000 population. During 2014/15 and 2015/16, there were 3,861 hospital admissions for "
        "self-harm. In 2016/17 there were 120 more hospital admissions for self-harm than in 2015/16."
    )
    found = [(f.value, f.unit, f.period) for f in read_passage(text, harm, "2017-05-01", "West Sussex")]
    # "This equates to ..." takes the year of the sentence it goes on from; a total of two years spans both
    assert found == [
        (1810, "count", "2014-04/2015-03"),
        (231.3, "rate per 100,000", "2014-04/2015-03"),
        (3861, "count", "2014-04/2016-03"),
    ]
    disabled = "In 2024 there were 50 disabled children looked after."  # a part of the measure
    assert read_passage(disabled, find_measure(LAC), "2024-05-01") == []


def test_a_count_of_referrals_to_a_service_is_for_the_quarter_its_report_ends_on():
    """ "Referrals" usually count another thing than the measure, and "services" after a name
    usually names another thing; here both are the measure's own words."""
    text = (
        "On 31st December 2024, the number of open cases was 11,165.\n\n"
        "There were 6,357 referrals to children’s social care services in the Quarter, an 8.3% increase "
        "when compared to the previous Quarter (5,869) and 10.8% higher than Quarter 3 last year (5,735)."
    )
    referrals = find_measure("referrals to children's social care")
    assert [(f.value, f.period) for f in read_passage(text, referrals, "2025-03-04")] == [
        (6357, "2024-10/2024-12"),
        (5869, "2024-07/2024-09"),
        (5735, "2023-10/2023-12"),
    ]
    council = (
        "There were 4 Children in Care Council meetings in 2024."  # a thing named after children in care
    )
    assert read_passage(council, find_measure("children in care"), "2025-03-04") == []


def test_the_user_s_own_words_are_found_in_another_order_and_the_glossary_s_names_are_not():
    text = (
        "At the end of December 2024, there were 2,287 family cases open to Early Help units, providing "
        "support for 4,637 children. This is an 8.6% increase when compared to the end of the previous "
        "Quarter (2,105)."
    )
    found = read_passage(text, find_measure("early help cases"), "2025-03-04", "Kent County Council")
    assert [(f.value, f.period) for f in found] == [(2287, "2024-12"), (2105, "2024-09")]
    assert read_passage(text, find_measure("early help referrals"), "2025-03-04") == []
    # "children in care" is the glossary's: its words in another order are another measure
    social_care = "In 2024 there were 6,357 referrals to children’s social care."
    assert read_passage(social_care, find_measure("children in care"), "2025-03-04") == []


def test_a_year_in_brackets_dates_the_value_before_it_and_a_projection_is_no_point():
    text = "The West Sussex population is projected to increase from 815,000 (2012) to 881,000 (2022) and 971,000 (2037)."
    found = read_passage(
        text, find_measure("West Sussex population"), "2016-05-01", "West Sussex County Council"
    )
    assert [(f.value, f.period) for f in found] == [(815000, "2012")]
    # a later year's figure set by the meeting, with no forecast in its sentence, is a point
    budget = "The band D charge for 2025/26 is £1,691.19."
    assert [
        (f.value, f.period) for f in read_passage(budget, find_measure("band D charge"), "2025-02-13")
    ] == [(1691.19, "2025-04/2026-03")]


def test_runs_of_months_head_a_table_s_columns_even_over_two_lines():
    from rag.dates import periods

    assert [p for _, _, p in periods("Jan – Mar 24 12m to Dec 23 Quarter to Sep 24")] == [
        "2024-01/2024-03",
        "2023-01/2023-12",
        "2024-07/2024-09",
    ]
    text = (
        "Over the 12 months to December 2024 the number of complaints received has decreased by 4%.\n"
        "Service 12 mths to 12 mths to Quarter to Quarter to\n"
        "Dec 23 Dec 24 Sep 24 Dec 24\n"
        "Highways and Transportation 2,902 2,355 642 422\n"
        "Growth & Communities (inc\n"  # a label wrapped over three lines
        "Libraries, Registrations and 226 241 74 42\n"
        "Archives)\n"
        "Total Complaints 5,647 5,416 1,512 1,047"
    )
    found = read_table(text, find_measure("complaints received"), "Kent County Council")
    assert [(f.value, f.period) for f in found] == [
        (5647, "2023-01/2023-12"),
        (5416, "2024-01/2024-12"),
        (1512, "2024-07/2024-09"),
        (1047, "2024-10/2024-12"),
    ]


def test_a_table_in_millions_of_pounds_is_amounts_and_its_forecast_columns_no_points():
    text = (
        "Projected levels of the Council's external borrowing are shown below.\n"
        "Table 6: Gross Debt in £millions 31.3.2024 31.3.2025 31.3.2026 actual forecast budget\n"
        "External Borrowing 771.9 716.0 684.7"
    )
    found = read_table(text, find_measure("external borrowing"), "Kent County Council", "", "", "2025-01-30")
    assert [(f.value, f.value_text, f.unit, f.period) for f in found] == [
        (771_900_000, "£771.9m", "£", "2024-03-31")
    ]


def test_words_in_another_order_name_the_count_right_before_them_or_a_value_they_are_said_to_be():
    """ "treasury investments at the £200m liquidity allowance" is a policy's figure, not the
    investments' value; the sentence after it ("It also ...") does not go on about the measure. A
    value the words are said to be ("was 12,000") is theirs; words split by a hyphen ("self-harm") or
    a count's comma ("4,500") are still the name's."""
    text = (
        "The Council wants to maintain investments of the treasury at the £200m liquidity allowance. It also "
        "assumes the £177.00m of external investments remains invested. There were 40 treasury deals."
    )
    assert read_passage(text, find_measure("treasury investments"), "2025-01-30", "Kent County Council") == []
    visits = find_measure("family hub visits")
    assert _values("In 2024 the number of visits to family hubs was 12,000.", visits) == [(12000, "2024")]
    assert _values("The Council kept visits to family hubs at the 12,000 target in 2024.", visits) == []
    harm = "In 2015/16 there were 1,810 hospital admissions for self-harm."
    assert _values(harm, find_measure("self-harm admissions")) == [(1810, "2015-04/2016-03")]
    camhs = "CAMHS received 4,500 referrals in 2016/17."
    assert _values(camhs, find_measure("CAMHS referrals")) == [(4500, "2016-04/2017-03")]
    # a count of those to whom the name's action was done: "412 pupils were permanently excluded"
    excluded = "In 2022/23, 412 pupils were permanently excluded, up from 300 in 2021/22."
    assert _values(excluded, find_measure("permanent exclusions")) == [(412, "2022-04/2023-03")]
    assert (
        _values("In 2022/23, 412 pupils were excluded for a day.", find_measure("permanent exclusions")) == []
    )
    assert (
        _values("In 2023, 6,000 children were seen by social care.", find_measure("social care referrals"))
        == []
    )
    # a hyphenated word is its parts only where the name has them in a row
    assert (
        _values("In 2024 non-residential placements were 200.", find_measure("residential placements")) == []
    )


def _values(text: str, measure) -> list[tuple[float, str]]:
    return [(f.value, f.period) for f in read_passage(text, measure, "2025-01-30", "Kent County Council")]


def test_a_count_after_a_verb_an_amount_of_the_name_and_a_scale_in_words_are_points():
    """ "had 450 approved foster carers", "... Council: 80 foster carers", "held £746.7m of
    external borrowing", "2.1 million" visits; a count that starts its line is a paragraph's
    number unless it is written "5,400"."""
    assert _values(
        "At 31 March 2024 the council had 450 approved foster carers.", find_measure("foster carers")
    ) == [(450, "2024-03-31")]
    label = "- Number of foster carers with Kent County Council: 80 foster carers, 56 connected carers."
    assert _values(label, find_measure("foster carers")) == [(80, "2025-01-30")]  # undated: the meeting's
    held = "As at 30 November 2024 the Council held £746.7m of external borrowing."
    assert _values(held, find_measure("external borrowing")) == [(746_700_000, "2024-11-30")]
    visits = find_measure("library visits")
    assert _values("Library visits totalled 2.1 million in 2023/24.", visits) == [
        (2_100_000, "2023-04/2024-03")
    ]
    tipping = find_measure("fly-tipping incidents")
    assert _values("5,400 fly-tipping incidents were reported in 2023/24.", tipping) == [
        (5400, "2023-04/2024-03")
    ]
    assert _values("13 Further fly-tipping incidents were reported in 2023/24.", tipping) == []


def test_a_value_after_a_period_is_no_range_and_a_date_may_end_with_a_colon():
    """ "from 3,450 in 2021/22 to 3,210 in 2022/23" gives both values ("22 to 3,210" is no range);
    "at 31 March 2024: £357.6m" links the date's value, "(DSR: 195.4)" after a label does not; an
    acronym's plural ("EHCPs") is found, and a name typed with "number of" is the glossary's."""
    starts = "Apprenticeship starts fell from 3,450 in 2021/22 to 3,210 in 2022/23."
    assert _values(starts, find_measure("apprenticeship starts")) == [
        (3450, "2021-04/2022-03"),
        (3210, "2022-04/2023-03"),
    ]
    reserves = find_measure("usable reserves")
    assert _values("Usable reserves at 31 March 2024: £357.6m", reserves) == [(357_600_000, "2024-03-31")]
    assert _values("The rate (DSR: 195.4) of usable reserves in 2024.", reserves) == []
    assert _values("Usable reserves, table 3: 45.", reserves) == []
    ehcps = "The number of EHCPs maintained by the council rose to 19,000 in January 2024."
    assert _values(ehcps, find_measure("EHCP")) == [(19000, "2024-01")]
    assert find_measure("number of children in care").names == find_measure("children in care").names


def test_values_over_a_year_and_over_a_quarter_are_drawn_as_lines_of_their_own():
    from rag.trends import Point, Trend
    from rag.types import Quote

    row = Quote(
        "d", "Quarterly Performance Report", "qpr.pdf", 13, None, "2025-03-04", "Total Complaints ..."
    )
    periods = {
        "2023-01/2023-12": 5647,
        "2024-01/2024-12": 5416,
        "2024-07/2024-09": 1512,
        "2024-10/2024-12": 1047,
    }
    points = [Point(v, f"{v:,}", "count", p, "Kent County Council", row) for p, v in periods.items()]
    chart = trend_chart(Trend("complaints received", points)).to_dict()
    assert chart["encoding"]["strokeDash"]["field"] == "span"
    assert sorted({r["span"] for r in chart["data"]["values"]}) == ["12 months", "3 months"]
    one_kind = trend_chart(Trend("complaints received", points[2:])).to_dict()
    assert "strokeDash" not in one_kind["encoding"]


def test_runs_of_months_and_spans_of_years_are_read_as_reports_write_them():
    from rag.dates import periods

    def read(text: str) -> list[str]:
        return [p for _, _, p in periods(text)]

    assert read("In the 12-month period to December 2024") == ["2024-01/2024-12"]
    assert read("in the year ending 31 March 2024") == ["2023-04/2024-03"]
    assert read("the nine months to December 2024") == ["2024-04/2024-12"]
    assert read("between October and December 2024") == ["2024-10/2024-12"]
    assert read("from April to June 2024") == ["2024-04/2024-06"]
    assert read("For the three years 2013-15 inclusive") == ["2013-01/2015-12"]
    assert read("2011–2013") == ["2011-01/2013-12"]
    assert read("between 2012 and 2014, 3,995 deaths") == ["2012-01/2014-12"]
    assert read("Between  2012 and 2014") == ["2012-01/2014-12"]  # two spaces, as a PDF may give them
    assert read("During 2014/15 – 2015/16, there were 8,607") == ["2014-04/2016-03"]
    assert read("80.5 years in 2013 to 2015") == ["2013-01/2015-12"]  # a pooled estimate
    assert read("2016/17 - 2015/16") == ["2016-04/2017-03", "2015-04/2016-03"]  # no run backwards
    assert read("(Q2 2024/25 – Q3 2024/25)") == ["2024-07/2024-09", "2024-10/2024-12"]  # quarters: two
    assert read("in 2023 to 2024") == ["2023", "2024"]  # GOV.UK's financial year, no pooled span
    # a financial year is one; "from 2010 to 2014" in a sentence of change names its two ends;
    # two months joined by "and" without "between" are two snapshots, the last one read
    assert read("2013-14") == ["2013-04/2014-03"]
    assert read("from 2010 to 2014") == ["2010", "2014"]
    assert read("in March and September 2024") == ["2024-09"]
    assert read("in the year ending March 31, 2024") == ["2023-04/2024-03"]
    assert read("referrals between April 2023 and March 2024") == ["2023-04/2024-03"]
    # a count after a run of months in prose is no year; a plan's or a page's years are no span
    assert read("Between July and September 30 households were approved") == []
    assert read("The Strategy 2020-2024 set out") == []
    assert read("see pages 2013-2015") == []


def test_a_participle_a_month_without_its_year_and_a_measure_of_time_are_read():
    """ "102 pupils were permanently excluded" is found by the search for "permanent exclusions";
    "in December" in a February 2025 report is December 2024; "30.0 years" is an average age's
    value but no count's; "between July and November 2013" dates the count before it."""
    ages = find_measure("average age of mothers")
    assert _values("In 2013 the average age of mothers was 30.0 years.", ages) == [(30.0, "2013")]
    carers = find_measure("foster carers")
    assert _values("In 2024 the council had 450 foster carers, 20 of them for 10 years.", carers) == [
        (450, "2024")
    ]
    entrants = find_measure("first time entrants")
    december = "The number of first time entrants in December was 175."
    assert _values(december, entrants) == [(175, "2024-12")]
    assert [f.period for f in read_passage(december, entrants, "2026-01-15", None)] == ["2025-12"]
    # a month in another clause than the value, or two months, date nothing
    assert (
        _values("The number of first time entrants was 175, compared with 160 in December.", entrants) == []
    )
    assert _values("In May and June the number of first time entrants was 175.", entrants) == []
    camhs = "There were 1,918 referrals to CAMHS between July and November 2013."
    assert _values(camhs, find_measure("CAMHS referrals")) == [(1918, "2013-07/2013-11")]


def test_a_quarter_without_its_year_is_the_last_such_quarter_up_to_the_meeting():
    """ "In Quarter 3, a total of 106 ..." in a report of January 2025 is October to December 2024
    (financial quarters: Q1 is April to June); in one of September 2024 it is the year before. The
    opening phrase dates the first clause only, and not a sentence that names another quarter."""
    empty_homes = find_measure("empty properties")
    q3 = "In Quarter 3, a total of 106 empty properties were brought back into use."
    assert _values(q3, empty_homes) == [(106, "2024-10/2024-12")]
    assert [f.period for f in read_passage(q3, empty_homes, "2024-09-20", None)] == ["2023-10/2023-12"]
    assert _values("A total of 106 empty properties were brought back into use in Q2.", empty_homes) == [
        (106, "2024-07/2024-09")
    ]
    later_clause = (
        "In Quarter 3, demand rose, and a total of 106 empty properties were brought back into use."
    )
    assert _values(later_clause, empty_homes) == []
    two = "In Quarter 3, a total of 106 empty properties were brought back into use, against 98 in Quarter 2."
    assert _values(two, empty_homes) == []


def test_a_name_s_head_ends_where_a_clause_after_it_starts():
    """The word a name counts is before a participle that starts a clause ("brought back into
    use", "killed or seriously injured", "permanently excluded", "looked after"), "not", or an -ing
    word after people; a participle before the name's last word modifies it ("funded pupils")."""
    assert head("empty properties brought back into use") == "properties"
    assert head("people killed or seriously injured") == "people"
    assert head("pupils permanently excluded") == "pupils"
    assert head("children looked after") == "children"
    assert head("young people not in education") == "people"
    assert head("older people receiving social care") == "people"
    assert head("high needs funded pupils") == "pupils"
    assert head("stop smoking service users") == "users"
    assert head("households in temporary accommodation with children") == "households"
    assert head("average speed of broadband") == "speed"
    assert head("sexually transmitted infections diagnoses") == "diagnoses"
    assert head("referrals to children's social care") == "referrals"
    injured = find_measure("people killed or seriously injured")
    assert _values("In 2023, 540 people were killed or seriously injured on the roads.", injured) == [
        (540, "2023")
    ]
    empty = find_measure("empty properties brought back into use")
    assert _values("In 2024, a total of 106 empty properties were brought back into use.", empty) == [
        (106, "2024")
    ]


def test_this_quarter_with_no_date_above_is_the_last_quarter_before_the_meeting():
    care = find_measure("children in care")
    other = "Children in care remained stable over the quarter, but the number of unaccompanied children rose to 412."
    assert read_passage(other, care, "2025-03-12", None) == []  # a clause naming what its number counts
    potholes = find_measure("potholes repaired")
    text = "The number of potholes repaired within 28 days this quarter was 3,058."
    assert [f.period for f in read_passage(text, potholes, "2025-03-12", None)] == ["2024-10/2024-12"]
    assert [f.period for f in read_passage(text, potholes, "2025-04-02", None)] == ["2025-01/2025-03"]
    dated = "On 30th September 2024 the team was at full strength. " + text
    assert [f.period for f in read_passage(dated, potholes, "2025-03-12", None)] == ["2024-07/2024-09"]


def test_a_dashboard_s_latest_and_previous_figures_are_the_last_two_quarters_before_the_meeting():
    """A quarterly report's "Latest: ... Previous: ..." under the indicator's name (on its line or
    the line above): the last quarter that ended before the meeting and the one before it, or the
    twelve months to their ends for a rolling twelve-month count; a target is no point."""
    rolling = (
        "Number of homes brought back to market through No Use Empty (NUE) – Rolling 12-month total GREEN\n\n"
        "Latest: 422 Target: 400, Floor 360 Previous: 493 (Green)"
    )
    homes = find_measure("homes brought back to market")
    assert [(f.value, f.period) for f in read_passage(rolling, homes, "2025-03-12", None)] == [
        (422, "2024-01/2024-12"),
        (493, "2023-10/2024-09"),
    ]
    quarterly = "Number of first time entrants to the youth justice system Latest: 175 Target: 180 Previous: 190 (Amber)"
    entrants = find_measure("first time entrants")
    assert [(f.value, f.period) for f in read_passage(quarterly, entrants, "2025-03-12", None)] == [
        (175, "2024-10/2024-12"),
        (190, "2024-07/2024-09"),
    ]
    assert read_passage(quarterly, find_measure("foster carers"), "2025-03-12", None) == []
    # several on one line: each indicator is the words after the dashboard before it
    two = quarterly + " Number of foster carers Latest: 613 Target: 650 Previous: 612 (Red)"
    assert [f.value for f in read_passage(two, entrants, "2025-03-12", None)] == [175, 190]
    part = "Number of children in care (excluding UASC) Latest: 1,109 Target: 1,000 Previous: 1,095 (Red)"
    assert read_passage(part, find_measure("children in care"), "2025-03-12", None) == []
    dated = "Number of first time entrants\nLatest: 31 Dec 2024 175 Previous: 30 Sep 2024 190"
    assert all(f.value not in (31, 30) for f in read_passage(dated, entrants, "2025-03-12", None))
    rate = quarterly.replace("Number of", "Rate of").replace("system", "system per 100,000")
    assert {f.unit for f in read_passage(rate, entrants, "2025-03-12", None)} == {"rate per 100,000"}
    sentence = "The First-Time Entrants to the Youth Justice System per 100,000 in December was 175."
    assert [(f.value, f.unit) for f in read_passage(sentence, entrants, "2025-03-12", None)] == [
        (175, "rate per 100,000")
    ]


def test_a_participle_of_the_measure_s_words_is_found_in_every_passage(tmp_path):
    index = _report_index(
        tmp_path,
        "Cabinet-2025-02-03-performance.md",
        "In the 12-month period to December 2024, 102 pupils were permanently excluded.",
    )
    points = trend(index, "permanent exclusions").points
    assert [(p.value, p.period) for p in points] == [(102, "2024-01/2024-12")]


def test_a_change_gives_its_end_and_a_value_a_year_earlier_is_the_year_before():
    carers = find_measure("foster carers")
    assert _values("The number of foster carers decreased from 640 to 613 during 2024.", carers) == [
        (613, "2024")
    ]
    earlier = "At the end of 2024 there were 613 foster carers, down from 640 a year earlier."
    assert _values(earlier, carers) == [(613, "2024"), (640, "2023")]
    ranged = "Social worker caseloads ranged from 15 to 21 children in December 2024."
    assert _values(ranged, find_measure("social worker caseloads")) == []
    # "when" names the earlier period's value only in a clause of its own
    when = "Compared with last year, when excluding UASC, the number of children in care was 1,100 at 31 March 2024."
    assert _values(when, find_measure("children in care")) == [(1100, "2024-03-31")]


def test_a_percentage_the_name_is_said_to_be_and_a_month_after_a_value_in_its_sentence_s_year():
    """ "Unemployment ... stood at 4.2%" is the measure's value though its name is no share's;
    "9.8% of households" and "34% higher" are not. "up from 31,200 in September" in a sentence of
    December 2024 is September 2024."""
    assert _values("Unemployment in Kent stood at 4.2% in March 2024.", find_measure("unemployment")) == [
        (4.2, "2024-03")
    ]
    poverty = find_measure("fuel poverty")
    assert _values("In 2014, 9.8% of households were in fuel poverty.", poverty) == []
    assert _values("In 2014 fuel poverty was 34% higher than in 2013.", poverty) == []
    assert _values("In 2014 fuel poverty was 9.8%.", poverty) == [(9.8, "2014")]
    # a name after a preposition is what the share is of
    assert _values("In 2016 the level of CKD in the population is 5.4%.", find_measure("population")) == []
    claimants = "The claimant count in Kent was 32,450 in December 2024, up from 31,200 in September."
    assert _values(claimants, find_measure("claimant count")) == [(32450, "2024-12"), (31200, "2024-09")]


def test_a_value_of_the_previous_quarter_when_it_was_so_is_that_quarter_s():
    caseloads = (
        "The average caseload for Social Workers was 21 children in December 2024. This is an increase "
        "from the previous quarter, when the average caseload was 20 children."
    )
    assert _values(caseloads, find_measure("social worker caseloads")) == [(21, "2024-12"), (20, "2024-09")]


def test_a_dash_links_a_label_to_its_value_and_a_verb_of_care_a_count_to_its_name():
    care = find_measure("children in care")
    assert _values("Children in care – 1,120 (31 March 2024)", care) == [(1120, "2024-03-31")]
    looking_after = "At 31 March 2024 the Council was looking after 1,120 children in care."
    assert _values(looking_after, care) == [(1120, "2024-03-31")]


def test_a_rate_per_thousands_and_a_mid_year_estimate_are_dated_by_what_follows():
    harm = "Self-harm admissions were 412.5 per 100,000 in 2015/16."
    found = read_passage(harm, find_measure("self-harm admissions"), "2017-06-01", None)
    assert [(f.value, f.unit, f.period) for f in found] == [(412.5, "rate per 100,000", "2015-04/2016-03")]
    mid_year = "The population of West Sussex was 836,300 in mid-2015."
    found = read_passage(mid_year, find_measure("population"), "2017-06-01", "West Sussex County Council")
    assert [(f.value, f.period) for f in found] == [(836300, "2015")]
