"""``gigawatt report``: one self-contained HTML report of a stored run (and PNGs with ``--png``).

The default file name is a safe stem of the stored scenario name and run id
(:func:`gigawatt.safe_text.file_stem`), in the current folder and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import typer

from gigawatt.cli.common import DEFAULT_DB, fail, guard, lock_timeout_s, safe
from gigawatt.safe_text import file_stem


def report_command(
    run_id: str = typer.Argument(..., help="Run id, or a unique prefix of it (see `gigawatt runs list`)."),
    out: Path = typer.Option(None, "--out", help="HTML file to write. Default: <scenario>-<id>.html here."),
    png: bool = typer.Option(False, "--png", help="Also write one PNG per chart, into <out>-png/ (needs Chromium)."),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="The results store (DuckDB file)."),
) -> None:
    """Write the report of a stored run: one self-contained HTML file that opens offline."""
    from gigawatt import report, store

    info = guard(store.run_info, db, run_id, timeout_s=lock_timeout_s())
    results = guard(store.load_run, db, info["id"], timeout_s=lock_timeout_s())
    path = out or default_report_path(info["scenario"], info["id"])
    try:
        report.write_html(results, path, run_id=info["id"])
    except OSError as exc:
        fail(f"--out: cannot write {path}: {exc}", "choose a writable file with --out")
    print(f"report written to {safe(path)}")
    if png:
        folder = path.with_name(path.stem + "-png")
        paths = guard(report.write_pngs, results, folder)
        print(f"{len(paths)} PNG images written to {safe(folder)}/")


def default_report_path(scenario: object, run_id: object) -> Path:
    """``<scenario>-<id>.html`` in the current folder, both parts made safe file-name stems.

    A stored name such as ``../../x`` becomes ``x``; a path that would still
    resolve outside the current folder (a link of that name pointing
    elsewhere) is refused with exit status 2.
    """
    path = Path(f"{file_stem(scenario)}-{file_stem(run_id, max_len=40)}.html")
    here = Path.cwd().resolve()
    if path.resolve().parent != here:
        fail(f"the report's default file {path} would be written outside the current folder "
              f"(to {path.resolve()})", "choose where to write it with --out")
    return path


def register(main: typer.Typer) -> None:
    main.command("report", help="Write the HTML report of a stored run (opens offline); --png for images.")(
        report_command)
