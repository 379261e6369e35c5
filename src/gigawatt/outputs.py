"""A run's results folder: what it holds, how it is written without destroying anything, how it is read back.

``--out DIR`` (and :meth:`gigawatt.results.Results.save`) writes only into a new
or empty folder, or one gigawatt wrote before (its ``manifest.json`` names the
writer), and there replaces only the files its manifest lists. Files are written
beside their final place first and swapped in at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gigawatt.errors import GigawattError
from gigawatt.jsonio import dumps
from gigawatt.units import year_of

if TYPE_CHECKING:
    from gigawatt.results import Results

#: the files a results folder can hold; gigawatt replaces or removes only these
OUTPUT_FILES = ("fleet.nc", "summary.json", "years.csv", "training_runs.csv", "ledger.csv", "years.parquet",
                "training_runs.parquet", "ledger.parquet", "scenario.yaml", "scenario.resolved.json", "manifest.json",
                "samples.parquet")
#: a manifest names its writer so that a later run recognizes the folder as its own
MANIFEST_WRITER = "gigawatt"
_TMP_TAG = ".gigawatt-tmp-"
_OLD_TAG = ".gigawatt-old-"
_TMP_MARKER = ".gigawatt-partial"


class OutputError(GigawattError):
    """A results folder cannot be written without touching files gigawatt did not write."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message)


