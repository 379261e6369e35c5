"""A training run's stated precision reaches the fleet's throughput matrix."""

import gigawatt


def test_a_run_trained_in_bf16_is_slower_than_in_its_chips_mxfp8():
    default = gigawatt.run("anthropic-aws-2026")
    bf16 = gigawatt.run(gigawatt.load("anthropic-aws-2026", set={"demand.training[0].generate.precision": "bf16"}))
    notes = " ".join(bf16.summary().get("throughput_notes", []))
    assert "trains in BF16 on trainium3" in notes and "MXFP8" not in notes
    first = {r["name"]: r for r in default.summary()["training_runs"]}["frontier-1"]
    slow = {r["name"]: r for r in bf16.summary()["training_runs"]}["frontier-1"]
    # the same run, the same chips on offer: Trainium3's BF16 rate is below its MXFP8 one, so it finishes later
    assert first["finish"] is not None
    assert slow["finish"] is None or slow["finish"] > first["finish"]


def test_run_histories_give_mfu_of_the_layout_in_its_precision(tmp_path, monkeypatch):
    monkeypatch.setenv("GIGAWATT_CACHE_DIR", str(tmp_path))
    first = gigawatt.run("anthropic-aws-2026").summary()  # computes the matrix and writes the cache
    again = gigawatt.run("anthropic-aws-2026").summary()  # reads it back
    for summary in (first, again):
        for run in summary["training_runs"]:
            for p in run["history"]["placements"]:
                assert p["mfu_of"] == "layout" and 0 < p["mfu"] < 1
    assert first["training_runs"] == again["training_runs"]
