"""The results store: runs kept in one embedded DuckDB file.

One file (default ``./gigawatt.duckdb``) holds every saved run. Each
:func:`save` writes a whole run in one transaction: a run killed midway leaves
no rows at all, and the file stays readable.

Tables
------
``runs``
    One row per run: ``id``, ``scenario``, ``created_at`` (UTC), ``version``
    (gigawatt's), ``seed``, ``status``, ``scenario_yaml`` (the file as given),
    and as JSON text ``resolved_json`` (the scenario in SI, defaults filled
    in), ``summary_json`` (what ``gigawatt run --json`` prints),
    ``timings_json`` (seconds per stage) and ``dataset_json`` (coordinates,
    dtypes and attributes of the dataset, used to rebuild it exactly).
``run_values``
    The dataset in long ("tidy") form, one row per array element:
    ``run_id, variable, sample, period, site, chip, workload, value, text``.
    A dimension a variable lacks is NULL (``pue`` has only ``site``);
    ``period`` is the DATE of the period's first day; numbers are in ``value``
    (DOUBLE, SI units as the variable's name says), labels such as
    ``binding`` in ``text``. Example: the IT power by chip in 2030,
    ``SELECT chip, sum(value) FROM run_values WHERE run_id = ? AND variable =
    'it_power_w' AND period = DATE '2030-12-01' GROUP BY chip``.
``run_events``
    The training runs: ``run_id, seq, name, model, chip, site, chips, start,
    finish, deadline, delay_days, status, extra_json``; dates are ISO text
    (``'2027-03-01'``, NULL when there is none; cast with ``::DATE``).
``run_arrays``
    Variables whose dimensions are not among ``sample, period, site, chip,
    workload``, as a netCDF blob per run (none today; kept so that nothing is
    silently dropped).

Checked on open: every reader and :func:`save` first check the file. Not a
DuckDB database (a text file, random bytes, cut short inside its header), a
file shorter than its blocks in use (a truncated copy), a ``runs`` table
without ``store_meta`` (some other program's database), a ``schema_version``
other than :data:`STORE_SCHEMA_VERSION`, a missing table or column, or a
column of another type: each is a :class:`StoreError` naming the problem, with
a hint on how to start a new store (``--db new.duckdb``, or move the file
away). A DuckDB file with none of these tables is an empty store. A run whose
JSON columns cannot be decoded is a :class:`StoreError` naming the run; the
others stay readable. :func:`check` does the same without writing anything,
so that ``gigawatt run`` can fail before it computes or writes a results
folder. Names read back are data, not trusted text: print them through
:func:`gigawatt.safe_text.terminal_text`, make file names with
:func:`gigawatt.safe_text.file_stem`.

Two processes writing at once: DuckDB lets one process hold the file for
writing, so the second waits, retrying with backoff for up to ``timeout_s``
seconds, and then lands; past that it raises :class:`StoreLocked` with a clear
message. duckdb is imported inside the functions (it costs start-up time).
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gigawatt.errors import GigawattError

DEFAULT_DB = Path("gigawatt.duckdb")
DIMS = ("sample", "period", "site", "chip", "workload")
"""Dimensions stored as columns of ``run_values``, in the architecture's order."""
EVENT_COLUMNS = ("name", "model", "chip", "site", "chips", "start", "finish", "deadline", "delay_days", "status")
STORE_SCHEMA_VERSION = 1

_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "store_meta": (("key", "VARCHAR"), ("value", "VARCHAR")),
    "runs": (("id", "VARCHAR"), ("scenario", "VARCHAR"), ("created_at", "TIMESTAMP"), ("version", "VARCHAR"),
             ("seed", "BIGINT"), ("status", "VARCHAR"), ("scenario_yaml", "VARCHAR"), ("resolved_json", "VARCHAR"),
             ("summary_json", "VARCHAR"), ("timings_json", "VARCHAR"), ("dataset_json", "VARCHAR")),
    "run_values": (("run_id", "VARCHAR"), ("variable", "VARCHAR"), ("sample", "BIGINT"), ("period", "DATE"),
                   ("site", "VARCHAR"), ("chip", "VARCHAR"), ("workload", "VARCHAR"), ("value", "DOUBLE"),
                   ("text", "VARCHAR")),
    "run_events": (("run_id", "VARCHAR"), ("seq", "INTEGER"), ("name", "VARCHAR"), ("model", "VARCHAR"),
                   ("chip", "VARCHAR"), ("site", "VARCHAR"), ("chips", "DOUBLE"), ("start", "VARCHAR"),
                   ("finish", "VARCHAR"), ("deadline", "VARCHAR"), ("delay_days", "DOUBLE"), ("status", "VARCHAR"),
                   ("extra_json", "VARCHAR")),
    "run_arrays": (("run_id", "VARCHAR"), ("format", "VARCHAR"), ("data", "BLOB")),
}
"""The store's tables and their columns (name, DuckDB type); checked each time the store is opened."""
_PRIMARY_KEYS = {"store_meta": "key", "runs": "id"}


