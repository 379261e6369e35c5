"""Per-chip throughput of the scenario's workloads, from the performance layer.

The fleet never counts a FLOP itself: it asks :func:`gigawatt.perf.throughput_matrix`,
and nothing else, how many training tokens per second per chip a run gets on each
chip (the fastest parallel layout at each job size) and how many output tokens per
second per chip an inference stream gets within its latency targets (the best
serving layout), in the spirit of Gavel's throughput matrix. The matrix runs the
same searches as ``gigawatt perf train`` and ``perf serve``, so the fleet and the CLI
agree for the same inputs.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from gigawatt.fleet.buildout import Fleet
from gigawatt.fleet.demand import Workloads
from gigawatt.fleet.simulation import Throughput

__all__ = ["BUCKET_CHIPS", "bucket_index", "fleet_throughput", "flop_per_token"]

#: sequence length where the catalog model gives none [tokens]
from gigawatt.perf.transformer import DEFAULT_SEQ_LEN  # one home: the performance layer


@functools.cache
def _arch(model_id: str):
    from gigawatt import catalog
    from gigawatt.perf.transformer import Arch

    return Arch.from_model(catalog.get_model(model_id))


def model_seq_len(model_id: str) -> int:
    """A catalog model's training sequence length [tokens]; the default where the catalog gives none."""
    from gigawatt import catalog

    return int(catalog.get_model(model_id).seq_len or DEFAULT_SEQ_LEN)


def flop_per_token(model_id: str) -> float:
    """Training FLOP per token of a catalog model at its sequence length [FLOP].

    6·N_active plus causal attention (the performance layer's convention), no recompute.
    """
    from gigawatt.perf.transformer import training_flops_per_token

    return float(training_flops_per_token(_arch(model_id), model_seq_len(model_id)))


def batch_seqs(model_id: str, batch_tokens: float) -> int:
    """Sequences per step of a run: its tokens per step, rounded to a power of two so that data-parallel degrees divide it."""
    return int(2 ** max(0, round(np.log2(max(batch_tokens / model_seq_len(model_id), 1.0)))))


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


def _cache_path(key: str, kind: str = "throughput", suffix: str = ".npz"):
    """The file of cache entry ``key`` in the cache's ``kind`` folder; None when the cache is off."""
    import os
    from pathlib import Path

    if os.environ.get("GIGAWATT_NO_CACHE"):
        return None
    base = os.environ.get("GIGAWATT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "gigawatt")
    return Path(base) / kind / f"{key}{suffix}"


def run_precision(run) -> str | None:
    """The precision a run states (``demand.training[].precision``); None: each chip's catalog default."""
    return getattr(run, "precision", None)


#: the last throughput matrices this process computed or read, by cache key (a Monte Carlo's samples that
#: run one by one reuse them without the disk)
_RECENT: dict = {}
_RECENT_MOST = 8


def fleet_throughput(fleet: Fleet, workloads: Workloads, use_cache: bool = True, keep: bool = True) -> Throughput:
    """The throughput matrix, read from the on-disk cache when the same inputs were seen before.

    The cache key hashes the performance code, its calibration, the catalog and
    every input of the matrix, so a change to any of them recomputes it. Set
    ``GIGAWATT_NO_CACHE=1`` to turn the cache off, ``GIGAWATT_CACHE_DIR`` to move it.
    The last few matrices are also kept in memory. ``keep=False`` reads the disk
    cache but writes no new entry there (a Monte Carlo's draws of request lengths
    would otherwise leave one file per sample).
    """
    import hashlib
    import json

    spec = {
        "layout": 2,  # what the cache file holds: rates, notes, job sizes and the training cells' MFU
        "fingerprint": _model_fingerprint(),
        "chips": [(c.chip, c.system, c.max_chips_per_run) for c in fleet.chips],
        # the most chips of each generation matter only through the job sizes evaluated up to them
        "most": bucket_index(fleet.installed.max(axis=(0, 1)).max(axis=0)).tolist() if fleet.installed.size else [],
        "runs": [(r.model, r.min_chips, r.max_chips, r.batch_tokens, run_precision(r), r.allowed.tolist())
                 for r in workloads.runs],
        "streams": [(s.model, s.input_tokens, s.output_tokens, s.precision, s.ttft_s, s.tpot_s,
                     sorted(s.agentic.items()) if s.agentic else None, s.allowed.tolist()) for s in workloads.streams],
    }
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:24]
    if use_cache and key in _RECENT:
        return _RECENT[key]
    path = _cache_path(key) if use_cache else None
    result = None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                result = Throughput(z["train"], z["infer"], [str(n) for n in z["notes"]], z["buckets"],
                                    training_mfu=z["train_mfu"])
        except Exception:  # a damaged cache file is recomputed
            result = None
    if result is not None:
        return _remember(key, result)
    result = compute_fleet_throughput(fleet, workloads)
    if use_cache:
        _remember(key, result)
    if path is not None and keep:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, train=result.training_tokens_per_chip_s, infer=result.inference_output_tokens_per_chip_s,
                     notes=np.array(result.notes, dtype=str), buckets=result.bucket_chips,
                     train_mfu=result.training_mfu)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home is no reason to fail a run
    return result


