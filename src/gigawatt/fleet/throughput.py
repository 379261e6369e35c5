"""Per-chip throughput of the scenario's workloads, from the performance layer.

The fleet never counts a FLOP itself: it asks :mod:`gigawatt.perf` how many
training tokens per second per chip a run gets on each chip (the fastest
parallel layout at the run's minimum size), and how many output tokens per
second per chip an inference stream gets within its latency targets (the best
tensor-parallel degree), in the spirit of Gavel's throughput matrix.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from gigawatt.fleet.buildout import Fleet
from gigawatt.fleet.demand import Workloads
from gigawatt.fleet.simulate import Throughput

__all__ = ["BUCKET_CHIPS", "bucket_index", "fleet_throughput", "flop_per_token"]

#: sequence length where the catalog model gives none [tokens]
DEFAULT_SEQ_LEN = 8192


@functools.cache
def _arch(model_id: str):
    from gigawatt import catalog
    from gigawatt.perf.transformer import Arch

    return Arch.from_model(catalog.get_model(model_id))


def _seq_len(model_id: str) -> int:
    from gigawatt import catalog

    return int(catalog.get_model(model_id).seq_len or DEFAULT_SEQ_LEN)


def flop_per_token(model_id: str) -> float:
    """Training FLOP per token of a catalog model at its sequence length [FLOP].

    6·N_active plus causal attention (the performance layer's convention), no recompute.
    """
    from gigawatt.perf.transformer import training_flops_per_token

    return float(training_flops_per_token(_arch(model_id), _seq_len(model_id)))


@functools.cache
def _training_rate(model_id: str, chip: str, system: str, n_chips: int, batch_tokens: float) -> tuple[float, str]:
    from gigawatt.perf.hardware import Hardware
    from gigawatt.perf.search import search_training

    seq = _seq_len(model_id)
    # sequences per step, rounded to a power of two so that data-parallel degrees divide it
    batch = int(2 ** max(0, round(np.log2(max(batch_tokens / seq, 1.0)))))
    best = search_training(_arch(model_id), Hardware.from_catalog(chip, system), n_chips=n_chips, seq_len=seq,
                           global_batch_seqs=batch)
    if best["layout"] is None:
        return float("nan"), f"{model_id} on {n_chips} {chip}: {best.get('reason', 'no layout fits')}"
    return float(best["result"]["tokens_per_s"]) / n_chips, ""


@functools.cache
def _inference_rate(model_id: str, chip: str, system: str, input_len: float, output_len: float, precision: str,
                    ttft_s: float | None, tpot_s: float | None, agentic: tuple | None) -> tuple[float, str]:
    from gigawatt.perf.hardware import Hardware
    from gigawatt.perf.inference import agentic_task, moe_layouts, serve

    hw = Hardware.from_catalog(chip, system)
    if precision not in hw.peak_flops or not hw.peak_flops.get(precision):
        precision = "bf16"
    arch = _arch(model_id)
    best, why = float("nan"), f"{model_id} does not fit on any tensor-parallel group of {chip}"
    for tp in (1, 2, 4, 8, 16, 32, 64):
        if tp > max(hw.chips_per_scaleup, 1) or arch.n_heads % tp:
            continue
        for ep, attention_dp in moe_layouts(arch, tp, tp):
            try:
                if agentic is not None:
                    a = dict(agentic)
                    r = agentic_task(arch, hw, n_chips=tp, tp=tp, precision=precision, ep=ep,
                                     attention_dp=attention_dp, **a)
                    rate = r["output_tokens"] / r["chip_s"] if r["chip_s"] > 0 else float("nan")
                else:
                    regime = "server" if (ttft_s or tpot_s) else "offline"
                    r = serve(arch, hw, n_chips=tp, input_len=input_len, output_len=output_len, tp=tp,
                              precision=precision, regime=regime, ttft_limit_s=ttft_s, tpot_limit_s=tpot_s, ep=ep,
                              attention_dp=attention_dp)
                    rate = (r.get("output_tokens_per_s") or float("nan")) / tp
            except ValueError as exc:
                why = f"{model_id} on {chip} tp={tp}: {exc}"
                continue
            if np.isfinite(rate) and (not np.isfinite(best) or rate > best):
                best = rate
    # a layout that does not fit is only worth a note when no layout serves the stream
    return best, ("" if np.isfinite(best) else why)


BUCKET_CHIPS = 2 ** np.arange(3, 25)  # 8 ... 16,777,216 chips


def bucket_index(n_chips):
    """Index into :data:`BUCKET_CHIPS` of the largest bucket <= ``n_chips`` (0 below 8 chips).

    >>> int(bucket_index(8)), int(bucket_index(100_000))
    (0, 13)
    """
    n = np.maximum(np.asarray(n_chips, dtype=float), 8.0)
    return np.clip(np.floor(np.log2(n)).astype(int) - 3, 0, len(BUCKET_CHIPS) - 1)


@functools.cache
def _model_fingerprint() -> str:
    """A hash of everything the throughput depends on: this module, perf code, calibration and catalog data."""
    import hashlib
    from importlib import resources

    from pathlib import Path

    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())  # this module's own rules (job sizes, batch rounding)
    for package in ("gigawatt.perf", "gigawatt.catalog"):
        root = resources.files(package)
        for path in sorted(_walk(root), key=lambda p: str(p)):
            h.update(str(path.name).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _walk(root):
    for entry in root.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _walk(entry)
        elif entry.name.endswith((".py", ".yaml", ".csv")):
            yield entry


def _cache_path(key: str):
    import os
    from pathlib import Path

    if os.environ.get("GIGAWATT_NO_CACHE"):
        return None
    base = os.environ.get("GIGAWATT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "gigawatt")
    return Path(base) / "throughput" / f"{key}.npz"


def fleet_throughput(fleet: Fleet, workloads: Workloads, use_cache: bool = True) -> Throughput:
    """The throughput matrix, read from the on-disk cache when the same inputs were seen before.

    The cache key hashes the performance code, its calibration, the catalog and
    every input of the matrix, so a change to any of them recomputes it. Set
    ``GIGAWATT_NO_CACHE=1`` to turn the cache off, ``GIGAWATT_CACHE_DIR`` to move it.
    """
    import hashlib
    import json

    spec = {
        "fingerprint": _model_fingerprint(),
        "chips": [(c.chip, c.system, c.max_chips_per_run) for c in fleet.chips],
        "most": fleet.installed.max(axis=(0, 1)).max(axis=0).tolist() if fleet.installed.size else [],
        "runs": [(r.model, r.min_chips, r.max_chips, r.batch_tokens, r.allowed.tolist()) for r in workloads.runs],
        "streams": [(s.model, s.input_tokens, s.output_tokens, s.precision, s.ttft_s, s.tpot_s,
                     sorted(s.agentic.items()) if s.agentic else None, s.allowed.tolist()) for s in workloads.streams],
    }
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:24]
    path = _cache_path(key) if use_cache else None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return Throughput(z["train"], z["infer"], [str(n) for n in z["notes"]], z["buckets"])
        except Exception:  # a damaged cache file is recomputed
            pass
    result = compute_fleet_throughput(fleet, workloads)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, train=result.training_tokens_per_chip_s, infer=result.inference_output_tokens_per_chip_s,
                     notes=np.array(result.notes, dtype=str), buckets=result.bucket_chips)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home is no reason to fail a run
    return result


def compute_fleet_throughput(fleet: Fleet, workloads: Workloads) -> Throughput:
    """The throughput matrix of the scenario's workloads on the fleet's chips.

    Training throughput per chip depends on the job's size, so it is evaluated
    for every power-of-two job size from the run's minimum up to the most chips
    of that generation the fleet ever has (or the run's maximum), and the
    engine reads the bucket at or below the chips a run gets.
    """
    n_c = len(fleet.chips)
    n_b = len(BUCKET_CHIPS)
    train = np.full((len(workloads.runs), n_c, n_b), np.nan)
    infer = np.full((len(workloads.streams), n_c), np.nan)
    notes: list[str] = []
    most = fleet.installed.max(axis=(0, 1)).max(axis=0) if fleet.installed.size else np.zeros(n_c)  # per chip
    for r, run in enumerate(workloads.runs):
        lo = int(bucket_index(run.min_chips))
        for c, spec in enumerate(fleet.chips):
            if not run.allowed[c]:
                continue
            top = min(run.max_chips, spec.max_chips_per_run, max(most[c], run.min_chips))
            hi = min(int(bucket_index(top)) + 1, n_b - 1)  # one size above, to interpolate
            for b in range(lo, hi + 1):
                train[r, c, b], why = _training_rate(run.model, spec.chip, spec.system, int(BUCKET_CHIPS[b]),
                                                     run.batch_tokens)
                if why and why not in notes:
                    notes.append(why)
    for w, st in enumerate(workloads.streams):
        agentic = tuple(sorted(st.agentic.items())) if st.agentic else None
        for c, spec in enumerate(fleet.chips):
            if st.allowed[c]:
                infer[w, c], why = _inference_rate(st.model, spec.chip, spec.system, st.input_tokens, st.output_tokens,
                                                   st.precision, st.ttft_s, st.tpot_s, agentic)
                if why and why not in notes:
                    notes.append(why)
    return Throughput(train, infer, notes, BUCKET_CHIPS.astype(float))
