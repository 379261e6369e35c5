"""Catalog-name front door to the performance models (what ``gigawatt perf`` calls).

>>> r = train_plan("llama3.1-405b", "h100-sxm", 16384, search=True)  # doctest: +SKIP
>>> r["layout"]["tp"], round(r["mfu"], 2)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from typing import Any

from gigawatt.errors import GigawattError
from gigawatt.perf.goodput import Reliability
from gigawatt.perf.layout import Layout
from gigawatt.workload_defaults import (AGENT_OUTPUT_TOKENS_PER_STEP, AGENT_PROMPT_TOKENS, AGENT_STEPS_PER_TASK,
                                        AGENT_TOOL_OUTPUT_TOKENS, API_INPUT_USD_PER_MTOK, API_OUTPUT_USD_PER_MTOK,
                                        CACHE_LIFETIME_S, CACHE_READ_PRICE_FACTOR, CACHE_WRITE_PRICE_FACTOR, CPU_POOL_UTILIZATION,
                                        CPU_S_PER_TOOL_CALL, DEFAULT_BATCH_TOKENS, DEFAULT_SEQ_LEN,
                                        DEFAULT_TRAINING_TOKENS, HOST_MEMORY_PER_CPU_BYTES, MIN_BATCH_TOKENS_PER_CHIP,
                                        SANDBOX_MEMORY_BYTES,
                                        TOOL_TIME_MEDIAN_S, TOOL_TIME_P90_S, USER_IDLE_MEDIAN_S, USER_IDLE_P90_S)

__all__ = ["resolve", "train_plan", "serve_plan", "agent_plan", "training_precision", "LayoutError", "Layout", "Reliability"]


class LayoutError(GigawattError, ValueError):
    """A parallel layout that cannot run: ``flag`` names the offending option."""

    def __init__(self, message: str, flag: str, hint: str = ""):
        self.flag = flag
        self.hint = hint
        super().__init__(message)


PRECISIONS = ("bf16", "fp16", "fp8", "mxfp8", "fp4")
#: the format the performance models run a precision in: MXFP8 is FP8 (E4M3) with one scale per
#: 32 values, at the chip's FP8 peak with the family's FP8 efficiency and the same quantization
#: traffic as per-tensor or block-scaled FP8 (the models do not tell the scalings apart)
MODEL_PRECISION = {"mxfp8": "fp8"}


def training_precision(chip: str, precision: str | None = None) -> str:
    """The precision a training run on ``chip`` trains in: ``precision``, else the chip's default.

    The default is the catalog's ``training_precision`` for the chip (what its software stack
    trains in, with its source), BF16 where the catalog gives none. A precision the chip does
    not train in (``training_precisions``, or the formats it has a peak for) is refused.

    Raises
    ------
    LayoutError
        For an unknown precision, or one the chip does not train in (``flag`` ``--precision``).

    Examples
    --------
    >>> training_precision("trainium3"), training_precision("h100-sxm"), training_precision("trainium2")
    ('mxfp8', 'fp8', 'bf16')
    >>> training_precision("a100-80gb", "fp8")
    Traceback (most recent call last):
    ...
    gigawatt.perf.api.LayoutError: --precision fp8: a100-80gb does not train in FP8 (it has no FP8 peak in the catalog); it trains in bf16
    """
    from gigawatt.catalog import get_chip

    c = get_chip(chip)
    if precision is None:
        return c.default_training_precision()
    p = str(precision).lower()
    if p not in PRECISIONS:
        raise LayoutError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}", "--precision")
    formats = c.training_formats()
    if p in formats or (p == "fp16" and "bf16" in formats):
        return p
    if p == "mxfp8" and "fp8" in formats:
        why = "no microscaling (MX) formats in hardware; its FP8 is per-tensor or block scaled, use fp8"
    elif p == "fp8" and "mxfp8" in formats:
        why = "its FP8 rate is for microscaled (MX) inputs only, use mxfp8"
    elif not c.peak_flops(p):
        why = f"it has no {p.upper()} peak in the catalog"
    else:
        why = "not by the catalog's training_precisions"
    raise LayoutError(f"--precision {p}: {c.id} does not train in {p.upper()} ({why}); it trains in {', '.join(formats)}",
                      "--precision", f"use --precision {' | '.join(formats)}, or leave it out (the default for "
                      f"{c.id}: {c.default_training_precision()})")


def resolve(model: str, chip: str, system: str | None = None, precision: str = "bf16"):
    """(Arch, Hardware) for catalog names; CatalogError (with did-you-mean) if unknown.

    Raises LayoutError for a precision the models do not know, or a chip without
    the peak and memory figures they need (a host CPU, say).
    """
    if precision not in PRECISIONS:
        raise LayoutError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}", "--precision")
    arch, hw = _catalog_records(model, chip, system or None)
    if not hw.peak_flops or hw.hbm_bytes <= 0 or hw.hbm_bw_bytes_per_s <= 0:
        raise LayoutError(f"--chip {chip!r} has no accelerator peak or HBM figures in the catalog", "--chip",
                          "pick an accelerator, see `gigawatt catalog chips`")
    return arch, hw


@functools.lru_cache(maxsize=256)
def _catalog_records(model: str, chip: str, system: str | None):
    """The model's Arch and the chip's Hardware, read once per process (both frozen records)."""
    from gigawatt.catalog import get_model
    from gigawatt.perf.hardware import Hardware
    from gigawatt.perf.transformer import Arch

    return Arch.from_model(get_model(model)), Hardware.from_catalog(chip, system)


def train_plan(model: str, chip: str, chips: int, *, layout: Layout | None = None, search: bool = False,
               seq_len: int | None = None, global_batch_seqs: int | None = None, precision: str | None = None,
               tokens: float = DEFAULT_TRAINING_TOKENS, system: str | None = None, schedule: str = "1f1b",
               reliability: Reliability | None = None, stack: str | None = None) -> dict[str, Any]:
    """Training performance of ``model`` on ``chips`` chips: layout, breakdown, tokens/s, MFU, days.

    ``seq_len`` defaults to :data:`~gigawatt.perf.transformer.DEFAULT_SEQ_LEN`;
    ``global_batch_seqs`` to :data:`~gigawatt.perf.transformer.DEFAULT_BATCH_TOKENS`, or
    :data:`MIN_BATCH_TOKENS_PER_CHIP` per chip where more, in sequences; ``tokens`` to
    :data:`DEFAULT_TRAINING_TOKENS`.
    ``layout`` holds the degrees and choices to keep (``Layout(tp=8, pp=16)``); its free
    fields are searched (all of them with ``search=True``). ``precision`` (``bf16``, ``fp8``,
    ``mxfp8``, ``fp4``) defaults to the chip's catalog training precision
    (:func:`training_precision`); one the chip does not train in raises :class:`LayoutError`.
    ``reliability`` (failure rate,
    checkpoint interval, restart time) sets the goodput; by default the scenario schema's
    (:class:`gigawatt.perf.goodput.Reliability`), so that a run here and the same run in a
    scenario with default settings get the same goodput. ``stack`` names the training software
    (``megatron``, ``maxtext``, ``neuron``, ``torchtitan``, ... or an alias): its fitted factors
    apply, the prior alone for a stack the fit never saw; default the chip's
    (:func:`gigawatt.perf.calibration.default_stacks`).

    Returns
    -------
    dict
        ``layout`` (:meth:`Layout.to_dict`), ``step_time_s`` and its parts [s],
        ``memory_bytes`` [B], ``tokens_per_s`` [tokens/s], ``mfu`` [1], ``goodput`` [1] and
        the inputs it used (``chip_mtbf_s``, ``job_mtbf_s``, ``checkpoint_interval_s``,
        ``restart_s`` [s]), ``days_to_train`` (steady state) and
        ``days_to_train_with_goodput`` [days] for ``tokens``, ``n_evaluated`` layouts, ``stack``,
        and ``tokens_per_s_low`` / ``tokens_per_s_high``: the 80% interval
        (:func:`gigawatt.perf.calibration.prediction_interval`) with its ``interval_basis``.
    """
    from gigawatt.perf.calibration import calibration_for, prediction_interval
    from gigawatt.perf.goodput import training_goodput
    from gigawatt.perf.search import search_training

    arch, hw = resolve(model, chip, system, precision or "bf16")
    precision = training_precision(hw.chip, precision)
    if chips < 1:
        raise LayoutError(f"--chips must be at least 1, not {chips}", "--chips")
    rel = reliability or Reliability()
    for flag, ok in (("--mtbf", rel.failures_per_chip_hour > 0 and math.isfinite(rel.failures_per_chip_hour)),
                     ("--checkpoint-interval", rel.checkpoint_interval_s > 0), ("--restart-time", rel.restart_s >= 0)):
        if not ok:
            raise LayoutError(f"{flag} must be a positive time", flag, "e.g. --mtbf 50000h --checkpoint-interval 1h "
                              "--restart-time 30min")
    seq = int(seq_len or DEFAULT_SEQ_LEN)
    # default batch: Llama 3's 16M tokens, or 1,024 tokens per chip on larger jobs (as big runs grow it)
    gbs = int(global_batch_seqs or max(max(DEFAULT_BATCH_TOKENS, MIN_BATCH_TOKENS_PER_CHIP * chips) // seq, 1))
    fixed = Layout() if search else (layout or Layout())
    for name, value in (("--tp", fixed.tp), ("--pp", fixed.pp), ("--cp", fixed.cp)):
        if value is not None and chips % value:
            raise LayoutError(f"{name} {value} does not divide --chips {chips}", name,
                              "pick degrees whose product divides the chip count, or use --search")
    from gigawatt.perf.training import SCHEDULES

    if schedule != "any" and schedule not in SCHEDULES:
        raise LayoutError(f"--schedule {schedule!r} is not one of {', '.join(SCHEDULES)} or any", "--schedule")
    schedules = tuple(SCHEDULES) if schedule == "any" else (schedule,)
    cal = calibration_for(hw.chip, stack=stack)
    res = search_training(arch, hw, n_chips=int(chips), seq_len=seq, global_batch_seqs=gbs,
                          precision=MODEL_PRECISION.get(precision, precision), fixed=fixed, schedules=schedules,
                          cal=cal)
    if res["layout"] is None:
        flag = "--chips" if search or not fixed.fixed() else "--tp/--pp"
        raise LayoutError(res.get("reason", "no feasible layout"), flag,
                          "" if search else "or try --search, or a smaller --global-batch")
    r = res["result"]
    tokens_per_s = r["tokens_per_s"]
    goodput = float(training_goodput(chips, rel))
    days = tokens / tokens_per_s / 86400.0
    return {
        "model": arch.name, "chip": hw.chip, "system": hw.system, "chips": int(chips), "precision": precision,
        "seq_len": seq, "global_batch_seqs": gbs, "layout": res["layout"].to_dict(),
        **{k: r[k] for k in ("step_time_s", "compute_s", "bubble_s", "tp_comm_s", "ep_comm_s", "pp_comm_s",
                             "dp_comm_s", "optimizer_s", "overhead_s", "memory_bytes", "tokens_per_s", "mfu")},
        "hbm_bytes": hw.hbm_bytes, "goodput": goodput, "chip_mtbf_s": rel.chip_mtbf_s,
        "job_mtbf_s": rel.job_mtbf_s(chips), "checkpoint_interval_s": rel.checkpoint_interval_s,
        "restart_s": rel.restart_s, "tokens": tokens, "days_to_train": days,
        "days_to_train_with_goodput": days / goodput, "n_evaluated": res["n_evaluated"],
        "stack": cal.training_stack,
        **_interval(prediction_interval(hw.chip, moe=arch.is_moe, kind="training"), tokens_per_s, "tokens_per_s"),
    }


def _interval(iv: dict[str, Any], value: float, name: str) -> dict[str, Any]:
    """``{name}_low``, ``{name}_high`` and ``interval_basis`` of a prediction ``value``."""
    return {f"{name}_low": value * iv["low_factor"], f"{name}_high": value * iv["high_factor"],
            "interval_basis": iv["basis"] + (" (widened: no measurement of this chip)" if iv["widened"] else "")}


def serve_plan(model: str, chip: str, chips: int | None, *, input_len: float, output_len: float,
               layout: Layout | None = None, precision: str = "bf16", ttft_limit_s: float | None = None,
               tpot_limit_s: float | None = None, batch: int | None = None, system: str | None = None,
               kv_precision: str | None = None, kv_reservation: str = "mean",
               agentic: dict[str, Any] | None = None, stack: str | None = None, spec_tokens: int = 0,
               disaggregated: bool | None = None) -> dict[str, Any]:
    """Serving throughput of ``model`` on ``chips`` chips for one input/output mix.

    The regime is ``server`` when a TTFT or TPOT limit is given, ``latency`` with a
    fixed ``batch``, else ``offline``. ``layout`` holds the replica's ``tp`` (chips of a
    pipeline stage), ``pp``, ``ep`` and ``attention_dp`` to keep; the free ones are searched
    by :func:`gigawatt.perf.search.search_serving` (:func:`gigawatt.perf.search.serving_layouts`):
    every ``tp`` that divides the heads and fits the system's scale-up domain, the pipeline
    depths at which the weights fit, and for an MoE model every expert-parallel degree with
    attention split by heads or data-parallel (not with a fixed ``batch``, too small to
    occupy every attention rank), with data-parallel attention also over stages that span
    scale-up domains; a replica (``tp·pp``) must divide the chips. ``stack`` names the
    serving software (its fitted factors apply; default the chip's), ``spec_tokens`` the
    speculative draft tokens per step, ``disaggregated`` prefill and decode on separate
    replicas (None: both tried, the better kept). ``chips`` None is a pool as large as needed (the fleet's):
    the result is one replica's, per chip. ``kv_precision`` (``bf16`` or ``fp8``)
    defaults to FP8 when the weights are FP8 or FP4. ``kv_reservation`` is how the engine
    admits requests against the KV cache: ``mean`` (by what sequences hold now,
    vLLM/SGLang) or ``full`` (each request's whole length reserved, TensorRT-LLM's
    default); see :func:`gigawatt.perf.inference.serve`. ``agentic`` (the task keywords of
    :func:`gigawatt.perf.inference.agentic_task`) serves whole agentic tasks instead.
    """
    from gigawatt.perf.search import search_serving

    arch, hw = resolve(model, chip, system, precision)
    if chips is not None and chips < 1:
        raise LayoutError(f"--chips must be at least 1, not {chips}", "--chips")
    fixed = layout or Layout()
    tp, pp, ep = fixed.tp, fixed.pp, fixed.ep
    regime = "server" if (ttft_limit_s or tpot_limit_s) else ("latency" if batch else "offline")
    if chips is not None and (chips % ((tp or 1) * (pp or 1))):
        flag = "--tp" if tp is not None else "--pp"
        raise LayoutError(f"--tp {tp or 1} x --pp {pp or 1} does not divide --chips {chips}", flag,
                          "pick tp*pp dividing the chip count, or leave --tp/--pp out to search them")
    if spec_tokens < 0:
        raise LayoutError(f"--spec-tokens must be 0 or more, not {spec_tokens}", "--spec-tokens")
    if ep is not None and (ep < 1 or (chips is not None and ep > chips)):
        raise LayoutError(f"--ep {ep} must be between 1 and the {chips} chips", "--ep",
                          "expert parallelism spreads experts over the chips of one replica (at most tp x pp)")
    if kv_precision not in (None, "bf16", "fp16", "fp8"):
        raise LayoutError(f"--kv-precision {kv_precision!r} is not one of bf16, fp8", "--kv-precision")
    kv = None if kv_precision is None else (1.0 if kv_precision == "fp8" else 2.0)
    if kv_reservation not in ("mean", "full"):
        raise LayoutError(f"--kv-reservation {kv_reservation!r} is not one of mean, full", "--kv-reservation",
                          "mean: admit by the KV sequences hold now (vLLM); full: reserve whole requests (TensorRT-LLM)")
    res = search_serving(arch, hw, chips=chips, input_len=input_len, output_len=output_len, fixed=fixed,
                         precision=MODEL_PRECISION.get(precision, precision), regime=regime, batch=batch, ttft_limit_s=ttft_limit_s,
                         tpot_limit_s=tpot_limit_s, kv_bytes_per_value=kv, kv_reservation=kv_reservation,
                         agentic=agentic, stack=stack, spec_tokens=int(spec_tokens), disaggregated=disaggregated)
    if res["layout"] is None:
        raise LayoutError(res["reason"] or "no layout serves this model",
                          "--tp" if tp else ("--pp" if pp else "--chips"),
                          "use more chips, a smaller --precision, or leave --tp/--pp/--ep out to search them")
    lay = res["layout"]
    best = {**res["result"], "tp": int(lay.tp), "pp": int(lay.pp), "ep": int(lay.ep),
            "attention_dp": bool(lay.attention_dp), "n_evaluated": res["n_evaluated"],
            "stack": stack or "", "spec_tokens": int(spec_tokens),
            "disaggregated": bool(res["result"].get("disaggregated", False))}
    return {"model": arch.name, "chip": hw.chip, "system": hw.system, "chips": res["n_chips"], "regime": regime,
            "precision": precision, "input_len": input_len, "output_len": output_len,
            "output_tokens_per_s_per_chip": res["output_tokens_per_s_per_chip"], **best}


def agent_plan(model: str, chip: str, *, steps: int = AGENT_STEPS_PER_TASK, prompt_tokens: float = AGENT_PROMPT_TOKENS,
               tool_output_tokens: float = AGENT_TOOL_OUTPUT_TOKENS,
               output_tokens_per_step: float = AGENT_OUTPUT_TOKENS_PER_STEP, cache_policy: str = "hold",
               cache_lifetime_s: float = CACHE_LIFETIME_S, tool_time_median_s: float = TOOL_TIME_MEDIAN_S,
               tool_time_p90_s: float = TOOL_TIME_P90_S, turns: float = 1.0,
               user_idle_median_s: float = USER_IDLE_MEDIAN_S, user_idle_p90_s: float = USER_IDLE_P90_S,
               layout: Layout | None = None, precision: str = "fp8",
               system: str | None = None, ttft_limit_s: float | None = None, tpot_limit_s: float | None = None,
               latency_target_s: float | None = None, latency_quantile: float = 0.9,
               price_usd_per_chip_h: float | None = None, cpu: str = "graviton4",
               cpu_s_per_tool_call: float = CPU_S_PER_TOOL_CALL, sandbox_memory_bytes: float = SANDBOX_MEMORY_BYTES,
               cpu_utilization: float = CPU_POOL_UTILIZATION,
               memory_per_cpu_bytes: float = HOST_MEMORY_PER_CPU_BYTES) -> dict[str, Any]:
    """One agentic task of ``model`` on ``chip``: tokens, chip time, latency, cost, chips and CPUs per task rate.

    The serving layout is searched as for :func:`serve_plan` with the task served whole
    (:func:`gigawatt.perf.agentic.agentic_session`); the same layout then runs each cache
    policy for comparison. ``price_usd_per_chip_h`` defaults to the catalog's committed price
    of the chip (its list price where none). Tools run on ``cpu`` (a catalog CPU, Graviton4 by
    default) at ``cpu_s_per_tool_call`` each, the pool sized at ``cpu_utilization``
    (:func:`gigawatt.perf.agentic.tool_host_demand`).

    Returns
    -------
    dict
        The session's figures (:func:`gigawatt.perf.agentic.agentic_session`), the layout
        (``tp``, ``pp``, ``ep``, ``attention_dp``), ``tasks_per_day_per_chip`` and
        ``tasks_per_day_within_target_per_chip`` [1/day], ``chips_per_million_tasks_per_day``,
        ``cpus_per_million_tasks_per_day``, ``cpu_cores_per_million_tasks_per_day`` [1],
        ``cpu_power_w_per_million_tasks_per_day`` [W], ``sandbox_memory_bytes_per_million_tasks_per_day``
        [B], ``price_usd_per_chip_h`` [USD/h] with ``price_source``, ``chip_usd_per_task``
        [USD], ``api_list_usd_per_task`` (:func:`api_list_usd_per_task`) [USD], ``policies``
        (``chip_s``, ``hit_rate``, ``batch``, ``task_latency_p90_s`` of each policy).
    """
    from gigawatt.catalog import get_chip, get_price
    from gigawatt.perf.agentic import CACHE_POLICIES, agentic_session, tool_host_demand
    from gigawatt.perf.search import search_serving

    if cache_policy not in CACHE_POLICIES:
        raise LayoutError(f"--cache-policy {cache_policy!r} is not one of {', '.join(CACHE_POLICIES)}",
                          "--cache-policy", "hold: KV kept in HBM; offload: to host memory; drop: prefill again")
    if latency_quantile not in (0.5, 0.9):
        raise LayoutError(f"latency quantile {latency_quantile!r} is not 0.5 or 0.9", "--latency-quantile")
    arch, hw = resolve(model, chip, system, precision)
    mp = MODEL_PRECISION.get(precision, precision)
    session = dict(steps=steps, system_prompt_tokens=prompt_tokens, tool_output_tokens=tool_output_tokens,
                   output_tokens_per_step=output_tokens_per_step, cache_lifetime_s=cache_lifetime_s,
                   tool_time_median_s=tool_time_median_s, tool_time_p90_s=tool_time_p90_s, turns=turns,
                   user_idle_median_s=user_idle_median_s, user_idle_p90_s=user_idle_p90_s,
                   ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s, latency_target_s=latency_target_s,
                   latency_quantile=latency_quantile)
    try:
        from gigawatt.perf.agentic import _check
        _check(steps, prompt_tokens, tool_output_tokens, output_tokens_per_step, cache_policy, cache_lifetime_s, None,
               float(turns))
    except ValueError as exc:
        flag = next((f for w, f in (("turns", "--turns"), ("steps", "--steps"), ("context", "--steps"),
                                    ("lifetime", "--cache-lifetime"))
                     if w in str(exc)), "input")
        raise LayoutError(str(exc), flag) from None
    res = search_serving(arch, hw, input_len=prompt_tokens, output_len=output_tokens_per_step,
                         fixed=(layout or Layout()).with_(pp=int((layout or Layout()).pp or 1)), precision=mp,
                         agentic={**session, "cache_policy": cache_policy})
    if res["layout"] is None:
        reason = res["reason"] or "no layout serves this task"
        flag = ("--ttft" if "latency limits" in reason else "--cache-policy" if "leave no room" in reason
                else "--tp")
        raise LayoutError(reason, flag)
    lay = res["layout"]
    r = dict(res["result"])
    policies = {}
    for p in CACHE_POLICIES:
        try:
            q = agentic_session(arch, hw, lay, cache_policy=p, precision=mp, **session)
            policies[p] = {k: q[k] for k in ("chip_s", "hit_rate", "batch", "held_kv_share", "task_latency_p90_s")}
        except ValueError as exc:
            policies[p] = {"error": str(exc)}
    if price_usd_per_chip_h is None:
        price = get_price(hw.chip)
        if price is not None and (price.committed_usd_per_chip_h or price.list_usd_per_chip_h):
            committed = price.committed_usd_per_chip_h is not None
            price_usd_per_chip_h = price.committed_usd_per_chip_h if committed else price.list_usd_per_chip_h
            price_source = f"catalog {'committed' if committed else 'list'} price ({price.id})"
        else:
            price_source = "none in the catalog; give --price"
    else:
        price_source = "given"
    per_day = 86400.0 / r["chip_s"]
    within = r.get("within_target_share")
    c = get_chip(cpu)
    if c.kind != "cpu" or not c.cores:
        raise LayoutError(f"--cpu {cpu!r} is not a CPU with a core count in the catalog", "--cpu",
                          "e.g. --cpu graviton4; see `gigawatt catalog chips`")
    host = tool_host_demand(1e6 / 86400.0, r["tool_calls"], cpu_s_per_tool_call, sandbox_memory_bytes,
                            r["task_latency_mean_s"], cores_per_cpu=c.cores, utilization=cpu_utilization,
                            memory_per_cpu_bytes=memory_per_cpu_bytes)
    return {
        "model": arch.name, "chip": hw.chip, "system": hw.system, "precision": precision,
        "tp": int(lay.tp), "pp": int(lay.pp), "ep": int(lay.ep), "attention_dp": bool(lay.attention_dp), **r,
        "tasks_per_day_per_chip": per_day,
        "tasks_per_day_within_target_per_chip": None if within is None else per_day * within,
        "chips_per_million_tasks_per_day": 1e6 / per_day,
        "price_usd_per_chip_h": price_usd_per_chip_h, "price_source": price_source,
        "chip_usd_per_task": None if price_usd_per_chip_h is None else r["chip_s"] * price_usd_per_chip_h / 3600.0,
        "cpu": c.id, "cpu_s_per_tool_call": cpu_s_per_tool_call, "cpu_utilization": cpu_utilization,
        "cpu_cores_per_million_tasks_per_day": float(host["cores"]),
        "cpus_per_million_tasks_per_day": float(host["cpus"]),
        "cpu_pool_bound_by": "memory" if float(host["cpus_for_memory"]) > float(host["cpus_for_cores"]) else "cores",
        "memory_per_cpu_bytes": memory_per_cpu_bytes,
        "cpu_power_w_per_million_tasks_per_day": float(host["cpus"]) * (c.tdp_w or float("nan")),
        "cpu_tdp_w": c.tdp_w, "sandbox_memory_bytes": sandbox_memory_bytes,
        "sandbox_memory_bytes_per_million_tasks_per_day": float(host["sandbox_memory_bytes"]),
        "api_list_usd_per_task": api_list_usd_per_task(r["input_tokens_new"], r["input_tokens_cached"],
                                                       r["output_tokens"]),
        "policies": policies,
    }


def api_list_usd_per_task(new_tokens: float, cached_tokens: float, output_tokens: float, *,
                          input_usd_per_mtok: float = API_INPUT_USD_PER_MTOK,
                          output_usd_per_mtok: float = API_OUTPUT_USD_PER_MTOK,
                          write_factor: float = CACHE_WRITE_PRICE_FACTOR,
                          read_factor: float = CACHE_READ_PRICE_FACTOR) -> float:
    """What a task bills at API list prices with prompt caching [USD].

    New input tokens are written to the cache (``write_factor`` times the input price),
    cached ones read (``read_factor``), output at the output price; defaults: Anthropic's
    Opus 4.5 prices and 5-minute cache terms (:mod:`gigawatt.workload_defaults`).

    >>> round(api_list_usd_per_task(1e6, 1e6, 1e5), 3)  # 6.25 + 0.50 + 2.50
    9.25
    """
    return (new_tokens * input_usd_per_mtok * write_factor + cached_tokens * input_usd_per_mtok * read_factor
            + output_tokens * output_usd_per_mtok) / 1e6