def _owned_files(folder: Path) -> set[str] | None:
    """The file names gigawatt's manifest in ``folder`` lists, or None when it has no such manifest."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    files = manifest.get("files")
    # manifests before 0.1.0's `written_by` carry the version and the file list
    if manifest.get("written_by", MANIFEST_WRITER) != MANIFEST_WRITER or "gigawatt_version" not in manifest:
        return None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return {f for f in files if f in OUTPUT_FILES}


def check_out_dir(out_dir: str | Path) -> Path:
    """Resolve a results folder and check that writing it destroys nothing.

    A results folder may be new, empty, or one that gigawatt wrote before
    (recognized by its ``manifest.json``). In a folder of gigawatt's, only the
    files its manifest lists are replaced; anything else there is left alone.

    Parameters
    ----------
    out_dir : str or Path
        The folder asked for.

    Returns
    -------
    Path
        The folder, resolved (symbolic links followed, absolute).

    Raises
    ------
    OutputError
        When the path is a file, or a folder that holds files gigawatt did not
        write, or a file gigawatt would write exists there as something else
        (a folder, a link).
    """
    asked = Path(out_dir).expanduser()
    target = asked.resolve()
    if target.exists() and not target.is_dir():
        raise OutputError(f"{asked} exists and is not a folder; results are written into a folder",
                          "give the name of a new folder with --out")
    if not target.is_dir():
        return target
    entries = sorted(os.listdir(target))
    if not entries:
        return target
    owned = _owned_files(target)
    if owned is None:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise OutputError(
            f"{asked} already holds {len(entries)} entr{'ies' if len(entries) != 1 else 'y'} that gigawatt did not "
            f"write ({shown}); results go only into a new or empty folder, or one gigawatt wrote before",
            "choose a new folder with --out (for example --out gigawatt-runs/NAME)")
    for name in OUTPUT_FILES:
        path = target / name
        if (path.exists() or path.is_symlink()) and (path.is_symlink() or not path.is_file()):
            raise OutputError(f"{path} is not a regular file; gigawatt would replace it",
                              "move it away, or choose a new folder with --out")
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temp(out_dir: str | Path) -> list[Path]:
    """Remove the temporary folders an interrupted write left beside ``out_dir``.

    Only folders named as gigawatt names them (``.<name>.gigawatt-tmp-*``,
    ``.<name>.gigawatt-old-*``) that hold nothing but files gigawatt writes,
    and whose writing process has ended, are removed.

    Returns
    -------
    list of Path
        The folders removed.
    """
    target = Path(out_dir)
    parent = target.parent
    removed = []
    if not parent.is_dir():
        return removed
    for tag in (_TMP_TAG, _OLD_TAG):
        for folder in parent.glob(f".{target.name}{tag}*"):
            if folder.is_symlink() or not folder.is_dir():
                continue
            entries = list(folder.iterdir())
            if any(e.is_symlink() or not e.is_file() or e.name not in (*OUTPUT_FILES, _TMP_MARKER) for e in entries):
                continue
            marker = folder / _TMP_MARKER
            if marker.exists():
                try:
                    if _pid_alive(int(marker.read_text().strip())):
                        continue
                except (OSError, ValueError):
                    pass
            for e in entries:
                e.unlink()
            folder.rmdir()
            removed.append(folder)
    return removed


def write_outputs(out_dir: str | Path, results: "Results", table_format: str = "csv") -> Path:
    """Write a run's files into ``out_dir`` without touching files gigawatt did not write.

    Files: ``fleet.nc`` (netCDF, the ``(sample, period, site, chip[, workload])``
    arrays), ``summary.json``, the tables in ``table_format`` (``csv`` or
    ``parquet``): ``years`` (every yearly figure, see :func:`years_table`),
    ``training_runs`` (one row per training run, when the scenario has demand)
    and ``ledger`` (one row per year and party, a column per ledger line
    [USD], see :meth:`Results.ledger`; means over samples), then
    ``scenario.yaml`` (the file as given), ``scenario.resolved.json`` (every
    quantity in SI, defaults filled in) and ``manifest.json`` (writer,
    version, seed, files). Nothing is computed anew: the files hold what the
    run computed.

    ``out_dir`` must be new, empty, or a folder gigawatt wrote before
    (:func:`check_out_dir`). Files are written to a temporary folder beside it
    first. A new folder, or one that holds only gigawatt's files, is swapped
    in whole, so an interrupted run leaves the previous results as they were;
    in a folder that also holds other files, each of gigawatt's files is
    replaced on its own (the manifest last) and the other files stay.
    Temporary folders left by an interrupted write are removed first.

    Raises
    ------
    OutputError
        See :func:`check_out_dir`.
    OSError
        When the folder cannot be written.
    """
    if table_format not in ("csv", "parquet"):
        raise OutputError(f"unknown table format {table_format!r}", "write the tables as csv or parquet")
    target = check_out_dir(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temp(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_TAG}", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; results are ordinary files
    try:
        (tmp / _TMP_MARKER).write_text(str(os.getpid()))
        arrays = results.arrays
        arrays.write_netcdf(tmp / "fleet.nc")
        (tmp / "summary.json").write_text(dumps(results.summary_dict, indent=2) + "\n")
        write_table(tmp / f"years.{table_format}", *years_table(results))
        if results.events:
            write_table(tmp / f"training_runs.{table_format}", EVENT_COLUMNS,
                        [[ev.get(c) for c in EVENT_COLUMNS] for ev in results.events])
        if "cash_flow_lines_usd" in arrays:
            from gigawatt.results import ledger_table

            write_table(tmp / f"ledger.{table_format}", *ledger_table(arrays, sample=None))
        (tmp / "scenario.yaml").write_text(results.scenario_text)
        (tmp / "scenario.resolved.json").write_text(dumps(results.resolved, indent=2) + "\n")
        if getattr(results, "uncertainty", None) is not None:  # Monte Carlo: inputs drawn and figures per sample
            results.uncertainty.samples_frame().to_parquet(tmp / "samples.parquet", index=False)
        written = sorted(p.name for p in tmp.iterdir() if p.name != _TMP_MARKER)
        manifest = {
            "written_by": MANIFEST_WRITER,
            "gigawatt_version": results.version,
            "scenario": results.name,
            "seed": results.seed,
            "timings_s": results.timings_s,
            "files": sorted(written + ["manifest.json"]),
        }
        (tmp / "manifest.json").write_text(dumps(manifest, indent=2) + "\n")
        _move_into_place(tmp, target, written)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _move_into_place(tmp: Path, target: Path, written: list[str]) -> None:
    """Swap ``tmp`` in as ``target``, or replace gigawatt's files in it one by one."""
    check_out_dir(target)  # the folder may have changed while the run was computed
    if not target.exists():
        (tmp / _TMP_MARKER).unlink()
        os.replace(tmp, target)
        return
    owned = _owned_files(target) or set()
    present = set(os.listdir(target))
    if present <= owned:
        # nothing but gigawatt's files: swap the whole folder
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}{_OLD_TAG}", dir=target.parent))
        os.rmdir(old)
        (tmp / _TMP_MARKER).unlink()
        os.replace(target, old)
        os.replace(tmp, target)
        for name in os.listdir(old):
            os.unlink(old / name)
        os.rmdir(old)
        return
    # other files live here too: replace gigawatt's own, the manifest last
    for name in written:
        os.replace(tmp / name, target / name)
    for name in sorted(owned - set(written) - {"manifest.json"}):
        if name in present:
            os.unlink(target / name)
    os.replace(tmp / "manifest.json", target / "manifest.json")
    shutil.rmtree(tmp, ignore_errors=True)


