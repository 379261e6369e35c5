"""Per-chip-family calibration: the achievable fractions of peak.

Each coefficient lives in ``perf/data/calibration.yaml`` with its provenance
(what it was fitted to, or the public measurement it comes from). A family
(``hopper``, ``ampere``, ``blackwell``, ``tpu``, ``neuron``, ``cdna``: a catalog
chip's ``family`` field) shares its coefficients across every workload; a chip may
override single coefficients under ``chips:``. No coefficient belongs to a single
validation row: the backtest judges the same coefficients on every row of the chip.

A :class:`Calibration` is a value passed to the models (their ``cal`` argument, the
file's coefficients of the chip by default); a refit passes its trial values the same
way (``calibration_for(chip, overrides)``), so there is no state to set or restore.

>>> calibration_for("h100-sxm").family
'hopper'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from importlib import resources
from typing import Any, Mapping

from gigawatt.errors import GigawattError
from gigawatt.perf.hardware import chip_family

__all__ = ["Calibration", "Overrides", "calibration_for", "load_calibration_file", "provenance"]


@dataclass(frozen=True)
class Calibration:
    """Coefficients of one chip family. Fractions are [1], times [s], sizes [1].

    Attributes
    ----------
    matmul_eff : float
        Fraction of the BF16 peak that large GEMMs reach [1].
    matmul_eff_fp8, matmul_eff_fp4 : float
        Fraction of the FP8 / FP4 peak that large GEMMs reach [1].
    matmul_half_width : float
        GEMM width (``d_model / tp`` or expert size) at which efficiency falls
        to half of its maximum: ``eff = max · w / (w + w_half)`` [1].
    matmul_half_tokens : float
        Rows (tokens) of a GEMM at which efficiency halves [tokens].
    expert_half_width : float
        Like ``matmul_half_width`` for the grouped GEMMs of routed experts,
        which also pay for token permutation, padding and load imbalance [1].
    attention_eff_ratio : float
        Efficiency of the attention core relative to GEMMs [1].
    hbm_eff : float
        Fraction of HBM bandwidth that streaming kernels reach [1].
    scaleup_eff, scaleout_eff : float
        Fraction of link / network bandwidth collectives reach [1].
    collective_latency_s : float
        Fixed cost of one collective call [s].
    tp_overlap, dp_overlap, ep_overlap : float
        Fraction of that communication hidden behind compute [1].
    fp8_cast_traffic : float
        Extra HBM traffic of quantizing GEMM inputs and gradients in FP8/FP4 training, as a
        multiple of the elementwise activation traffic [1].
    step_overhead_frac : float
        Optimizer, data loading, kernel gaps: added fraction of compute time [1].
    usable_hbm_frac : float
        Fraction of HBM usable for weights, activations and KV cache [1].
    decode_step_overhead_s : float
        Fixed host/launch cost of one decode or prefill iteration [s].
    max_decode_batch : float
        Largest continuous batch an engine runs [sequences].
    serving_eff_ratio : float
        GEMM and attention efficiency of serving engines relative to training [1].
    server_utilization : float
        Share of the best latency-feasible throughput a ``server`` run keeps,
        the headroom that holds tail latency under random arrivals [1].
    spec_acceptance : float
        Probability that a speculative draft token (an MTP module's) is accepted, each
        draft given the ones before it were [1].
    moe_layer_overhead_s : float
        Fixed time one MoE layer adds to a serving iteration: routing, top-k, token
        permutation and un-permutation kernels and the synchronization of their
        all-to-alls, independent of the batch [s].
    """

    family: str = "generic"
    matmul_eff: float = 0.60
    matmul_eff_fp8: float = 0.45
    matmul_eff_fp4: float = 0.35
    matmul_half_width: float = 256.0
    matmul_half_tokens: float = 64.0
    expert_half_width: float = 2048.0
    attention_eff_ratio: float = 0.7
    hbm_eff: float = 0.8
    scaleup_eff: float = 0.7
    scaleout_eff: float = 0.7
    collective_latency_s: float = 20e-6
    tp_overlap: float = 0.0
    dp_overlap: float = 0.7
    ep_overlap: float = 0.3
    step_overhead_frac: float = 0.05
    fp8_cast_traffic: float = 1.0
    usable_hbm_frac: float = 0.9
    decode_step_overhead_s: float = 2e-3
    max_decode_batch: float = 512.0
    serving_eff_ratio: float = 1.0
    server_utilization: float = 0.88
    spec_acceptance: float = 0.85
    moe_layer_overhead_s: float = 0.0

    def matmul_peak_eff(self, precision: str) -> float:
        """Largest achievable fraction of the ``precision`` peak [1]."""
        p = precision.lower()
        if p == "fp8":
            return self.matmul_eff_fp8
        if p == "fp4":
            return self.matmul_eff_fp4
        return self.matmul_eff

    def with_(self, **changes: Any) -> "Calibration":
        return replace(self, **changes)


_COEFFS = {f.name for f in fields(Calibration)} - {"family"}


@functools.cache
def load_calibration_file() -> dict[str, Any]:
    """The parsed ``calibration.yaml`` (cached)."""
    import yaml

    text = (resources.files("gigawatt.perf") / "data" / "calibration.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or "families" not in doc:
        raise GigawattError("perf/data/calibration.yaml must be a mapping with 'families'")
    return doc


def _values(block: dict[str, Any] | None, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, item in (block or {}).items():
        if key in ("family", "notes"):
            continue
        if key not in _COEFFS:
            raise GigawattError(f"calibration.yaml: {where}: unknown coefficient {key!r}; known: {sorted(_COEFFS)}")
        value = item["value"] if isinstance(item, dict) else item
        out[key] = float(value)
    return out


#: coefficient values that replace the file's: family or chip id -> {coefficient: value}
Overrides = Mapping[str, Mapping[str, float]]


def calibration_for(chip_or_family: str, overrides: Overrides | None = None) -> Calibration:
    """Coefficients for a chip id (or a family name): the file's defaults, family values, then the chip's.

    The family of a chip is the chip block's ``family`` in the file, else the catalog
    chip's ``family`` field (:func:`gigawatt.perf.hardware.chip_family`). ``overrides``
    replaces the file's values (a chip's entry winning over its family's): how a refit
    (:mod:`gigawatt.perf.fit`) tries values. The result is a value to pass to the models
    (their ``cal`` argument); nothing is stored between calls.

    >>> calibration_for("h100-sxm", {"hopper": {"matmul_eff": 0.5}}).matmul_eff
    0.5
    >>> calibration_for("h100-sxm").matmul_eff != 0.5
    True
    """
    key = chip_or_family.lower()
    family = _family_of(key)
    scopes = {family, key}
    held = tuple(sorted((scope.lower(), tuple(sorted((str(k), float(v)) for k, v in values.items())))
                        for scope, values in (overrides or {}).items() if scope.lower() in scopes))
    return _calibration(key, family, held)


def _family_of(key: str) -> str:
    doc = load_calibration_file()
    if key in doc["families"]:
        return key
    chips = {k.lower(): v for k, v in (doc.get("chips") or {}).items()}
    return (chips.get(key) or {}).get("family") or chip_family(key)


@functools.lru_cache(maxsize=4096)
def _calibration(key: str, family: str, held: tuple) -> Calibration:
    doc = load_calibration_file()
    chips = {k.lower(): v for k, v in (doc.get("chips") or {}).items()}
    families = doc["families"]
    chip_block = None if key in families else chips.get(key)
    values = _values(doc.get("defaults"), "defaults")
    if family in families:
        values.update(_values(families[family], f"families.{family}"))
    if chip_block:
        values.update(_values(chip_block, f"chips.{key}"))
    given = dict(held)
    for scope in (family, key):
        for coeff, value in given.get(scope, ()):
            if coeff not in _COEFFS:
                raise GigawattError(f"calibration override {scope}: unknown coefficient {coeff!r}; known: {sorted(_COEFFS)}")
            values[coeff] = value
    return Calibration(family=family, **values)


def provenance(chip_or_family: str) -> dict[str, str]:
    """Where each coefficient of a chip's calibration comes from (coefficient -> source)."""
    doc = load_calibration_file()
    cal = calibration_for(chip_or_family)
    out: dict[str, str] = {}
    for where in (doc.get("defaults") or {}, doc["families"].get(cal.family) or {}):
        for key, item in where.items():
            if isinstance(item, dict) and "source" in item:
                out[key] = str(item["source"])
    chip_block = (doc.get("chips") or {}).get(chip_or_family.lower()) or {}
    for key, item in chip_block.items():
        if isinstance(item, dict) and "source" in item:
            out[key] = str(item["source"])
    return out
