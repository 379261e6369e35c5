"""A store that defends itself: damaged, foreign and hostile store files give one clear error and exit 2,
names read from a store cannot drive the terminal or place files outside the current folder."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gigawatt import store
from gigawatt.cli import app
from gigawatt.safe_text import file_stem, terminal_text
from test_store import CONTRAST, shipped

EVIL = "x\x1b]0;pwned\x07\x1b[2Jy\u202eevil\x9b31m"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One real store with one run, built once; each test copies it."""
    db = tmp_path_factory.mktemp("pristine") / "store.duckdb"
    run_id = store.save(shipped(CONTRAST), db)
    return db, run_id


@pytest.fixture
def real(pristine, tmp_path):
    """A fresh copy of the real store in this test's folder: (path, run id)."""
    src, run_id = pristine
    db = tmp_path / "store.duckdb"
    shutil.copy(src, db)
    return db, run_id


def sql(db, *statements, params=None):
    con = duckdb.connect(str(db))
    try:
        for s in statements:
            con.execute(s, params or [])
    finally:
        con.close()


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_clean_failure(result, *needles):
    """Exit 2 with one message and a hint on stderr, not an exception."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ") and "  hint: " in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def every_reader(db, run_id):
    """The CLI commands that read the store, each on ``db``."""
    return [("runs", "list", "--db", db), ("runs", "list", "--json", "--db", db), ("runs", "show", run_id, "--db", db),
            ("runs", "diff", run_id, run_id, "--db", db), ("report", run_id, "--db", db)]


# --------------------------------------------------------------------------- files that are not a store


def truncated_half(db):
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def truncated_in_header(db):
    db.write_bytes(db.read_bytes()[:5000])


def random_bytes(db):
    db.write_bytes(os.urandom(200_000))


def text_file(db):
    db.write_text("id,scenario\n1,hello\n")


def empty_file(db):
    db.write_bytes(b"")


@pytest.mark.parametrize("damage, message", [
    (truncated_half, "is truncated"),
    (truncated_in_header, "not a readable DuckDB database"),
    (random_bytes, "not a readable DuckDB database"),
    (text_file, "not a readable DuckDB database"),
    (empty_file, "not a readable DuckDB database"),
])
def test_a_file_that_is_not_a_store(real, tmp_path, monkeypatch, damage, message):
    db, run_id = real
    damage(db)
    before = db.read_bytes()
    monkeypatch.chdir(tmp_path)
    for args in every_reader(db, run_id):
        assert_clean_failure(invoke(*args), message, str(db), "--db new.duckdb")
    with pytest.raises(store.StoreError, match=message) as info:
        store.check(db)
    assert "--db new.duckdb" in info.value.hint and "move" in info.value.hint
    assert db.read_bytes() == before  # reading never changes it
    assert not list(tmp_path.glob("*.html"))  # no report


def test_a_half_store_is_caught_before_a_query_reads_past_its_end(real):
    """Half of the real store still opens and lists (the catalog is at the front): the size check is what
    catches it, before a query runs into the missing blocks."""
    db, run_id = real
    truncated_half(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    finally:
        con.close()
    with pytest.raises(store.StoreError, match="truncated: the file has .* bytes, its blocks in use need"):
        store.load_run(db, run_id)


def test_save_into_a_truncated_store_is_a_store_error(real):
    db, _ = real
    truncated_half(db)
    with pytest.raises(store.StoreError):
        store.save(shipped(CONTRAST), db)


def test_a_damaged_file_named_like_a_lock_fails_at_once(tmp_path):
    """An error text that contains the path ("blocks/...") is not taken for another process's lock."""
    db = tmp_path / "blocks" / "locked.duckdb"
    db.parent.mkdir()
    random_bytes(db)
    start = time.monotonic()
    with pytest.raises(store.StoreError, match="not a readable DuckDB database") as info:
        store.check(db, timeout_s=30)
    assert not isinstance(info.value, store.StoreLocked)
    assert time.monotonic() - start < 10


# --------------------------------------------------------------------------- DuckDB files that are not our store