def _create_sql() -> str:
    lines = []
    for table, columns in _TABLES.items():
        cols = ", ".join(f"{name} {kind}" + (" PRIMARY KEY" if _PRIMARY_KEYS.get(table) == name else "")
                         for name, kind in columns)
        lines.append(f"CREATE TABLE IF NOT EXISTS {table} ({cols});")
    return "\n".join(lines)


_SCHEMA = _create_sql()


def _insert_sql(table: str) -> str:
    """``INSERT INTO table (columns...) VALUES (?, ...)``: columns named, so that the order in the file does not matter."""
    names = [name for name, _ in _TABLES[table]]
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def new_store_hint(db_path: str | Path) -> str:
    """How to get going again when the store at ``db_path`` cannot be used."""
    return f"start a new store with --db new.duckdb, or move {db_path} away (the next `gigawatt run` makes a new one)"


class StoreError(GigawattError):
    """A problem with the results store; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message)


class StoreMissing(StoreError):
    """The store file does not exist."""


class StoreLocked(StoreError):
    """Another process held the store for longer than we were willing to wait."""


class RunNotFound(StoreError):
    """No run with that id (or id prefix) in the store."""


# --------------------------------------------------------------------------- connections


def _is_lock_error(exc: Exception, path: Path) -> bool:
    # the file's own name may contain "lock" ("blocks.duckdb"): look at the rest of the message only
    text = str(exc)
    for name in {str(path), str(path.absolute())}:
        text = text.replace(name, "")
    text = text.lower()
    return "lock" in text or "conflict" in text


def _not_a_store(path: Path, exc: Exception) -> StoreError:
    return StoreError(f"cannot open the results store {path}: it is not a readable DuckDB database ({exc})",
                      new_store_hint(path))


def connect(db_path: str | Path = DEFAULT_DB, read_only: bool = False, timeout_s: float = 30.0):
    """Open the store, waiting up to ``timeout_s`` [s] while another process holds it.

    This opens the file only; :func:`check` and the readers also check that it
    is a gigawatt store.

    Parameters
    ----------
    db_path : str or Path
        The DuckDB file. Opened read-only it must exist; for writing it is created.
    read_only : bool
        Open for reading only (what ``list``, ``show``, ``diff`` and ``report`` do).
    timeout_s : float
        Longest wait for another process's lock [s]; retries back off from
        50 ms to 1 s.

    Returns
    -------
    duckdb.DuckDBPyConnection

    Raises
    ------
    StoreMissing
        ``read_only`` and there is no such file.
    StoreLocked
        Another process held the file for longer than ``timeout_s``.
    StoreError
        The file is not a DuckDB database (a text file, random bytes, a file
        truncated below its header) or cannot be opened.
    """
    import duckdb

    path = Path(db_path)
    if read_only and not path.exists():
        raise StoreMissing(f"no results store at {path}",
                           "save a run first with `gigawatt run SCENARIO`, or point --db at an existing store")
    if path.is_dir():
        raise StoreError(f"the results store {path} is a folder, not a file", "point --db at a .duckdb file")
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc, path):
                raise _not_a_store(path, exc) from None
            if time.monotonic() + delay > deadline:
                raise StoreLocked(
                    f"the results store {path} is in use by another process (waited {timeout_s:.0f} s)",
                    "wait for the other gigawatt command to finish and try again, or use another --db",
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise _not_a_store(path, exc) from None


_TYPE_FAMILIES = {"VARCHAR": "text", "BIGINT": "integer", "INTEGER": "integer", "HUGEINT": "integer",
                  "SMALLINT": "integer", "DOUBLE": "float", "FLOAT": "float", "DATE": "date", "BLOB": "blob"}


def _type_family(kind: str) -> str:
    kind = kind.upper()
    if kind.startswith("TIMESTAMP"):
        return "timestamp"
    return _TYPE_FAMILIES.get(kind, kind)


def _tables(con) -> dict[str, dict[str, str]]:
    """The main schema's tables (and views): ``{table: {column: DuckDB type}}``."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        out.setdefault(table, {})[column] = kind
    return out


