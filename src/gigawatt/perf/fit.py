"""Refit the per-family coefficients, and the leave-one-group-out check of how well they carry.

The coefficients in ``data/calibration.yaml`` marked "fitted" were chosen on groups of
published rows taken together. :func:`refit` repeats that choice: for each fitted
coefficient of a family (or of a chip that overrides its family), a coordinate search
over a multiplicative grid minimises the mean ``min(|log(predicted / measured)|, log 1.35)`` over all
the family's rows that coefficient acts on (the same value for every row; never one
row). :func:`leave_one_group_out` holds out one group of rows at a time (rows whose
ids share their first three parts, e.g. all ``trtllm10-llama33-70b-*``: one source's
sweep of one model), refits every coefficient without it, and predicts the group: the
error on rows the coefficients have not seen.

Run it with ``python -m gigawatt.perf.fit [--logo]`` (a few minutes for ``--logo``).
"""

from __future__ import annotations

import functools
import math
import statistics
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from gigawatt.perf.backtest import row_float, packaged_path, fill_chip_counts, load_rows, predict_inference_row, predict_training_row, row_hardware
from gigawatt.perf.calibration import Overrides, calibration_for

__all__ = ["FITTED", "Target", "group_of", "fit_rows", "refit", "leave_one_group_out"]


@dataclass(frozen=True)
class Target:
    """One fitted coefficient: where it lives (family or chip id), which file and rows it is fitted on."""

    scope: str
    coeff: str
    file: str  # "training" (tokens/s rows) or "inference"
    precision: tuple[str, ...] = ()  # only rows of these precisions; empty: all
    moe_only: bool = False


def _t(scope: str, coeff: str, file: str, precision: tuple[str, ...] = (), moe_only: bool = False) -> Target:
    return Target(scope, coeff, file, precision, moe_only)


#: the coefficients the calibration file marks as fitted, with the rows each one acts on. Each
#: acts on rows of at least two groups (``group_of``; a test checks it): a coefficient that one
#: source's rows alone would set is carried instead (Blackwell's FP8 ``matmul_eff_fp8``, set by
#: one DeepSeek-V3 row, is 0.75 x its fitted ``matmul_eff`` in the file)
FITTED: tuple[Target, ...] = (
    _t("ampere", "matmul_eff", "training", ("bf16", "fp16")),
    _t("hopper", "matmul_eff", "training", ("bf16", "fp16")),
    _t("hopper", "matmul_eff_fp8", "training", ("fp8",)),
    _t("hopper", "ep_overlap", "training", moe_only=True),
    _t("blackwell", "matmul_eff", "training", ("bf16", "fp16")),
    _t("blackwell", "ep_overlap", "training", moe_only=True),
    _t("tpu", "matmul_eff", "training"),
    _t("tpu-v6e", "matmul_eff", "training"),
    _t("neuron", "matmul_eff", "training"),
    _t("hopper", "serving_eff_ratio", "inference"),
    _t("hopper", "decode_step_overhead_s", "inference"),
    _t("blackwell", "serving_eff_ratio", "inference"),
    _t("blackwell", "matmul_eff_fp4", "inference", ("fp4",)),
    _t("neuron", "serving_eff_ratio", "inference"),
    _t("neuron", "collective_latency_s", "inference"),
    _t("trainium1", "serving_eff_ratio", "inference"),
    _t("cdna", "serving_eff_ratio", "inference"),
)

#: coordinate sweeps: enough to travel from the defaults to any fitted value (1.4^4 ≈ 3.8x)
SWEEPS = 4
#: a row counts at most this |log error| in a fit (a robust, capped loss: a row the model cannot
#: explain, e.g. a 3x miss, must not drag a coefficient that every other row of the family sets)
ROBUST_CAP = math.log(1.35)
#: weight ``w`` of the pull toward the generic default ``v0``: the score adds ``w/n · log(v/v0)²``
#: for a coefficient fitted on ``n`` rows (a log-normal prior; MAP instead of least error), so a
#: coefficient that few rows set stays nearer its physical default. 0.1 was chosen by the
#: leave-one-group-out check over 0-1 (held-out mean |error| 10.5% -> 10.0% training,
#: 34.8% -> 28.6% inference; in-sample medians unchanged)
PRIOR_WEIGHT = 0.1
_FAMILIES = {"ampere", "hopper", "blackwell", "tpu", "neuron", "cdna"}
_GRID = [0.7, 0.78, 0.85, 0.9, 0.94, 0.97, 1.0, 1.03, 1.06, 1.1, 1.16, 1.25, 1.4]
_BOUNDS = {"ep_overlap": (0.0, 0.9), "matmul_eff": (0.2, 0.85), "matmul_eff_fp8": (0.15, 0.75),
           "matmul_eff_fp4": (0.1, 0.95)}