def test_a_duckdb_file_with_its_own_runs_table(tmp_path, monkeypatch):
    db = tmp_path / "mine.duckdb"
    sql(db, "CREATE TABLE runs (runner VARCHAR, km DOUBLE)", "INSERT INTO runs VALUES ('ana', 10.5)")
    monkeypatch.chdir(tmp_path)
    for args in every_reader(db, "abc"):
        assert_clean_failure(invoke(*args), "not a gigawatt results store", "runner, km", "--db new.duckdb")
    with pytest.raises(store.StoreError, match="not a gigawatt results store"):
        store.check(db)
    with pytest.raises(store.StoreError, match="not a gigawatt results store"):
        store.save(shipped(CONTRAST), db)
    # its owner's data is as it was: no rows added, no tables created
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT * FROM runs").fetchall() == [("ana", 10.5)]
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()
    assert tables == {"runs"}


def test_a_duckdb_file_without_our_tables_is_an_empty_store(tmp_path):
    """Other tables only: nothing to list, and a run can be saved next to them."""
    db = tmp_path / "other.duckdb"
    sql(db, "CREATE TABLE notes (t VARCHAR)")
    assert store.check(db) == "empty"
    assert store.list_runs(db) == []
    result = invoke("runs", "show", "abc", "--db", db)
    assert_clean_failure(result, "the store has no runs")
    run_id = store.save(shipped(CONTRAST), db)
    assert store.check(db) == "ok" and [r["id"] for r in store.list_runs(db)] == [run_id]


@pytest.mark.parametrize("statement, message", [
    ("ALTER TABLE runs DROP COLUMN seed", "table runs lacks column(s) seed"),
    ("ALTER TABLE runs DROP COLUMN scenario", "table runs lacks column(s) scenario"),
    ("ALTER TABLE run_values DROP COLUMN period", "table run_values lacks column(s) period"),
    ("DROP TABLE run_events", "table run_events is missing"),
    ("ALTER TABLE runs ALTER created_at TYPE VARCHAR", "runs.created_at is VARCHAR, not TIMESTAMP"),
    ("DROP TABLE store_meta", "not a gigawatt results store: it has no store_meta table"),
    ("DELETE FROM store_meta", "store_meta has no schema_version"),
    ("UPDATE store_meta SET value = 'one' WHERE key = 'schema_version'", "schema_version 'one' is not a number"),
])
def test_a_store_with_damaged_tables(real, tmp_path, monkeypatch, statement, message):
    db, run_id = real
    sql(db, statement)
    monkeypatch.chdir(tmp_path)
    for args in every_reader(db, run_id):
        assert_clean_failure(invoke(*args), message, "--db new.duckdb")
    with pytest.raises(store.StoreError, match=re.escape(message)):
        store.check(db)
    with pytest.raises(store.StoreError, match=re.escape(message)):
        store.save(shipped(CONTRAST), db)
    assert not list(tmp_path.glob("*.html"))