def _validate(con, path: Path) -> bool:
    """Check that the open file is a gigawatt store this version can use.

    Returns
    -------
    bool
        True when the store has its tables, False when it has none of them
        (a new store, or a DuckDB file with only tables of its own).

    Raises
    ------
    StoreError
        Some of the tables are there but not all; a table lacks columns or has
        them with another type; ``store_meta`` has no ``schema_version``, or
        another one than :data:`STORE_SCHEMA_VERSION`.
    """
    tables = _tables(con)
    ours = [t for t in _TABLES if t in tables]
    if not ours:
        return False
    hint = new_store_hint(path)
    if "store_meta" not in tables:
        described = "; ".join(f"table {t} has columns {', '.join(tables[t]) or 'none'}" for t in ours)
        raise StoreError(f"{path} is not a gigawatt results store: it has no store_meta table ({described})", hint)
    missing_meta = [c for c, _ in _TABLES["store_meta"] if c not in tables["store_meta"]]
    if missing_meta:
        raise StoreError(f"{path} is not a usable gigawatt results store: its store_meta table lacks column(s) "
                         f"{', '.join(missing_meta)}", hint)
    rows = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchall()
    if not rows:
        raise StoreError(f"{path} is not a usable gigawatt results store: store_meta has no schema_version", hint)
    try:
        version = int(str(rows[0][0]).strip())
    except ValueError:
        raise StoreError(f"{path} is not a usable gigawatt results store: its schema_version {rows[0][0]!r} is not "
                         f"a number", hint) from None
    if version > STORE_SCHEMA_VERSION:
        raise StoreError(f"the results store {path} has schema version {version}, newer than this gigawatt reads "
                         f"(version {STORE_SCHEMA_VERSION}); it was written by a newer gigawatt",
                         f"upgrade gigawatt to read it; or {hint}")
    if version < STORE_SCHEMA_VERSION:
        raise StoreError(f"the results store {path} has schema version {version}, which this gigawatt (version "
                         f"{STORE_SCHEMA_VERSION}) cannot read", hint)
    problems = []
    for table, columns in _TABLES.items():
        found = tables.get(table)
        if found is None:
            problems.append(f"table {table} is missing")
            continue
        lacking = [c for c, _ in columns if c not in found]
        if lacking:
            problems.append(f"table {table} lacks column(s) {', '.join(lacking)}")
        for column, kind in columns:
            if column in found and _type_family(found[column]) != _type_family(kind):
                problems.append(f"column {table}.{column} is {found[column]}, not {kind}")
    if problems:
        raise StoreError(f"the results store {path} (schema version {version}) is damaged: {'; '.join(problems)}",
                         hint)
    return True


def _check_size(con, path: Path) -> None:
    """A file shorter than the blocks in use was truncated (copied or downloaded only in part).

    DuckDB cuts free blocks off the end of the file, never blocks in use, so a
    healthy file holds at least its headers and every used block. Only on a
    read-only connection with no write-ahead log next to the file: then the
    counts are the ones on disk.
    """
    if Path(f"{path}.wal").exists():
        return
    row = con.execute("PRAGMA database_size").fetchone()
    block_size, used_blocks = int(row[2] or 0), int(row[4] or 0)
    needed = _FILE_HEADERS_BYTES + block_size * used_blocks
    size = path.stat().st_size
    if size < needed:
        raise StoreError(f"the results store {path} is truncated: the file has {size:,} bytes, its blocks in use "
                         f"need at least {needed:,} (a copy or download cut short?)",
                         f"copy the whole file again; or {new_store_hint(path)}")


_FILE_HEADERS_BYTES = 3 * 4096
"""A DuckDB file: a main header and two database headers of 4 KiB each, then the blocks."""


def _damaged(path: Path, exc: Exception) -> StoreError:
    return StoreError(f"the results store {path} is damaged and cannot be read: {exc}",
                      f"if it was copied, copy the whole file again; or {new_store_hint(path)}")


@contextmanager
def _reading(db_path: str | Path, timeout_s: float) -> Iterator[tuple[Any, bool]]:
    """A read-only connection to a checked store, and whether it has its tables.

    A DuckDB error while reading (a block cut off by truncation, corrupt data)
    becomes a :class:`StoreError`.
    """
    import duckdb

    path = Path(db_path)
    con = connect(path, read_only=True, timeout_s=timeout_s)
    try:
        try:
            _check_size(con, path)
            ready = _validate(con, path)
        except duckdb.Error as exc:
            raise _damaged(path, exc) from None
        try:
            yield con, ready
        except duckdb.Error as exc:
            raise _damaged(path, exc) from None
    finally:
        con.close()


def check(db_path: str | Path = DEFAULT_DB, timeout_s: float = 5.0) -> str:
    """Check that a run can be saved in ``db_path``, before any work is written anywhere.

    Nothing is created or changed. ``gigawatt run`` calls this before it writes
    its results folder, so that a bad ``--db`` fails first, and cleanly.

    Parameters
    ----------
    db_path : str or Path
        The store file.
    timeout_s : float
        Longest wait for another process holding the file [s]. A store still
        held after that is not an error here (:func:`save` waits its turn and
        checks again).

    Returns
    -------
    str
        ``"new"``: no file yet, :func:`save` will create it; ``"empty"``: a
        DuckDB file without the store's tables, :func:`save` will add them;
        ``"ok"``: a store this version reads and writes; ``"busy"``: another
        process holds the file, so it could not be checked now.

    Raises
    ------
    StoreError
        With a ``hint``: the path is a folder, or its folder cannot be created
        or written; the file is not a DuckDB database, is truncated, has a
        ``runs`` table of some other program, lacks tables or columns, or has
        another ``schema_version``.
    """
    path = Path(db_path)
    if path.is_dir():
        raise StoreError(f"the results store {path} is a folder, not a file", "point --db at a .duckdb file")
    if not path.exists():
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise StoreError(f"cannot create the results store {path}: {parent} is not a folder",
                             "point --db at a file in a folder, or use --no-store")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(f"cannot create the results store {path}: {parent} is not writable",
                             "point --db at a writable place, or use --no-store")
        return "new"
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"the results store {path} is not writable", "point --db at a writable file, or use --no-store")
    try:
        with _reading(path, timeout_s) as (_, ready):
            return "ok" if ready else "empty"
    except StoreLocked:
        return "busy"