#: the columns of ``training_runs.csv``, one row per training run
EVENT_COLUMNS = ["name", "model", "chip", "site", "chips", "start", "finish", "deadline", "delay_days", "status",
                 "moves"]


def years_table(results: "Results") -> tuple[list, list]:
    """The yearly table: ``(columns, rows)``, every yearly figure of the summary in SI units.

    One row per year: the columns of ``summary["years"]`` (chips by generation
    spread into ``chips_<id>`` and ``chips_added_<id>``, each chip's share of the inference
    tokens served into ``served_by_<id>_share``), the inference tokens
    of ``summary["inference"]["years"]`` as ``inference_demand_tokens`` and
    ``inference_served_tokens``, and, summed over each year's months from the
    arrays, ``training_flop`` and each party's net cash flow
    ``lab_cash_flow_usd`` and ``provider_cash_flow_usd`` (positive: money in).
    With several samples, like the summary, every figure is the mean over them.
    """
    summary, arrays = results.summary_dict, results.arrays
    chip_ids = [str(c) for c in arrays.labels("chip")]
    cols = ["year", "it_power_w", "facility_power_w", "energized_it_power_w", "energized_facility_power_w",
            "peak_bf16_flops", "peak_fp8_flops", "spend_usd", "cumulative_spend_usd", "energy_j",
            "binding"] + [f"chips_{c}" for c in chip_ids]
    period_years = np.array([year_of(str(p)) for p in arrays.labels("period")])

    def yearly(var: str, **select) -> dict:
        """{year: the year's sum, mean over samples} of a (sample, period, ...) variable."""
        v = arrays.variables[var]
        values = v.values
        for dim, label in select.items():
            axis = v.dims.index(dim)
            values = np.take(values, list(map(str, arrays.labels(dim))).index(label), axis=axis)
        dims = [d for d in v.dims if d not in select]
        values = np.moveaxis(values, [dims.index("sample"), dims.index("period")], [0, 1])
        values = values.reshape(values.shape[0], values.shape[1], -1).sum(axis=2)
        return {int(y): float(values[:, period_years == y].sum(axis=1).mean()) for y in np.unique(period_years)}

    from_arrays = {}
    if "training_flop" in arrays:
        from_arrays["training_flop"] = yearly("training_flop")
    if "cash_flow_usd" in arrays:
        for party in arrays.labels("party"):
            from_arrays[f"{party}_cash_flow_usd"] = yearly("cash_flow_usd", party=str(party))
    inference = {r.get("year"): r for r in ((summary.get("inference") or {}).get("years") or [])}
    rows = []
    for row in summary["years"]:
        flat = {}
        for key, value in row.items():
            if isinstance(value, dict):  # by chip; served_by's shares are named for their unit
                unit = "_share" if key == "served_by" else ""
                flat.update({f"{key}_{c}{unit}": n for c, n in value.items()})
            elif not isinstance(value, list):
                flat[key] = value
        for key, value in inference.get(row["year"], {}).items():
            if key not in ("year", "served_share", "idle_share") and not isinstance(value, (dict, list)):
                flat[f"inference_{key}"] = value
        for key, by_year in from_arrays.items():
            flat[key] = by_year.get(int(row["year"]))
        rows.append(flat)
    cols += [k for k in dict.fromkeys(k for r in rows for k in r) if k not in cols]
    return cols, [[r.get(c) for c in cols] for r in rows]


