"""The lake: Delta Lake tables under the workspace, queried with DuckDB over Arrow datasets.

This is the only package that imports ``deltalake`` and ``duckdb``.
"""

from perfops.store._writer import BatchWriter
from perfops.store.records import (
    EventRecord,
    Matcher,
    RunRecord,
    SeriesInfo,
    TableInfo,
    parse_matchers,
)
from perfops.store.schema import TABLES, TableSpec
from perfops.store.store import Store

__all__ = [
    "TABLES",
    "BatchWriter",
    "EventRecord",
    "Matcher",
    "RunRecord",
    "SeriesInfo",
    "Store",
    "TableInfo",
    "TableSpec",
    "parse_matchers",
]