# --------------------------------------------------------------------------- save


def _json_text(value: Any) -> str:
    """Strict JSON for a store column (:func:`gigawatt.jsonio.dumps`: NaN and infinity as null)."""
    from gigawatt.jsonio import dumps

    return dumps(value)


def _dataset_meta(arrays) -> dict:
    """What it takes to rebuild the dataset: coordinates, dtypes, attributes (of :class:`~gigawatt.arrays.ArrayData`).

    Dtypes are those of the ``xarray.Dataset`` the arrays make (dates coarser
    than a second are held by xarray as ``datetime64[s]``).
    """
    import numpy as np

    coords = {}
    for name, size in arrays.sizes.items():
        if name not in arrays.coords:
            coords[name] = {"values": list(range(size)), "dtype": "int64", "index": False}
            continue
        values = arrays.coords[name]
        dtype = str(values.dtype)
        if np.issubdtype(values.dtype, np.datetime64):
            listed = [str(v) for v in values.astype("datetime64[D]")]
            if np.datetime_data(values.dtype)[0] in ("Y", "M", "W", "D", "h", "m"):
                dtype = "datetime64[s]"
        else:
            listed = values.tolist()
        coords[name] = {"values": listed, "dtype": dtype, "index": True}
    variables = {
        name: {"dims": list(var.dims), "dtype": str(var.values.dtype), "attrs": _plain(var.attrs)}
        for name, var in arrays.variables.items()
    }
    return {"dims": list(arrays.sizes), "coords": coords, "variables": variables, "attrs": _plain(arrays.attrs)}


def _plain(attrs: dict) -> dict:
    """Attributes as plain JSON values (numpy scalars and arrays become numbers and lists)."""
    return json.loads(_json_text(dict(attrs)))


def _values_columns(arrays) -> dict:
    """The arrays with known dimensions as the columns of ``run_values`` (numpy, one entry per cell).

    Numbers go to ``value`` and text to ``text``; a dimension a variable lacks,
    a missing number (NaN) and a missing text are null; labels are text, the
    sample a number, the period an ISO date.
    """
    import numpy as np

    sizes = arrays.sizes
    labels = {}
    for dim in DIMS:
        if dim in sizes:
            values = arrays.labels(dim)
            if np.issubdtype(values.dtype, np.datetime64):
                values = values.astype("datetime64[D]").astype(str).astype(object)
            elif dim == "sample":
                values = values.astype(float)
            else:
                values = values.astype(str).astype(object)
            labels[dim] = values
    parts: dict[str, list] = {c: [] for c in ("variable", *DIMS, "value", "text")}
    for name, var in arrays.variables.items():
        if not set(var.dims) <= set(DIMS):
            continue
        dims = [d for d in DIMS if d in var.dims]
        arr = np.transpose(var.values, [var.dims.index(d) for d in dims]) if dims else var.values
        n = arr.size
        parts["variable"].append(np.full(n, name, dtype=object))
        grids = np.meshgrid(*[np.arange(sizes[d]) for d in dims], indexing="ij") if dims else []
        for d in DIMS:
            if d in dims:
                parts[d].append(labels[d][grids[dims.index(d)].ravel()])
            else:
                parts[d].append(np.full(n, np.nan) if d == "sample" else np.full(n, None, dtype=object))
        flat = arr.ravel()
        if flat.dtype.kind in "biuf":
            parts["value"].append(flat.astype(float))
            parts["text"].append(np.full(n, None, dtype=object))
        else:
            parts["value"].append(np.full(n, np.nan))
            parts["text"].append(flat.astype(str).astype(object))
    empty = {"sample": np.zeros(0), "value": np.zeros(0)}
    return {c: np.concatenate(p) if p else empty.get(c, np.zeros(0, dtype=object)) for c, p in parts.items()}


def _other_arrays(arrays) -> bytes | None:
    """Variables with dimensions outside ``DIMS``, as netCDF bytes (or None)."""
    names = [n for n, v in arrays.variables.items() if not set(v.dims) <= set(DIMS)]
    if not names:
        return None
    return _netcdf_bytes(arrays.subset(names))


