import re
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import CORPUS, DATA, need

from rag.errors import DocumentError
from rag.read.documents import _with_subject_from_name, clean_text, load_document
from rag.read.metadata import find_council, is_useful_title

EXPECTED = {
    "middlesbrough-2018-09-executive-member-report-childrens-care.txt": (
        "Executive Member Report to Council",
        "Middlesbrough Council",
        "2018-09",
    ),
    "stockton-2017-09-14-cabinet-childrens-services-progress-q1.md": (
        "Children's Services Progress Update: Quarter 1 (April – June) – 2017/18",
        "Stockton-on-Tees Borough Council",
        "2017-09-14",
    ),
    "middlesbrough-2020-04-05-members-briefing-childrens-services-covid.txt": (
        "Briefing to Members: Children's Services",
        "Middlesbrough Council",
        "2020-04-05",
    ),
    "middlesbrough-2025-03-26-executive-member-report-childrens-services.md": (
        "Executive Member Report to Council",
        "Middlesbrough Council",
        "2025-03-26",
    ),
    "middlesbrough-2021-03-24-executive-member-report-childrens-social-care.txt": (
        "Executive Member Report to Council",
        "Middlesbrough Council",
        "2021-03-24",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reports_know_their_title_council_and_date(name):
    document = load_document(CORPUS / name)
    assert (document.title, document.council, document.date) == EXPECTED[name]


def test_a_folder_named_after_a_council_gives_its_reports_that_council(tmp_path):
    """The minutes of a Kent meeting on devolution name Medway more often than Kent; filed in the
    Kent folder, they are Kent's. Outside such a folder the text decides. (The title line's date
    and the "on" before it are dropped.)"""
    minutes = need(
        DATA
        / "reports/kent-county-council/full_council/2025-01-09/originals"
        / "Printed minutes 09th-Jan-2025 10.00 County Council.pdf"
    )
    document = load_document(minutes)
    assert document.council == "Kent County Council"
    assert document.title.endswith("County Hall, Maidstone")  # not "... Maidstone on", its date cut off
    text = "Report to Cabinet\nMedway Council and Medway's partners agreed the plan.\n"
    (tmp_path / "west-sussex-jsna").mkdir()
    (tmp_path / "west-sussex-jsna" / "plan.txt").write_text(text, encoding="utf-8")
    (tmp_path / "plan.txt").write_text(text, encoding="utf-8")
    assert load_document(tmp_path / "west-sussex-jsna" / "plan.txt").council == "West Sussex County Council"
    assert load_document(tmp_path / "plan.txt").council == "Medway Council"


def test_a_placeholder_title_gives_way_to_one_that_names_the_report():
    """Kent's agenda front sheets carry the PDF title "Agenda Template" and the minutes "Minutes":
    the front sheet is named by its file, the minutes by their first line."""
    originals = DATA / "reports/kent-county-council/cabinet/2025-01-30/originals"
    front = load_document(need(originals / "Agenda frontsheet 30th-Jan-2025 10.00 Cabinet.pdf"))
    assert front.title == "Agenda frontsheet 30th Jan 2025 10.00 Cabinet"
    minutes = load_document(need(originals / "Printed minutes 30th-Jan-2025 10.00 Cabinet.pdf"))
    assert minutes.title.startswith("MINUTES of a meeting of the Cabinet held in")
    for placeholder in (
        "Agenda Template",
        "PowerPoint Presentation",
        "Minutes",
        "Item 1",
        "County Council",
        "c) They are the Chair of the Scrutiny Committee.",
        "Original base budget 1,429,506.8 0.0 1,429,506.8",
        "proposal for a new",
        "Core External Total Core External Total Core External Total",
        "The number of children looked after has risen in each of the last three years.",
    ):
        assert not is_useful_title(placeholder), placeholder
    for title in (
        "Executive Member Report to Council",
        "Quarterly Performance Report, Quarter 3, 2024/25",
        "Autumn Budget 2024",
        "MINUTES of the meeting held in the Darent Room, Sessions House, County Hall, Maidstone.",
    ):
        assert is_useful_title(title), title


def test_a_title_is_never_a_footnote_or_a_line_of_running_text(tmp_path):
    """A report's footnote ("[1] Fake Report") and its paragraphs are not its title, even when
    they name a kind of report; the heading below them is."""
    (tmp_path / "appendix-1.txt").write_text(
        "The council received 1,200 complaints about missed collections in 2021, and the review panel\n"
        "was asked to report back by March.\n"
        "[1] Fake Report\n"
        "Waste Services Review\n"
        "1. Complaints rose by 12% on the year before.\n",
        encoding="utf-8",
    )
    assert load_document(tmp_path / "appendix-1.txt").title == "Waste Services Review"
    for line in (
        "[1] Fake Report",
        "[12] Annual Report 2024",
        "[3, 4] Budget Report",
        "At the outset, it was noted that the following items on the Agenda were dealt with at",
        (
            "IF the Council agrees to make the change to Chairmanship of the Scrutiny Committee, the "
            "following changes to the constitution would be proposed."
        ),
        "Reason one: The decision is not in line with Council's Policy Framework.",
    ):
        assert not is_useful_title(line), line
    for title in (
        "Late changes to the 2025-26 budget and 2025-28 Medium Term Financial Plan (MTFP)",
        "Minutes of the Annual Meeting held on 23 May 2023 in the Council Chamber",
        "Proposed transfer of the Strengthening Independence Service for 18-25 year old disabled adults",
    ):
        assert is_useful_title(title), title


def test_cleaning_removes_conversion_debris_and_keeps_words():
    raw = "## **KEY FIGURES**\n<b>Stockton</b>\t<b>94(2<sup>nd</sup>)</b>\n| a | b |\n|---|---|\nline one  \nline two<br>three"
    cleaned = clean_text(raw)
    assert cleaned == "KEY FIGURES\nStockton 94(2nd)\na | b\nline one\nline two\nthree"


def test_links_and_images_in_documents_become_plain_text():
    cleaned = clean_text("See ![chart](http://evil.example/x.png) and [the plan](http://x.example).")
    assert cleaned == "See chart and the plan."


def test_html_loader_drops_scripts_and_keeps_table_rows(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(
        "<html><head><title>T</title><script>alert(1)</script></head><body><h1>Budget report</h1>"
        "<table><tr><td>Children looked after</td><td>506</td></tr></table></body></html>",
        encoding="utf-8",
    )
    document = load_document(page)
    assert "alert" not in document.text
    assert "Children looked after | 506" in document.text
    assert document.title == "Budget report"


def test_empty_and_non_utf8_files_are_refused_with_a_reason(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\xe9 budget".encode("latin-1"))
    with pytest.raises(DocumentError, match="empty"):
        load_document(empty)
    with pytest.raises(DocumentError, match="not UTF-8"):
        load_document(latin)


def test_pdf_pages_are_numbered_from_one():
    pdf = need(
        DATA
        / "reports/kent-county-council/cabinet/2025-01-30/originals"
        / "Minutes of the meeting held on 9th January 2025.pdf"
    )
    from pypdf import PdfReader

    document = load_document(pdf)
    pages = PdfReader(pdf).pages
    assert len(document.page_starts) == len(pages) == 9
    assert (document.council, document.date) == ("Kent County Council", "2025-01-09")
    for number in (1, 3, 9):  # a phrase printed on page n is found on page n
        phrase = " ".join(pages[number - 1].extract_text().split()[5:12])
        match = re.search(r"\s+".join(re.escape(word) for word in phrase.split()), document.text)
        assert match, phrase
        assert document.page_at(match.start()) == number


def test_fake_pdf_is_reported_as_not_a_pdf(tmp_path):
    fake = tmp_path / "fake.pdf"
    fake.write_text("%!PS-Adobe-3.0\nnot a pdf")
    with pytest.raises(DocumentError, match="not a PDF"):
        load_document(fake)


def test_no_page_is_lost_when_layout_extraction_finds_nothing():
    """A page with a few bare-number lines tries layout extraction; where that returns nothing
    (it does on some fonts) the plain text is kept."""
    pdf = need(DATA / "pdf-torture" / "souldern-parish" / "2024-05-23 Annual Parish Meeting minutes.pdf")
    document = load_document(pdf)
    starts = list(document.page_starts) + [len(document.text)]
    sizes = [len(document.text[a:b].strip()) for a, b in pairwise(starts)]
    assert len(sizes) == 3 and min(sizes) > 500, sizes


def test_a_letter_is_titled_by_its_subject_line_or_its_sender():
    """Two letters in Kent's March 2025 council papers were titled by the first line of their
    letterheads, a person's name ("Roger Gough"), as if that were a report."""
    originals = DATA / "reports/kent-county-council/full_council/2025-03-13/originals"
    with_subject = load_document(need(originals / "Appendix 1.pdf"))
    assert with_subject.title == "Kent and Medway request to be included in Devolution Priority Programme"
    without = load_document(need(originals / "Appendix 2.pdf"))
    assert without.title == "Letter from Jim McMahon OBE MP"


def test_a_title_that_names_only_a_kind_of_document_takes_its_subject_from_the_file_name():
    """Kent's ten budget amendments are all titled "Budget Amendment Form" and a consultation
    report "Written Report": ten citations of one title say nothing about which amendment they
    cite. The file's name says what each is about; a title that says more is left alone."""
    amendments = DATA / "reports/kent-county-council/full_council/2025-02-13/originals"
    form = load_document(need(amendments / "3 - Amendment - Liberal Democrats - LEVI capital funding.pdf"))
    assert form.title == "Budget Amendment Form: Liberal Democrats - LEVI capital funding"
    copy = load_document(need(amendments / "8 - Amendment - Greens and Independents - CTRS_1.pdf"))
    assert copy.title == "Budget Amendment Form: Greens and Independents - CTRS"
    appendices = DATA / "reports/kent-county-council/full_council/2025-03-13/originals"
    consultation = load_document(
        need(appendices / "Appendix 6 - Commissioned Family Hub Contracts Consultation Report.pdf")
    )
    assert consultation.title == "Written Report: Commissioned Family Hub Contracts Consultation Report"
    letter = load_document(need(appendices / "Appendix 1.pdf"))
    assert letter.title == "Kent and Medway request to be included in Devolution Priority Programme"

    # what a file name adds: no year or financial year cut from it, no words the title already has
    for title, name, expected in (
        ("Budget", "County Council Budget_2025_26.pdf", "Budget: County Council Budget 2025 26"),
        (
            "Summary",
            "2024-25 to 2026-27 Medium Term Plan.pdf",
            "Summary: 2024-25 to 2026-27 Medium Term Plan",
        ),
        (
            "Record of Decision",
            "Record of Decision Highways maintenance.pdf",
            "Record of Decision: Highways maintenance",
        ),
        ("Record of Decision", "Appendix 4 - 24-00093 Record of Decision.pdf", "Record of Decision"),
        ("Spending", "Appendix D 21.01.25.pdf", "Spending"),
    ):
        assert _with_subject_from_name(title, Path(name)) == expected, name


def test_a_parish_council_s_minutes_are_its_own_not_a_council_whose_name_is_a_member_s_surname():
    """Souldern's minutes list "David Carlisle" and "Joanna Carlisle" among those present: three
    mentions of Carlisle made them Cumberland Council's report. The minutes name their council in
    their heading ("MINUTES OF THE SOULDERN PARISH COUNCIL MEETING")."""
    minutes = load_document(need(DATA / "pdf-torture" / "souldern-parish" / "2024-04-25 SPC minutes.pdf"))
    assert minutes.council == "Souldern Parish Council"
    assert (
        find_council("Comments from the Parish Council\nKent County Council welcomes ...")
        == "Kent County Council"
    )
    assert (
        find_council("To: Kent County Council\nA letter from Faversham Town Council") == "Kent County Council"
    )
