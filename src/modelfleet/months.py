"""Month arithmetic on 'YYYY-MM' strings (the unit of a retrain)."""

from __future__ import annotations

from datetime import date, datetime


def month_of(moment: date | datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def month_index(month: str, start: str) -> int:
    """Months from `start` to `month` (0 for the start month itself)."""
    (y1, m1), (y0, m0) = _split(month), _split(start)
    return (y1 - y0) * 12 + (m1 - m0)


def add_months(month: str, n: int) -> str:
    year, mon = _split(month)
    total = year * 12 + (mon - 1) + n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _split(month: str) -> tuple[int, int]:
    year, _, mon = month.partition("-")
    return int(year), int(mon)