def _netcdf_bytes(arrays) -> bytes:
    """Arrays as netCDF file bytes (through a temporary file, which every engine can write)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arrays.nc"
        arrays.write_netcdf(path)
        return path.read_bytes()


def _netcdf_load(blob: bytes):
    import tempfile

    import xarray as xr

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arrays.nc"
        path.write_bytes(blob)
        with xr.open_dataset(path) as ds:
            return ds.load()


def _event_rows(run_id: str, events: list) -> list[tuple]:
    rows = []
    for seq, ev in enumerate(events):
        ev = dict(ev)
        extra = {k: v for k, v in ev.items() if k not in EVENT_COLUMNS}

        def num(key):
            v = ev.get(key)
            return None if v is None else float(v)

        def date(key):
            v = ev.get(key)
            return None if v is None else str(v)[:10] if not isinstance(v, str) else v

        rows.append((run_id, seq, ev.get("name"), ev.get("model"), ev.get("chip"), ev.get("site"), num("chips"),
                     date("start"), date("finish"), date("deadline"), num("delay_days"), ev.get("status"),
                     _json_text(extra) if extra else None))
    return rows


def _insert_values(con, run_id: str, cols: dict) -> None:
    """Insert the ``run_values`` rows of one run from numpy columns (DuckDB scans them; NaN reads as null)."""
    if not len(cols["variable"]):
        return
    con.register("gigawatt_values", cols)
    try:
        con.execute("INSERT INTO run_values (run_id, variable, sample, period, site, chip, workload, value, text) "
                    "SELECT ?, variable, CAST(sample AS BIGINT), CAST(period AS DATE), site, chip, workload, value, "
                    "text FROM gigawatt_values", [run_id])
    finally:
        con.unregister("gigawatt_values")


def _insert_events(con, rows: list[tuple]) -> None:
    if rows:
        con.executemany(_insert_sql("run_events"), rows)


def new_run_id() -> str:
    """A fresh run id: 12 hex digits (any unique prefix of it works in the CLI)."""
    return uuid.uuid4().hex[:12]


def save(results, db_path: str | Path = DEFAULT_DB, status: str = "ok", timeout_s: float = 60.0,
         run_id: str | None = None) -> str:
    """Write one run into the store in a single transaction.

    Parameters
    ----------
    results : gigawatt.results.Results
        The run.
    db_path : str or Path
        The store file; created with its tables if it does not exist.
    status : str
        Recorded in ``runs.status`` (``ok`` for a finished run).
    timeout_s : float
        Longest wait for another process holding the file [s].
    run_id : str, optional
        Id to use; a fresh one by default.

    Returns
    -------
    str
        The run's id.

    Raises
    ------
    StoreLocked
        Another process held the store for longer than ``timeout_s``.
    StoreError
        The file is not a gigawatt store this version can write (see
        :func:`check`), or DuckDB failed while writing; nothing was written.

    Notes
    -----
    The stages: :func:`_run_rows` (every row, before the file is locked),
    then per try :func:`connect`, :func:`_write_run` in a transaction, and on
    failure :func:`_rollback`; a write-write conflict with a thread of this
    process retries the whole run until ``timeout_s``.
    """
    run_id = run_id or new_run_id()
    rows = _run_rows(results, run_id, status)  # built before the file is locked, to hold the lock briefly
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    import duckdb

    while True:
        con = connect(path, read_only=False, timeout_s=max(deadline - time.monotonic(), 0.0))
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                _write_run(con, path, *rows)
                con.execute("COMMIT")
                return run_id
            except BaseException as exc:
                _rollback(con)
                # a write-write conflict with a thread of this process: retry the whole run
                if isinstance(exc, duckdb.TransactionException) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                if isinstance(exc, duckdb.Error):
                    raise StoreError(f"cannot save the run in the results store {path}: {exc}",
                                     f"if the file was copied, copy the whole file again; or {new_store_hint(path)}"
                                     ) from None
                raise
        finally:
            con.close()


def _run_rows(results, run_id: str, status: str) -> tuple:
    """One run's rows for every table: ``(runs row, run_values frame, run_events rows, run_arrays blob or None)``.

    ``runs.created_at`` is the time of this call (UTC, without a time zone).
    """
    ds = results.arrays
    frame = _values_columns(ds)
    blob = _other_arrays(ds)
    events = _event_rows(run_id, results.events or [])
    samples = _samples_parquet(results)
    created = datetime.now(timezone.utc).replace(tzinfo=None)
    run_row = (run_id, results.name, created, results.version, int(results.seed), status, results.scenario_text,
               _json_text(results.resolved), _json_text(results.summary_dict), _json_text(results.timings_s),
               _json_text(_dataset_meta(ds)))
    return run_row, frame, events, blob, samples


def _samples_parquet(results) -> bytes | None:
    """A Monte Carlo run's per-sample inputs and figures as Parquet bytes (None without one)."""
    mc = getattr(results, "uncertainty", None)
    if mc is None:
        return None
    import io

    buf = io.BytesIO()
    mc.samples_frame().to_parquet(buf, index=False)
    return buf.getvalue()


def load_samples(db_path: str | Path, run_id: str, timeout_s: float = 30.0):
    """A Monte Carlo run's per-sample inputs and figures (pandas DataFrame), or None where the run has none."""
    import io

    import pandas as pd

    with _reading(db_path, timeout_s) as (con, ready):
        rid = _resolve_id(con, ready, run_id, db_path)
        row = con.execute("SELECT data FROM run_arrays WHERE run_id = ? AND format = 'samples-parquet'",
                          [rid]).fetchone()
    return None if row is None else pd.read_parquet(io.BytesIO(bytes(row[0])))


