"""Throughput matrix: shape, coordinates, NaN with a note where a cell cannot run; the fleet's one door."""

import numpy as np
import pytest

from gigawatt import perf


def test_matrix():
    m = perf.throughput_matrix(
        {"train-8b": {"model": "llama3.1-8b", "chips": 256},
         "chat-70b": {"kind": "inference", "model": "llama3.1-70b", "input_len": 2000, "output_len": 200}},
        ["h100-sxm", "trainium2", "no-such-chip"],
    )
    assert m.dims == ("workload", "chip") and m.shape == (2, 3)
    assert np.all(m.sel(chip=["h100-sxm", "trainium2"]).values > 0)
    assert np.isnan(m.sel(chip="no-such-chip")).all() and "no-such-chip" in str(m.note.values[0, 2])
    mfu = m.mfu.sel(chip="h100-sxm").values
    assert np.all((mfu > 0) & (mfu < 1))
    # J/token = TDP / rate (chip power only): 700 W on H100
    j = float(m.joules_per_token.sel(workload="train-8b", chip="h100-sxm"))
    assert np.isclose(j, 700.0 / float(m.sel(workload="train-8b", chip="h100-sxm")))


def test_matrix_cells_mask_and_systems():
    m = perf.throughput_matrix(
        [{"name": "chat", "kind": "inference", "model": "llama3.1-70b", "input_len": 2000, "output_len": 200}],
        [("trainium2", "trn2-48xlarge"), ("trainium2", "trn2-ultraserver"), "h100-sxm"],
        evaluate=[[True, True, False]])
    assert list(m.system.values) == ["trn2-48xlarge", "trn2-ultraserver", ""]
    assert np.isnan(m.values[0, 2]) and str(m.note.values[0, 2]) == "not evaluated"
    # each cell is evaluated on the system asked for (a 16-chip server, a 64-chip UltraServer)
    from gigawatt.perf.api import serve_plan

    for j, system in enumerate(("trn2-48xlarge", "trn2-ultraserver")):
        plan = serve_plan("llama3.1-70b", "trainium2", None, input_len=2000, output_len=200, precision="fp8",
                          system=system)
        assert plan["system"] == system and m.values[0, j] == plan["output_tokens_per_s_per_chip"] > 0


# ---------------------------------------------------------------- one door to the fleet
FLAGSHIP = "scenarios/anthropic-aws-2026.yaml"


def _flagship():
    from pathlib import Path

    from gigawatt.fleet import build_fleet
    from gigawatt.fleet.demand import resolve_workloads
    from gigawatt.fleet.throughput import compute_fleet_throughput, flop_per_token
    from gigawatt.scenario import load_scenario

    scn = load_scenario(Path(__file__).resolve().parents[2] / FLAGSHIP)
    fleet = build_fleet(scn)
    work = resolve_workloads(scn, fleet, flop_per_token)
    return scn, fleet, work, compute_fleet_throughput(fleet, work)


