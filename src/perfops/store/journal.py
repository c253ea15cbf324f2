"""The lake's journals: runs (load tests, sweeps, experiments, drills, collections), events
(faults, alerts, annotations), load-test request records and cost rows.

Runs are written again with the same id as they progress; readers see each run's newest
state. Requests, events and costs are appended; costs of a period can be replaced whole.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from perfops._internal import strict_json
from perfops._internal.clock import Clock
from perfops._internal.ids import new_id
from perfops.errors import StoreError
from perfops.store._delta import DeltaHandle
from perfops.store._sql import LakeSql
from perfops.store.records import EventRecord, RunRecord
from perfops.store.request_log import LOG_COLUMNS, RequestLog
from perfops.store.schema import REQUESTS

__all__ = ["Journal"]

_TARGET_REQUESTS = (
    "SELECT {columns} FROM requests WHERE target = ? AND scheduled_ns >= ? AND scheduled_ns < ? "
    "ORDER BY scheduled_ns"
)
_EVENTS = (
    "SELECT * FROM events WHERE ts_ns >= coalesce(?, ts_ns) AND ts_ns < coalesce(?, ts_ns + 1) "
    "AND (? IS NULL OR kind = ?) AND (? IS NULL OR service = ?) ORDER BY ts_ns"
)


def _inline(query: str, params: Sequence[str | int | None]) -> str:
    """``query`` with its ``?`` parameters written in as SQL literals."""

    def literal(value: str | int | None) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, int):
            return str(value)
        return "'" + value.replace("'", "''") + "'"

    parts = query.split("?")
    return "".join(p + v for p, v in zip(parts, [*map(literal, params), ""], strict=True))


class Journal:
    """The lake's runs, events, requests and costs (``store.journal``)."""

    def __init__(
        self, tables: Mapping[str, DeltaHandle], sql: LakeSql, clock: Clock, root: Path
    ) -> None:
        self._tables = tables
        self._sql = sql
        self.clock = clock
        self._root = root

    # -- runs -------------------------------------------------------------------------------------

    def write_run(self, run: RunRecord) -> None:
        self._tables["runs"].append(
            pa.table(
                {
                    "run_id": [run.run_id],
                    "kind": [run.kind],
                    "started_ns": [run.started_ns],
                    "ended_ns": pa.array([run.ended_ns], pa.int64()),
                    "status": [run.status],
                    "spec": [strict_json.dumps(run.spec)],
                    "summary": [strict_json.dumps(run.summary)],
                    "updated_ns": [self.clock.now_ns()],
                }
            )
        )

    def runs(self, kind: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Newest state of each run, newest run first."""
        table = self._sql.run(
            "SELECT * FROM runs WHERE (? IS NULL OR kind = ?) QUALIFY row_number() OVER "
            "(PARTITION BY run_id ORDER BY updated_ns DESC) = 1 ORDER BY started_ns DESC"
            + (f" LIMIT {int(limit)}" if limit else ""),
            [kind, kind],
        )
        return [
            RunRecord(
                r["run_id"],
                r["kind"],
                r["started_ns"],
                r["status"],
                r["ended_ns"],
                json.loads(r["spec"] or "{}"),
                json.loads(r["summary"] or "{}"),
            )
            for r in table.to_pylist()
        ]

    def run(self, run_id: str) -> RunRecord:
        for record in self.runs():
            if record.run_id == run_id:
                return record
        raise StoreError(
            f"no run {run_id!r} in {self._root}",
            hint="`perfops store info` lists what the lake holds",
        )

    # -- events -----------------------------------------------------------------------------------

    def append_events(self, events: Sequence[EventRecord]) -> None:
        if not events:
            return
        self._tables["events"].append(
            pa.table(
                {
                    "event_id": [e.event_id or new_id(e.ts_ns, "ev") for e in events],
                    "ts_ns": pa.array([e.ts_ns for e in events], pa.int64()),
                    "kind": [e.kind for e in events],
                    "service": [e.service for e in events],
                    "severity": [e.severity for e in events],
                    "title": [e.title for e in events],
                    "run_id": [e.run_id for e in events],
                    "data": [strict_json.dumps(e.data) for e in events],
                }
            )
        )

    @contextmanager
    def events_lock(self) -> Iterator[None]:
        """Hold the lake's events lock (``flock`` on ``LAKE/.events.lock``, exclusive across
        processes and threads, released by the OS if the process dies) around a read, check
        and append, so that writers deciding from what ``events`` holds (the incident
        lifecycle, the Alertmanager receiver's deduplication) see each other's rows. Plain
        appends never take it; do not take it twice in one thread."""
        fd = os.open(self._root / ".events.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def events(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        kind: str | None = None,
        service: str | None = None,
    ) -> list[EventRecord]:
        table = self._sql.run(_EVENTS, [start_ns, end_ns, kind, kind, service, service])
        return [
            EventRecord(
                r["ts_ns"],
                r["kind"],
                r["title"],
                r["service"],
                r["severity"],
                r["run_id"],
                json.loads(r["data"] or "{}"),
                r["event_id"],
            )
            for r in table.to_pylist()
        ]

    def events_sql(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        kind: str | None = None,
        service: str | None = None,
    ) -> str:
        """The statement :meth:`events` runs for these arguments, values written in."""
        return _inline(_EVENTS, [start_ns, end_ns, kind, kind, service, service])

    # -- requests ---------------------------------------------------------------------------------

    def append_requests(self, table: pa.Table) -> None:
        self._tables["requests"].append(table)

    def requests(self, run_id: str) -> pa.Table:
        """Every request record of run ``run_id``, in scheduled order."""
        return self._sql.run(
            "SELECT * FROM requests WHERE run_id = ? ORDER BY scheduled_ns", [run_id]
        )

    def target_requests(
        self, target: str, start_ns: int, end_ns: int, columns: Sequence[str]
    ) -> pa.Table:
        """``columns`` of the request records sent to ``target`` (an endpoint URL) scheduled in
        ``[start_ns, end_ns)``, by every run, in scheduled order."""
        unknown = [c for c in columns if c not in REQUESTS.schema.names]
        if unknown or not columns:
            raise StoreError(
                f"requests has no column(s) {unknown}" if unknown else "no columns asked for",
                hint=f"columns are {REQUESTS.schema.names}",
            )
        return self._sql.run(_TARGET_REQUESTS.format(columns=", ".join(columns)),
                             [target, start_ns, end_ns])  # fmt: skip

    def request_log_sql(self, target: str, start_ns: int, end_ns: int) -> str:
        """The statement :meth:`request_log` runs for these arguments, values written in, to
        show (a postmortem's footnote) or to run again by hand."""
        return _inline(
            _TARGET_REQUESTS.format(columns=", ".join(LOG_COLUMNS)), [target, start_ns, end_ns]
        )

    def request_log(self, target: str, start_ns: int, end_ns: int) -> RequestLog:
        """The requests sent to ``target`` scheduled in ``[start_ns, end_ns)``, by every run,
        as the one typed log the SLIs, chaos and cost read."""
        return RequestLog.of(self.target_requests(target, start_ns, end_ns, LOG_COLUMNS))

    # -- costs ------------------------------------------------------------------------------------

    def append_costs(self, table: pa.Table) -> None:
        self._tables["costs"].append(table)

    def replace_costs(self, table: pa.Table, start_ms: int, end_ms: int) -> None:
        """Replace the cost rows charged in ``[start_ms, end_ms)`` by ``table`` in one commit,
        so exporting a period again does not count it twice."""
        lo, hi = (
            "arrow_cast('"
            + dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            + """', 'Timestamp(Microsecond, Some("UTC"))')"""
            for ms in (start_ms, end_ms)
        )
        handle = self._tables["costs"]
        if handle.stats().files == 0:
            handle.append(table)
            return
        handle.overwrite_where(
            table,
            f"ChargePeriodStart >= {lo} AND ChargePeriodStart < {hi}",
        )