def test_a_store_from_a_newer_gigawatt(real, tmp_path, monkeypatch):
    db, run_id = real
    sql(db, "UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    monkeypatch.chdir(tmp_path)
    for args in every_reader(db, run_id):
        assert_clean_failure(invoke(*args), "schema version 99", "newer", "upgrade gigawatt")
    with pytest.raises(store.StoreError, match="schema version 99"):
        store.save(shipped(CONTRAST), db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # nothing was added
    finally:
        con.close()


def test_extra_columns_and_another_column_order_are_fine(real):
    """Inserts name their columns: a store with an added column still takes runs."""
    db, run_id = real
    sql(db, "ALTER TABLE runs ADD COLUMN note VARCHAR")
    assert store.check(db) == "ok"
    second = store.save(shipped(CONTRAST), db)
    assert [r["id"] for r in store.list_runs(db)] == [run_id, second]


# --------------------------------------------------------------------------- damaged rows


@pytest.mark.parametrize("column, text, message", [
    ("summary_json", "{not json", "its summary_json is not valid JSON"),
    ("resolved_json", "[1, 2]", "its resolved_json is a JSON list, not an object"),
    ("dataset_json", '{"coords": 3}', "its dataset cannot be rebuilt"),
])
def test_a_run_with_broken_json_is_named_and_the_others_still_list(real, column, text, message):
    db, run_id = real
    good = store.save(shipped(CONTRAST), db)
    sql(db, f"UPDATE runs SET {column} = ? WHERE id = ?", params=[text, run_id])
    readers = [("report", run_id, "--db", db)]
    if column != "dataset_json":
        readers.append(("runs", "show", run_id, "--db", db))
    for args in readers:
        assert_clean_failure(invoke(*args), f"run {run_id}", "is damaged", message)
    listed = invoke("runs", "list", "--db", db)
    assert listed.exit_code == 0, listed.output
    assert run_id in listed.stdout and good in listed.stdout
    shown = invoke("runs", "show", good, "--db", db)
    assert shown.exit_code == 0, shown.output


def test_a_summary_missing_its_fields_is_a_clean_failure(real):
    db, run_id = real
    sql(db, """UPDATE runs SET summary_json = '{"years": [{"year": 2026}]}'""")
    assert_clean_failure(invoke("runs", "show", run_id, "--db", db), "cannot be shown", "KeyError")


# --------------------------------------------------------------------------- check(), for `gigawatt run`


def test_check_says_what_save_will_do_and_changes_nothing(real, tmp_path):
    db, _ = real
    assert store.check(db) == "ok"
    new = tmp_path / "sub" / "new.duckdb"
    assert store.check(new) == "new"
    assert not new.exists() and not new.parent.exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(store.StoreError, match="is not a folder"):
        store.check(a_file / "x.duckdb")
    with pytest.raises(store.StoreError, match="is a folder"):
        store.check(tmp_path)


def test_check_does_not_wait_out_a_busy_store(real, tmp_path):
    db, _ = real
    ready = tmp_path / "holding"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time, pathlib; con = duckdb.connect(sys.argv[1]); "
        "pathlib.Path(sys.argv[2]).write_text('x'); time.sleep(30)"), str(db), str(ready)])
    try:
        end = time.monotonic() + 20
        while not ready.exists():
            assert time.monotonic() < end and holder.poll() is None
            time.sleep(0.02)
        assert store.check(db, timeout_s=0.3) == "busy"
    finally:
        holder.kill()
        holder.wait(10)


# --------------------------------------------------------------------------- hostile names


def rename(db, name):
    """Give the stored run another scenario name, in its row and in its summary."""
    con = duckdb.connect(str(db))
    try:
        summary = json.loads(con.execute("SELECT summary_json FROM runs").fetchone()[0])
        summary["scenario"] = name
        con.execute("UPDATE runs SET scenario = ?, summary_json = ?", [name, json.dumps(summary)])
    finally:
        con.close()


def files_under(folder):
    return {p for p in Path(folder).rglob("*")}


def test_report_of_a_name_that_climbs_out_is_written_here(real, tmp_path, monkeypatch):
    db, run_id = real
    rename(db, "../../escaped-name")
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = files_under(tmp_path)
    result = invoke("report", run_id, "--db", db)
    assert result.exit_code == 0, (result.output, result.exception)
    written = work / f"escaped-name-{run_id}.html"
    assert written.is_file() and f"report written to escaped-name-{run_id}.html" in result.stdout
    assert files_under(tmp_path) - before == {written}
    assert "escaped-name" in written.read_text()  # the report itself still names the run


def test_report_will_not_follow_a_link_out_of_the_folder(real, tmp_path, monkeypatch):
    db, run_id = real
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside.html"
    (work / f"contrast-{run_id}.html").symlink_to(outside)
    rename(db, "contrast")
    monkeypatch.chdir(work)
    assert_clean_failure(invoke("report", run_id, "--db", db), "outside the current folder", "--out")
    assert not outside.exists()


@pytest.mark.parametrize("name, stem", [
    (EVIL, "x-0-pwned-2Jy-evil-31m"),
    ("", "run"),
    ("...", "run"),
    ("/etc/passwd", "etc-passwd"),
    ("..\\..\\windows", "windows"),
    (".hidden", "hidden"),
    ("-rf", "rf"),
    ("NUL", "run-NUL"),
    ("a" * 500, "a" * 80),
])
def test_report_default_file_name(real, tmp_path, monkeypatch, name, stem):
    db, run_id = real
    rename(db, name)
    monkeypatch.chdir(tmp_path)
    result = invoke("report", run_id, "--db", db)
    assert result.exit_code == 0, (result.output, result.exception)
    assert (tmp_path / f"{stem}-{run_id}.html").is_file()


