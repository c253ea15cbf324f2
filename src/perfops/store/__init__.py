"""The lake: Delta Lake tables under the workspace, queried with DuckDB over Arrow datasets.

This is the only package that imports ``deltalake`` and ``duckdb``, and the only one that
speaks SQL: a :class:`Store` answers typed queries of its time series
(``store.timeseries``, a :class:`TimeSeries`) and of its journals (``store.journal``, a
:class:`Journal`: runs, events, requests, costs).
"""

from perfops.store._repair import TableRepair
from perfops.store._writer import BatchWriter
from perfops.store.journal import Journal
from perfops.store.records import (
    EventRecord,
    Matcher,
    MetricStats,
    RunRecord,
    SeriesInfo,
    TableInfo,
    parse_matchers,
)
from perfops.store.request_log import LoggedRequest, RequestLog
from perfops.store.schema import TABLES, TableSpec
from perfops.store.store import Store
from perfops.store.timeseries import Matchers, TimeSeries, window_range

__all__ = [
    "TABLES",
    "BatchWriter",
    "EventRecord",
    "Journal",
    "LoggedRequest",
    "Matcher",
    "Matchers",
    "MetricStats",
    "RequestLog",
    "RunRecord",
    "SeriesInfo",
    "Store",
    "TableInfo",
    "TableRepair",
    "TableSpec",
    "TimeSeries",
    "parse_matchers",
    "window_range",
]
