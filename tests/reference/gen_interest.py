#!/usr/bin/env python3
"""Generate tests/reference/interest.csv, the reference table for `amtspost interest`.

An *independent* implementation of § 49a Abs. 3 VwVfG NRW interest, written
without looking at (and never importing) the Rust code:

* the Basiszinssatz (§ 247 BGB) is typed in below from the published list
  (Bundesanzeiger notices as quoted by the sources named in
  workflows/data/basiszinssatz.json), and only *cross-checked* against that
  JSON file, so a slip in either one fails generation;
* days are plain ``datetime.date`` subtraction, first and last day counted;
* money and rates are Python ``decimal.Decimal`` (50 digits), never floats;
* each period (a stretch within one half-year: 1 January-30 June, 1 July-
  31 December) earns amount × (Basiszinssatz + points) × days / 36 500,
  rounded ROUND_HALF_UP to the cent; a negative rate earns 0.00; the total
  is the sum of the rounded periods;
* a case with from > to, from before 2002-01-01 or to after the last
  half-year of the table expects an error ("ERROR").

Columns: amount, from, to, points, total, periods. ``periods`` is
``from|to|rate|days|amount`` joined by ``;`` (rate with at least two
decimals, as `--json` prints it). Reproducible: fixed seed, no installed
packages beyond the standard library (Python 3.11):
    python3 tests/reference/gen_interest.py
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sys
from decimal import ROUND_HALF_UP, Decimal, getcontext
from pathlib import Path

getcontext().prec = 50

HERE = Path(__file__).resolve().parent
OUT = HERE / "interest.csv"
TABLE_JSON = HERE.parent.parent / "workflows" / "data" / "basiszinssatz.json"

# (year, half) -> Basiszinssatz in percent; half 1 from 1 January, 2 from 1 July.
RATES_BY_HALF = {
    (2002, 1): "2.57", (2002, 2): "2.47", (2003, 1): "1.97", (2003, 2): "1.22",
    (2004, 1): "1.14", (2004, 2): "1.13", (2005, 1): "1.21", (2005, 2): "1.17",
    (2006, 1): "1.37", (2006, 2): "1.95", (2007, 1): "2.70", (2007, 2): "3.19",
    (2008, 1): "3.32", (2008, 2): "3.19", (2009, 1): "1.62", (2009, 2): "0.12",
    (2010, 1): "0.12", (2010, 2): "0.12", (2011, 1): "0.12", (2011, 2): "0.37",
    (2012, 1): "0.12", (2012, 2): "0.12", (2013, 1): "-0.13", (2013, 2): "-0.38",
    (2014, 1): "-0.63", (2014, 2): "-0.73", (2015, 1): "-0.83", (2015, 2): "-0.83",
    (2016, 1): "-0.83",
    # -0.88 from 1 July 2016 to 31 December 2022
    **{(y, h): "-0.88" for y in range(2016, 2023) for h in (1, 2) if (y, h) != (2016, 1)},
    (2023, 1): "1.62", (2023, 2): "3.12", (2024, 1): "3.62", (2024, 2): "3.37",
    (2025, 1): "2.27", (2025, 2): "1.27", (2026, 1): "1.27", (2026, 2): "1.52",
}
FIRST = dt.date(2002, 1, 1)
LAST = dt.date(2026, 12, 31)
CENT = Decimal("0.01")


def cross_check() -> None:
    data = json.loads(TABLE_JSON.read_text(encoding="utf-8"))
    theirs = {e["gueltig_ab"]: e["satz"] for e in data["eintraege"]}
    ours = {
        f"{y}-{'01' if h == 1 else '07'}-01": r for (y, h), r in RATES_BY_HALF.items()
    }
    if theirs != ours:
        diff = sorted(set(theirs.items()) ^ set(ours.items()))
        sys.exit(f"basiszinssatz.json and this script disagree: {diff}")


def half_of(d: dt.date) -> tuple[int, int]:
    return (d.year, 1 if d.month <= 6 else 2)


def half_end(d: dt.date) -> dt.date:
    return dt.date(d.year, 6, 30) if d.month <= 6 else dt.date(d.year, 12, 31)


def fmt_rate(r: Decimal) -> str:
    r = r.normalize()
    if -r.as_tuple().exponent < 2:
        r = r.quantize(CENT)
    return format(r, "f")


def compute(amount: str, start: dt.date, end: dt.date, points: str):
    if start > end or start < FIRST or end > LAST:
        return None
    a = Decimal(amount)
    p = Decimal(points)
    periods = []
    total = Decimal("0.00")
    day = start
    while day <= end:
        stop = min(half_end(day), end)
        days = (stop - day).days + 1
        rate = Decimal(RATES_BY_HALF[half_of(day)]) + p
        if rate < 0:
            money = Decimal("0.00")
        else:
            money = (a * rate * days / Decimal(36500)).quantize(CENT, rounding=ROUND_HALF_UP)
        total += money
        periods.append(f"{day.isoformat()}|{stop.isoformat()}|{fmt_rate(rate)}|{days}|{money}")
        day = stop + dt.timedelta(days=1)
    return format(total.quantize(CENT), "f"), ";".join(periods)


def cases() -> list[tuple[str, str, str, str]]:
    fixed = [
        # the check: 474.40
        ("10000.00", "2013-01-01", "2013-12-31", "5"),
        # one day, and the days around each change
        ("10000.00", "2013-01-01", "2013-01-01", "5"),
        ("10000.00", "2013-06-30", "2013-07-01", "5"),
        ("10000.00", "2012-12-31", "2013-01-01", "5"),
        ("10000.00", "2016-06-30", "2016-07-01", "5"),
        # inside one half-year
        ("118450.00", "2013-02-01", "2013-03-15", "5"),
        # the negative years 2013-2016 in one run, and each year
        ("104410.00", "2013-01-01", "2016-12-31", "5"),
        ("50000.00", "2014-01-01", "2014-12-31", "5"),
        ("50000.00", "2015-01-01", "2015-12-31", "5"),
        ("50000.00", "2016-01-01", "2016-12-31", "5"),
        # leap years (366 days over 365)
        ("36500.00", "2020-01-01", "2020-12-31", "5"),
        ("36500.00", "2024-02-28", "2024-03-01", "5"),
        # other points: § 288 Abs. 2 BGB style 9, fractional, zero (negative rate -> 0.00)
        ("25000.00", "2012-05-15", "2013-08-20", "9"),
        ("25000.00", "2013-05-15", "2014-02-20", "2.5"),
        ("36500.00", "2012-12-30", "2013-01-03", "0"),
        ("7777.77", "2008-03-03", "2010-10-10", "5.5"),
        # exact half cent: 36.50 × 5.00 % / 365 = 0.005
        ("36.50", "2014-01-01", "2014-01-01", "5.63"),
        # the ends of the table
        ("1000.00", "2002-01-01", "2002-01-31", "5"),
        ("1000.00", "2025-12-01", "2026-12-31", "5"),
        # a long run across all changes
        ("999999.99", "2002-01-01", "2026-12-31", "5"),
        # small amounts
        ("0.01", "2013-01-01", "2013-12-31", "5"),
        ("1.00", "2023-03-15", "2023-09-15", "5"),
        # refused
        ("1000.00", "2013-02-01", "2013-01-31", "5"),
        ("1000.00", "2001-12-31", "2002-01-02", "5"),
        ("1000.00", "2026-12-31", "2027-01-01", "5"),
    ]
    rng = random.Random(4949)
    span = (LAST - FIRST).days
    randoms = []
    for _ in range(40):
        a = rng.randrange(1, 100_000_000)  # cents
        amount = f"{a // 100}.{a % 100:02d}"
        start = FIRST + dt.timedelta(days=rng.randrange(span + 1))
        end = start + dt.timedelta(days=rng.randrange(0, 1200))
        if end > LAST:
            end = LAST
        points = rng.choice(["5", "5", "5", "9", "3.5"])
        randoms.append((amount, start.isoformat(), end.isoformat(), points))
    return fixed + randoms


def main() -> None:
    cross_check()
    rows = []
    for amount, start, end, points in cases():
        r = compute(amount, dt.date.fromisoformat(start), dt.date.fromisoformat(end), points)
        total, periods = r if r else ("ERROR", "")
        rows.append([amount, start, end, points, total, periods])
    with OUT.open("w", newline="", encoding="utf-8") as f:
        f.write("# generated by tests/reference/gen_interest.py; do not edit\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["amount", "from", "to", "points", "total", "periods"])
        w.writerows(rows)
    print(f"{len(rows)} cases -> {OUT}")


if __name__ == "__main__":
    main()