def group_of(row_id: str) -> str:
    """The group of a row: the first three parts of its id (one source's sweep of one model)."""
    return "-".join(str(row_id).split("-")[:3])


def fit_rows(training_csv: Any = None, inference_csv: Any = None) -> dict[str, list[dict[str, str]]]:
    """The rows a refit uses: training tokens/s rows (chip counts filled) and every inference row."""
    return {"training": [r for r in fill_chip_counts(load_rows(training_csv or packaged_path("training_runs.csv")))
                         if (r.get("measured_kind") or "").strip() == "tokens_per_s"],
            "inference": load_rows(inference_csv or packaged_path("inference_runs.csv"))}


def _scopes(row: dict[str, str]) -> tuple[str, str]:
    """(family, chip id) of a row's chip."""
    return _chip_scopes(str(row["chip"]).strip())


@functools.cache
def _chip_scopes(chip: str) -> tuple[str, str]:
    hw, _ = row_hardware({"chip": chip})
    return hw.family, hw.chip


def acts_on(t: Target, row: dict[str, str], chip_scoped: set[tuple[str, str]]) -> bool:
    family, chip = _scopes(row)
    if t.scope == chip:
        pass
    elif t.scope == family:
        if (chip, t.coeff) in chip_scoped:  # the chip's own coefficient acts there instead
            return False
    else:
        return False
    prec = (row.get("precision") or "bf16").strip().lower()
    if t.precision and prec not in t.precision:
        return False
    if t.moe_only and not row_float(row, "moe_experts"):
        return False
    return True