def test_fleet_serving_rate_is_what_perf_serve_reports():
    # the flagship's chat stream on each of its chips: the fleet's rate is serve_plan's for the
    # same inputs, and the CLI's `perf serve` per chip on one scale-up domain of the system
    import json

    from typer.testing import CliRunner

    from gigawatt.cli import app
    from gigawatt.perf.api import serve_plan

    _, fleet, work, th = _flagship()
    w, st = next((i, s) for i, s in enumerate(work.streams) if s.agentic is None)
    for c, spec in enumerate(fleet.chips):
        api = serve_plan(st.model, spec.chip, None, input_len=st.input_tokens, output_len=st.output_tokens,
                         precision=st.precision, ttft_limit_s=st.ttft_s, tpot_limit_s=st.tpot_s, system=spec.system)
        assert th.inference_output_tokens_per_chip_s[w, c] == api["output_tokens_per_s_per_chip"] > 0
    spec = fleet.chips[0]
    # the fleet's pool runs replicas of the best layout; a system of one such replica gets the same rate
    api = serve_plan(st.model, spec.chip, None, input_len=st.input_tokens, output_len=st.output_tokens,
                     precision=st.precision, ttft_limit_s=st.ttft_s, tpot_limit_s=st.tpot_s, system=spec.system)
    r = CliRunner().invoke(app, ["perf", "serve", "--model", st.model, "--chip", spec.chip, "--system", spec.system,
                                 "--chips", str(api["tp"] * api["pp"]), "--input", f"{st.input_tokens:g}", "--output", f"{st.output_tokens:g}",
                                 "--ttft", f"{st.ttft_s}s", "--tpot", f"{st.tpot_s}s", "--precision", st.precision,
                                 "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["output_tokens_per_s_per_chip"] == pytest.approx(
        th.inference_output_tokens_per_chip_s[w, 0], rel=1e-12)


def test_fleet_agentic_and_training_rates_are_the_matrix_cells():
    from gigawatt.fleet.throughput import BUCKET_CHIPS, batch_seqs, model_seq_len
    from gigawatt.perf.api import serve_plan, train_plan

    _, fleet, work, th = _flagship()
    w, st = next((i, s) for i, s in enumerate(work.streams) if s.agentic is not None)
    spec = fleet.chips[-1]
    api = serve_plan(st.model, spec.chip, None, input_len=st.input_tokens, output_len=st.output_tokens,
                     precision=st.precision, system=spec.system, agentic=st.agentic)
    assert th.inference_output_tokens_per_chip_s[w, len(fleet.chips) - 1] == api["output_tokens_per_s_per_chip"]
    run = work.runs[0]
    c = int(np.flatnonzero(np.isfinite(th.training_tokens_per_chip_s[0]).any(axis=1))[0])
    b = int(np.flatnonzero(np.isfinite(th.training_tokens_per_chip_s[0, c]))[0])
    n = int(BUCKET_CHIPS[b])
    plan = train_plan(run.model, fleet.chips[c].chip, n, search=True, seq_len=model_seq_len(run.model),
                      global_batch_seqs=batch_seqs(run.model, run.batch_tokens), system=fleet.chips[c].system)
    assert th.training_tokens_per_chip_s[0, c, b] == plan["tokens_per_s"] / n > 0


def test_perf_train_goodput_with_the_flagships_checkpoints_is_the_fleets():
    # one goodput function: `perf train` with the flagship's checkpoint interval and restart time
    # reports the goodput the fleet's runs get on average (and these are the options' defaults)
    import json

    from typer.testing import CliRunner

    from gigawatt.cli import app
    from gigawatt.fleet.reliability import expected_goodput, sample_goodput

    scn, *_ = _flagship()
    ckpt, restart = scn.demand.checkpoint_interval_s, scn.demand.restart_s
    fleet_g = float(expected_goodput(16384, ckpt, restart))
    assert fleet_g == pytest.approx(1 - 419 / (54 * 24) * (ckpt / 7200 + restart / 3600))
    args = ["perf", "train", "--model", "llama3.1-405b", "--chip", "h100-sxm", "--chips", "16384", "--tp", "8",
            "--pp", "16", "--json"]
    for extra in ([], ["--checkpoint-interval", f"{ckpt:g}s", "--restart-time", f"{restart:g}s"]):
        r = CliRunner().invoke(app, args + extra)
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout)
        assert out["goodput"] == fleet_g
        assert (out["checkpoint_interval_s"], out["restart_s"]) == (ckpt, restart)
        assert out["job_mtbf_s"] == pytest.approx(54 * 24 * 3600 / 419)
    # the fleet's per-period draws average to it
    draws = sample_goodput(np.random.default_rng(3), np.full(20000, 16384.0), 720.0, ckpt, restart)
    assert draws.mean() == pytest.approx(fleet_g, abs=2e-3)
    # the flagship takes the calibrated defaults: Llama 3's measured >90% at its size
    assert (ckpt, restart) == (1200.0, 510.0) and fleet_g == pytest.approx(0.90, abs=1e-3)
