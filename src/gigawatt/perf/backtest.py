"""Backtest: predict every published measurement and report the error.

:func:`run_backtest` reads the validation CSV files (by default the copies
shipped in ``perf/data``; see ``perf/data/README.md``), predicts each row with
the calibrated models, and returns the JSON object of issue 3::

    {"training": {"n", "median_abs_error", "max_abs_error", "rows": [...]},
     "inference": {...}}

``error = (predicted - measured) / measured``. A row that cannot be predicted
has ``predicted: null`` and a ``reason`` and counts as a miss (an error of
100% in the summary statistics).

Row conventions (the same for every row):

- the row's layout is used where given; an empty ``tp`` or ``pp`` means the
  layout is searched (:func:`gigawatt.perf.search.search_training`);
- Trainium/Inferentia rows count ``tp``, ``pp``, ``dp`` in NeuronCores; the chip
  is then modeled as that many devices, each with its share of the chip;
- rows without pipelining are FSDP on TPUs (as MaxText runs them) or where the
  row's note says FSDP / ZeRO-3; other given layouts are ZeRO-1;
- ``recompute`` ``unknown`` is taken as selective;
- a global batch that no layout divides is rounded to the nearest multiple of the
  data-parallel degree (of the chip count where the layout is searched): published
  batches such as "2M tokens" are rounded figures;
- ``chip_hours`` rows: chip-hours = tokens / (tokens/s · goodput) · chips / 3600
  with :func:`gigawatt.perf.goodput.training_goodput`; where the row gives
  no chip count, :func:`fill_chip_counts` takes the largest count another row
  of the same source document reports, else 2,048 chips; where it gives no
  batch, 16M tokens per step (Llama 3's batch at scale).
"""

from __future__ import annotations

import csv
import functools
import math
import re
import statistics
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.layout import Layout
from gigawatt.workload_defaults import DEFAULT_BATCH_TOKENS

__all__ = ["run_backtest", "load_rows", "fill_chip_counts", "predict_training_row", "predict_inference_row", "row_hardware"]

DEFAULT_CHIPS_CHIP_HOURS = 2048

HardwareLookup = Callable[[str], Hardware]


def packaged_path(name: str) -> Path:
    """The path of a data file shipped in ``gigawatt/perf/data`` (``training_runs.csv``, ``inference_runs.csv``)."""
    return Path(str(resources.files("gigawatt.perf") / "data" / name))


def load_rows(path: str | Path) -> list[dict[str, str]]:
    """Rows of a validation CSV file as dicts of strings (empty cells are '')."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def row_float(row: dict[str, Any], key: str) -> float | None:
    """A validation row's cell as a float; None where it is empty."""
    v = row.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        out = float(v)
    except ValueError:
        return None
    return None if math.isnan(out) else out


def _default_lookup(chip: str) -> Hardware:
    return Hardware.from_catalog(chip)


def row_hardware(row: dict[str, Any], lookup: HardwareLookup | None = None) -> tuple[Hardware, float]:
    """The device a row's layout counts and how many of them make one chip.

    Neuron rows count NeuronCores: ``devices_per_chip = (tp·pp·dp) / n_chips``
    (2 on Trainium1, 4 logical cores on Trainium2 with LNC=2), and the chip's
    peaks, memory and links are split evenly among them.
    """
    hw = (lookup or _default_lookup)(str(row["chip"]).strip())
    per_chip = 1.0
    if hw.family == "neuron":
        n = row_float(row, "n_chips") or 1.0
        cores = (row_float(row, "tp") or 1.0) * (row_float(row, "pp") or 1.0) * (row_float(row, "dp") or 1.0)
        per_chip = cores / n if cores > n else float(hw.cores_per_chip or 1)
        if per_chip > 1:
            hw = hw.with_(
                peak_flops={k: v / per_chip for k, v in hw.peak_flops.items()},
                hbm_bytes=hw.hbm_bytes / per_chip,
                hbm_bw_bytes_per_s=hw.hbm_bw_bytes_per_s / per_chip,
                scaleup_bw_bytes_per_s=hw.scaleup_bw_bytes_per_s / per_chip,
                scaleout_bw_bytes_per_s=hw.scaleout_bw_bytes_per_s / per_chip,
                chips_per_scaleup=int(hw.chips_per_scaleup * per_chip),
                chips_per_node=int(hw.chips_per_node * per_chip),
                tdp_w=hw.tdp_w / per_chip,
            )
    return hw, per_chip