def _column_kind(values: list) -> str:
    """How a column is written, as pandas infers it: ``int``, ``float``, ``bool`` or ``text``."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return "bool"
    if present and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                       for v in present):
        if len(present) == len(values) and all(isinstance(v, (int, np.integer)) for v in present):
            return "int"
        return "float"
    return "text"


def _cell(value, kind: str) -> str:
    """One CSV cell as pandas ``to_csv`` writes it (missing values empty, floats as their repr)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if kind == "float":
        return repr(float(value))
    if kind == "int":
        return str(int(value))
    return str(value)


def write_table(path: Path, columns: list, rows: list) -> None:
    """Write a table as CSV, or as Parquet where ``path`` ends in ``.parquet``.

    The CSV is what ``pandas.DataFrame(rows, columns=columns).to_csv(index=False)``
    writes (a column with a missing number is a float column); the Parquet
    file is written with pyarrow, each column typed the same way.
    """
    kinds = [_column_kind([r[i] for r in rows]) for i in range(len(columns))]
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "text": pa.string()}
        data = {}
        for i, (name, kind) in enumerate(zip(columns, kinds)):
            col = [r[i] for r in rows]
            if kind == "float":
                col = [None if v is None else float(v) for v in col]
            elif kind == "text":
                col = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in col]
            data[str(name)] = pa.array(col, type=types[kind])
        pq.write_table(pa.table(data), path)
        return
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(v, k) for v, k in zip(row, kinds)])


def read_summary(folder: str | Path) -> dict:
    """The ``summary.json`` of a results folder written by :func:`write_outputs`.

    Raises
    ------
    OutputError
        When the folder has no gigawatt manifest, or its summary cannot be read.
    """
    folder = Path(folder)
    if _owned_files(folder) is None:
        raise OutputError(f"{folder} is not a results folder written by gigawatt (no gigawatt manifest.json)",
                          "give a scenario file, or a folder written by `gigawatt run`")
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{folder}: cannot read its summary.json: {exc}",
                          "run the scenario again to rewrite the folder") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("years"), list):
        raise OutputError(f"{folder}/summary.json is not a run summary", "run the scenario again to rewrite the folder")
    return summary


def read_outputs(folder: str | Path) -> Results:
    """A results folder written by :func:`write_outputs`, read back as :class:`Results`.

    Raises
    ------
    OutputError
        When the folder has no gigawatt manifest or misses one of its files.
    """
    import xarray as xr

    folder = Path(folder)
    owned = _owned_files(folder)
    if owned is None:
        raise OutputError(f"{folder} is not a results folder written by gigawatt (no gigawatt manifest.json)",
                          "give a folder written by `gigawatt run`, or a run id from `gigawatt runs list`")
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        resolved = json.loads((folder / "scenario.resolved.json").read_text(encoding="utf-8"))
        text = (folder / "scenario.yaml").read_text(encoding="utf-8")
        with xr.open_dataset(folder / "fleet.nc") as ds:
            dataset = ds.load()
        events: list = []
        for name in ("training_runs.csv", "training_runs.parquet"):
            if name not in owned or not (folder / name).exists():
                continue
            import pandas as pd

            frame = pd.read_csv(folder / name) if name.endswith(".csv") else pd.read_parquet(folder / name)
            events = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
                      for row in frame.to_dict(orient="records")]
    except (OSError, ValueError) as exc:
        raise OutputError(f"{folder}: cannot read its results: {exc}",
                          "run the scenario again to rewrite the folder") from None
    from gigawatt.results import Results

    return Results(dataset=dataset, events=events, summary_dict=summary, scenario_text=text, resolved=resolved,
                   version=str(manifest.get("gigawatt_version", "")), seed=int(manifest.get("seed", 0)),
                   timings_s=dict(manifest.get("timings_s") or {}))
