"""Calibration: the chip family's kernel coefficients and the software stack's fitted factors.

Two parts make the efficiency a model sees. The chip's physics (peaks, bandwidths, links)
comes from the catalog, with a family's kernel coefficients here (GEMM tile sizes, the
attention core's rate, overlaps), priors rather than fits. What the fit sets is a small
number of named factors (section ``fitted`` of ``calibration.yaml``, written by
:mod:`gigawatt.perf.fit`): per chip family (``compute``, ``serve``), per software stack and
kernel class (``compute``: dense GEMMs, attention and elementwise work; ``expert``: the
grouped GEMMs of routed experts; ``comm``: exposed communication; ``serve``: a serving
engine's speed), and per precision (``fp8``, ``fp4``). Each is shrunk toward 1 (the shared
prior) by the prior in ``factor_priors``, so a stack with few rows stays near the prior and
a stack the fit never saw takes the prior alone. :func:`coefficients` combines them for a
chip and a stack; the fleet uses each chip's default stacks from the catalog
(:func:`default_stacks`).

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
import math
from dataclasses import dataclass, fields, replace
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

from gigawatt.errors import GigawattError
from gigawatt.perf.hardware import chip_family

__all__ = ["Calibration", "Overrides", "Fitted", "FACTOR_FIELDS", "calibration_for", "coefficients", "canonical_stack",
           "default_stacks", "fitted_factors", "known_stacks", "load_calibration_file", "provenance",
           "prediction_interval", "prediction_basis", "interval_from_table", "class_levels"]


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
    prefill_chunk_tokens : float
        Most prompt tokens one scheduler (one data-parallel attention rank) prefills in an
        iteration; longer prompts are chunked over iterations [tokens].
    ep_a2a_overlap : float
        1: the stack overlaps each micro-batch's expert all-to-all with another micro-batch's
        compute (Megatron-Core's ``--overlap-moe-expert-parallel-comm``, Megatron-Bridge's
        ``moe_a2a_overlap``), as DualPipe does; 0: it does not (the all-to-all is hidden only
        by ``ep_overlap``) [1].
    expert_launch_s : float
        Host time of one local expert's kernels in one MoE layer's forward and backward pass
        of a training step, where the stack launches per-expert kernels from eager PyTorch
        (a grouped GEMM run as a loop of per-expert GEMMs, their casts and the host
        synchronization of a dropless all-to-all); 0 for a stack marked ``fused_experts`` in
        calibration.yaml (one kernel for all experts, or a compiled step) [s].
    """

    family: str = "generic"
    matmul_eff: float = 0.70
    matmul_eff_fp8: float = 0.60
    matmul_eff_fp4: float = 0.45
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
    prefill_chunk_tokens: float = 8192.0
    expert_launch_s: float = 0.0
    ep_a2a_overlap: float = 0.0
    training_stack: str = ""
    serving_stack: str = ""
    compute_scale: float = 1.0
    expert_scale: float = 1.0
    comm_scale: float = 1.0
    fp8_scale: float = 1.0
    fp4_scale: float = 1.0
    serving_scale: float = 1.0
    router_imbalance: float = 1.0

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


_COEFFS = {f.name for f in fields(Calibration)} - {"family", "training_stack", "serving_stack"}
#: the fields the fitted factors set (section ``fitted``), not the file's defaults
SCALES = ("compute_scale", "expert_scale", "comm_scale", "fp8_scale", "fp4_scale", "serving_scale")
#: the fitted factors and the Calibration field each one multiplies: (level, class) -> field
FACTOR_FIELDS = MappingProxyType({("family", "compute"): "compute_scale", ("family", "serve"): "serving_scale",
                 ("stack", "compute"): "compute_scale", ("stack", "comm"): "comm_scale",
                 ("stack", "expert"): "expert_scale", ("stack", "serve"): "serving_scale",
                 ("global", "fp8"): "fp8_scale", ("global", "fp4"): "fp4_scale", ("global", "expert"): "expert_scale",
                 ("global", "launch"): "expert_launch_s"})
#: fitted factors (the ``fitted`` section of calibration.yaml, or a refit's): level -> scope -> class -> value
Fitted = Mapping[str, Mapping[str, Mapping[str, Any]]]


@functools.cache
def load_calibration_file() -> dict[str, Any]:
    """The parsed ``calibration.yaml`` (cached)."""
    from gigawatt.datafiles import load_yaml

    text = (resources.files("gigawatt.perf") / "data" / "calibration.yaml").read_text(encoding="utf-8")
    doc = load_yaml(text)
    if not isinstance(doc, dict) or "families" not in doc:
        raise GigawattError("perf/data/calibration.yaml must be a mapping with 'families'")
    return doc