def _predictor(file: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return predict_training_row if file == "training" else predict_inference_row


def _predict(row: dict[str, str], file: str, values: Overrides) -> dict[str, Any]:
    """One row's prediction with the file's coefficients replaced by ``values`` (passed explicitly)."""
    return _predictor(file)(row, cal=calibration_for(_scopes(row)[1], values))


def _log_errors(rows: Iterable[dict[str, str]], file: str, values: Overrides) -> list[float]:
    out = []
    for row in rows:
        try:
            p = _predict(row, file, values).get("predicted")
        except Exception:  # a row the model cannot predict counts as a large miss
            p = None
        m = row_float(row, "measured_value")
        out.append(min(abs(math.log(p / m)), ROBUST_CAP) if p and m else ROBUST_CAP)
    return out


def _physical(scope: str, values: dict[str, dict[str, float]]) -> bool:
    """Physical limits a fit may not cross.

    Serving GEMMs do not beat the chip's peak (``matmul_eff × serving_eff_ratio ≤ 0.95``),
    and FP8 GEMMs are not slower than BF16 ones on chips whose FP8 peak is twice the BF16
    peak (every fitted family): ``matmul_eff_fp8 ≥ matmul_eff / 2``.
    """
    cal = calibration_for(scope, values)
    return cal.matmul_eff * cal.serving_eff_ratio <= 0.95 and cal.matmul_eff_fp8 >= cal.matmul_eff / 2.0


def _current(t: Target) -> float:
    return float(getattr(calibration_for(t.scope), t.coeff))


def refit(rows: dict[str, list[dict[str, str]]] | None = None, targets: Iterable[Target] = FITTED,
          sweeps: int = SWEEPS, start: str = "defaults",
          prior_weight: float = PRIOR_WEIGHT) -> dict[str, dict[str, float]]:
    """Fitted values (scope -> {coefficient: value}) on ``rows`` (by default all published rows).

    Each trial value reaches the models as an argument: the rows are predicted with
    ``calibration_for(chip, values)``. ``prior_weight`` is the pull toward the generic
    defaults (:data:`PRIOR_WEIGHT`).

    The search starts from the generic defaults (``start="defaults"``), so that a refit
    without some rows owes nothing to them, or from the file's values (``"file"``). A
    target with no row to act on keeps no fitted value: the file's family value (or, for a
    chip, its family's) applies there, as for a chip with no published row.
    """
    rows = rows or fit_rows()
    targets = list(targets)
    chip_scoped = {(t.scope, t.coeff) for t in FITTED if t.scope not in _FAMILIES}
    values: dict[str, dict[str, float]] = {}
    active = []
    for t in targets:
        acting = [r for r in rows[t.file] if acts_on(t, r, chip_scoped)]
        if acting:
            active.append((t, acting))
    # fit each family's (and its chips') coefficients together, from a neutral start
    generic = calibration_for("generic")
    prior: dict[str, dict[str, float]] = {}
    for t, _ in active:
        values.setdefault(t.scope, {})[t.coeff] = _current(t) if start == "file" else float(getattr(generic, t.coeff))
        prior.setdefault(t.scope, {})[t.coeff] = float(getattr(generic, t.coeff))
    for _ in range(sweeps):
        for t, acting in active:
            # every row the coefficient acts on, scored with all current values
            base = values[t.scope][t.coeff]
            lo, hi = _BOUNDS.get(t.coeff, (0.0, math.inf))
            best, best_v = math.inf, base
            for g in _GRID:
                v = min(max(base * g, lo), hi)
                values[t.scope][t.coeff] = v
                if not _physical(t.scope, values):
                    continue
                score = statistics.fmean(_log_errors(acting, t.file, values))
                score += prior_weight / len(acting) * math.log(v / prior[t.scope][t.coeff]) ** 2
                if score < best - 1e-9:
                    best, best_v = score, v
            values[t.scope][t.coeff] = best_v
    return values


def leave_one_group_out(rows: dict[str, list[dict[str, str]]] | None = None,
                        sweeps: int = SWEEPS) -> dict[str, Any]:
    """Hold out each group of rows, refit without it, predict it; errors per row and summaries.

    Returns ``{"training": {...}, "inference": {...}}`` with ``rows`` (``id``, ``group``,
    ``error``), ``median_abs_error`` and ``max_abs_error`` of the held-out predictions.
    """
    rows = rows or fit_rows()
    out: dict[str, Any] = {}
    for file in ("training", "inference"):
        groups: dict[str, list[dict[str, str]]] = {}
        for r in rows[file]:
            groups.setdefault(group_of(r["id"]), []).append(r)
        held = []
        for g, members in groups.items():
            families = {_scopes(r)[0] for r in members}
            chips = {_scopes(r)[1] for r in members}
            targets = [t for t in FITTED if t.file == file and (t.scope in families or t.scope in chips)]
            rest = {f: [r for r in rows[f] if f != file or group_of(r["id"]) != g] for f in rows}
            fitted = refit(rest, targets, sweeps=sweeps)
            # a coefficient left without rows: a family falls back to the defaults, a chip to its family
            for t in targets:
                if t.coeff in fitted.get(t.scope, {}):
                    continue
                if t.scope in _FAMILIES:
                    value = float(getattr(calibration_for("generic"), t.coeff))
                else:
                    fam = _family_of(t.scope)
                    value = fitted.get(fam, {}).get(t.coeff, float(getattr(calibration_for(fam), t.coeff)))
                fitted.setdefault(t.scope, {})[t.coeff] = value
            for r in members:
                p = _predict(r, file, fitted).get("predicted")
                m = row_float(r, "measured_value")
                held.append({"id": r["id"], "group": g, "error": (p - m) / m if p and m else None})
        errs = [abs(h["error"]) if h["error"] is not None else 1.0 for h in held]
        out[file] = {"n": len(held), "median_abs_error": statistics.median(errs), "max_abs_error": max(errs),
                     "rows": held}
    return out


def _family_of(chip: str) -> str:
    return calibration_for(chip).family


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--logo" in argv:
        res = leave_one_group_out()
        for file, part in res.items():
            print(f"{file}: held-out median |error| {part['median_abs_error']:.1%}, max {part['max_abs_error']:.1%} "
                  f"over {part['n']} rows")
            for h in part["rows"]:
                e = "miss" if h["error"] is None else f"{h['error']:+.1%}"
                print(f"  {h['id']:55s} {e}")
        return 0
    for scope, coeffs in refit().items():
        print(scope, {k: round(v, 4) for k, v in coeffs.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