def _remember(key: str, result: Throughput) -> Throughput:
    """Keep ``result`` among the last :data:`_RECENT_MOST` matrices of this process."""
    _RECENT.pop(key, None)
    _RECENT[key] = result
    while len(_RECENT) > _RECENT_MOST:
        _RECENT.pop(next(iter(_RECENT)))
    return result


def compute_fleet_throughput(fleet: Fleet, workloads: Workloads) -> Throughput:
    """The throughput matrix of the scenario's workloads on the fleet's chips.

    One call of :func:`gigawatt.perf.throughput_matrix`, the search ``gigawatt perf train``
    and ``perf serve`` run, with each chip in the fleet's system. Training throughput per
    chip depends on the job's size, so a run is one training workload per power-of-two
    job size, from the run's minimum up to the most chips of that generation the fleet
    ever has (or the run's maximum), plus one size above to interpolate; the engine reads
    the bucket at or below the chips a run gets. An inference stream is one inference
    workload served from a pool (one replica of the best layout, per chip); an agentic
    stream serves whole agentic tasks.

    A run trains in the precision it states, else in each chip's catalog training precision
    (:func:`gigawatt.perf.api.training_precision`: MXFP8 on Trainium3 and Blackwell, FP8 on
    Hopper, BF16 on Trainium2); a chip that does not train in a stated precision gets no rate
    and a note. The notes name the precision each run trains in on each chip.
    """
    from gigawatt.perf import throughput_matrix

    n_c = len(fleet.chips)
    n_b = len(BUCKET_CHIPS)
    most = fleet.installed.max(axis=(0, 1)).max(axis=0) if fleet.installed.size else np.zeros(n_c)  # per chip
    items: list[dict] = []
    cells: list[np.ndarray] = []
    where: list[tuple[str, int, int]] = []  # (kind, run or stream, bucket)
    for r, run in enumerate(workloads.runs):
        lo = int(bucket_index(run.min_chips))
        hi = np.full(n_c, -1)
        for c, spec in enumerate(fleet.chips):
            if run.allowed[c]:
                top = min(run.max_chips, spec.max_chips_per_run, max(most[c], run.min_chips))
                hi[c] = min(int(bucket_index(top)) + 1, n_b - 1)  # one size above, to interpolate
        for b in range(lo, int(hi.max()) + 1):
            items.append({"name": f"{run.name}@{int(BUCKET_CHIPS[b])}", "kind": "training", "model": run.model,
                          "chips": int(BUCKET_CHIPS[b]), "seq_len": model_seq_len(run.model),
                          "global_batch_seqs": batch_seqs(run.model, run.batch_tokens),
                          "precision": run_precision(run)})
            cells.append(np.asarray(run.allowed, dtype=bool) & (b <= hi))
            where.append(("train", r, b))
    for w, st in enumerate(workloads.streams):
        items.append({"name": st.name, "kind": "inference", "model": st.model, "chips": None,
                      "input_len": float(st.input_tokens), "output_len": float(st.output_tokens),
                      "precision": st.precision, "ttft_limit_s": st.ttft_s, "tpot_limit_s": st.tpot_s,
                      "agentic": dict(st.agentic) if st.agentic else None})
        cells.append(np.asarray(st.allowed, dtype=bool))
        where.append(("infer", w, 0))
    train = np.full((len(workloads.runs), n_c, n_b), np.nan)
    train_mfu = np.full_like(train, np.nan)  # MFU of each training cell, in the precision it trains in
    infer = np.full((len(workloads.streams), n_c), np.nan)
    notes: list[str] = []
    if items:
        m = throughput_matrix(items, [(spec.chip, spec.system) for spec in fleet.chips], evaluate=np.array(cells))
        rate, note, prec, mfu = m.values, m.note.values, m.precision.values, m.mfu.values
        for i, (kind, k, b) in enumerate(where):
            for c, spec in enumerate(fleet.chips):
                if not cells[i][c]:
                    continue
                if kind == "train":
                    train[k, c, b] = rate[i, c]
                    train_mfu[k, c, b] = mfu[i, c]
                    run = workloads.runs[k]
                    said = f"{run.model} trains in {prec[i, c].upper()} on {spec.chip}" + (
                        "" if run_precision(run) else " (the catalog's training precision for the chip)")
                    if np.isfinite(rate[i, c]) and said not in notes:
                        notes.append(said)
                    why = f"{run.model} on {int(BUCKET_CHIPS[b])} {spec.chip}: {note[i, c]}"
                else:
                    infer[k, c] = rate[i, c]
                    why = f"{workloads.streams[k].model} on {spec.chip}: {note[i, c]}"
                if note[i, c] and why not in notes:
                    notes.append(why)
    return Throughput(train, infer, notes, BUCKET_CHIPS.astype(float), training_mfu=train_mfu)
