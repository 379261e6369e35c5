"""A run names the chips it predicts without any published measurement, and what those predictions rest on."""

from gigawatt.perf.calibration import NO_DATA_WIDENING, prediction_basis, unmeasured_notes


def test_notes_name_only_the_unmeasured_chips_of_each_kind():
    training, serving = unmeasured_notes(["trainium2", "trainium3", "h100-sxm"])
    # Trainium2 has published serving rows (vLLM-Neuron) but no training row; H100 has both
    assert training.startswith("trainium2 and trainium3 have no published training measurement")
    assert serving.startswith("trainium3 has no published serving measurement")
    assert "h100" not in training and "h100" not in serving
    rows = prediction_basis("trainium3")["factors"][0]["rows"]
    assert f"family/neuron/compute ({rows} rows of aws-neuron/neuron)" in training
    assert f"{NO_DATA_WIDENING:g}x wider" in training


def test_a_roadmap_of_measured_chips_gets_no_note():
    assert unmeasured_notes(["h100-sxm", "b200"]) == []


def test_the_flagship_says_where_it_uses_them():
    import gigawatt

    notes = gigawatt.run(gigawatt.load("anthropic-aws-2026")).summary()["notes"]
    assert any(n.startswith("trainium2, trainium3 and trainium4 have no published training") for n in notes)
