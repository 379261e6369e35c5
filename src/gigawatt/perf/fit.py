"""Fit the family, stack and precision factors; leave-one-source-out validation; prediction intervals.

The models' kernel coefficients (``calibration.yaml`` ``defaults`` and ``families``) are
priors. What is fitted to published rows is a small set of named factors
(:data:`gigawatt.perf.calibration.FACTOR_FIELDS`):

- per chip family: ``compute`` (training compute rate) and ``serve`` (serving speed);
- per software stack: ``compute``, ``expert`` (grouped expert GEMMs), ``comm`` (exposed
  communication) and ``serve``;
- shared by all: ``fp8``, ``fp4`` (low-precision GEMM rates), ``expert`` and ``launch`` (the host
  time of per-expert kernels, :func:`gigawatt.perf.training.expert_launch_time_s`).

Each factor's logarithm has a normal prior around 0 (a factor of 1) with the standard
deviation in ``factor_priors``; :func:`fit_factors` finds the most probable factors given the
rows (robust least squares on log errors, each row weighted by ``1/sqrt(rows of its block)``
so that one source's sweep counts as about one observation of its stack). A stack with few
rows therefore stays near the prior, and a stack with none takes the prior.

The fit is cheap because each training row is evaluated once with all factors at 1
(:func:`decompose`): its step time splits into dense-GEMM, expert-GEMM, memory-bound and
exposed-communication parts, which the factors scale. A serving row's prediction is scaled
as a whole by the serving factors, and the routed experts' share of its iteration by the
expert factors of its stack. :func:`leave_one_source_out` refits without each publisher/stack block
(:func:`gigawatt.perf.backtest.row_block`) and predicts the block with the full models;
:func:`intervals` turns those held-out errors into 80% prediction intervals per class
(chip family x dense/MoE x training/serving).

Run ``python -m gigawatt.perf.fit`` to print the fit and the held-out errors, ``--write`` to
store the fitted factors and intervals in ``calibration.yaml``.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from gigawatt.perf.backtest import (fill_chip_counts, load_rows, packaged_path, predict_inference_row,
                                    predict_training_row, row_block, row_class, row_float, row_hardware, row_stack)
from gigawatt.perf.calibration import COVERAGE, calibration_for, class_levels, interval_from_table, load_calibration_file

__all__ = ["RowParts", "fit_rows", "decompose", "fit_factors", "predict_parts", "leave_one_source_out",
           "intervals", "coverage", "as_fitted", "summarise"]

#: typical log error of one row around its block's mean (the noise the factors do not explain)
ROW_SIGMA = 0.1
#: bound on the log of any factor (a factor between 0.22 and 4.5)
LOG_BOUND = 1.5
#: a class of rows: (family, dense|moe, training|serving)
Class = tuple[str, str, str]


@dataclass
class RowParts:
    """One row, evaluated once with every factor at 1, and what the factors act on."""

    row: dict[str, str]
    kind: str  # "training" or "serving"
    measured: float
    base: float | None  # prediction with the factors at 1
    family: str
    stack: str
    block: str
    cls: Class
    precision: str = "bf16"
    inverse: bool = False  # the measured quantity grows with time (chip-hours, latency)
    parts: dict[str, float] = field(default_factory=dict)  # training: step-time parts [s]
    reason: str = ""


def fit_rows(training_csv: Any = None, inference_csv: Any = None) -> dict[str, list[dict[str, str]]]:
    """The rows a fit uses: every training row (chip counts filled) and every inference row."""
    return {"training": fill_chip_counts(load_rows(training_csv or packaged_path("training_runs.csv"))),
            "inference": load_rows(inference_csv or packaged_path("inference_runs.csv"))}


def _family(row: dict[str, str]) -> str:
    try:
        return row_hardware({"chip": str(row["chip"]).strip()})[0].family
    except Exception:  # a chip the catalog does not know: the row is a miss with its reason
        return "generic"


def decompose(rows: dict[str, list[dict[str, str]]] | None = None) -> list[RowParts]:
    """Each row predicted once with all fitted factors at 1, split into the parts the factors scale."""
    rows = rows or fit_rows()
    out: list[RowParts] = []
    none: dict = {}
    for kind, file_rows in (("training", rows.get("training", [])), ("serving", rows.get("inference", []))):
        for row in file_rows:
            measured = row_float(row, "measured_value") or 0.0
            stack = row_stack(row)
            family = _family(row)
            rp = RowParts(row=row, kind=kind, measured=measured, base=None, family=family, stack=stack,
                          block=row_block(row), cls=row_class(row, kind),
                          precision=(row.get("precision") or "bf16").strip().lower() or "bf16",
                          inverse=str(row.get("measured_kind", "")).strip() in ("chip_hours", "tpot_s", "ttft_s"))
            try:
                chip = row_hardware(row)[0].chip
                # the row's stack for what it is (a compiled stack launches no per-expert kernels), its factors at 1
                cal = calibration_for(chip, stack=stack if kind == "training" else "", serving_stack="", fitted=none)
                res = (predict_training_row if kind == "training" else predict_inference_row)(row, cal=cal)
            except Exception as exc:  # a row the model cannot predict stays unpredicted, with its reason
                res = {"predicted": None, "reason": f"{type(exc).__name__}: {exc}"}
            rp.base = res.get("predicted")
            rp.reason = str(res.get("reason") or "")
            if kind == "training" and rp.base:
                d = res["detail"]
                c = float(d["compute_s"])
                e = float(d["tp_comm_s"] + d["ep_comm_s"] + d["pp_comm_s"])
                launch = float(d.get("expert_launch_s") or 0.0)
                bubble = float(d["bubble_s"])
                busy = max(c + e + launch, 1e-30)  # the bubble idles each part of a micro-batch in proportion
                k = (c + float(d["overhead_s"]) + bubble * c / busy) / max(c, 1e-30)
                rp.parts = {"dense": k * float(d["dense_gemm_s"]), "expert": k * float(d["expert_gemm_s"]),
                            "other": k * float(d["memory_s"] + d["head_s"]),
                            "comm": e + bubble * e / busy + float(d["dp_comm_s"]),
                            "launch": launch + bubble * launch / busy,
                            "fixed": float(d["optimizer_s"])}
                rp.parts["step"] = float(d["step_time_s"])
            if kind == "serving" and rp.base:
                # the routed experts' share of the serving iteration, which the expert factors scale
                d = res.get("detail") or {}
                total = sum(float(d.get(k) or 0.0) for k in ("dense_gemm_s", "expert_gemm_s", "attention_s",
                                                             "comm_s", "overhead_s"))
                if total > 0 and float(d.get("expert_gemm_s") or 0.0) > 0:
                    rp.parts = {"expert_share": float(d["expert_gemm_s"]) / total}
            out.append(rp)
    return out


# ----------------------------------------------------------------------------- the factor model
def _priors() -> dict[str, dict[str, float]]:
    return load_calibration_file().get("factor_priors") or {}


def _params(rows: Iterable[RowParts]) -> list[tuple[str, str, str]]:
    """(level, scope, class) of every factor some row acts on."""
    keys: set[tuple[str, str, str]] = set()
    for r in rows:
        if not r.base:
            continue
        if r.kind == "training":
            keys.add(("family", r.family, "compute"))
            if r.stack:
                keys.update({("stack", r.stack, "compute"), ("stack", r.stack, "comm")})
            if r.parts.get("expert", 0.0) > 0:
                keys.add(("global", "all", "expert"))
                if r.stack:
                    keys.add(("stack", r.stack, "expert"))
            if r.precision in ("fp8", "mxfp8", "fp4"):
                keys.add(("global", "all", "fp4" if r.precision == "fp4" else "fp8"))
            if r.parts.get("launch", 0.0) > 0:
                keys.add(("global", "all", "launch"))
        else:
            keys.add(("family", r.family, "serve"))
            if r.stack:
                keys.add(("stack", r.stack, "serve"))
            if r.parts.get("expert_share", 0.0) > 0:
                keys.add(("global", "all", "expert"))
                if r.stack:
                    keys.add(("stack", r.stack, "expert"))
    return sorted(keys)


def _factor(theta: dict[tuple[str, str, str], float], key: tuple[str, str, str]) -> float:
    return math.exp(theta.get(key, 0.0))


def predict_parts(r: RowParts, theta: dict[tuple[str, str, str], float]) -> float | None:
    """A row's prediction with log factors ``theta`` applied to its parts (the fit's fast model)."""
    if not r.base:
        return None
    if r.kind == "serving":
        s = _factor(theta, ("family", r.family, "serve")) * _factor(theta, ("stack", r.stack, "serve"))
        f = r.parts.get("expert_share", 0.0)
        if f > 0:  # the routed experts' share of the iteration runs at the expert factors
            e = _factor(theta, ("global", "all", "expert")) * _factor(theta, ("stack", r.stack, "expert"))
            s = s / ((1.0 - f) + f / e)
        return r.base / s if r.inverse else r.base * s
    c = _factor(theta, ("family", r.family, "compute")) * _factor(theta, ("stack", r.stack, "compute"))
    p = 1.0
    if r.precision in ("fp8", "mxfp8"):
        p = _factor(theta, ("global", "all", "fp8"))
    elif r.precision == "fp4":
        p = _factor(theta, ("global", "all", "fp4"))
    e = _factor(theta, ("global", "all", "expert")) * _factor(theta, ("stack", r.stack, "expert"))
    k = _factor(theta, ("stack", r.stack, "comm"))
    q = r.parts
    step = ((q["dense"] / p + q["expert"] / (p * e) + q["other"]) / c + q["comm"] / k
            + q.get("launch", 0.0) * _factor(theta, ("global", "all", "launch")) + q["fixed"])
    ratio = step / q["step"]
    return r.base * ratio if r.inverse else r.base / ratio


def fit_factors(rows: list[RowParts]) -> dict[tuple[str, str, str], float]:
    """Most probable log factors given ``rows``: robust least squares with a normal prior on each.

    Residuals: ``w_i·log(pred_i/meas_i)/ROW_SIGMA`` per row, with ``w_i = 1/sqrt(n_block)``, under
    a soft-L1 loss (a row missed by far more than :data:`ROW_SIGMA` pulls linearly, not
    quadratically), and ``θ_j/σ_j`` per factor (``factor_priors``).
    """
    from scipy.optimize import least_squares

    usable = [r for r in rows if r.base and r.measured > 0]
    keys = _params(usable)
    if not keys:
        return {}
    priors = _priors()
    sigma = np.array([float((priors.get(level) or {}).get(cls, 0.3)) for level, _, cls in keys])
    blocks: dict[str, int] = {}
    for r in usable:
        blocks[r.block] = blocks.get(r.block, 0) + 1
    weight = np.array([1.0 / math.sqrt(blocks[r.block]) for r in usable])
    meas = np.array([r.measured for r in usable])

    def residuals(x: np.ndarray) -> np.ndarray:
        theta = dict(zip(keys, x))
        pred = np.array([predict_parts(r, theta) for r in usable])
        data = weight * np.log(pred / meas) / ROW_SIGMA
        # soft-L1 on the rows only: sqrt(2(sqrt(1+z²)-1)) keeps the sign and grows linearly
        data = np.sign(data) * np.sqrt(2.0 * (np.sqrt(1.0 + data ** 2) - 1.0))
        return np.concatenate([data, x / sigma])

    sol = least_squares(residuals, np.zeros(len(keys)), bounds=(-LOG_BOUND, LOG_BOUND), method="trf", xtol=1e-8)
    return dict(zip(keys, (float(v) for v in sol.x)))


def as_fitted(theta: dict[tuple[str, str, str], float]) -> dict[str, dict[str, dict[str, float]]]:
    """Log factors as the ``fitted`` mapping :func:`gigawatt.perf.calibration.calibration_for` takes."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (level, scope, cls), v in theta.items():
        out.setdefault(level, {}).setdefault(scope, {})[cls] = math.exp(v)
    return out


