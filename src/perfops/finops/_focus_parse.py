"""Reading a FOCUS bill's file and parsing its columns, with every problem located.

The private half of :func:`~perfops.finops.bill.read_focus_bill`: load a CSV or Parquet file,
turn each column into its FOCUS type (decimals, UTC timestamps, integers, strings) and collect
the problems (file, line or row, column, fix) instead of stopping at the first.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from perfops._internal import strict_json
from perfops.errors import ConfigError, Problem, UsageError
from perfops.finops._focus_columns import quantize
from perfops.finops.usage import MAX_PERIOD_DAYS, YEARS

__all__ = [
    "BillProblems",
    "check_currency",
    "check_not_null",
    "check_periods",
    "load_table",
    "parse_column",
]

_MAX_PROBLEMS = 20


class BillProblems:
    """Problems found in one bill, capped so a broken million-row file stays readable."""

    def __init__(self, path: Path, csv_lines: bool) -> None:
        self.path = path
        self.csv_lines = csv_lines
        self.items: list[Problem] = []
        self.dropped = 0
        self.bad: set[tuple[int, str]] = set()  # (row, column) of values that did not parse

    def where(self, row: int) -> str:
        """``row`` is 0-based over the data rows; CSV line = row + 2 (the header is line 1)."""
        if self.csv_lines:
            return f"{self.path}:{row + 2}"
        return f"{self.path} row {row + 1}"

    def add(self, location: str, column: str, message: str, hint: str | None) -> None:
        if len(self.items) < _MAX_PROBLEMS:
            self.items.append(Problem(location, column, message, hint))
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = list(self.items)
        if self.dropped:
            items.append(Problem(str(self.path), "", f"... and {self.dropped} more problems"))
        raise ConfigError(items, source=str(self.path))


def load_table(source: Path) -> pa.Table:
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(
            f"{source}: cannot read a bill from a {source.suffix or 'suffix-less'} file",
            hint="give a FOCUS export named *.csv or *.parquet",
        )
    if not source.is_file():
        raise UsageError(f"{source}: no such file", hint="check the path to the FOCUS bill")
    try:
        if suffix == ".parquet":
            return pq.read_table(source)
        with source.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
        options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=["", "NULL", "null"],
            strings_can_be_null=True,
        )
        return pacsv.read_csv(source, convert_options=options)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, csv.Error) as exc:
        kind = "Parquet" if suffix == ".parquet" else "CSV"
        raise ConfigError(
            [Problem(str(source), "", f"cannot be read as {kind}: {exc}", _FIX_FILE)],
            source=str(source),
        ) from None


_FIX_FILE = "re-export the bill; perfops reads UTF-8 CSV with a header row, or Parquet"


def parse_column(
    name: str, column: pa.ChunkedArray, kind: pa.DataType, problems: BillProblems
) -> pa.Array:
    if pa.types.is_string(kind):
        return _text(column)
    parse: Callable[[object], object]
    if pa.types.is_decimal(kind):
        parse, what = (lambda v: _decimal(v, kind)), "a decimal number"
        hint = "write plain numbers such as 12.34, without currency symbols or separators"
    elif pa.types.is_timestamp(kind):
        parse, what = _timestamp, "a date-time"
        hint = "write ISO 8601 in UTC, such as 2026-01-31T00:00:00Z"
    elif pa.types.is_integer(kind):
        parse, what, hint = _integer, "a whole number", "write whole numbers such as 1200"
    else:
        parse, what, hint = _float, "a number", "write numbers such as 3600.5"
    values: list[object] = []
    for row, value in enumerate(column.to_pylist()):
        try:
            values.append(None if _blank(value) else parse(value))
        except _OutOfRange as exc:
            problems.add(problems.where(row), name, str(exc), _FIX_YEAR)
            problems.bad.add((row, name))
            values.append(None)
        except (ValueError, ArithmeticError, TypeError):
            problems.add(problems.where(row), name, f"{value!r} is not {what}", hint)
            problems.bad.add((row, name))
            values.append(None)
    return pa.array(values, type=kind)


def _text(column: pa.ChunkedArray) -> pa.Array:
    """A column as strings; maps, lists and structs (Tags in some Parquet exports) as JSON."""
    try:
        return pc.cast(column, pa.string()).combine_chunks()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        pairs = pa.types.is_map(column.type)
        values = [
            None if v is None else strict_json.dumps(dict(v) if pairs else v)
            for v in column.to_pylist()
        ]
        return pa.array(values, pa.string())


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _decimal(value: object, kind: pa.DataType) -> Decimal:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    if not number.is_finite():
        raise ValueError(value)
    return quantize(number, kind)


class _OutOfRange(ValueError):
    """A value that parses but is out of range: the message says which range."""


_FIX_YEAR = "a charge that far off is a broken export; fix the date, or drop the row"


def _timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value).strip())
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise _OutOfRange(f"{value!r} is outside the years {YEARS[0]} to {YEARS[1]}")
    return moment


def _integer(value: object) -> int:
    if isinstance(value, int):
        return value
    number = Decimal(str(value).strip())
    if number != number.to_integral_value():
        raise ValueError(value)
    return int(number)


def _float(value: object) -> float:
    if isinstance(value, int | float | Decimal):
        return float(value)
    return float(str(value).strip())


def check_not_null(table: pa.Table, columns: Sequence[str], problems: BillProblems) -> None:
    for name in columns:
        column = table.column(name)
        if column.null_count == 0:
            continue
        for row in pc.indices_nonzero(pc.is_null(column)).to_pylist():
            if (row, name) in problems.bad:
                continue
            problems.add(problems.where(row), name, "is empty", f"every FOCUS charge has a {name}")


def check_periods(table: pa.Table, problems: BillProblems) -> None:
    """Each charge ends no earlier than it starts, and the bill spans at most a year (perfops
    attributes its period hour by hour to reconcile it)."""
    starts = table.column("ChargePeriodStart").to_pylist()
    ends = table.column("ChargePeriodEnd").to_pylist()
    for row, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if start is not None and end is not None and end < start:
            problems.add(
                problems.where(row),
                "ChargePeriodEnd",
                f"{end.isoformat()} is before ChargePeriodStart {start.isoformat()}",
                "a charge period ends after it starts",
            )
    known = [(s, e, row) for row, (s, e) in enumerate(zip(starts, ends, strict=True)) if s and e]
    if not known:
        return
    first = min(known, key=lambda k: k[0])
    last = max(known, key=lambda k: k[1])
    days = (last[1] - first[0]).total_seconds() / 86400
    if days > MAX_PERIOD_DAYS:
        problems.add(
            problems.where(first[2]),
            "ChargePeriodStart",
            f"the bill spans {days:,.0f} days, from {first[0].isoformat()} (here) to "
            f"{last[1].isoformat()} ({problems.where(last[2])})",
            f"reconcile at most {MAX_PERIOD_DAYS} days at a time: export the bill by month or year",
        )


def check_currency(table: pa.Table, expected: str | None, problems: BillProblems) -> None:
    """One problem per unexpected currency, at its first row, with how many rows carry it."""
    rows: dict[str, list[int]] = {}
    for row, currency in enumerate(table.column("BillingCurrency").to_pylist()):
        if currency is not None:
            rows.setdefault(currency, []).append(row)
    want = expected or next(iter(rows), None)
    for currency, where in rows.items():
        if currency == want:
            continue
        if expected:
            hint = (
                f"perfops prices in {expected} (pricing.currency): export the bill in "
                f"{expected}, or set pricing.currency: {currency} in perfops.yaml if that is "
                "what you pay in"
            )
        else:
            hint = "split the bill by BillingCurrency and reconcile each part on its own"
        count = f"{len(where)} row{'s' if len(where) > 1 else ''}"
        problems.add(
            problems.where(where[0]),
            "BillingCurrency",
            f"{currency} where {want} was expected ({count}, this is the first)",
            hint,
        )