def test_control_and_bidi_characters_are_shown_escaped(real):
    db, run_id = real
    rename(db, EVIL)
    sql(db, "UPDATE runs SET status = ?, version = ?", params=["ok\x1b[8m", "0.1\u2066"])
    visible = r"x\x1b]0;pwned\x07\x1b[2Jy\u202eevil\x9b31m"
    for args in (("runs", "list", "--db", db), ("runs", "show", run_id, "--db", db),
                 ("runs", "diff", run_id, run_id, "--db", db)):
        result = invoke(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        raw = [c for c in result.stdout if c in "\x1b\x07\x9b\u202e\u2066"]
        assert raw == [], (args, raw)
        assert visible in result.stdout.replace("\n", "")
    shown = invoke("runs", "show", run_id, "--db", db).stdout
    assert r"status ok\x1b[8m" in shown and r"gigawatt 0.1\u2066" in shown
    # --json keeps the exact name, escaped by JSON itself
    listed = invoke("runs", "list", "--json", "--db", db)
    assert "\x1b" not in listed.stdout and "\u202e" not in listed.stdout
    assert json.loads(listed.stdout)["runs"][0]["scenario"] == EVIL


def test_error_messages_escape_what_came_from_the_store(real):
    db, run_id = real
    sql(db, "UPDATE runs SET id = ?", params=[run_id + "\x1b[2J"])
    store.save(shipped(CONTRAST), db, run_id=run_id + "zz")
    result = invoke("runs", "show", run_id, "--db", db)  # two ids start with it
    assert_clean_failure(result, "is ambiguous", r"\x1b[2J")
    assert "\x1b" not in result.stderr


def test_no_traceback_from_a_real_process(real, tmp_path):
    """Through the installed entry point, not the test runner: stderr is the message and the hint."""
    db, run_id = real
    truncated_half(db)
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from gigawatt.cli import main; sys.argv[0] = 'gigawatt'; main()",
         "report", run_id, "--db", str(db)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "is truncated" in proc.stderr and "hint:" in proc.stderr
    assert proc.stdout == ""


# --------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x08", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b",
                                  "\u061c", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\u2028"])
def test_terminal_text_escapes_each_dangerous_character(char):
    out = terminal_text(f"a{char}b")
    assert char not in out and out.startswith("a\\") and out.endswith("b")
    code = ord(char)
    assert out[1:-1] == (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def test_terminal_text_keeps_ordinary_text():
    text = "anthropic-aws-2026 — Déploiement 日本 ✓ $1.50/h [bold]"
    assert terminal_text(text) == text
    assert terminal_text(None) == "None" and terminal_text(7) == "7"


SAFE_STEM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


@given(st.text(max_size=300))
def test_file_stem_is_always_a_safe_name(text):
    stem = file_stem(text)
    assert SAFE_STEM.fullmatch(stem), stem
    assert len(stem) <= 80 and ".." not in stem
    assert stem == "run" or stem.split(".")[0].upper() not in {"CON", "NUL", "PRN", "AUX"}
    assert (Path("/some/folder") / f"{stem}.html").parent == Path("/some/folder")


def test_file_stem_keeps_a_valid_scenario_name():
    for name in ("anthropic-aws-2026", "nvidia-gb-contrast-2026", "a.b_c-1"):
        assert file_stem(name) == name
    assert file_stem("Déploiement été") == "Deploiement-ete"
    assert file_stem("x" * 50, max_len=10) == "x" * 10


@pytest.mark.parametrize("statement, needle", [
    ("DELETE FROM run_values", "run_values holds 0 of its"),
    ("DELETE FROM run_values WHERE variable = 'installed'", "run_values holds"),
])
def test_a_run_with_missing_array_rows_is_damaged_not_empty(real, statement, needle):
    db, run_id = real
    sql(db, statement)
    with pytest.raises(store.StoreError, match=needle):
        store.load_run(db, run_id)
    assert_clean_failure(invoke("report", run_id, "--db", db, "--out", db.parent / "r.html"), "damaged")
    assert not (db.parent / "r.html").exists()
