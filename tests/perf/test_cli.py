"""The perf CLI: tables, JSON, and one-line errors with exit status 2."""

import json
import math
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from gigawatt.cli import perf as cli

runner = CliRunner()


def _app():
    app = typer.Typer()
    app.add_typer(cli.app, name="perf")
    app.command("backtest")(cli.backtest_command)
    return app


def test_cli_module_imports_light():
    code = "import sys, gigawatt.cli.perf; print(any(m in sys.modules for m in ('numpy', 'rich', 'pandas')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_train_search_json():
    r = runner.invoke(_app(), ["perf", "train", "--model", "llama3.1-405b", "--chip", "trainium2", "--chips",
                               "65536", "--search", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["layout"]["tp"] >= 1 and 0 < out["mfu"] < 1 and out["days_to_train"] > 0


def test_train_table():
    r = runner.invoke(_app(), ["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "64",
                               "--tp", "2"])
    assert r.exit_code == 0, r.output
    assert "tokens/s" in r.stdout and "MFU" in r.stdout and "TP2" in r.stdout
    # the goodput row names its inputs: the scenario schema's calibrated 20-minute checkpoints and 8.5-minute
    # restart; the title names the precision, by default the chip's catalog one (FP8 on Hopper)
    assert "checkpoint every 20 min" in r.stdout and "restart 8.5 min" in r.stdout and "chip MTBF" in r.stdout
    assert "(fp8," in r.stdout


def test_train_goodput_inputs():
    base = ["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "16384", "--tp", "1", "--json"]
    r = runner.invoke(_app(), base + ["--mtbf", "25000h", "--checkpoint-interval", "30min", "--restart-time", "6min"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["chip_mtbf_s"] == 25000 * 3600 and out["checkpoint_interval_s"] == 1800 and out["restart_s"] == 360
    # 16,384 / 25,000 h x (15 + 6 min) lost per interruption
    assert out["goodput"] == pytest.approx(1 - 16384 / 25000 * 21 / 60)
    assert out["days_to_train_with_goodput"] == pytest.approx(out["days_to_train"] / out["goodput"])


def test_train_schedule_option():
    r = runner.invoke(_app(), ["perf", "train", "--model", "llama3.1-70b", "--chip", "h100", "--chips", "256",
                               "--tp", "8", "--pp", "8", "--vpp", "1", "--schedule", "zero-bubble"])
    assert r.exit_code == 0, r.output
    assert "zero-bubble" in r.stdout


def test_serve_server_regime():
    r = runner.invoke(_app(), ["perf", "serve", "--model", "llama3.1-70b", "--chip", "h100-sxm", "--chips", "8",
                               "--input", "2000", "--output", "200", "--ttft", "2s", "--tpot", "50ms",
                               "--precision", "fp8", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["regime"] == "server" and out["tpot_s"] <= 0.05


def test_bad_input_exit_2():
    cases = [
        (["perf", "train", "--model", "llama9", "--chip", "h100", "--chips", "8"], "--model"),
        (["perf", "train", "--model", "llama3.1-8b", "--chip", "h1000", "--chips", "8"], "--chip"),
        (["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "8", "--tp", "3"], "--tp"),
        (["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "8", "--schedule", "gpipe"],
         "--schedule"),
        (["perf", "train", "--model", "llama3.1-405b", "--chip", "h100", "--chips", "8"], "--chips"),
        (["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "8", "--recompute", "some"],
         "--recompute"),
        (["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "8", "--restart-time", "-5min"],
         "--restart-time"),
        (["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "8", "--checkpoint-interval", "0s"],
         "--checkpoint-interval"),
        (["perf", "serve", "--model", "llama3.1-405b", "--chip", "h100", "--chips", "1"], "--chips"),
        (["perf", "serve", "--model", "llama3.1-70b", "--chip", "h100", "--chips", "8", "--tpot", "fast"], "--tpot"),
        (["perf", "serve", "--model", "deepseek-v3", "--chip", "b200", "--chips", "8", "--ep", "16"], "--ep"),
        (["perf", "serve", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "1", "--kv-reservation", "lazy"],
         "--kv-reservation"),
        (["backtest", "--training", "/no/such.csv"], "--training"),
    ]
    for args, flag in cases:
        r = runner.invoke(_app(), args)
        assert r.exit_code == 2, (args, r.output)
        err = r.stderr.strip()
        first, *rest = err.splitlines()
        # one line naming the flag, then at most a hint
        assert first.startswith("error:") and flag in first and all(r.startswith("  hint:") for r in rest), err


def test_backtest_json_only():
    r = runner.invoke(_app(), ["backtest", "--json"])
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["training"]["n"] == 59 and out["inference"]["n"] == 64
    assert all(row["low"] <= row["predicted"] <= row["high"] for row in out["training"]["rows"])


def test_backtest_table():
    r = runner.invoke(_app(), ["backtest"])
    assert r.exit_code == 0
    assert "median |error|" in r.stdout and "megatron21-t1-1p7b" in r.stdout and "leave-one-source-out" in r.stdout


def test_backtest_held_out(tmp_path):
    # two groups of each file: every row gets the error of a refit without its own group
    import csv

    from gigawatt.perf.backtest import packaged_path, load_rows

    paths = {}
    for name, keep in (("training", ("megatron21-t2", "nemotron4-15b")), ("inference", ("mlperf41-llama2", "trtllm10-llama31"))):
        rows = [r for r in load_rows(packaged_path(f"{name}_runs.csv")) if r["id"].startswith(keep)]
        paths[name] = tmp_path / f"{name}.csv"
        with open(paths[name], "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    r = runner.invoke(_app(), ["backtest", "--training", str(paths["training"]), "--inference", str(paths["inference"]),
                               "--held-out", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    # publisher/stack blocks: Narayanan's and Parmar's Megatron rows, MLPerf's TensorRT-LLM and vLLM, NVIDIA's TensorRT-LLM
    assert len(out["held_out"]["blocks"]) == 5
    for part in (out["training"], out["inference"]):
        assert all(math.isfinite(row["held_out_error"]) for row in part["rows"])
        # held out, a row is predicted by coefficients its own group did not set: not the in-sample value
        assert any(abs(row["held_out_error"] - row["error"]) > 1e-3 for row in part["rows"])