def source_document(row: dict[str, Any]) -> str:
    """The document a row cites: its ``source`` up to the first ``(`` or ``:`` (commit, table)."""
    text = str(row.get("source") or "")
    for sep in ("(", ":"):
        text = text.split(sep, 1)[0]
    return text.strip().rstrip(",;").strip()


def row_stack(row: dict[str, Any]) -> str:
    """The software stack a row measures: its ``stack`` cell, else its ``engine``, else the first stack
    name or alias (:func:`gigawatt.perf.calibration.known_stacks`) its source or note mentions; ``""``
    where none (the prior applies).

    >>> row_stack({"stack": "NeMo"}), row_stack({"source": "AI-Hypercomputer/maxtext, MaxText/configs"})
    ('megatron', 'maxtext')
    """
    from gigawatt.perf.calibration import _alias_table, canonical_stack

    for key in ("stack", "engine"):
        if str(row.get(key) or "").strip():
            return canonical_stack(row[key])
    for key in ("source", "conversion"):
        text = str(row.get(key) or "")
        hits = []
        for alias, name in _alias_table().items():
            m = re.search(r"(?<![A-Za-z0-9])" + re.escape(alias) + r"(?![A-Za-z0-9])", text, flags=re.IGNORECASE)
            if m:
                hits.append((m.start(), -len(alias), name))
        if hits:
            return min(hits)[2]
    return ""


def row_publisher(row: dict[str, Any]) -> str:
    """Who published a row: the first word of its source document (an organisation, a repository
    owner or a paper's first author).

    >>> row_publisher({"source": "NVIDIA/TensorRT-LLM docs/perf-overview.md (commit 1)"})
    'nvidia'
    """
    doc = source_document(row) or str(row.get("id") or "")
    first = re.split(r"[\s,/]+", doc.strip(), maxsplit=1)[0].lower() or "unknown"
    return PUBLISHER_ALIASES.get(first, first)


#: first words of source documents that name the same publisher: the LLaMA paper (Touvron et al.), the
#: Llama 3 paper (the Llama Team) and the Llama model cards are all Meta's
PUBLISHER_ALIASES = {"touvron": "meta", "llama": "meta"}


def row_block(row: dict[str, Any]) -> str:
    """The leave-one-source-out block of a row: ``publisher/stack``. Rows of one block share
    whatever their publisher's setup and software did to them, so they are held out together."""
    return f"{row_publisher(row)}/{row_stack(row) or 'unknown'}"


def row_class(row: dict[str, Any], kind: str) -> tuple[str, str, str]:
    """(chip family, ``dense`` or ``moe``, ``training`` or ``serving``): the class of a row's interval."""
    from gigawatt.perf.hardware import chip_family

    moe = "moe" if (row_float(row, "moe_experts") or 0.0) > 0 else "dense"
    return chip_family(str(row.get("chip") or "").strip()), moe, kind


