"""One Delta table on local disk: create, append, snapshot, maintain.

delta-rs commits by an atomic put-if-absent of the next log entry, so appends from many
processes serialise in the log and a crash mid-write leaves only unreferenced files behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from perfops.errors import StoreError
from perfops.store._damage import diagnose
from perfops.store.schema import TableSpec

__all__ = ["DeltaHandle", "FileStats"]

_COMMIT = CommitProperties(max_commit_retries=1000)


@dataclass(frozen=True, slots=True)
class FileStats:
    files: int
    rows: int
    bytes: int
    version: int


class DeltaHandle:
    """A Delta table created on first use; keeps its snapshot and refreshes it incrementally."""

    def __init__(self, root: Path, spec: TableSpec) -> None:
        self.spec = spec
        self.path = root / spec.name
        self._table: DeltaTable | None = None
        self._files: tuple[int, list[str]] | None = None

    def _open(self) -> DeltaTable:
        if self._table is None:
            self._table = self._create_or_load()
        return self._table

    def _create_or_load(self) -> DeltaTable:
        for _ in range(50):
            try:
                return DeltaTable(str(self.path))
            except TableNotFoundError:
                pass
            except DeltaError as exc:  # its log cannot be read: say where and what to do
                raise diagnose(self.path, self.spec.name, exc, "opening it") from None
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                return DeltaTable.create(
                    str(self.path),
                    self.spec.schema,
                    mode="ignore",
                    partition_by=list(self.spec.partition_by) or None,
                )
            except (CommitFailedError, DeltaError):  # another process created it first
                time.sleep(0.01)
        raise StoreError(
            f"cannot create table {self.path}", hint="check that the lake folder is writable"
        )

    def conform(self, table: pa.Table) -> pa.Table:
        """``table`` cast to this table's schema, or a StoreError naming the bad column."""
        schema = self.spec.schema
        missing = [f.name for f in schema if f.name not in table.column_names and not f.nullable]
        if missing:
            raise StoreError(
                f"{self.spec.name}: batch lacks required column(s) {missing}",
                hint=f"columns are {schema.names}",
            )
        extra = [n for n in table.column_names if n not in schema.names]
        if extra:
            raise StoreError(
                f"{self.spec.name}: unknown column(s) {extra}", hint=f"columns are {schema.names}"
            )
        cols = []
        for f in schema:
            col = (
                table.column(f.name)
                if f.name in table.column_names
                else pa.nulls(table.num_rows, f.type)
            )
            if not f.nullable and col.null_count:
                raise StoreError(
                    f"{self.spec.name}.{f.name}: {col.null_count} null value(s)",
                    hint="the column is required in every row",
                )
            try:
                cols.append(col.cast(f.type) if col.type != f.type else col)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise StoreError(
                    f"{self.spec.name}.{f.name}: cannot store {col.type} as {f.type}", hint=str(exc)
                ) from None
        return pa.Table.from_arrays(cols, schema=schema)

    def append(self, table: pa.Table) -> None:
        """Commit ``table`` as one atomic append (readers see all of it or none of it)."""
        if table.num_rows == 0:
            return
        data = self.conform(table)
        try:
            write_deltalake(self._open(), data, mode="append", commit_properties=_COMMIT)
        except DeltaError as exc:
            raise diagnose(self.path, self.spec.name, exc, "an append") from None

    def overwrite_where(
        self, table: pa.Table, predicate: str, *, row_group_rows: int | None = None
    ) -> None:
        """Atomically replace the rows matching ``predicate`` (a partition filter) by ``table``.
        Small row groups let readers skip by min/max statistics when ``table`` is sorted."""
        props = WriterProperties(max_row_group_size=row_group_rows or 1024 * 1024)
        try:
            write_deltalake(
                self._open(),
                self.conform(table),
                mode="overwrite",
                predicate=predicate,
                commit_properties=_COMMIT,
                writer_properties=props,
            )
        except DeltaError as exc:
            raise diagnose(self.path, self.spec.name, exc, "an overwrite") from None

    def snapshot(self) -> DeltaTable:
        """The latest committed version."""
        table = self._open()
        try:
            table.update_incremental()
        except DeltaError as exc:
            raise diagnose(self.path, self.spec.name, exc, "reading it") from None
        return table

    def dataset(self) -> ds.Dataset:
        """The latest snapshot as an Arrow dataset (for Arrow-native readers)."""
        return self.snapshot().to_pyarrow_dataset()

    def files(self) -> list[str]:
        """Absolute paths of the latest snapshot's data files (cached per version). Our tables
        never enable deletion vectors or column mapping, so these files are the snapshot."""
        snap = self.snapshot()
        version = snap.version()
        if self._files is None or self._files[0] != version:
            self._files = (version, sorted(snap.file_uris()))
        return self._files[1]

    def missing_files(self) -> list[str]:
        """Data files the latest snapshot references that are not on disk (deleted by hand,
        lost with a disk): reading the table fails until they are restored or dropped."""
        return [f for f in self.files() if not Path(f).exists()]

    def scan_sql(self) -> str | None:
        """A DuckDB table expression reading the latest snapshot, or None when it has no files.
        DuckDB's own parquet reader is several times faster than scanning the Arrow dataset."""
        files = self.files()
        if not files:
            return None
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        hive = (
            ", hive_partitioning = true, hive_types = {'day': DATE}"
            if "day" in self.spec.partition_by
            else ", hive_partitioning = false"
        )
        return f"read_parquet([{listed}], union_by_name = true{hive})"

    def add_actions(self) -> pa.Table:
        return pa.table(self.snapshot().get_add_actions(flatten=True))

    def stats(self) -> FileStats:
        actions = self.add_actions()
        rows = sum(v or 0 for v in actions.column("num_records").to_pylist()) if len(actions) else 0
        size = sum(actions.column("size_bytes").to_pylist()) if len(actions) else 0
        return FileStats(len(actions), rows, size, self.snapshot().version())

    def compact(self, retention_hours: float) -> dict[str, Any]:
        """Merge small files, checkpoint the log, and delete files unused for the retention.
        Returns the files merged and the files they were merged into, the unreferenced files
        deleted, and the version checkpointed."""
        table = self.snapshot()
        try:
            metrics = table.optimize.compact(commit_properties=_COMMIT)
            table.update_incremental()
            table.create_checkpoint()
            table.cleanup_metadata()
            removed = table.vacuum(
                retention_hours=int(retention_hours),
                enforce_retention_duration=False,
                dry_run=False,
            )
        except DeltaError as exc:
            raise diagnose(self.path, self.spec.name, exc, "compaction") from None
        return {
            "files_merged": metrics.get("numFilesRemoved", 0),
            "merged_into": metrics.get("numFilesAdded", 0),
            "files_deleted": len(removed),
            "version": table.version(),
        }
