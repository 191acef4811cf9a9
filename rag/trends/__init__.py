"""Trends: every statement of one measure's value in the indexed reports, in date order, each cited.

Exhaustive, not top-k: the keyword index finds every passage that names the measure (by any of
its glossary names), and a rule-based reader takes from each sentence the numbers that state the
measure's value. Its cue words (what links a name to its value, what marks a change, a comparator,
a label or another thing counted) are data, in rag/data/trend_cues.toml; the measures' names come
from rag/data/glossary.toml. A number belongs to the nearest measure named before it in its
sentence (or right after it), so "Current Children in Need (CIN): 1015" is never a point of
children looked after. Each point keeps apart the date its value refers to (`period`) and its
report's meeting date.

The stages, one module each: `measures` (names and where a text names them), `figures` (numbers
and their units), `sentences` (a passage's sentences read), `tables` (a table of figures read),
`dashboards` (a performance dashboard's latest and previous figures read), `offered` (the
sentences offered beside the points: those that name the measure's words with a figure, and those
with a figure in the passages an ordinary search for it finds), `trend` (every passage read, points
merged), `output` (CSV, text, chart) and `questions` (the chat's trend questions and answers).
"""

from rag.trends.measures import Measure, find_measure
from rag.trends.output import trend_chart, trend_csv, trend_rows, trend_table
from rag.trends.questions import TrendQuestion, trend_answer, trend_question
from rag.trends.sentences import read_passage
from rag.trends.tables import read_table
from rag.trends.trend import Point, Trend, merge, trend

__all__ = [
    "Measure",
    "Point",
    "Trend",
    "TrendQuestion",
    "find_measure",
    "merge",
    "read_passage",
    "read_table",
    "trend",
    "trend_answer",
    "trend_chart",
    "trend_csv",
    "trend_question",
    "trend_rows",
    "trend_table",
]
