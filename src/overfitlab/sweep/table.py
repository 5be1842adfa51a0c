"""The sweep's tidy table: one row per grid point, as Parquet (pyarrow) and CSV.

Columns, in order: the grid keys (typed as the Config fields; tuples as text like ``(20,20)``),
``seed`` and ``seeds`` (the master seed and the number of seeds of the point, unless they are
grid keys), ``status`` (``ok``, ``failed`` or ``pending`` for a point not run because the sweep
was interrupted), ``error``, ``elapsed_s`` (the task's wall time, writing included), ``worker``
(the Dask worker's address), ``point`` (the point's key) and ``folder`` (its results folder,
relative to the sweep directory); then for every answer ``answer_<id>``, ``answer_<id>_low``,
``answer_<id>_high`` (the 10-90 % band over seeds, empty where the value does not vary by seed)
and ``answer_<id>_at_edge``; then every metric as ``metric_<name>``. A column holds numbers when
all its values are numbers, text otherwise. The Parquet schema's metadata ``overfitlab.sweep``
holds the experiment, the axes and the overfitlab version as JSON.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from overfitlab.experiments.results_io import write_atomic
from overfitlab.sweep.grid import SweepPlan, format_grid_value

Row = dict[str, Any]


def _cell(value: Any) -> Any:
    return format_grid_value(value) if isinstance(value, tuple) else value


def table_rows(plan: SweepPlan, records: dict[str, dict[str, Any]]) -> list[Row]:
    """One row per point of ``plan`` (grid order) from the points' records by key."""
    rows = []
    for point in plan.points:
        record = records.get(point.key) or {"status": "pending"}
        row: Row = {k: _cell(v) for k, v in point.values.items()}
        row.setdefault("seed", point.config.seed)
        row.setdefault("seeds", point.config.seeds)
        ok = record["status"] == "ok"
        row.update(status=record["status"], error=record.get("error"),
                   elapsed_s=record.get("elapsed_s"), worker=record.get("worker"),
                   point=point.key, folder=f"points/{point.key}/{plan.experiment}" if ok else None)
        for answer in record.get("answers", []):
            name = f"answer_{answer['id']}"
            row.update({name: answer["value"], f"{name}_low": answer["low"],
                        f"{name}_high": answer["high"], f"{name}_at_edge": answer["at_edge"]})
        row.update({f"metric_{k}": v for k, v in record.get("metrics", {}).items()})
        rows.append(row)
    return rows


def _column(values: list[Any]):
    """A pyarrow array of ``values``: bool, int64 or float64 when every value present is one,
    text otherwise (numbers written out)."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if present and all(isinstance(v, int) for v in present):
            return pa.array(values, pa.int64())
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v)
                     for v in values], pa.string())


def arrow_table(plan: SweepPlan, rows: list[Row]):
    """``rows`` as a ``pyarrow.Table`` (columns in order of first appearance)."""
    import pyarrow as pa

    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    meta = {"experiment": plan.experiment, "overfitlab": plan.version,
            "axes": {a.key: [_cell(v) for v in a.values] for a in plan.axes}}
    table = pa.table({c: _column([row.get(c) for row in rows]) for c in columns})
    return table.replace_schema_metadata({"overfitlab.sweep": json.dumps(meta)})


def write_table(plan: SweepPlan, rows: list[Row], directory: Path) -> tuple[Path, Path]:
    """Write ``table.parquet`` and ``table.csv`` in ``directory`` (each atomically)."""
    import pyarrow.csv
    import pyarrow.parquet

    table = arrow_table(plan, rows)
    parquet, csv = io.BytesIO(), io.BytesIO()
    pyarrow.parquet.write_table(table, parquet)
    pyarrow.csv.write_csv(table, csv)
    directory = Path(directory)
    return (write_atomic(directory / "table.parquet", parquet.getvalue()),
            write_atomic(directory / "table.csv", csv.getvalue()))