def _values(block: dict[str, Any] | None, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, item in (block or {}).items():
        if key in ("family", "notes", "training_stack", "serving_stack"):
            continue
        if key not in _COEFFS:
            raise GigawattError(f"calibration.yaml: {where}: unknown coefficient {key!r}; known: {sorted(_COEFFS)}")
        value = item["value"] if isinstance(item, dict) else item
        out[key] = float(value)
    return out


#: coefficient values that replace the file's: family or chip id -> {coefficient: value}
Overrides = Mapping[str, Mapping[str, float]]


def calibration_for(chip_or_family: str, overrides: Overrides | None = None, *, stack: str | None = None,
                    serving_stack: str | None = None, fitted: Fitted | None = None) -> Calibration:
    """Coefficients for a chip id (or a family name): the file's defaults, family values, then the chip's.

    The fitted factors (:func:`fitted_factors`, or ``fitted``) of the chip's family and of the
    training ``stack`` and ``serving_stack`` are applied; a stack left None is the chip's
    default (:func:`default_stacks`), ``""`` none (the prior).

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
    base = _calibration(key, family, held)
    train_default, serve_default = default_stacks(key)
    train = canonical_stack(train_default if stack is None else stack)
    serve = canonical_stack(serve_default if serving_stack is None else serving_stack)
    return _apply_factors(base, train, serve, fitted_factors() if fitted is None else fitted)


def coefficients(chip: str, stack: str | None = None, *, serving_stack: str | None = None,
                 fitted: Fitted | None = None) -> Calibration:
    """The calibration of ``chip`` under a software ``stack``: what training and serving code call.

    ``stack`` names the training stack and, unless ``serving_stack`` is given, the serving one
    too where it is a serving stack (``tensorrt-llm``, ``vllm``, ...); None: the chip's
    defaults from the catalog (:func:`default_stacks`). A stack the fit never saw gets the
    prior (factors of 1) on top of its chip family's factors.

    >>> c = coefficients("h100-sxm", "no-such-stack")
    >>> c.training_stack, c.serving_stack, c.comm_scale
    ('no-such-stack', 'no-such-stack', 1.0)
    """
    if stack is not None and serving_stack is None:
        serving_stack = stack
    return calibration_for(chip, stack=stack, serving_stack=serving_stack, fitted=fitted)


def _factor(fitted: Fitted, level: str, scope: str, cls: str) -> float:
    item = ((fitted.get(level) or {}).get(scope) or {}).get(cls)
    if item is None:
        return 1.0
    return float(item["value"] if isinstance(item, Mapping) else item)


def _apply_factors(base: Calibration, train: str, serve: str, fitted: Fitted) -> Calibration:
    """``base`` with the fitted factors of its family, ``train`` and ``serve`` stacks multiplied in."""
    fam = base.family
    # a stack that fuses its experts' GEMMs or compiles the whole step launches no per-expert kernels
    fused = bool(((load_calibration_file().get("stacks") or {}).get(train) or {}).get("fused_experts"))
    return replace(
        base, training_stack=train, serving_stack=serve,
        expert_launch_s=0.0 if fused else base.expert_launch_s * _factor(fitted, "global", "all", "launch"),
        compute_scale=base.compute_scale * _factor(fitted, "family", fam, "compute") * _factor(fitted, "stack", train, "compute"),
        expert_scale=base.expert_scale * _factor(fitted, "global", "all", "expert") * _factor(fitted, "stack", train, "expert"),
        comm_scale=base.comm_scale * _factor(fitted, "stack", train, "comm"),
        fp8_scale=base.fp8_scale * _factor(fitted, "global", "all", "fp8"),
        fp4_scale=base.fp4_scale * _factor(fitted, "global", "all", "fp4"),
        serving_scale=base.serving_scale * _factor(fitted, "family", fam, "serve") * _factor(fitted, "stack", serve, "serve"),
    )


def fitted_factors() -> Fitted:
    """The ``fitted`` section of calibration.yaml: level (family, stack, global) -> scope -> class -> value."""
    return load_calibration_file().get("fitted") or {}


@functools.cache
def _alias_table() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, block in (load_calibration_file().get("stacks") or {}).items():
        out[str(name).lower()] = str(name).lower()
        for alias in (block or {}).get("aliases") or ():
            out[str(alias).lower()] = str(name).lower()
    return out


def known_stacks() -> list[str]:
    """The stacks calibration.yaml names (each may have fitted factors, or take the prior)."""
    return sorted(set(_alias_table().values()))


def canonical_stack(name: str | None) -> str:
    """A stack's name in calibration.yaml for any of its aliases; an unknown name is kept (lower case).

    >>> canonical_stack("NeMo"), canonical_stack("trtllm"), canonical_stack("my-stack"), canonical_stack(None)
    ('megatron', 'tensorrt-llm', 'my-stack', '')
    """
    text = str(name or "").strip().lower()
    return _alias_table().get(text, text)


@functools.cache
def default_stacks(chip: str) -> tuple[str, str]:
    """(training, serving) stack a chip runs by default: the catalog chip's ``training_stack`` and
    ``serving_stack`` (each with its source there); ``""`` where the catalog names none.

    >>> default_stacks("h100-sxm")
    ('megatron', 'tensorrt-llm')
    """
    from gigawatt.catalog import get_chip
    from gigawatt.errors import CatalogError

    try:
        c = get_chip(chip)
    except CatalogError:
        return "", ""
    return (canonical_stack(getattr(c, "training_stack", None) or ""),
            canonical_stack(getattr(c, "serving_stack", None) or ""))


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


# ----------------------------------------------------------------------------- prediction intervals
#: the central share of held-out errors an interval spans
COVERAGE = 0.8
#: a class needs this many held-out rows, from at least MIN_CLASS_BLOCKS sources, to set its own
#: interval; else it pools with the wider class (one source's rows share its errors: their spread
#: says little about the next source's)
MIN_CLASS_ROWS = 8
MIN_CLASS_BLOCKS = 3
#: how much wider (in log) the interval of a chip with no measured row of its kind is than its class's
#: or pool's: a modeling choice, no published basis (its prediction rests on other chips' rows)
NO_DATA_WIDENING = 1.5


def class_levels(family: str, moe: str, kind: str) -> list[tuple[str, str, str]]:
    """A class and the pools it falls back to: (family, moe, kind), (*, moe, kind), (*, *, kind)."""
    return [(family, moe, kind), ("*", moe, kind), ("*", "*", kind)]


def interval_from_table(family: str, moe: str, kind: str, table: Mapping[str, Mapping[str, Any]],
                        measured_chip: bool = True) -> dict[str, Any]:
    """The 80% interval of a class from a table of held-out log-error quantiles.

    Returns ``{"low_factor", "high_factor", "basis", "n", "widened"}``: a prediction ``P`` spans
    ``[P·low_factor, P·high_factor]``, which always holds ``P``. The class's own quantiles where it has
    :data:`MIN_CLASS_ROWS` held-out rows from :data:`MIN_CLASS_BLOCKS` sources, else its pool's (all families, then dense and MoE
    together); a chip with no measured row of its kind widens them :data:`NO_DATA_WIDENING`
    times.

    >>> t = {"*/*/training": {"low": -0.2, "high": 0.3, "n": 50}}
    >>> iv = interval_from_table("neuron", "dense", "training", t, measured_chip=False)
    >>> round(iv["low_factor"], 3), round(iv["high_factor"], 3), iv["basis"]
    (0.638, 1.35, '*/*/training')
    """
    for level in class_levels(family, moe, kind):
        key = "/".join(level)
        q = table.get(key)
        own = int(q["n"]) >= MIN_CLASS_ROWS and int(q.get("blocks", MIN_CLASS_BLOCKS)) >= MIN_CLASS_BLOCKS if q else False
        if q and (own or level[:2] == ("*", "*")):
            widen = 1.0 if measured_chip else NO_DATA_WIDENING
            lo, hi = float(q["low"]) * widen, float(q["high"]) * widen
            # measured = predicted / exp(log error): the interval of the measured value, never
            # leaving out the prediction itself (a class whose held-out errors all share a sign)
            return {"low_factor": min(math.exp(-hi), 1.0), "high_factor": max(math.exp(-lo), 1.0), "basis": key,
                    "n": int(q["n"]),
                    "widened": widen != 1.0}
    return {"low_factor": 0.5, "high_factor": 2.0, "basis": "none", "n": 0, "widened": True}


def prediction_interval(chip: str, *, moe: bool, kind: str) -> dict[str, Any]:
    """The 80% interval of a prediction on ``chip`` (``kind`` ``training`` or ``serving``), from the
    held-out errors stored in calibration.yaml (``fitted.intervals``); wider where the chip has no
    published measurement of that kind (:func:`gigawatt.perf.backtest.measured_chips`).

    >>> iv = prediction_interval("trainium3", moe=True, kind="training")
    >>> iv["widened"], iv["low_factor"] < 1 < iv["high_factor"]
    (True, True)
    """
    from gigawatt.perf.backtest import measured_chips

    key = chip.lower()
    table = (fitted_factors().get("intervals") or {})
    measured = key in measured_chips(kind)
    return interval_from_table(calibration_for(key).family, "moe" if moe else "dense", kind, table, measured)


def prediction_basis(chip: str, kind: str = "training") -> dict[str, Any]:
    """What a chip's predictions of ``kind`` rest on: its measured rows, the row blocks behind the
    fitted factors it uses, and the datasheet figures the models read.

    >>> b = prediction_basis("trainium3")
    >>> b["measured_rows"], "neuron" in b["family"]
    (0, True)
    """
    from gigawatt.perf.backtest import measured_chips

    cal = calibration_for(chip)
    fitted = fitted_factors()
    stack = cal.training_stack if kind == "training" else cal.serving_stack
    classes = [("family", cal.family, "compute" if kind == "training" else "serve")]
    if kind == "training":
        classes += [("stack", stack, c) for c in ("compute", "comm", "expert")] + [("global", "all", c) for c in
                                                                                   ("fp8", "fp4", "expert")]
        if cal.expert_launch_s > 0:  # a stack that launches per-expert kernels from the host
            classes.append(("global", "all", "launch"))
    else:
        classes.append(("stack", stack, "serve"))
    factors = []
    for level, scope, cls in classes:
        item = ((fitted.get(level) or {}).get(scope) or {}).get(cls)
        if isinstance(item, Mapping):
            factors.append({"factor": f"{level}/{scope}/{cls}", "value": float(item["value"]),
                            "rows": int(item.get("rows", 0)), "blocks": list(item.get("blocks") or [])})
        else:
            factors.append({"factor": f"{level}/{scope}/{cls}", "value": 1.0, "rows": 0, "blocks": [],
                            "note": "no fitted value: the prior (1)"})
    return {"chip": chip.lower(), "kind": kind, "family": cal.family, "stack": stack,
            "measured_rows": measured_chips(kind).get(chip.lower(), 0),
            "factors": factors,
            "datasheet": ["peak FLOP/s of the precision", "HBM capacity and bandwidth", "scale-up and scale-out "
                          "bandwidth per chip", "chips per scale-up domain"]}


def unmeasured_notes(chips, kinds=("training", "serving")) -> list[str]:
    """One note per kind: which of ``chips`` have no published measurement, and what their predictions rest on.

    Parameters
    ----------
    chips : iterable of str
        Catalog chip ids (a run's roadmap).
    kinds : iterable of str
        ``training`` and/or ``serving``.

    Returns
    -------
    list of str
        For each kind with such chips: the chips, the fitted family and stack factors their
        predictions use with the rows and publisher/stack blocks each rests on, and that their
        80% intervals are widened (:data:`NO_DATA_WIDENING` in log).

    >>> unmeasured_notes(["trainium3"], ["training"])[0].startswith("trainium3 has no published training")
    True
    """
    from gigawatt.perf.backtest import measured_chips

    notes = []
    for kind in kinds:
        measured = measured_chips(kind)
        missing = [c for c in dict.fromkeys(str(c).lower() for c in chips) if not measured.get(c)]
        if not missing:
            continue
        rests: list[str] = []
        for chip in missing:
            for f in prediction_basis(chip, kind)["factors"]:
                if f["factor"].split("/")[0] in ("family", "stack") and f["rows"]:
                    text = f"{f['factor']} ({f['rows']} rows of {', '.join(f['blocks'])})"
                    if text not in rests:
                        rests.append(text)
        who = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
        verb = "has" if len(missing) == 1 else "have"
        one = len(missing) == 1
        notes.append(f"{who} {verb} no published {kind} measurement: {kind} throughput on "
                     f"{'it' if one else 'them'} rests on datasheet figures and on factors fitted to other chips' "
                     f"rows: {'; '.join(rests) if rests else 'none (the priors alone)'}; "
                     f"{'its 80% interval is' if one else 'their 80% intervals are'} {NO_DATA_WIDENING:g}x wider "
                     "(`gigawatt catalog chips --json` gives the basis)")
    return notes
