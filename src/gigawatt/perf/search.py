"""Parallelism search: every feasible training layout evaluated at once.

:func:`layout_grid` lists the candidate layouts (tensor, pipeline, context,
expert parallel degrees, virtual stages, micro-batch, recompute, ZeRO-1 or
FSDP) as flat numpy arrays and drops those that break divisibility;
:func:`search_training` evaluates them all with one call of
:func:`gigawatt.perf.training.training_step` and returns the fastest layout
that fits in memory, with its breakdown. Calculon [1]_ evaluates one layout in
about 2 ms; a vectorized evaluation does about a million per second.

References
----------
.. [1] M. Isaev et al., "Calculon", SC'23.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.training import SCHEDULES, training_step

__all__ = ["layout_grid", "search_training", "LAYOUT_KEYS"]

LAYOUT_KEYS = ("tp", "pp", "cp", "ep", "vpp", "micro_batch", "recompute", "fsdp", "schedule")

_POW2 = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


def _candidates(arch: tf.Arch, hw: Hardware, n_chips: int, seq_len: int) -> dict[str, list[int]]:
    tp_max = min(max(hw.chips_per_scaleup, 1), 64)
    tp = [t for t in _POW2 if t <= tp_max and arch.n_heads % t == 0 and t <= n_chips]
    pp = sorted({p for p in list(range(1, 17)) + [20, 24, 28, 32, 40, 48, 64, 96, 128] if p <= arch.layers and p <= n_chips})
    cp = [c for c in (1, 2, 4, 8, 16, 32) if c == 1 or seq_len >= 8192 * c // 2]
    ep = [e for e in _POW2 if arch.is_moe and arch.moe_experts % e == 0] or [1]
    return {
        "tp": tp, "pp": pp, "cp": cp, "ep": ep, "vpp": [1, 2, 3, 4, 5, 6, 7, 8],
        "micro_batch": [1, 2, 4, 8, 16], "recompute": [0, 1, 2], "fsdp": [0, 1], "schedule": [0],
    }


def layout_grid(arch: tf.Arch, hw: Hardware, *, n_chips: int, seq_len: int, global_batch_seqs: int,
                fixed: dict[str, Any] | None = None, schedules: tuple[str, ...] = ("1f1b",)) -> dict[str, np.ndarray]:
    """All layouts that satisfy divisibility, as flat arrays keyed by ``LAYOUT_KEYS`` (plus ``dp``).

    Parameters
    ----------
    n_chips : int
        Chips in the job [1].
    seq_len : int
        Tokens per sequence [tokens].
    global_batch_seqs : int
        Sequences per step [1].
    fixed : dict, optional
        Degrees to hold fixed (e.g. ``{"tp": 8}``).
    schedules : tuple of str
        Pipeline schedules to consider (keys of ``training.SCHEDULES``); by default 1F1B
        only, what Megatron-LM, NeMo, NxD and MaxText run.

    Notes
    -----
    Kept: ``tp·pp·cp`` divides ``n_chips``; ``dp·mb`` divides the global
    batch; ``ep`` divides ``tp·cp·dp`` (Megatron-Core's expert
    grid with expert TP 1) and the expert count; ``pp·vpp ≤ L`` and
    ``vpp = 1`` without pipelining; FSDP only without pipelining; zero-bubble and
    DualPipe need pipelining, ``vpp = 1`` and at least ``pp`` micro-batches, DualPipe an
    even ``pp`` and an even number of micro-batches. The entry
    ``n_candidates`` holds the size of the grid before filtering.
    """
    cand = _candidates(arch, hw, n_chips, seq_len)
    cand["schedule"] = sorted({SCHEDULES[name] for name in schedules})
    for key, value in (fixed or {}).items():
        if value is not None:
            cand[key] = [int(value)]
    # The degrees (tp, pp, cp, ep) are crossed and filtered first; only the survivors are
    # crossed with the rest (vpp, micro-batch, recompute, FSDP, schedule). The result is the
    # full grid's filtered rows in the same (lexicographic) order, at a fraction of the work.
    outer, inner = LAYOUT_KEYS[:4], LAYOUT_KEYS[4:]
    n_total = int(np.prod([len(cand[k]) for k in LAYOUT_KEYS]))
    mesh = np.meshgrid(*(np.asarray(cand[k], dtype=np.int64) for k in outer), indexing="ij")
    head = {k: a.ravel() for k, a in zip(outer, mesh)}
    model = head["tp"] * head["pp"] * head["cp"]
    keep = (n_chips % model) == 0
    dp_head = np.where(keep, n_chips // np.maximum(model, 1), 0)
    keep &= dp_head >= 1
    keep &= ((dp_head * head["cp"] * head["tp"]) % head["ep"]) == 0  # experts are carved out of tp x cp x dp (etp = 1)
    head = {k: v[keep] for k, v in head.items()}
    mesh = np.meshgrid(*(np.asarray(cand[k], dtype=np.int64) for k in inner), indexing="ij")
    tail = {k: a.ravel() for k, a in zip(inner, mesh)}
    n_head, n_tail = head["tp"].size, tail["vpp"].size
    g = {k: np.repeat(v, n_tail) for k, v in head.items()}
    g.update({k: np.tile(v, n_head) for k, v in tail.items()})
    dp = np.repeat(dp_head[keep], n_tail)
    ok = np.ones(n_head * n_tail, dtype=bool)
    ok &= (global_batch_seqs % np.maximum(dp * g["micro_batch"], 1)) == 0
    ok &= g["pp"] * g["vpp"] <= arch.layers
    ok &= (g["pp"] > 1) | (g["vpp"] == 1)
    ok &= (g["fsdp"] == 0) | (g["pp"] == 1)
    m = global_batch_seqs // np.maximum(dp * g["micro_batch"], 1)
    ok &= (g["vpp"] == 1) | (m % np.maximum(g["pp"], 1) == 0)  # interleaving needs m % pp == 0
    other = g["schedule"] != SCHEDULES["1f1b"]
    ok &= ~other | ((g["pp"] > 1) & (g["vpp"] == 1) & (m >= g["pp"]))
    dual = g["schedule"] == SCHEDULES["dualpipe"]
    ok &= ~dual | ((g["pp"] % 2 == 0) & (m % 2 == 0))
    out = {k: v[ok] for k, v in g.items()}
    out["dp"] = dp[ok]
    out["n_candidates"] = np.asarray(n_total)
    return out


def search_training(arch: tf.Arch, hw: Hardware, *, n_chips: int, seq_len: int, global_batch_seqs: int,
                    precision: str = "bf16", cal: Calibration | None = None,
                    fixed: dict[str, Any] | None = None, etp: int | None = None,
                    schedules: tuple[str, ...] = ("1f1b",)) -> dict[str, Any]:
    """The fastest layout that fits, with its breakdown.

    ``schedules`` widens the search to zero-bubble (``"zero-bubble"``, Qi et al. 2024) or
    DualPipe (``"dualpipe"``, DeepSeek-V3) pipelines; the layout's ``schedule`` is the code
    of ``training.SCHEDULES`` (0 = 1F1B).

    Returns
    -------
    dict
        ``layout`` (the degrees), ``result`` (``training_step`` outputs as
        floats), ``n_candidates`` (the full grid), ``n_evaluated`` (layouts
        that divide, all evaluated) and ``n_feasible`` (those that fit); or
        ``layout`` None when nothing fits (``reason`` says why).

    Examples
    --------
    >>> from gigawatt.perf.hardware import Hardware
    >>> hw = Hardware("h100-sxm", {"bf16": 989e12}, 80e9, 3.35e12, 900e9, 50e9)
    >>> a = tf.Arch("llama-8b", 32, 4096, 32, 8, 128, 14336, 128256)
    >>> r = search_training(a, hw, n_chips=64, seq_len=8192, global_batch_seqs=512)
    >>> r["layout"] is not None and r["result"]["mfu"] > 0.3
    True
    """
    cal = cal or calibration_for(hw.chip)
    g = layout_grid(arch, hw, n_chips=n_chips, seq_len=seq_len, global_batch_seqs=global_batch_seqs, fixed=fixed,
                    schedules=schedules)
    n_cand = int(g.pop("n_candidates"))
    n_eval = int(g["tp"].size)
    if n_eval == 0:
        return {"layout": None, "result": None, "n_evaluated": 0, "n_feasible": 0,
                "reason": f"no layout of {n_chips} chips divides the batch of {global_batch_seqs} sequences"}
    r = training_step(
        arch, hw, n_chips=n_chips, seq_len=seq_len, global_batch_seqs=global_batch_seqs,
        tp=g["tp"], pp=g["pp"], ep=g["ep"], cp=g["cp"], vpp=g["vpp"], micro_batch=g["micro_batch"],
        recompute=g["recompute"], fsdp=g["fsdp"].astype(bool), precision=precision, cal=cal, etp=etp,
        schedule=g["schedule"],
    )
    fits = np.asarray(r["fits"], dtype=bool)
    n_fit = int(fits.sum())
    if n_fit == 0:
        return {"layout": None, "result": None, "n_evaluated": n_eval, "n_feasible": 0,
                "reason": f"no layout fits in {hw.hbm_bytes / 1e9:.0f} GB per chip; use more chips"}
    t = np.where(fits, r["step_time_s"], np.inf)
    i = int(np.argmin(t))
    layout = {k: int(g[k][i]) for k in LAYOUT_KEYS + ("dp",)}
    layout["fsdp"] = bool(layout["fsdp"])
    result = {k: (bool(v[i]) if k == "fits" else float(np.broadcast_to(v, t.shape)[i])) for k, v in r.items()}
    return {"layout": layout, "result": result, "n_evaluated": n_eval, "n_feasible": n_fit, "n_candidates": n_cand}

