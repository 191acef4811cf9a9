"""Point precision and recall of `rag trend` per corpus, against benchmarks/trend_points.jsonl,
whose expected points (value, period, source) were read from the indexed passages by hand.

    python benchmarks/trends.py [--only CORPUS]

A found point is right when an expected point of its measure has its value and period and names
its report (the cited source or one in also_in; the expected source is part of the file name).
Each case is `dev` (the rules were tuned on it) or `heldout` (never tuned on: its missed and extra
points are printed only with --show-heldout, since reading them spends the case); an expected point
with `in_table` is a cell of a table of figures, which the rule-based reader does not read, so
recall is given over every expected point and over those stated in sentences.
A table's column of years is read as those years; where the report states the day elsewhere
("at 31 March", four passages on), the key has the day, and the last column counts such a point
as right (precision and recall both).
"Or offered": an expected point the trend found, or whose value is a number of a sentence it
offers beside its points (rag/trends/offered.py) from the expected report (a table's cell in
thousands or millions counted at its scale): "or offered" counts the sentences that name the
measure's words, "or searched" those and the sentences a search for the measure finds.
Each line also prints the time `trend` took (median of 3 runs, after one warm-up)."""

from __future__ import annotations

import argparse
import calendar
import json
import statistics
import sys
import time
from pathlib import Path

from rag.index.folder import read_manifest
from rag.index.store import Index
from rag.text import AMOUNT
from rag.trends import trend
from rag.trends.figures import amount

DEV_SET = Path(__file__).with_name("trend_points.jsonl")


def matches(found, expected: dict, by_year: bool = False) -> bool:
    """The found point is the expected one; `by_year`: or its period is the year of the expected
    day (a table's column "2009" for a value counted on 31 March 2009, the day being stated
    elsewhere in the report)."""
    sources = [found.citation.source, *(c.source for c in found.also_in)]
    period_right = _same_period(found.period, expected["period"]) or (
        by_year and len(found.period) == 4 and expected["period"][:4] == found.period
    )
    return (
        abs(found.value - expected["value"]) < 1e-6
        and period_right
        and any(expected["source"] in Path(s).name for s in sources)
    )


def offered_value(quotes, expected: dict) -> bool:
    """Whether one of these sentences the trend offers, from the expected report, writes the expected value."""
    for quote in quotes:
        if expected["source"] not in Path(quote.source).name:
            continue
        for match in AMOUNT.finditer(quote.text):
            value = amount(match)[0]
            if any(
                abs(value * scale - expected["value"]) < 1e-6 * max(1.0, expected["value"])
                for scale in (1, 1e3, 1e6)
            ):
                return True
    return False


def _same_period(found: str, expected: str) -> bool:
    """The same period, a month and its last day counted as one ("at the end of December 2024" is
    written 2024-12 by the reader, 2024-12-31 by some keys)."""
    if found == expected:
        return True
    month, day = sorted((found, expected), key=len)
    if len(month) != 7 or len(day) != 10 or not day.startswith(month + "-"):
        return False
    year, number = map(int, month.split("-"))
    return int(day[8:]) == calendar.monthrange(year, number)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="one corpus of the dev set (sample, wsx, kent)")
    parser.add_argument("--cases", type=Path, default=DEV_SET, help=f"the cases (default {DEV_SET.name})")
    parser.add_argument(
        "--show-heldout",
        action="store_true",
        help="also print a held-out case's missed and extra points (reading them spends the case)",
    )
    args = parser.parse_args()
    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    totals: dict[str, list[int]] = {}
    for case in cases:
        if args.only and case["corpus"] != args.only:
            continue
        index_dir = Path(case["index"])
        manifest = read_manifest(index_dir)
        if manifest is None:
            print(f"{case['corpus']:<7} {case['measure']:<28} skipped: no index at {index_dir}")
            continue
        index = Index(index_dir, manifest)
        trend(index, case["measure"])  # warm-up: compiles the cue patterns
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            result = trend(index, case["measure"])
            runs.append((time.perf_counter() - started) * 1000)
        right = sum(any(matches(p, e) for e in case["points"]) for p in result.points)
        right_by_year = sum(any(matches(p, e, True) for e in case["points"]) for p in result.points)
        recalled_by_year = sum(any(matches(p, e, True) for p in result.points) for e in case["points"])
        recalled = sum(any(matches(p, e) for p in result.points) for e in case["points"])
        or_offered = sum(
            any(matches(p, e) for p in result.points) or offered_value(result.offered, e)
            for e in case["points"]
        )
        or_searched = sum(
            any(matches(p, e) for p in result.points) or offered_value(result.offered + result.searched, e)
            for e in case["points"]
        )
        in_text = [e for e in case["points"] if not e.get("in_table")]
        recalled_text = sum(any(matches(p, e) for p in result.points) for e in in_text)
        found, expected = len(result.points), len(case["points"])
        split = case.get("split", "dev")
        total = totals.setdefault(f"{case['corpus']} {split}", [0] * 10)
        counts = (
            right,
            found,
            recalled,
            expected,
            recalled_text,
            len(in_text),
            right_by_year,
            recalled_by_year,
            or_offered,
            or_searched,
        )
        for i, n in enumerate(counts):
            total[i] += n
        print(
            f"{case['corpus']:<5} {split:<7} {case['measure']:<24} precision {right}/{found}"
            f"  recall {recalled}/{expected} (in sentences {recalled_text}/{len(in_text)})"
            f"  or offered {or_offered}/{expected}  or searched {or_searched}/{expected}"
            f"  {statistics.median(runs):7.1f} ms  ({index.info()['chunks']} passages)"
        )
        if split == "heldout" and not args.show_heldout:
            index.close()
            continue  # a held-out case's key stays unread: its misses and extras are not printed
        for expected_point in case["points"]:
            if not any(matches(p, expected_point) for p in result.points):
                table = " (table)" if expected_point.get("in_table") else ""
                print(f"        missed: {expected_point['value']} {expected_point['period']}{table}")
        for point in result.points:
            if not any(matches(point, e) for e in case["points"]):
                print(
                    f"        extra: {point.value_text} {point.period} {' '.join(point.citation.text.split())[:110]}"
                )
        index.close()
    for name, (
        right,
        found,
        recalled,
        expected,
        recalled_text,
        in_text,
        by_year,
        recalled_year,
        or_offered,
        or_searched,
    ) in totals.items():
        print(
            f"{name:<13} ALL  precision {right / found if found else 0:.2f} ({right}/{found})"
            f"  recall {recalled / expected if expected else 0:.2f} ({recalled}/{expected})"
            f"  in sentences {recalled_text / in_text if in_text else 0:.2f} ({recalled_text}/{in_text})"
            f"  with a year for its day: precision {by_year / found if found else 0:.2f} ({by_year}/{found})"
            f" recall {recalled_year / expected if expected else 0:.2f} ({recalled_year}/{expected})"
            f"  or offered {or_offered / expected if expected else 0:.2f} ({or_offered}/{expected})"
            f"  or searched {or_searched / expected if expected else 0:.2f} ({or_searched}/{expected})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