def _write_run(con, path: Path, run_row: tuple, frame, events: list[tuple], blob: bytes | None,
               samples: bytes | None = None) -> None:
    """Insert one run's rows inside an open transaction, creating the tables first in a new store."""
    if not _validate(con, path):
        con.execute(_SCHEMA)
        con.execute(_insert_sql("store_meta"), ["schema_version", str(STORE_SCHEMA_VERSION)])
    run_id = run_row[0]
    con.execute(_insert_sql("runs"), list(run_row))
    _insert_values(con, run_id, frame)
    _insert_events(con, events)
    if blob is not None:
        con.execute(_insert_sql("run_arrays"), [run_id, "netcdf", blob])
    if samples is not None:
        con.execute(_insert_sql("run_arrays"), [run_id, "samples-parquet", samples])


def _rollback(con) -> None:
    """Roll back the open transaction; a connection that cannot is closed by the caller anyway."""
    try:
        con.execute("ROLLBACK")
    except Exception:
        pass


# --------------------------------------------------------------------------- read


def _resolve_id(con, ready: bool, run_id: str, db_path) -> str:
    if not ready:
        raise RunNotFound(f"no run {run_id!r} in {db_path}: the store has no runs",
                          "save a run first with `gigawatt run SCENARIO`")
    rows = con.execute("SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY id", [run_id]).fetchall()
    ids = [r[0] for r in rows]
    if run_id in ids:
        return run_id
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise RunNotFound(f"no run {run_id!r} in {db_path}", f"list the runs with `gigawatt runs list --db {db_path}`")
    raise RunNotFound(f"run id {run_id!r} is ambiguous in {db_path}: {', '.join(ids[:5])}",
                      "give more characters of the id")


def _check_complete(meta: dict, n_values: int, has_blob: bool, db_path, rid) -> None:
    """Raise :class:`StoreError` when rows of a run's arrays are missing from ``run_values`` or ``run_arrays``."""
    try:
        sizes = {d: len(c["values"]) for d, c in meta["coords"].items()}
        expected, other = 0, False
        for spec in meta["variables"].values():
            if set(spec["dims"]) <= set(DIMS):
                expected += math.prod(sizes[d] for d in spec["dims"])
            else:
                other = True
    except (KeyError, TypeError, AttributeError) as exc:
        raise _damaged_run(db_path, rid, f"its dataset cannot be rebuilt ({type(exc).__name__}: {exc})"
                           ) from None
    if n_values != expected:
        raise _damaged_run(db_path, rid, f"run_values holds {n_values:,} of its {expected:,} array values")
    if other and not has_blob:
        raise _damaged_run(db_path, rid, "its arrays beyond (sample, period, site, chip, workload) are missing "
                           "from run_arrays")


def _damaged_run(db_path, rid, what: str) -> StoreError:
    return StoreError(f"run {rid} in the results store {db_path} is damaged: {what}",
                      f"the store's other runs are still readable (`gigawatt runs list --db {db_path}`); "
                      f"run the scenario again to save it anew")


def _json_field(text: str | None, db_path, rid, column: str, kind: type = dict):
    """A JSON column of a run, decoded and of the expected type (empty when NULL)."""
    if text is None:
        return kind()
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise _damaged_run(db_path, rid, f"its {column} is not valid JSON") from None
    if not isinstance(value, kind):
        raise _damaged_run(db_path, rid, f"its {column} is a JSON {type(value).__name__}, not an object")
    return value


def _iso(created) -> str | None:
    return created.isoformat(timespec="seconds") + "Z" if isinstance(created, datetime) else None


def sweep_runs(db_path: str | Path, sweep_id: str, timeout_s: float = 30.0) -> list[dict]:
    """The runs of one sweep (``gigawatt sweep``), in variant order: each run's summary with ``run_id``.

    Raises
    ------
    RunNotFound
        When the store has no run of that sweep.
    """
    with _reading(db_path, timeout_s) as (con, ready):
        rows = [] if not ready else con.execute(
            "SELECT id, summary_json FROM runs WHERE summary_json LIKE ? ORDER BY created_at, id",
            [f"%{sweep_id}%"]).fetchall()
    out = []
    for rid, text in rows:
        summary = _json_field(text, db_path, rid, "summary_json")
        if (summary.get("sweep") or {}).get("id") == sweep_id:
            out.append({**summary, "run_id": rid})
    if not out:
        raise RunNotFound(f"no sweep {sweep_id!r} in {db_path}",
                          "a sweep's id is printed by `gigawatt sweep`; runs of a sweep are listed by `gigawatt runs list`")
    return sorted(out, key=lambda s: s["sweep"].get("variant", 0))