def fill_chip_counts(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Copies of ``rows`` with each missing ``n_chips`` filled by one rule, blind to the measured value.

    A row without a chip count takes the largest chip count another row citing the same
    document reports (a model card that gives the cluster of one run of a family: the
    runs it lists shared that cluster); with none, ``DEFAULT_CHIPS_CHIP_HOURS``. The
    filled count and where it came from are kept in ``_n_chips_rule``.
    """
    known: dict[str, float] = {}
    for r in rows:
        n = row_float(r, "n_chips")
        doc = source_document(r)
        if n and doc:
            known[doc] = max(known.get(doc, 0.0), n)
    out = []
    for r in rows:
        r = dict(r)
        if not row_float(r, "n_chips"):
            doc = source_document(r)
            if doc in known:
                r["n_chips"] = str(int(known[doc]))
                r["_n_chips_rule"] = f"{int(known[doc])} chips: the largest count {doc!r} gives for its runs"
            else:
                r["n_chips"] = str(DEFAULT_CHIPS_CHIP_HOURS)
                r["_n_chips_rule"] = f"{DEFAULT_CHIPS_CHIP_HOURS} chips: assumed, the source gives none"
        out.append(r)
    return out


def _schedule_code(note: str) -> int:
    """Pipeline schedule a row's note names: DualPipe, zero-bubble, else 1F1B."""
    from gigawatt.perf.training import SCHEDULES

    if re.search(r"DualPipe", note, flags=re.IGNORECASE):
        return SCHEDULES["dualpipe"]
    if re.search(r"zero[- ]bubble", note, flags=re.IGNORECASE):
        return SCHEDULES["zero-bubble"]
    return SCHEDULES["1f1b"]


def _recompute_code(value: str | None) -> int:
    from gigawatt.perf.training import RECOMPUTE

    return RECOMPUTE.get((value or "unknown").strip().lower(), 1)


def predict_training_row(row: dict[str, Any], lookup: HardwareLookup | None = None,
                         cal: Calibration | None = None) -> dict[str, Any]:
    """Predict one training row: ``{"predicted": float|None, "reason"?, "detail": {...}}``.

    ``cal`` is the chip's calibration, by default the file's (:func:`calibration_for`).
    """
    from gigawatt.perf.goodput import PUBLISHED_RUN_RELIABILITY, run_chip_hours, training_goodput
    from gigawatt.perf.search import search_training
    from gigawatt.perf.training import training_step
    from gigawatt.perf.transformer import Arch

    arch = Arch.from_row(row)
    hw, per_chip = row_hardware(row, lookup)
    cal = cal or calibration_for(hw.chip, stack=row_stack(row))
    overlap = row_float(row, "ep_a2a_overlap")
    if overlap is not None:  # the stack feature the row's published configuration sets
        cal = cal.with_(ep_a2a_overlap=overlap)
    kind = str(row["measured_kind"]).strip()
    seq = row_float(row, "seq_len") or 4096.0
    n_chips = row_float(row, "n_chips") or float(DEFAULT_CHIPS_CHIP_HOURS)
    n_dev = n_chips * per_chip
    gbs = row_float(row, "global_batch_seqs") or max(DEFAULT_BATCH_TOKENS // seq, 1)
    precision = (row.get("precision") or "bf16").strip().lower() or "bf16"
    tp, pp = row_float(row, "tp"), row_float(row, "pp")
    rc_text = (row.get("recompute") or "").strip().lower()
    m_etp = re.search(r"\bETP=(\d+)", str(row.get("conversion") or ""))
    given = tp is not None and pp is not None
    # a given layout is Megatron-style ZeRO-1, except on TPUs, where MaxText shards with FSDP
    fsdp_note = re.search(r"\bFSDP\b|ZeRO-3", str(row.get("conversion") or ""))
    fixed = Layout(
        tp=tp, pp=pp, cp=(row_float(row, "cp") or 1.0) if given else row_float(row, "cp"),
        ep=(row_float(row, "ep") or 1.0) if arch.is_moe else 1.0,
        vpp=1.0 if pp == 1 else row_float(row, "vpp"),
        micro_batch=row_float(row, "micro_batch"),
        recompute=None if rc_text in ("", "unknown") else _recompute_code(rc_text),
        fsdp=(pp == 1 and (hw.family == "tpu" or bool(fsdp_note))) if given else None,
        # the pipeline schedule a row names; 1F1B (Megatron's, with interleaving) otherwise
        schedule=_schedule_code(str(row.get("conversion") or "")),
        etp=int(m_etp.group(1)) if m_etp and arch.is_moe else None,
    )
    res = search_training(arch, hw, n_chips=int(n_dev), seq_len=int(seq), global_batch_seqs=int(gbs),
                          precision=precision, fixed=fixed, cal=cal)
    if res["layout"] is None and res.get("n_evaluated", 0) == 0:
        # a published batch no layout divides (e.g. "2M tokens" on 992 GPUs) is a rounded figure:
        # run the nearest batch that gives every data-parallel rank whole sequences
        group = int(n_dev) // int((tp or 1) * (pp or 1) * (fixed.cp or 1)) if given else int(n_dev)
        gbs = float(max(group, round(gbs / max(group, 1)) * group))
        res = search_training(arch, hw, n_chips=int(n_dev), seq_len=int(seq), global_batch_seqs=int(gbs),
                              precision=precision, fixed=fixed, cal=cal)
    detail: dict[str, Any] = {}
    if res["layout"] is not None:
        tokens_per_s = res["result"]["tokens_per_s"]
        detail = {"layout": res["layout"].to_dict(), **res["result"]}
    elif given:
        # the published layout ran, even where our memory model says it does not fit
        layout = fixed.complete()
        r = training_step(arch, hw, layout, n_chips=n_dev, seq_len=seq, global_batch_seqs=gbs, precision=precision,
                          cal=cal)
        tokens_per_s = float(r["tokens_per_s"])
        detail = {"layout": layout.to_dict(), **{k: float(v) for k, v in r.items()}}
        detail["note"] = "published layout evaluated although the memory model says it does not fit"
    else:
        return {"predicted": None, "reason": res.get("reason", "search found no layout"), "detail": {}}
    if kind == "tokens_per_s":
        return {"predicted": tokens_per_s, "detail": detail}
    if kind == "chip_hours":
        tokens_b = row_float(row, "tokens_b")
        if tokens_b is None:
            return {"predicted": None, "reason": "chip_hours row without tokens_b", "detail": detail}
        detail["goodput"] = float(training_goodput(n_chips, PUBLISHED_RUN_RELIABILITY))
        if row.get("_n_chips_rule"):
            detail["n_chips_rule"] = row["_n_chips_rule"]
        return {"predicted": float(run_chip_hours(tokens_b * 1e9, tokens_per_s, n_chips, PUBLISHED_RUN_RELIABILITY)),
                "detail": detail}
    return {"predicted": None, "reason": f"unknown measured_kind {kind!r}", "detail": detail}


def predict_inference_row(row: dict[str, Any], lookup: HardwareLookup | None = None,
                          cal: Calibration | None = None) -> dict[str, Any]:
    """Predict one inference row: ``{"predicted": float|None, "reason"?, "detail": {...}}``.

    ``cal`` is the chip's calibration, by default the file's (:func:`calibration_for`).
    """
    from gigawatt.perf.inference import predict_row

    hw, per_chip = row_hardware(row, lookup)
    cal = cal or calibration_for(hw.chip, serving_stack=row_stack(row))
    res = predict_row(row, hw, devices_per_chip=per_chip, cal=cal)
    # the serving stack's and family's fitted speed factor (calibration.Calibration.serving_scale)
    if res.get("predicted") and cal.serving_scale != 1.0:
        inverse = str(row.get("measured_kind", "")).strip() in ("tpot_s", "ttft_s")
        res = dict(res, predicted=res["predicted"] / cal.serving_scale if inverse else res["predicted"] * cal.serving_scale)
    return res


def _summarise(rows: list[dict[str, str]], predict: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    out_rows = []
    errors = []
    for row in rows:
        measured = row_float(row, "measured_value")
        try:
            res = predict(row)
        except Exception as exc:  # a row the model cannot handle is a reported miss, never a crash
            res = {"predicted": None, "reason": f"{type(exc).__name__}: {exc}"}
        item: dict[str, Any] = {
            "id": row.get("id", ""),
            "measured_kind": row.get("measured_kind", ""),
            "measured": measured,
            "predicted": res.get("predicted"),
        }
        if item["predicted"] is None or not measured:
            item["predicted"] = None
            item["error"] = None
            item["reason"] = res.get("reason") or "no measured value"
            errors.append(1.0)
        else:
            item["error"] = (item["predicted"] - measured) / measured
            errors.append(abs(item["error"]))
        out_rows.append(item)
    return {
        "n": len(out_rows),
        "median_abs_error": statistics.median(errors) if errors else 0.0,
        "max_abs_error": max(errors) if errors else 0.0,
        "rows": out_rows,
    }


#: the targets the backtest reports against (issue 18), on held-out (leave-one-source-out) errors:
#: (name, kind, row filter, statistic, limit)
TARGETS = (
    ("training tokens/s median", "training", "tokens_per_s", "median", 0.10),
    ("training tokens/s p90", "training", "tokens_per_s", "p90", 0.30),
    ("MoE training median", "training", "moe", "median", 0.15),
    ("whole-run chip-hours median", "training", "chip_hours", "median", 0.15),
    ("serving median", "inference", "all", "median", 0.12),
    ("MoE serving median", "inference", "moe", "median", 0.20),
)


def measured_chips(kind: str) -> dict[str, int]:
    """Catalog chip ids with published rows of ``kind`` (``training``, ``serving``/``inference``) in
    the packaged files, and how many rows each has."""
    return dict(_measured_chips("training" if kind == "training" else "inference"))


@functools.cache
def _measured_chips(file: str) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for r in load_rows(packaged_path(f"{file}_runs.csv")):
        try:
            chip = row_hardware({"chip": str(r["chip"]).strip()})[0].chip
        except Exception:  # a chip the catalog does not know measures nothing the models use
            continue
        counts[chip] = counts.get(chip, 0) + 1
    return tuple(sorted(counts.items()))


def _stats(errors: list[float]) -> dict[str, float]:
    import numpy as np

    if not errors:
        return {"n": 0, "median": None, "p90": None, "max": None}
    return {"n": len(errors), "median": float(statistics.median(errors)), "p90": float(np.quantile(errors, 0.9)),
            "max": float(max(errors))}


def _breakdown(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r[key]), []).append(r)
    return {k: {"held_out": _stats([_abs(x["held_out_error"]) for x in v]),
                "in_sample": _stats([_abs(x["error"]) for x in v])} for k, v in sorted(groups.items())}


def _abs(error: float | None) -> float:
    return 1.0 if error is None else abs(error)


def run_backtest(training_csv: str | Path | None = None, inference_csv: str | Path | None = None, *,
                 hardware: HardwareLookup | None = None) -> dict[str, Any]:
    """Predict every row of the training and inference files, in sample and held out, with intervals.

    Parameters
    ----------
    training_csv, inference_csv : path, optional
        Files in the format of ``gigawatt/perf/data/FORMAT.md``; by default the
        copies shipped in ``gigawatt/perf/data``.
    hardware : callable, optional
        ``chip name -> Hardware``; by default :meth:`Hardware.from_catalog`. With it, only the
        in-sample predictions are made (the refits read the catalog).

    Returns
    -------
    dict
        ``{"training": {...}, "inference": {...}, "held_out": {...}}``. Each file's part has
        ``n``, ``median_abs_error``, ``max_abs_error`` (in sample, the packaged factors) and
        ``rows``: ``id``, ``measured_kind``, ``measured``, ``predicted``, ``error``, ``reason``
        where ``predicted`` is null, and ``low`` and ``high`` (the 80% interval), ``stack``,
        ``block``, ``family``, ``moe``, ``held_out_predicted`` and ``held_out_error`` (the row
        predicted from a fit without its publisher/stack block). ``held_out`` holds the headline:
        errors by kind, chip family, dense/MoE and stack (held out and in sample), the 80%
        interval coverage of held-out rows, and each target with its value.

    Notes
    -----
    Leave-one-source-out: rows are grouped by publisher and software stack
    (:func:`row_block`); each group is predicted from the factors refitted without it
    (:func:`gigawatt.perf.fit.leave_one_source_out`), so a source's shared setup cannot leak
    into its own predictions.
    """
    training_csv = training_csv or packaged_path("training_runs.csv")
    inference_csv = inference_csv or packaged_path("inference_runs.csv")
    train_rows = fill_chip_counts(load_rows(training_csv))
    infer_rows = load_rows(inference_csv)
    result = {
        "training": _summarise(train_rows, lambda r: predict_training_row(r, hardware)),
        "inference": _summarise(infer_rows, lambda r: predict_inference_row(r, hardware)),
    }
    if hardware is not None:
        return result
    from gigawatt.perf import fit
    from gigawatt.perf.calibration import interval_from_table

    parts = fit.decompose({"training": train_rows, "inference": infer_rows})
    held = fit.leave_one_source_out(parts)
    table = fit.intervals(held)
    by_id = {(h["kind"], h["id"]): h for h in held}
    chips = {"training": measured_chips("training"), "serving": measured_chips("serving")}
    flat = []
    for name, kind, csv_rows in (("training", "training", train_rows), ("inference", "serving", infer_rows)):
        src = {r.get("id", ""): r for r in csv_rows}
        for row in result[name]["rows"]:
            csv_row = src.get(row["id"], {})
            h = by_id.get((kind, row["id"]), {})
            family, moe, _ = row_class(csv_row, kind)
            row.update(stack=row_stack(csv_row), block=row_block(csv_row), family=family, moe=moe,
                       held_out_predicted=h.get("predicted"),
                       held_out_error=(math.expm1(h["log_error"]) if h.get("log_error") is not None else None))
            if row["predicted"] is not None:
                try:
                    chip = row_hardware(csv_row)[0].chip
                except Exception:
                    chip = ""
                iv = interval_from_table(family, moe, kind, table, chip in chips[kind])
                row.update(low=row["predicted"] * iv["low_factor"], high=row["predicted"] * iv["high_factor"],
                           interval_basis=iv["basis"])
            else:
                row.update(low=None, high=None, interval_basis=None)
            flat.append(dict(row, kind=kind))
    headline: dict[str, Any] = {"method": "leave-one-source-out (publisher/stack blocks)",
                                "blocks": sorted({h["block"] for h in held}),
                                "coverage_80": fit.coverage(held)}
    for key in ("kind", "family", "moe", "stack"):
        headline["by_" + key] = _breakdown(flat, key)
    headline["by_kind_and_moe"] = _breakdown([dict(r, km=f"{r['kind']}/{r['moe']}") for r in flat], "km")
    headline["by_measured_kind"] = _breakdown([dict(r, mk=f"{r['kind']}/{r['measured_kind']}") for r in flat], "mk")
    targets = []
    for label, file, which, stat, limit in TARGETS:
        rows = [r for r in result[file]["rows"]
                if which == "all" or (which == "moe" and r["moe"] == "moe") or r["measured_kind"] == which]
        value = _stats([_abs(r["held_out_error"]) for r in rows])[stat]
        inside = _stats([_abs(r["error"]) for r in rows])[stat]
        targets.append({"target": label, "limit": limit, "held_out": value, "in_sample": inside, "n": len(rows),
                        "met": value is not None and value <= limit})
    missed = [r["id"] for r in flat if r["predicted"] is None]
    targets.append({"target": "every row predicted", "limit": 0, "held_out": len(missed), "in_sample": len(missed),
                    "n": len(flat), "met": not missed})
    cov = headline["coverage_80"]["coverage"]
    targets.append({"target": "80% intervals cover 70-90% of held-out rows", "limit": [0.7, 0.9], "held_out": cov,
                    "in_sample": None, "n": headline["coverage_80"]["n"], "met": 0.7 <= cov <= 0.9})
    headline["targets"] = targets
    headline["intervals"] = table
    result["held_out"] = headline
    return result


def summary_by_chip(result: dict[str, Any], csv_rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    """Median and max absolute error per chip of one file's result (misses count as 1.0)."""
    chip_of = {r.get("id", ""): r.get("chip", "") for r in csv_rows}
    groups: dict[str, list[float]] = {}
    for row in result["rows"]:
        err = 1.0 if row["error"] is None else abs(row["error"])
        groups.setdefault(chip_of.get(row["id"], ""), []).append(err)
    return {k: {"n": len(v), "median_abs_error": statistics.median(v), "max_abs_error": max(v)}
            for k, v in sorted(groups.items())}
