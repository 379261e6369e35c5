"""`--out` writes only into a new folder or one gigawatt wrote, and never deletes what it did not write."""

import json
import os
import subprocess
import sys

import pytest

import gigawatt
from gigawatt.jsonio import dumps as dumps_strict
from gigawatt.outputs import OUTPUT_FILES, OutputError, check_out_dir, clean_stale_temp, write_outputs


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gigawatt.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from tests.conftest import MINIMAL

    path = tmp_path_factory.mktemp("scn") / "tiny.yaml"
    path.write_text(MINIMAL)
    return gigawatt.run(path)


def test_a_folder_with_other_files_is_refused_before_any_work(tmp_path, minimal_text):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "a.txt").write_text("precious")
    scn = tmp_path / "s.yaml"
    scn.write_text(minimal_text)
    proc = cli("run", scn, "--out", keep, "--no-store")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "did not write" in proc.stderr and "a.txt" in proc.stderr
    assert (keep / "a.txt").read_text() == "precious"
    assert sorted(os.listdir(keep)) == ["a.txt"]


def test_out_as_the_scenario_folder_keeps_the_scenario_and_the_store(tmp_path, minimal_text):
    scn = tmp_path / "my.yaml"
    scn.write_text(minimal_text)
    (tmp_path / "notes.txt").write_text("notes")
    proc = cli("run", scn, "--out", tmp_path, "--db", tmp_path / "store.duckdb", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["my.yaml", "notes.txt"]  # no store written either: nothing ran
    proc = cli("run", scn, "--out", ".", "--no-store", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_out_naming_a_file_is_refused(tmp_path, minimal_text):
    scn = tmp_path / "s.yaml"
    scn.write_text(minimal_text)
    afile = tmp_path / "afile"
    afile.write_text("x")
    proc = cli("run", scn, "--out", afile, "--no-store")
    assert proc.returncode == 2 and "not a folder" in proc.stderr
    assert afile.read_text() == "x"


def test_rewriting_own_folder_keeps_foreign_files(tmp_path, results):
    out = tmp_path / "res"
    write_outputs(out, results)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["written_by"] == "gigawatt"
    assert set(manifest["files"]) == {p.name for p in out.iterdir()}
    (out / "mynotes.txt").write_text("mine")
    (out / "summary.json").write_text("stale")
    write_outputs(out, results)
    assert (out / "mynotes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["scenario"] == "tiny"
    # only gigawatt's files and the user's one; no temporary folder left beside it
    assert {p.name for p in out.iterdir()} == set(manifest["files"]) | {"mynotes.txt"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_a_file_gigawatt_no_longer_writes_is_removed_only_if_its_manifest_lists_it(tmp_path, results):
    out = tmp_path / "res"
    write_outputs(out, results)
    # an older run of this folder wrote training_runs.csv; this one (no demand) does not
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"] = sorted(set(manifest["files"]) | {"training_runs.csv"})
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "training_runs.csv").write_text("old")
    (out / "other.csv").write_text("user")
    write_outputs(out, results)
    assert not (out / "training_runs.csv").exists()
    assert (out / "other.csv").read_text() == "user"


def test_a_foreign_manifest_does_not_make_a_folder_ours(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"files": ["a.txt"], "written_by": "someone-else",
                                                   "gigawatt_version": "0"}))
    with pytest.raises(OutputError, match="did not write"):
        check_out_dir(out)
    (out / "manifest.json").write_text("[1, 2]")
    with pytest.raises(OutputError):
        check_out_dir(out)


def test_an_output_name_held_by_a_folder_or_link_is_refused(tmp_path, results):
    out = tmp_path / "res"
    write_outputs(out, results)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "summary.json").unlink()
    (out / "summary.json").symlink_to(victim)
    with pytest.raises(OutputError, match="not a regular file"):
        write_outputs(out, results)
    assert victim.read_text() == "keep me"


def test_stale_temp_folders_are_cleaned_only_when_they_are_gigawatts(tmp_path, results):
    out = tmp_path / "res"
    dead = tmp_path / ".res.gigawatt-tmp-abc"
    dead.mkdir()
    (dead / "summary.json").write_text("{}")
    (dead / ".gigawatt-partial").write_text("999999999")  # no such process
    alive = tmp_path / ".res.gigawatt-tmp-def"
    alive.mkdir()
    (alive / ".gigawatt-partial").write_text(str(os.getpid()))
    foreign = tmp_path / ".res.gigawatt-tmp-ghi"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("user data")
    assert clean_stale_temp(out) == [dead]
    assert alive.exists() and (foreign / "thesis.tex").exists()
    write_outputs(out, results)
    assert not dead.exists()


def test_written_files_are_strict_json(tmp_path, results):
    out = write_outputs(tmp_path / "res", results)
    for name in ("summary.json", "scenario.resolved.json", "manifest.json"):
        json.loads((out / name).read_text(), parse_constant=lambda c: pytest.fail(f"{name} holds {c}"))
    assert dumps_strict({"a": float("nan"), "b": [float("inf"), 1.0]}) == '{"a": null, "b": [null, 1.0]}'
    assert set(OUTPUT_FILES) >= {p.name for p in out.iterdir()}


def test_a_damaged_store_is_refused_before_the_results_folder_is_written(tmp_path, minimal_text):
    scn = tmp_path / "s.yaml"
    scn.write_text(minimal_text)
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(os.urandom(5000))
    proc = cli("run", scn, "--db", bad, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--db" in proc.stderr and "hint:" in proc.stderr
    assert not (tmp_path / "gigawatt-runs").exists()


def test_changing_the_table_format_replaces_only_gigawatts_tables(tmp_path, results):
    out = tmp_path / "res"
    write_outputs(out, results)
    (out / "mine.parquet").write_text("user")
    write_outputs(out, results, table_format="parquet")
    names = {p.name for p in out.iterdir()}
    assert {"years.parquet", "ledger.parquet"} <= names and "years.csv" not in names and "ledger.csv" not in names
    assert (out / "mine.parquet").read_text() == "user"
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == names - {"mine.parquet"}
    write_outputs(out, results)
    assert not any(n.endswith(".parquet") for n in os.listdir(out) if n != "mine.parquet")


def test_an_unknown_table_format_writes_nothing(tmp_path, results):
    with pytest.raises(OutputError, match="table format"):
        write_outputs(tmp_path / "res", results, table_format="xlsx")
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_folders_holding_parquet_tables_are_cleaned(tmp_path):
    dead = tmp_path / ".res.gigawatt-tmp-abc"
    dead.mkdir()
    for name in ("years.parquet", "ledger.parquet", "ledger.csv"):
        (dead / name).write_text("x")
    (dead / ".gigawatt-partial").write_text("999999999")
    assert clean_stale_temp(tmp_path / "res") == [dead]
