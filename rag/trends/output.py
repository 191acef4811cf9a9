"""A trend written out: CSV, a plain-text table, the chart and the table beneath it in the chat."""

from __future__ import annotations

import csv
import io

from rag.trends.trend import Trend

CSV_FIELDS = [
    "period",
    "value",
    "value_text",
    "unit",
    "council",
    "title",
    "date",
    "source",
    "page",
    "paragraph",
    "text",
    "also_in",
]


def trend_csv(result: Trend) -> str:
    """One row per point; `also_in` lists the other sources, separated by ';'."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for point in result.points:
        item = point.to_dict()
        writer.writerow(
            {
                **{k: item[k] for k in ("period", "value", "value_text", "unit", "council")},
                **{k: item["citation"][k] for k in ("title", "date", "source", "page", "paragraph", "text")},
                "also_in": ";".join(c["source"] for c in item["also_in"]),
            }
        )
    return out.getvalue()


def printable(text: str) -> str:
    """Text with control characters escaped (a tab as \\t), for a terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def trend_table(result: Trend, width: int = 100) -> str:
    """The points as a plain-text table: period, value, council, where; the sentence beneath."""
    count = len(result.points)
    lines = [f"{result.measure}: {count} point{'s' * (count != 1)}"]
    for point in result.points:
        also = f" (+{len(point.also_in)} more)" if point.also_in else ""
        lines.append(
            printable(
                f"{point.period:<16} {point.value_text:>10} {point.unit:<16} {point.council or '-'} — {where(point.citation)}{also}"
            )
        )
        lines.append("    " + printable(" ".join(point.citation.text.split()))[:width])
    return "\n".join(lines)


def where(quote) -> str:
    """Where a quote is: its report, meeting date, page and paragraph."""
    return ", ".join(
        x
        for x in (
            quote.title,
            quote.date,
            quote.page and f"page {quote.page}",
            quote.paragraph and f"para {quote.paragraph}",
        )
        if x
    )


OFFERED_HEADING = (
    "Sentences that name its words with a figure the reader did not take as a value of it (check them):"
)
SEARCHED_HEADING = (
    "Sentences with a figure in the passages a search for it finds, where the reports may name it otherwise"
    " (check them):"
)


def offered_text(result: Trend) -> str:
    """The sentences the trend offers beside its points, whole, each with where it is, under their
    headings; "" when none."""
    lines = []
    for heading, quotes in ((OFFERED_HEADING, result.offered), (SEARCHED_HEADING, result.searched)):
        if quotes:
            lines.append(heading)
        for quote in quotes:
            lines.append("  - " + printable(" ".join(quote.text.split())))
            lines.append("    " + printable(where(quote)))
    return "\n".join(lines)


def trend_chart(result: Trend):
    """A line chart of the points (Altair): one line per council, each point's sentence and source
    on hover; points in several units (a count and a rate per 10,000) in one panel per unit, each
    with its own scale, so that a rate of 45 is not drawn beside a count of 1,400."""
    import altair as alt

    rows = [
        {
            "period": point.period.split("/")[0] + ("-01" * (2 - point.period.split("/")[0].count("-"))),
            "label": point.period,
            "value": point.value,
            "value_text": point.value_text,
            "council": point.council or "Unknown",
            "unit": point.unit,
            "span": period_span(point.period),
            "quote": " ".join(point.citation.text.split())[:300],
            "source": f"{point.citation.title}, {point.citation.date or 'undated'}"
            + (f", page {point.citation.page}" if point.citation.page else "")
            + (f", para {point.citation.paragraph}" if point.citation.paragraph else ""),
        }
        for point in result.points
    ]
    units = sorted({point.unit for point in result.points})
    spans = {row["span"] for row in rows}
    # values over different lengths of time (a year's total, a quarter's) are drawn as lines of their own
    by_span = {"strokeDash": alt.StrokeDash("span:N", title="Each value counts")} if len(spans) > 1 else {}
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("period:T", title="Date the value refers to"),
            y=alt.Y("value:Q", title=result.measure if len(units) > 1 else f"{result.measure} ({units[0]})"),
            color=alt.Color("council:N", title="Council"),
            **by_span,
            tooltip=[
                alt.Tooltip("label:N", title="Period"),
                alt.Tooltip("value_text:N", title="Value"),
                alt.Tooltip("unit:N", title="Unit"),
                alt.Tooltip("quote:N", title="Quote"),
                alt.Tooltip("source:N", title="Source"),
            ],
        )
    )
    if len(units) > 1:
        return chart.facet(row=alt.Row("unit:N", title=None)).resolve_scale(y="independent")
    return chart


def period_span(period: str) -> str:
    """How long a time a point's value counts over: "12 months" for a year ("2016", "2016-04/2017-03"),
    "3 months" for a quarter, "a day or month" for a value at a date ("2024-12-31", "2024-12")."""
    if "/" not in period:
        return "12 months" if len(period) == 4 else "a day or month"
    first, last = (int(part[:4]) * 12 + int(part[5:7]) for part in period.split("/"))
    return f"{last - first + 1} months"


def trend_rows(result: Trend) -> list[dict]:
    """The table beneath the chart: one row per point with its citation."""
    return [
        {
            "Period": p.period,
            "Value": p.value_text,
            "Unit": p.unit,
            "Council": p.council,
            "Quote": " ".join(p.citation.text.split()),
            "Report": p.citation.title,
            "Meeting": p.citation.date,
            "Page": p.citation.page,
            "Paragraph": p.citation.paragraph,
            "Also in": len(p.also_in),
        }
        for p in result.points
    ]
