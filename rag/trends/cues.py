"""The cue words of trend_cues.toml, and the patterns made of them once per process."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache

from rag.data import data_file
from rag.text import phrases_pattern


@lru_cache(maxsize=1)
def cues() -> dict:
    return tomllib.loads(data_file("trend_cues.toml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def cue_patterns() -> dict[str, re.Pattern[str]]:
    value = cues()["value"]
    return {
        "link": re.compile(
            rf"(?i)(?:^|(?<=\W)|(?<=#)(?=[:=]))(?:{phrases_pattern(value['links'])})"
            rf"(?:\s+(?:{phrases_pattern(value['qualifiers'])}))*[\s:=(]*$"
        ),
        "loose_link": re.compile(
            rf"(?i)(?:^|(?<=\W)|(?<=#)(?=[:=]))(?:{phrases_pattern(value['loose_links'])})"
            rf"(?:\s+(?:{phrases_pattern(value['qualifiers'])}))*[\s:=(]*$"
        ),
        "verb_before": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(value['verbs_before'])})"
            rf"(?:\s+(?:{phrases_pattern(value['qualifiers'])}))*\s*$"
        ),
        "change": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['change_before'])})[\s(]*$"),
        "comparator": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['comparator_before'])})\W*$"),
        "label": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['label_before'])})[\s.]*$"),
        "other": re.compile(rf"(?i)^\s*(?:{phrases_pattern(value['other_after'])})(?![\w])"),
        "change_end": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(value['change_verbs'])})\s+(?:\w+\s+){{0,2}}?"
            r"from\s+[£€$]?\d[\d,.]*\s*%?\s+to\s+$"
        ),
        "after_a_preposition": re.compile(  # "in the smoking population": what a share is of
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['name']['prepositions'] + ['against', 'among', 'across', 'within'])})"
            r"\s+(?:(?:the|its|our|their|all)\s+)?(?-i:[a-z]+\s+)?$"
        ),
        "duration": re.compile(rf"(?i)^\s*(?:{phrases_pattern(value['durations'])})(?![\w-])"),
        "time_name": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['time_names'])})(?![\w-])"),
        "counted": re.compile(
            rf"(?i)\s+(?:{phrases_pattern(value['counted'])})\s+(?:{phrases_pattern(value['counted_joins'])})"
            r"\s+(?:(?:an?|the|their)\s+)?"
        ),
        "modifiers": re.compile(
            rf"[\s“”\"‘’]*(?:(?!(?i:{phrases_pattern(value['not_modifiers'] + cues()['name']['prepositions'])})(?![\w-]))"
            rf"[A-Za-z][\w'’-]*[\s“”\"‘’]+){{0,2}}"
        ),
        "passive": re.compile(  # between a count and the participle of a name's action
            r"\s+(?:[A-Za-z][\w'’-]*\s+){1,2}(?:were|was|are|is|have been|has been|had been)\s+(?:[a-z]+ly\s+)?",
            re.IGNORECASE,
        ),
        "thing": re.compile(rf"(?i)(?:['’]s\b)?[\s”’\"')]*(?:{phrases_pattern(value['other_things'])})\b"),
        "carries": re.compile(rf"(?i)\W*(?:{phrases_pattern(value['carries_on'])})\b"),
        "elsewhere": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['elsewhere'])})(?![\w-])"),
        "current": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['period']['current'])})(?![\w-])"),
        "forecast": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['period']['forecast'])})(?![\w-])"
        ),
        "forecast_column": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['period']['forecast_columns'])})(?![\w-])"
        ),
        "this_quarter": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['period']['this_quarter'])})(?![\w-]|\s*\d)"  # not "in Quarter 3"
        ),
        "caption": re.compile(rf"(?i)^(?:{phrases_pattern(cues()['name']['caption_starts'])})(?![\w-])"),
        "present": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['period']['present'])})(?![\w-])"),
        "group": re.compile(
            rf"(?i)(?<![\w])(?:{phrases_pattern(cues()['subgroup']['phrases'])})(?![\w])|{_AGE}"
        ),
        "denominator": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['subgroup']['denominator_before'])})\s*$"
        ),
        "excluded": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['subgroup']['excluded_before'])})[\s-]*$"
        ),
        "share": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['kind']['share_words'])})(?![\w-])"),
        "previous_before": re.compile(
            rf"(?i)(?<![\w-])(?P<previous>{phrases_pattern(cues()['period']['previous'])})"
            r"(?:\s*[(:]|,?\s+when\s+[^.;:(),\d]{0,60}?\b(?:was|were|stood at|numbered|totalled))\s*$"
        ),  # "previous Quarter (1,095)", "the previous quarter, when the average caseload was 20"
        "previous_after": re.compile(
            r"(?i)[\s,)]*(?:(?:at|by|in|during|for|over|from)\s+)?(?:the\s+)?(?:end\s+of\s+(?:the\s+)?)?"
            rf"(?P<previous>{phrases_pattern(cues()['period']['previous'])})(?![\w-])"
        ),
        "approximate": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['value']['approximate'])})\s+$"
        ),
    }


_AGE = r"\d+\s?\+|\b\d+\s?(?:-|–|to)\s?\d+\s?year|\bin the \d{1,2}\s?[-–]\s?\d{1,2}\b"
"""An age group: "65+", "16-24 year olds", "in the 18-24 and 25-34 year old groups"."""