def predict_row(r: RowParts, fitted: Any) -> dict[str, Any]:
    """A row predicted by the full model with ``fitted`` factors (a row's own stack)."""
    try:
        chip = row_hardware(r.row)[0].chip
        cal = calibration_for(chip, stack=r.stack, serving_stack=r.stack, fitted=fitted)
        return (predict_training_row if r.kind == "training" else predict_inference_row)(r.row, cal=cal)
    except Exception as exc:  # reported as a miss
        return {"predicted": None, "reason": f"{type(exc).__name__}: {exc}"}


def leave_one_source_out(parts: list[RowParts] | None = None) -> list[dict[str, Any]]:
    """Each publisher/stack block predicted from a fit without it.

    Returns one dict per row: ``id``, ``kind``, ``block``, ``cls``, ``measured``, ``predicted``
    (full model with the block's held-out factors) and ``log_error`` (``log(pred/meas)``, None
    for a miss).
    """
    parts = parts if parts is not None else decompose()
    out = []
    for block in sorted({r.block for r in parts}):
        theta = fit_factors([r for r in parts if r.block != block])
        fitted = as_fitted(theta)
        for r in parts:
            if r.block != block:
                continue
            pred = predict_row(r, fitted).get("predicted") if r.base else None
            out.append({"id": r.row.get("id", ""), "kind": r.kind, "block": block, "cls": r.cls, "stack": r.stack,
                        "measured": r.measured, "predicted": pred,
                        "log_error": math.log(pred / r.measured) if pred and r.measured else None})
    return out


