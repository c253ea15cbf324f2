"""Observe: scraping, the canonical metric catalog, collectors and imports.

Each module is imported on first use: the scraper and the Prometheus importer bring the
HTTP stack in, and the catalog its YAML data file.
"""

from typing import TYPE_CHECKING

from perfops._internal.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from perfops.telemetry.catalog import (
        DEFAULT_CATALOG_PATH,
        LABEL_RENAMES,
        Catalog,
        MetricInfo,
        Resolved,
        load_catalog,
        normalize_labels,
        parse_catalog,
    )
    from perfops.telemetry.history import LOOKBACK_MS, GapMarkers, LookbackTrim, RawChunks
    from perfops.telemetry.kpis import KpiRow, covered_seconds, increase, kpi_row
    from perfops.telemetry.promql import (
        RangeSeries,
        TooManySamples,
        auth_headers,
        chunk_bounds,
        parse_time,
        query_range,
        query_raw,
    )
    from perfops.telemetry.runner import CollectRunner, TargetHealth, TargetSpec
    from perfops.telemetry.selectors import METRIC_NAME, check_metric_name, is_selector
    from perfops.telemetry.series import STALE_NAN, Rows, Series, SeriesMapper, is_stale_marker

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "LABEL_RENAMES",
    "LOOKBACK_MS",
    "METRIC_NAME",
    "STALE_NAN",
    "Catalog",
    "CollectRunner",
    "GapMarkers",
    "KpiRow",
    "LookbackTrim",
    "MetricInfo",
    "RangeSeries",
    "RawChunks",
    "Resolved",
    "Rows",
    "Series",
    "SeriesMapper",
    "TargetHealth",
    "TargetSpec",
    "TooManySamples",
    "auth_headers",
    "check_metric_name",
    "chunk_bounds",
    "covered_seconds",
    "increase",
    "is_selector",
    "is_stale_marker",
    "kpi_row",
    "load_catalog",
    "normalize_labels",
    "parse_catalog",
    "parse_time",
    "query_range",
    "query_raw",
]

__getattr__ = lazy_exports(
    globals(),
    {
        "catalog": (
            "DEFAULT_CATALOG_PATH",
            "LABEL_RENAMES",
            "Catalog",
            "MetricInfo",
            "Resolved",
            "load_catalog",
            "normalize_labels",
            "parse_catalog",
        ),
        "history": ("LOOKBACK_MS", "GapMarkers", "LookbackTrim", "RawChunks"),
        "kpis": ("KpiRow", "covered_seconds", "increase", "kpi_row"),
        "promql": (
            "RangeSeries",
            "TooManySamples",
            "auth_headers",
            "chunk_bounds",
            "parse_time",
            "query_range",
            "query_raw",
        ),
        "selectors": ("METRIC_NAME", "check_metric_name", "is_selector"),
        "runner": ("CollectRunner", "TargetHealth", "TargetSpec"),
        "series": ("STALE_NAN", "Rows", "Series", "SeriesMapper", "is_stale_marker"),
    },
)
