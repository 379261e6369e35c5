"""Catalog-name front door to the performance models (what ``gigawatt perf`` calls).

>>> r = train_plan("llama3.1-405b", "h100-sxm", 16384, search=True)  # doctest: +SKIP
>>> r["layout"]["tp"], round(r["mfu"], 2)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from gigawatt.errors import GigawattError

__all__ = ["resolve", "train_plan", "serve_plan", "LayoutError"]

RECOMPUTE_NAMES = {"none": 0, "selective": 1, "full": 2}


class LayoutError(GigawattError, ValueError):
    """A parallel layout that cannot run: ``flag`` names the offending option."""

    def __init__(self, message: str, flag: str, hint: str = ""):
        self.flag = flag
        self.hint = hint
        super().__init__(message)


PRECISIONS = ("bf16", "fp16", "fp8", "fp4")


def resolve(model: str, chip: str, system: str | None = None, precision: str = "bf16"):
    """(Arch, Hardware) for catalog names; CatalogError (with did-you-mean) if unknown.

    Raises LayoutError for a precision the models do not know, or a chip without
    the peak and memory figures they need (a host CPU, say).
    """
    from gigawatt.catalog import get_model
    from gigawatt.perf.hardware import Hardware
    from gigawatt.perf.transformer import Arch

    if precision not in PRECISIONS:
        raise LayoutError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}", "--precision")
    arch = Arch.from_model(get_model(model))
    hw = Hardware.from_catalog(chip, system)
    if not hw.peak_flops or hw.hbm_bytes <= 0 or hw.hbm_bw_bytes_per_s <= 0:
        raise LayoutError(f"--chip {chip!r} has no accelerator peak or HBM figures in the catalog", "--chip",
                          "pick an accelerator, see `gigawatt catalog chips`")
    return arch, hw


def train_plan(model: str, chip: str, chips: int, *, tp: int | None = None, pp: int | None = None,
               ep: int | None = None, cp: int | None = None, vpp: int | None = None,
               micro_batch: int | None = None, recompute: str | None = None, search: bool = False,
               seq_len: int | None = None, global_batch_seqs: int | None = None, precision: str = "bf16",
               tokens: float = 15.6e12, system: str | None = None, schedule: str = "1f1b") -> dict[str, Any]:
    """Training performance of ``model`` on ``chips`` chips: layout, breakdown, tokens/s, MFU, days.

    Degrees left as None are searched (all of them with ``search=True``).

    Returns
    -------
    dict
        ``layout``, ``step_time_s`` and its parts [s], ``memory_bytes`` [B],
        ``tokens_per_s`` [tokens/s], ``mfu`` [1], ``goodput`` [1],
        ``days_to_train`` (steady state) and ``days_to_train_with_goodput`` [days]
        for ``tokens``, ``n_evaluated`` layouts.
    """
    from gigawatt.perf.goodput import training_goodput
    from gigawatt.perf.search import search_training

    arch, hw = resolve(model, chip, system, precision)
    if chips < 1:
        raise LayoutError(f"--chips must be at least 1, not {chips}", "--chips")
    if recompute is not None and recompute not in RECOMPUTE_NAMES:
        raise LayoutError(f"--recompute {recompute!r} is not one of none, selective, full", "--recompute")
    seq = int(seq_len or 8192)
    # default batch: Llama 3's 16M tokens, or 1,024 tokens per chip on larger jobs (as big runs grow it)
    gbs = int(global_batch_seqs or max(max(16 * 2**20, 1024 * chips) // seq, 1))
    fixed: dict[str, Any] = {}
    if not search:
        fixed = {"tp": tp, "pp": pp, "ep": ep, "cp": cp, "vpp": vpp, "micro_batch": micro_batch,
                 "recompute": RECOMPUTE_NAMES.get(recompute) if recompute else None}
    for name, value in (("--tp", tp), ("--pp", pp), ("--cp", cp)):
        if value is not None and not search and chips % value:
            raise LayoutError(f"{name} {value} does not divide --chips {chips}", name,
                              "pick degrees whose product divides the chip count, or use --search")
    from gigawatt.perf.training import SCHEDULES

    if schedule != "any" and schedule not in SCHEDULES:
        raise LayoutError(f"--schedule {schedule!r} is not one of {', '.join(SCHEDULES)} or any", "--schedule")
    schedules = tuple(SCHEDULES) if schedule == "any" else (schedule,)
    res = search_training(arch, hw, n_chips=int(chips), seq_len=seq, global_batch_seqs=gbs, precision=precision,
                          fixed=fixed, schedules=schedules)
    if res["layout"] is None:
        flag = "--chips" if search or not any(v is not None for v in fixed.values()) else "--tp/--pp"
        raise LayoutError(res.get("reason", "no feasible layout"), flag,
                          "" if search else "or try --search, or a smaller --global-batch")
    r = res["result"]
    tokens_per_s = r["tokens_per_s"]
    goodput = float(training_goodput(chips))
    days = tokens / tokens_per_s / 86400.0
    return {
        "model": arch.name, "chip": hw.chip, "system": hw.system, "chips": int(chips), "precision": precision,
        "seq_len": seq, "global_batch_seqs": gbs, "layout": res["layout"],
        **{k: r[k] for k in ("step_time_s", "compute_s", "bubble_s", "tp_comm_s", "ep_comm_s", "pp_comm_s",
                             "dp_comm_s", "optimizer_s", "overhead_s", "memory_bytes", "tokens_per_s", "mfu")},
        "hbm_bytes": hw.hbm_bytes, "goodput": goodput, "tokens": tokens, "days_to_train": days,
        "days_to_train_with_goodput": days / goodput, "n_evaluated": res["n_evaluated"],
    }


def serve_plan(model: str, chip: str, chips: int, *, input_len: float, output_len: float, tp: int | None = None,
               pp: int = 1, precision: str = "bf16", ttft_limit_s: float | None = None,
               tpot_limit_s: float | None = None, batch: int | None = None, system: str | None = None,
               ep: int | None = None, kv_precision: str | None = None,
               attention_dp: bool | None = None, kv_reservation: str = "mean") -> dict[str, Any]:
    """Serving throughput of ``model`` on ``chips`` chips for one input/output mix.

    The regime is ``server`` when a TTFT or TPOT limit is given, ``latency`` with a
    fixed ``batch``, else ``offline``. With ``tp`` None, every power-of-two TP that
    divides the chips is tried and the one with the highest throughput kept.
    ``ep`` shards the experts of an MoE model inside each replica; ``attention_dp`` runs
    attention data-parallel over the TP ranks instead of splitting heads. Left None, an
    MoE model is also tried with its experts spread over the replica's ranks (``ep = tp``),
    with attention split by heads and, for MLA models, data-parallel (not with a fixed
    ``batch``, too small to occupy every attention rank), as serving engines offer for MoE
    (see :func:`gigawatt.perf.inference.moe_layouts`);
    a dense model keeps ``ep = 1`` and head-split attention. ``kv_precision``
    (``bf16`` or ``fp8``) defaults to FP8 when the weights are FP8 or FP4.
    ``kv_reservation`` is how the engine admits requests against the KV cache: ``mean``
    (by what sequences hold now, vLLM/SGLang) or ``full`` (each request's whole length
    reserved, TensorRT-LLM's default); see :func:`gigawatt.perf.inference.serve`.
    """
    from gigawatt.perf.inference import moe_layouts, serve

    arch, hw = resolve(model, chip, system, precision)
    if chips < 1:
        raise LayoutError(f"--chips must be at least 1, not {chips}", "--chips")
    regime = "server" if (ttft_limit_s or tpot_limit_s) else ("latency" if batch else "offline")
    if tp is not None and (chips % (tp * pp)):
        raise LayoutError(f"--tp {tp} x --pp {pp} does not divide --chips {chips}", "--tp",
                          "pick tp*pp dividing the chip count, or leave --tp out to search it")
    if ep is not None and (ep < 1 or ep > chips):
        raise LayoutError(f"--ep {ep} must be between 1 and the {chips} chips", "--ep",
                          "expert parallelism spreads experts over the chips of one replica (at most tp x pp)")
    if kv_precision not in (None, "bf16", "fp16", "fp8"):
        raise LayoutError(f"--kv-precision {kv_precision!r} is not one of bf16, fp8", "--kv-precision")
    kv = None if kv_precision is None else (1.0 if kv_precision == "fp8" else 2.0)
    if kv_reservation not in ("mean", "full"):
        raise LayoutError(f"--kv-reservation {kv_reservation!r} is not one of mean, full", "--kv-reservation",
                          "mean: admit by the KV sequences hold now (vLLM); full: reserve whole requests (TensorRT-LLM)")
    tps = [tp] if tp else [t for t in (1, 2, 4, 8, 16, 32, 64, 128) if chips % (t * pp) == 0]

    def layouts(t: int) -> list[tuple[int, bool]]:
        if ep is None and attention_dp is None:
            # a fixed small batch cannot keep every data-parallel attention rank busy: not searched
            return [(e, x) for e, x in moe_layouts(arch, t * pp, t) if not (x and batch is not None)]
        e = 1 if ep is None else ep
        adps = [attention_dp] if attention_dp is not None else ([False, True] if (e > 1 and t > 1) else [False])
        return [(e, bool(x)) for x in adps]

    candidates = [(t, e, x) for t in tps for e, x in layouts(t)]
    best, errors = None, []
    for t, e, a in candidates:
        r = serve(arch, hw, n_chips=int(chips), input_len=input_len, output_len=output_len, tp=t, pp=pp,
                  precision=precision, regime=regime, batch=batch, ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s,
                  ep=e, kv_bytes_per_value=kv, attention_dp=bool(a), kv_reservation=kv_reservation)
        if r.get("output_tokens_per_s") is None:
            errors.append(r.get("error", ""))
            continue
        if best is None or r["output_tokens_per_s"] > best["output_tokens_per_s"]:
            best = {**r, "tp": t, "pp": pp, "ep": e, "attention_dp": bool(a)}
    if best is None:
        raise LayoutError(errors[-1] if errors else "no layout serves this model", "--tp" if tp else "--chips")
    return {"model": arch.name, "chip": hw.chip, "chips": int(chips), "regime": regime, "precision": precision,
            "input_len": input_len, "output_len": output_len,
            "output_tokens_per_s_per_chip": best["output_tokens_per_s"] / chips, **best}