# ----------------------------------------------------------------------------- intervals
def _quantiles(values: list[float]) -> tuple[float, float]:
    lo = (1.0 - COVERAGE) / 2.0
    return float(np.quantile(values, lo)), float(np.quantile(values, 1.0 - lo))


def intervals(held: list[dict[str, Any]], exclude_block: str | None = None) -> dict[str, dict[str, Any]]:
    """Quantiles of held-out log errors per class and its pools: ``"family/moe/kind"`` ->
    ``{"low", "high", "n"}`` (the 10th and 90th percentiles of ``log(pred/meas)``), leaving out
    the rows of ``exclude_block``."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    blocks: dict[tuple[str, str, str], set[str]] = {}
    for h in held:
        if h["log_error"] is None or h["block"] == exclude_block:
            continue
        for level in class_levels(*h["cls"]):
            groups.setdefault(level, []).append(h["log_error"])
            blocks.setdefault(level, set()).add(h["block"])
    out = {}
    for level, errs in sorted(groups.items()):
        if len(errs) >= 3:
            lo, hi = _quantiles(errs)
            out["/".join(level)] = {"low": lo, "high": hi, "n": len(errs), "blocks": len(blocks[level])}
    return out


def coverage(held: list[dict[str, Any]], measured_families: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """Share of held-out rows whose measured value lies in the 80% interval built without their block."""
    inside = []
    for h in held:
        if h["log_error"] is None:
            continue
        table = intervals(held, exclude_block=h["block"])
        iv = interval_from_table(*h["cls"], table)
        pred = h["predicted"]
        inside.append(pred * iv["low_factor"] <= h["measured"] <= pred * iv["high_factor"])
    return {"n": len(inside), "coverage": (sum(inside) / len(inside)) if inside else float("nan")}


# ----------------------------------------------------------------------------- writing the file
def fitted_yaml(theta: dict[tuple[str, str, str], float], parts: list[RowParts], table: dict[str, Any]) -> str:
    """The ``fitted`` section of calibration.yaml for ``theta`` (rows and blocks each factor rests on)."""
    lines = ["fitted:  # written by `python -m gigawatt.perf.fit --write`; do not edit by hand"]
    support: dict[tuple[str, str, str], tuple[int, set[str]]] = {}
    for r in parts:
        if not r.base:
            continue
        for key in _params([r]):
            n, blocks = support.get(key, (0, set()))
            blocks.add(r.block)
            support[key] = (n + 1, blocks)
    by_level: dict[str, dict[str, dict[str, float]]] = {}
    for (level, scope, cls), v in sorted(theta.items()):
        by_level.setdefault(level, {}).setdefault(scope, {})[cls] = v
    for level in ("family", "stack", "global"):
        if level not in by_level:
            continue
        lines.append(f"  {level}:")
        for scope, classes in by_level[level].items():
            lines.append(f"    {scope}:")
            for cls, v in classes.items():
                n, blocks = support.get((level, scope, cls), (0, set()))
                lines.append(f"      {cls}: {{value: {math.exp(v):.4f}, rows: {n}, blocks: [{', '.join(sorted(blocks))}]}}")
    lines.append("  intervals:  # 10th and 90th percentiles of held-out log(predicted/measured), by class")
    for key, q in table.items():
        lines.append(f"    '{key}': {{low: {q['low']:.4f}, high: {q['high']:.4f}, n: {q['n']}, blocks: {q['blocks']}}}")
    return "\n".join(lines) + "\n"


def write_fitted(text: str) -> None:
    """Replace the ``fitted`` section at the end of the packaged calibration.yaml with ``text``."""
    from importlib import resources

    path = resources.files("gigawatt.perf") / "data" / "calibration.yaml"
    body = path.read_text(encoding="utf-8")
    cut = body.find("\nfitted:")
    body = (body if cut < 0 else body[:cut + 1]).rstrip("\n") + "\n"
    with open(str(path), "w", encoding="utf-8") as fh:
        fh.write(body + text)


def summarise(held: list[dict[str, Any]]) -> dict[str, float]:
    errs = [abs(math.expm1(h["log_error"])) if h["log_error"] is not None else 1.0 for h in held]
    return {"n": len(errs), "median": statistics.median(errs) if errs else 0.0,
            "p90": float(np.quantile(errs, 0.9)) if errs else 0.0, "max": max(errs) if errs else 0.0}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parts = decompose()
    theta = fit_factors(parts)
    for key, v in sorted(theta.items()):
        print(f"{'/'.join(key):32s} {math.exp(v):.3f}")
    held = leave_one_source_out(parts)
    for kind in ("training", "serving"):
        s = summarise([h for h in held if h["kind"] == kind])
        print(f"{kind}: held-out median {s['median']:.1%}, p90 {s['p90']:.1%}, max {s['max']:.1%} over {s['n']} rows")
    print("80% interval coverage (held out):", coverage(held))
    if "--write" in argv:
        write_fitted(fitted_yaml(theta, parts, intervals(held)))
        print("written: calibration.yaml fitted section")
    if "--rows" in argv:
        for h in held:
            e = "miss" if h["log_error"] is None else f"{math.expm1(h['log_error']):+.1%}"
            print(f"  {h['id']:50s} {h['block']:28s} {e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
