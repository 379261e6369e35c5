"""The software stack as an input: names, defaults from the catalog, shrinkage toward the prior."""

import math

import pytest

from gigawatt.perf import fit
from gigawatt.perf.calibration import calibration_for, canonical_stack, coefficients, default_stacks, known_stacks


def test_aliases_and_unknown_stacks():
    assert canonical_stack("Megatron-Bridge") == canonical_stack("nemo") == "megatron"
    assert canonical_stack("TRT-LLM") == "tensorrt-llm"
    assert {"megatron", "maxtext", "neuron", "torchtitan", "deepspeed", "tensorrt-llm", "vllm", "sglang"} <= set(
        known_stacks())
    # an unseen stack takes the prior: its factors are 1, the family's remain
    c = coefficients("h100-sxm", "my-new-stack")
    fam = calibration_for("h100-sxm", stack="", serving_stack="")
    assert c.comm_scale == 1.0 and c.compute_scale == pytest.approx(fam.compute_scale)


def test_default_stacks_come_from_the_catalog():
    from gigawatt.catalog import get_chip

    for chip in ("h100-sxm", "gb200", "trainium3", "tpu-v6e", "mi300x"):
        train, serve = default_stacks(chip)
        assert train and serve
        assert canonical_stack(get_chip(chip).training_stack) == train
    assert calibration_for("trainium2").training_stack == "neuron"


def test_stack_changes_the_training_prediction():
    from gigawatt.perf.api import train_plan

    meg = train_plan("llama3.1-70b", "h100-sxm", 512, search=True, stack="megatron")
    meta = train_plan("llama3.1-70b", "h100-sxm", 512, search=True, stack="meta")
    unseen = train_plan("llama3.1-70b", "h100-sxm", 512, search=True, stack="no-such-stack")
    assert meg["stack"] == "megatron" and unseen["stack"] == "no-such-stack"
    assert len({round(r["tokens_per_s"]) for r in (meg, meta, unseen)}) == 3
    assert unseen["tokens_per_s_low"] < unseen["tokens_per_s"] < unseen["tokens_per_s_high"]


def _parts(n_rows, error, block="x/s"):
    # synthetic serving rows of one stack, each over-predicted by `error`
    out = []
    for i in range(n_rows):
        r = fit.RowParts(row={"id": f"r{i}"}, kind="serving", measured=1.0, base=1.0 + error, family="hopper",
                         stack="s", block=f"{block}{i}", cls=("hopper", "dense", "serving"))
        out.append(r)
    return out


def test_a_stack_with_few_rows_is_shrunk_toward_the_prior():
    # rows 20% too fast: many rows take the stack factor near 1/1.2, one row moves it only part way
    many = fit.fit_factors(_parts(20, 0.2))
    one = fit.fit_factors(_parts(1, 0.2))
    full = -math.log(1.2)
    total_many = many[("stack", "s", "serve")] + many[("family", "hopper", "serve")]
    total_one = one[("stack", "s", "serve")] + one[("family", "hopper", "serve")]
    assert total_many == pytest.approx(full, abs=0.03)
    assert full < total_one < 0.6 * full


def test_catalog_chips_say_what_an_unmeasured_chip_rests_on():
    import json

    from typer.testing import CliRunner

    from gigawatt.cli import app

    out = CliRunner().invoke(app, ["catalog", "chips", "--json"])
    assert out.exit_code == 0, out.output
    chips = {r["id"]: r for r in json.loads(out.stdout)}
    trn3 = chips["trainium3"]["prediction_basis"]["training"]
    assert trn3["measured_rows"] == 0 and trn3["stack"] == "neuron"
    # its family factor rests on the Trainium1 rows of AWS's Neuron benchmarks
    assert trn3["factors"][0]["factor"] == "family/neuron/compute" and trn3["factors"][0]["rows"] == 5
    assert trn3["interval_80"]["widened"]
    trn1 = chips["trainium1"]["prediction_basis"]["training"]
    assert trn1["measured_rows"] == 5 and not trn1["interval_80"]["widened"]
    assert "none" in chips["trainium4"]["measured"] and "datasheet" in chips["trainium4"]["measured"]
