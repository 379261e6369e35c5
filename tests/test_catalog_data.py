"""Catalog values checked against the figures their sources publish.

Each test names the published figure and the tolerance, and says why that
tolerance. Values come from :mod:`gigawatt.catalog` (SI units: FLOP/s, bytes,
bytes/s, W, USD/h); the structural tests also read the YAML files directly.
"""

from importlib import resources

import pytest
import yaml

from gigawatt import catalog

TERA = 1e12
PETA = 1e15
GiB = 2**30


def _raw(kind):
    text = (resources.files("gigawatt.catalog") / "data" / f"{kind}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def node_power_w(system_id):
    """chips x chip TDP + host + other of one node (the scale-out fabric share is outside
    a vendor's published node maximum, so it is left out here)."""
    s = catalog.get_system(system_id)
    chip = catalog.get_chip(s.chip)
    return s.chips_per_node * chip.tdp_w + (s.host_power_w or 0) + (s.node_other_power_w or 0)


def it_power_per_chip_w(system_id):
    s = catalog.get_system(system_id)
    chip = catalog.get_chip(s.chip)
    return (
        chip.tdp_w
        + ((s.host_power_w or 0) + (s.node_other_power_w or 0)) / s.chips_per_node
        + (s.network_power_w_per_chip or 0)
    )


def shape_params(m):
    """Parameter count from an architecture's shape: (total, active).

    Embeddings (untied: input + output), attention (GQA/MHA or MLA with low-rank
    q/kv), SwiGLU (3 matrices) or GELU (2) FFNs, 2 norms per layer, MoE router.
    GPT-3 adds learned position embeddings and biases.
    """
    d, L, V = int(m.d_model), int(m.layers), int(m.vocab)
    h = int(m.n_heads)
    emb = V * d * (1 if m.tied_embeddings else 2)
    gpt3 = m.id == "gpt3-175b"
    if gpt3:
        emb += 2048 * d
    if m.attention == "mla":
        nope, rope, v = int(m.qk_nope_head_dim), int(m.qk_rope_head_dim), int(m.v_head_dim)
        ql, kl = int(m.q_lora_rank or 0), int(m.kv_lora_rank)
        q = d * ql + ql + ql * h * (nope + rope) if ql else d * h * (nope + rope)
        attn = q + d * (kl + rope) + kl + kl * h * (nope + v) + h * v * d
    else:
        hd = int(m.head_dim or d // h)
        kv = int(m.n_kv_heads)
        attn = 2 * d * h * hd + 2 * d * kv * hd + (3 * h * hd + d if gpt3 else 0)

    def ffn(width):
        width = int(width)
        if m.ffn_type == "swiglu":
            return 3 * d * width
        return 2 * d * width + (width + d if gpt3 else 0)

    norms = 2 * d * (2 if gpt3 else 1)
    if m.is_moe:
        E, k, s, f = int(m.moe_experts), int(m.moe_active), int(m.moe_shared), m.moe_d_ff
        nd = int(m.dense_layers)
        dense = attn + ffn(m.d_ff) + norms
        total = nd * dense + (L - nd) * (attn + (E + s) * ffn(f) + d * E + norms) + emb + d
        active = nd * dense + (L - nd) * (attn + (k + s) * ffn(f) + d * E + norms) + emb + d
        return total, active
    total = L * (attn + ffn(m.d_ff) + norms) + emb + d
    return total, total


# --------------------------------------------------------- chip figures ---

def test_h100_bf16_dense_matches_datasheet():
    # H100 SXM datasheet: BF16 Tensor 1,979 TFLOP/s with sparsity = 989.4 dense (whitepaper
    # table). 1%: the catalog rounds to 989 and any sparse slip would be off by 2x.
    assert catalog.get_chip("h100-sxm").peak_bf16_flops == pytest.approx(989.4 * TERA, rel=0.01)
    assert catalog.get_chip("h100-sxm").peak_fp8_flops == pytest.approx(1978.9 * TERA, rel=0.01)


@pytest.mark.parametrize("chip", ["h100-sxm", "h800", "h200"])
def test_hopper_bf16_is_not_the_sparse_figure(chip):
    # Several pages list H200 BF16 as 1,979 TFLOP/s, which is the 2:4-sparse number. Dense
    # Hopper BF16 is 989.4; anything above 1.1 PFLOP/s means a sparse figure slipped in.
    assert catalog.get_chip(chip).peak_bf16_flops < 1.1 * PETA


def test_h200_memory_matches_nvidia_page():
    # NVIDIA H200 page: 141 GB HBM3e at 4.8 TB/s. Exact to the stated digits (0.5%).
    chip = catalog.get_chip("h200")
    assert chip.hbm_bytes == pytest.approx(141e9, rel=0.005)
    assert chip.hbm_bw_bytes_per_s == pytest.approx(4.8e12, rel=0.005)


def test_trn2_48xlarge_sums_to_the_instance_table():
    # Neuron trn2-arch table for trn2.48xlarge: 10.7 PF BF16, 20.8 PF FP8, 1,536 GiB,
    # 46.4 TB/s. 3%: the instance table rounds 16 x 667 = 10.67 PF to 10.7 and the earlier
    # preview table said 10 / 20 PF; a wrong per-chip figure would be off by far more.
    s = catalog.get_system("trn2-48xlarge")
    chip = catalog.get_chip(s.chip)
    n = s.chips_per_node
    assert n == 16
    assert n * chip.peak_bf16_flops == pytest.approx(10.7 * PETA, rel=0.03)
    assert n * chip.peak_fp8_flops == pytest.approx(20.8 * PETA, rel=0.03)
    assert n * chip.hbm_bytes == pytest.approx(1536 * GiB, rel=1e-9)  # GiB on both sides: exact
    assert n * chip.hbm_bw_bytes_per_s == pytest.approx(46.4e12, rel=0.01)


def test_trn3_gen2_ultraserver_sums_to_the_ultraserver_table():
    # Neuron trn3-arch table, Gen2 UltraServer (144 chips): 362,448 MXFP8 TFLOPS, 96,624
    # BF16 TFLOPS, 20,736 GiB, 705.6 TB/s. 0.5%: the table is 144 x the chip page values.
    s = catalog.get_system("trn3-ultraserver-144")
    chip = catalog.get_chip(s.chip)
    n = s.chips_per_scaleup
    assert n == 144
    assert n * chip.peak_fp8_flops == pytest.approx(362_448 * TERA, rel=0.005)
    assert n * chip.peak_bf16_flops == pytest.approx(96_624 * TERA, rel=0.005)
    assert n * chip.hbm_bytes == pytest.approx(20_736 * GiB, rel=0.005)
    assert n * chip.hbm_bw_bytes_per_s == pytest.approx(705.6e12, rel=0.005)


def test_trn1_32xlarge_sums_to_the_instance_table():
    # Neuron trn1-arch: trn1.32xlarge 3,040 BF16 TFLOPS, 512 GiB, 13,120 GiB/s. Exact digits.
    s = catalog.get_system("trn1-32xlarge")
    chip = catalog.get_chip(s.chip)
    assert s.chips_per_node * chip.peak_bf16_flops == pytest.approx(3040 * TERA, rel=0.005)
    assert s.chips_per_node * chip.hbm_bytes == pytest.approx(512 * GiB, rel=1e-9)
    assert s.chips_per_node * chip.hbm_bw_bytes_per_s == pytest.approx(13_120 * GiB, rel=1e-9)


def test_gb200_nvl72_per_gpu_matches_rack_figures():
    # NVIDIA GB200 NVL72 page: 360 PF FP16/BF16 and 720 PF FP8 "with sparsity" per rack,
    # 13.4 TB HBM3e, 576 TB/s. Dense per GPU = rack / 72 / 2. 1%: rack figures are rounded.
    chip = catalog.get_chip("gb200")
    assert 72 * chip.peak_bf16_flops * 2 == pytest.approx(360 * PETA, rel=0.01)
    assert 72 * chip.peak_fp8_flops * 2 == pytest.approx(720 * PETA, rel=0.01)
    assert 72 * chip.hbm_bytes == pytest.approx(13.4e12, rel=0.01)
    assert 72 * chip.hbm_bw_bytes_per_s == pytest.approx(576e12, rel=0.01)


def test_gb300_nvl72_dense_fp4_matches_rack_figure():
    # NVIDIA GB300 NVL72 page: FP4 1,080 PF dense per rack. 1%: rounded rack figure.
    assert 72 * catalog.get_chip("gb300").peak_fp4_flops == pytest.approx(1080 * PETA, rel=0.01)


@pytest.mark.parametrize(
    "chip, bf16_tflops, hbm_bw_gbps",
    [("tpu-v4", 275, 1200), ("tpu-v5e", 197, 819), ("tpu-v5p", 459, 2765), ("tpu-v6e", 918, 1638),
     ("tpu7x", 2307, 7370)],
)
def test_tpu_figures_match_cloud_tpu_docs(chip, bf16_tflops, hbm_bw_gbps):
    # Google Cloud TPU docs per version (Ironwood bandwidth from Google's launch blog).
    # 0.5%: Google prints these to 3-4 significant digits.
    c = catalog.get_chip(chip)
    assert c.peak_bf16_flops == pytest.approx(bf16_tflops * TERA, rel=0.005)
    assert c.hbm_bw_bytes_per_s == pytest.approx(hbm_bw_gbps * 1e9, rel=0.005)


def test_trainium4_is_a_projection_from_stated_multiples():
    # AWS (re:Invent 2025): Trainium4 >= 3x Trainium3 FP8, 6x FP4, 4x memory bandwidth.
    # The catalog derives its figures from those multiples; tolerance 0.5% (rounding).
    t3, t4 = catalog.get_chip("trainium3"), catalog.get_chip("trainium4")
    assert t4.estimate
    assert t4.peak_fp8_flops == pytest.approx(3 * t3.peak_fp8_flops, rel=0.005)
    assert t4.peak_fp4_flops == pytest.approx(6 * t3.peak_fp4_flops, rel=0.005)
    assert t4.hbm_bw_bytes_per_s == pytest.approx(4 * t3.hbm_bw_bytes_per_s, rel=0.005)


def test_lower_precision_is_never_slower():
    # Sanity on dense peaks: FP8 >= BF16 and FP4 >= FP8 on every accelerator that lists them.
    for chip in catalog.chips().values():
        if chip.kind != "accelerator":
            continue
        if chip.peak_fp8_flops:
            assert chip.peak_fp8_flops >= chip.peak_bf16_flops, chip.id
        if chip.peak_fp4_flops and chip.peak_fp8_flops:
            assert chip.peak_fp4_flops >= chip.peak_fp8_flops, chip.id


# ------------------------------------------------------------- power ---

@pytest.mark.parametrize(
    "system, published_w",
    [
        ("dgx-h100", 10_200),   # NVIDIA DGX H100 datasheet/user guide: 10.2 kW max
        ("dgx-b200", 14_300),   # DGX B200 user guide: 14.3 kW max
        ("dgx-a100", 6_500),    # DGX A100 datasheet: 6.5 kW max
        ("gb200-nvl72", 120_000),  # ~120 kW per rack (NVIDIA at GTC 2024, press)
        ("gb300-nvl72", 132_000),  # 132 kW of power shelves (Supermicro via press)
    ],
)
def test_node_power_adds_up_to_the_published_maximum(system, published_w):
    # 10%: host and other power are estimates fitted to the published maximum; the GPUs' TDP
    # is most of the total, so a wrong TDP or a missing host share would fall outside.
    assert node_power_w(system) == pytest.approx(published_w, rel=0.10)
    node_w = catalog.get_system(system).node_power_w
    assert node_w == pytest.approx(published_w, rel=1e-9)


def test_dgx_h100_it_power_per_gpu():
    # IT watts per H100 including host, node overheads and fabric share: ~10.2 kW / 8 plus a
    # ~100 W network share = ~1.375 kW. 10% as above.
    assert it_power_per_chip_w("dgx-h100") == pytest.approx(10_200 / 8 + 100, rel=0.10)


def test_ironwood_pod_is_about_ten_megawatts():
    # Google: a 9,216-chip Ironwood pod draws nearly 10 MW. 10%: chip TDP is itself an
    # estimate (Epoch AI listing).
    s = catalog.get_system("tpu7x-pod")
    assert s.chips_per_scaleup * it_power_per_chip_w("tpu7x-pod") == pytest.approx(10e6, rel=0.10)


# ------------------------------------------------------------ models ---

@pytest.mark.parametrize("model_id", sorted(catalog.models()))
def test_params_match_the_shape(model_id):
    # The stated parameter counts must follow from the shape within 2% (published counts are
    # rounded, e.g. DeepSeek-V3 "37B" active vs 37.5B from the shape).
    m = catalog.get_model(model_id)
    total, active = shape_params(m)
    assert total == pytest.approx(m.params_total, rel=0.02)
    assert active == pytest.approx(m.params_active, rel=0.02)


@pytest.mark.parametrize(
    "model_id, published_total, published_active",
    [
        ("llama3.1-405b", 405.9e9, 405.9e9),  # validation CSV / Meta model card
        ("llama3.1-70b", 70.6e9, 70.6e9),
        ("llama3.1-8b", 8.03e9, 8.03e9),
        ("llama2-70b", 69.0e9, 69.0e9),
        ("mixtral-8x7b", 46.7e9, 12.9e9),  # Mixtral paper Sec. 2
        ("deepseek-v3", 671e9, 37e9),  # DeepSeek-V3 report (excluding the 14B MTP module)
        ("gpt3-175b", 175e9, 175e9),  # GPT-3 paper Table 2.1
    ],
)
def test_params_match_published_counts(model_id, published_total, published_active):
    # 1%: published counts are given to 2-4 significant digits.
    m = catalog.get_model(model_id)
    assert m.params_total == pytest.approx(published_total, rel=0.01)
    assert m.params_active == pytest.approx(published_active, rel=0.01)


def test_hypothetical_models_are_marked():
    for mid in ["frontier-dense-1t", "frontier-moe-2t", "frontier-moe-6t"]:
        m = catalog.get_model(mid)
        assert m.hypothetical and m.estimate, mid
        assert m.source.startswith("gigawatt assumption"), mid


# ------------------------------------------------------------ prices ---

def test_trn1_price_is_instance_price_over_chips():
    # skypilot-catalog (AWS on-demand): trn1.32xlarge $21.50/h for 16 chips = $1.34375.
    # 0.5%: the catalog rounds to the cent.
    assert catalog.get_price("trn1").list_usd_per_chip_h == pytest.approx(21.50 / 16, rel=0.005)


def test_p5_price_is_instance_price_over_gpus():
    # p5.48xlarge $55.04/h for 8 H100 after the June 2025 cut = $6.88. Exact to the cent.
    assert catalog.get_price("h100-sxm").list_usd_per_chip_h == pytest.approx(55.04 / 8, abs=0.005)


def test_committed_prices_are_below_list_and_marked_estimates():
    for price in catalog.prices().values():
        if price.committed_usd_per_chip_h is not None:
            assert price.committed_usd_per_chip_h < price.list_usd_per_chip_h, price.id
            assert price.is_estimate("committed_usd_per_chip_h"), price.id


# --------------------------------------------------------- structure ---

def test_every_system_chip_and_host_cpu_exists():
    chips = catalog.chips()
    for s in catalog.systems().values():
        assert catalog.resolve("chips", s.chip) in chips, s.id
        assert chips[catalog.resolve("chips", s.chip)].kind == "accelerator", s.id
        if s.host_cpu:
            assert chips[catalog.resolve("chips", s.host_cpu)].kind == "cpu", s.id
        assert s.chips_per_scaleup >= s.chips_per_node, s.id


def test_every_price_chip_exists():
    for p in catalog.prices().values():
        catalog.resolve("chips", p.chip)


@pytest.mark.parametrize("kind", ["chips", "systems", "models", "prices"])
def test_every_raw_entry_has_source_and_dated_as_of(kind):
    doc = _raw(kind)
    assert doc["schema"] == kind
    for entry in doc["entries"]:
        assert isinstance(entry.get("source"), str) and len(entry["source"]) > 10, entry["id"]
        as_of = str(entry["as_of"])
        assert len(as_of) in (7, 10) and as_of[4] == "-", (entry["id"], as_of)
        for key, value in entry.items():
            if isinstance(value, dict):  # a field with its own provenance
                assert "value" in value and value.get("source") and value.get("as_of"), (entry["id"], key)


@pytest.mark.parametrize(
    "name",
    ["a100-80gb", "h100-sxm", "h800", "h200", "b200", "gb200", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e",
     "trn1", "trn2", "mi300x", "mi325x", "inf2"],
)
def test_validation_csv_chip_ids_resolve(name):
    # The ids used in /work/shared/validation/*.csv must resolve to catalog chips.
    assert catalog.get_chip(name).kind == "accelerator"