def list_runs(db_path: str | Path = DEFAULT_DB, timeout_s: float = 30.0) -> list[dict]:
    """Every run in the store, oldest first.

    A run whose summary cannot be read is listed without its spend.

    Returns
    -------
    list of dict
        ``id, scenario, created_at`` (ISO, UTC), ``version, seed, status``,
        and from the summary ``spend_usd`` and ``commitment_usd`` [USD].

    Raises
    ------
    StoreMissing, StoreLocked, StoreError
        No file; held by another process; not a gigawatt store, or damaged.
    """
    with _reading(db_path, timeout_s) as (con, ready):
        if not ready:
            return []
        rows = con.execute("SELECT id, scenario, created_at, version, seed, status, summary_json FROM runs "
                           "ORDER BY created_at, id").fetchall()
    out = []
    for rid, scenario, created, version, seed, status, summary in rows:
        try:
            totals = _json_field(summary, db_path, rid, "summary_json").get("totals") or {}
        except StoreError:
            totals = {}
        if not isinstance(totals, dict):
            totals = {}
        out.append({"id": rid, "scenario": scenario, "created_at": _iso(created),
                    "version": version, "seed": seed, "status": status,
                    "spend_usd": totals.get("spend_usd"), "commitment_usd": totals.get("commitment_usd")})
    return out


def run_info(db_path: str | Path, run_id: str, timeout_s: float = 30.0) -> dict:
    """A run's row without its dataset: id, scenario, created_at, version, seed, status,
    summary, resolved scenario, scenario text, timings and events.

    Raises
    ------
    RunNotFound
        No run with that id or prefix, or several.
    StoreMissing, StoreLocked, StoreError
        No file; held by another process; not a gigawatt store, or damaged
        (also when this run's JSON columns cannot be decoded).
    """
    with _reading(db_path, timeout_s) as (con, ready):
        rid = _resolve_id(con, ready, run_id, db_path)
        row = con.execute("SELECT id, scenario, created_at, version, seed, status, scenario_yaml, resolved_json, "
                          "summary_json, timings_json FROM runs WHERE id = ?", [rid]).fetchone()
        events = _read_events(con, rid, db_path)
    return {"id": row[0], "scenario": row[1], "created_at": _iso(row[2]),
            "version": row[3], "seed": row[4], "status": row[5], "scenario_yaml": row[6],
            "resolved": _json_field(row[7], db_path, rid, "resolved_json"),
            "summary": _json_field(row[8], db_path, rid, "summary_json"),
            "timings_s": _json_field(row[9], db_path, rid, "timings_json"),
            "events": events}


def _read_events(con, rid: str, db_path) -> list[dict]:
    rows = con.execute("SELECT name, model, chip, site, chips, start, finish, deadline, delay_days, status, "
                       "extra_json FROM run_events WHERE run_id = ? ORDER BY seq", [rid]).fetchall()
    events = []
    for r in rows:
        ev = dict(zip(EVENT_COLUMNS, r[:10]))
        for key in ("chips", "delay_days"):
            v = ev[key]
            if v is not None and math.isfinite(v) and float(v).is_integer():
                ev[key] = int(v)
        if r[10]:
            ev.update(_json_field(r[10], db_path, rid, "run_events.extra_json"))
        events.append(ev)
    return events


