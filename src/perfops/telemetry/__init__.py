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
    from perfops.telemetry.kpis import KpiRow, covered_seconds, increase, kpi_row
    from perfops.telemetry.promql import (
        RangeSeries,
        auth_headers,
        chunk_bounds,
        parse_time,
        query_range,
    )
    from perfops.telemetry.runner import CollectRunner, TargetHealth, TargetSpec
    from perfops.telemetry.series import STALE_NAN, Rows, Series, SeriesMapper, is_stale_marker

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "LABEL_RENAMES",
    "STALE_NAN",
    "Catalog",
    "CollectRunner",
    "KpiRow",
    "MetricInfo",
    "RangeSeries",
    "Resolved",
    "Rows",
    "Series",
    "SeriesMapper",
    "TargetHealth",
    "TargetSpec",
    "auth_headers",
    "chunk_bounds",
    "covered_seconds",
    "increase",
    "is_stale_marker",
    "kpi_row",
    "load_catalog",
    "normalize_labels",
    "parse_catalog",
    "parse_time",
    "query_range",
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
        "kpis": ("KpiRow", "covered_seconds", "increase", "kpi_row"),
        "promql": ("RangeSeries", "auth_headers", "chunk_bounds", "parse_time", "query_range"),
        "runner": ("CollectRunner", "TargetHealth", "TargetSpec"),
        "series": ("STALE_NAN", "Rows", "Series", "SeriesMapper", "is_stale_marker"),
    },
)
