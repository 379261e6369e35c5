"""Every flag is checked: zero, negative, non-finite and absurd values exit 2 naming the flag, before any model runs."""

import pytest
from typer.testing import CliRunner

from gigawatt.cli import app

runner = CliRunner()
TRAIN = ["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "64"]
SERVE = ["perf", "serve", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "8"]

CASES = [
    (TRAIN + ["--tp", "0"], "--tp"),
    (TRAIN + ["--vpp", "0"], "--vpp"),
    (TRAIN + ["--pp", "-2"], "--pp"),
    (TRAIN + ["--micro-batch", "0"], "--micro-batch"),
    (TRAIN + ["--global-batch", "-5"], "--global-batch"),
    (TRAIN + ["--seq-len", "0"], "--seq-len"),
    (TRAIN + ["--tp", "128"], "--tp"),  # more than the job's 64 chips
    (TRAIN + ["--tokens", "nan"], "--tokens"),
    (TRAIN + ["--mtbf", "0h"], "--mtbf"),
    (["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "0"], "--chips"),
    (["perf", "train", "--model", "llama3.1-8b", "--chip", "h100", "--chips", "999999999999"], "--chips"),
    (SERVE + ["--tp", "0"], "--tp"),
    (SERVE + ["--pp", "0"], "--pp"),
    (SERVE + ["--batch", "-4"], "--batch"),
    (SERVE + ["--input", "nan"], "--input"),
    (SERVE + ["--output", "inf"], "--output"),
    (SERVE + ["--input", "-1"], "--input"),
    (SERVE + ["--ttft", "0s"], "--ttft"),
    (SERVE + ["--tpot", "-5ms"], "--tpot"),
    (["backtest", "--inference", "/no/such.csv"], "--inference"),
]


@pytest.mark.parametrize("args,flag", CASES, ids=[" ".join(a[len(TRAIN) - 6:]) for a, _ in CASES])
def test_bad_flag_exits_2_naming_it(args, flag):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, (args, r.output)
    assert "Traceback" not in r.output
    first = r.stderr.strip().splitlines()[0]
    assert flag in first, r.stderr


def test_run_samples_out_of_range():
    r = runner.invoke(app, ["run", "anthropic-aws-2026", "--samples", "0", "--no-store", "--no-write"])
    assert r.exit_code == 2 and "--samples" in r.output