def _rebuild_dataset(meta: dict, frame, blob: bytes | None):
    """The xarray Dataset from ``run_values`` rows and the saved metadata."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    coords = {}
    for dim, c in meta["coords"].items():
        if not c.get("index", True):
            continue
        values = np.array(c["values"])
        if c["dtype"].startswith("datetime64"):
            values = np.array(c["values"], dtype="datetime64[D]").astype(c["dtype"])
        else:
            values = values.astype(c["dtype"]) if len(values) else np.array([], dtype=c["dtype"])
        coords[dim] = values
    sizes = {d: len(c["values"]) for d, c in meta["coords"].items()}
    # positions of each label along its dimension
    positions = {}
    for dim in DIMS:
        if dim not in sizes or frame.empty:
            continue
        c = meta["coords"][dim]
        if dim == "period":
            lookup = pd.Index(pd.to_datetime(np.array(c["values"], dtype="datetime64[D]")))
            col = pd.to_datetime(frame["period"])
        else:  # labels compare as text: a dimension without coordinates is stored as its positions
            lookup = pd.Index([str(v) for v in c["values"]])
            col = frame[dim].astype(str)
        positions[dim] = lookup.get_indexer(col)
    data_vars = {}
    groups = frame.groupby("variable", sort=False).indices if not frame.empty else {}
    for name, spec in meta["variables"].items():
        if name not in groups:
            continue
        idx = groups[name]
        dims = [d for d in DIMS if d in spec["dims"]]
        shape = tuple(sizes[d] for d in dims)
        dtype = np.dtype(spec["dtype"])
        if dtype.kind in "biuf":
            arr = np.full(shape, np.nan)
            src = frame["value"].to_numpy()[idx]
        else:
            arr = np.full(shape, "", dtype=object)
            src = frame["text"].to_numpy()[idx]
        where = tuple(positions[d][idx] for d in dims)
        arr[where] = src
        arr = arr.astype(dtype)
        order = [dims.index(d) for d in spec["dims"]]
        data_vars[name] = (spec["dims"], np.transpose(arr, order) if dims else arr, spec["attrs"])
    ds = xr.Dataset(data_vars, coords=coords, attrs=meta["attrs"])
    if blob:
        ds = ds.merge(_netcdf_load(blob))
    # keep the saved variable order
    return ds[[n for n in meta["variables"] if n in ds.data_vars]]


def load_run(db_path: str | Path, run_id: str, timeout_s: float = 30.0):
    """A saved run as :class:`gigawatt.results.Results`, its dataset rebuilt as xarray.

    Parameters
    ----------
    db_path : str or Path
        The store file.
    run_id : str
        The run's id, or a unique prefix of it.

    Returns
    -------
    gigawatt.results.Results

    Raises
    ------
    RunNotFound, StoreMissing, StoreLocked, StoreError
        As :func:`run_info`; also when the run's dataset cannot be rebuilt.
    """
    from gigawatt.results import Results

    with _reading(db_path, timeout_s) as (con, ready):
        rid = _resolve_id(con, ready, run_id, db_path)
        row = con.execute("SELECT scenario_yaml, resolved_json, summary_json, timings_json, dataset_json, version, "
                          "seed FROM runs WHERE id = ?", [rid]).fetchone()
        frame = con.execute("SELECT variable, sample, period, site, chip, workload, value, text FROM run_values "
                            "WHERE run_id = ?", [rid]).df()
        blob_row = con.execute("SELECT data FROM run_arrays WHERE run_id = ? AND format = 'netcdf'", [rid]).fetchone()
        events = _read_events(con, rid, db_path)
    meta = _json_field(row[4], db_path, rid, "dataset_json")
    _check_complete(meta, len(frame), blob_row is not None, db_path, rid)
    try:
        ds = _rebuild_dataset(meta, frame, blob_row[0] if blob_row else None)
        seed = int(row[6])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OSError) as exc:
        raise _damaged_run(db_path, rid, f"its dataset cannot be rebuilt ({type(exc).__name__}: {exc})") from None
    return Results(dataset=ds, events=events, summary_dict=_json_field(row[2], db_path, rid, "summary_json"),
                   scenario_text=row[0], resolved=_json_field(row[1], db_path, rid, "resolved_json"),
                   version=row[5], seed=seed, timings_s=_json_field(row[3], db_path, rid, "timings_json"))


# --------------------------------------------------------------------------- diff


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as ``{"a.b[0].c": leaf}``; lists of named dicts are keyed by name."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            key = v.get("name") or v.get("chip") or i
            out.update(_flatten(v, f"{prefix}[{key}]"))
    else:
        out[prefix] = value
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(a: dict, b: dict) -> list[dict]:
    """Keys whose values differ: ``{key, a, b[, diff]}``, diff = b - a for numbers."""
    fa, fb = _flatten(a), _flatten(b)
    rows = []
    for key in list(fa) + [k for k in fb if k not in fa]:
        va, vb = fa.get(key), fb.get(key)
        if va == vb or (_is_number(va) and _is_number(vb) and math.isnan(va) and math.isnan(vb)):
            continue
        row = {"key": key, "a": va, "b": vb}
        if _is_number(va) and _is_number(vb):
            row["diff"] = vb - va
        rows.append(row)
    return rows


def diff(db_path: str | Path, id1: str, id2: str, timeout_s: float = 30.0) -> dict:
    """What differs between two runs: per-year summary figures, totals, and the scenario.

    Returns
    -------
    dict
        ``a`` and ``b`` (id, scenario, version, seed); ``years``: one entry per
        year of either run, ``{"year", "changes": [{key, a, b, diff}]}`` with
        ``diff = b - a`` for numbers (SI units); ``summary``: the same for the
        rest of the summary (totals, implied, simulation figures); ``scenario``:
        the resolved scenario's differing values, by dotted path.
    """
    a, b = run_info(db_path, id1, timeout_s), run_info(db_path, id2, timeout_s)
    years_a = {r["year"]: r for r in a["summary"].get("years", [])}
    years_b = {r["year"]: r for r in b["summary"].get("years", [])}
    years = []
    for year in sorted(set(years_a) | set(years_b)):
        changes = _compare(years_a.get(year, {}), years_b.get(year, {}))
        years.append({"year": year, "changes": [c for c in changes if c["key"] != "year"]})
    rest_a = {k: v for k, v in a["summary"].items() if k != "years"}
    rest_b = {k: v for k, v in b["summary"].items() if k != "years"}
    head = ("id", "scenario", "version", "seed", "created_at")
    return {
        "a": {k: a[k] for k in head},
        "b": {k: b[k] for k in head},
        "years": years,
        "summary": _compare(rest_a, rest_b),
        "scenario": _compare(a["resolved"], b["resolved"]),
    }
