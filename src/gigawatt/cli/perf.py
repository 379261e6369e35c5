"""``gigawatt perf train|serve|agent`` and ``gigawatt backtest``.

Only typer and the standard library are imported here at module level; the
models, numpy and rich load inside the commands so that ``gigawatt --help``
stays fast. Every flag is checked before any model runs: zero, negative,
non-finite and absurd values are refused with the flag's name and a hint, and
exit status 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from gigawatt.cli.common import fail, print_json, stdout
from gigawatt.workload_defaults import (AGENT_OUTPUT_TOKENS_PER_STEP, AGENT_PROMPT_TOKENS, AGENT_STEPS_PER_TASK,
                                        AGENT_TOOL_OUTPUT_TOKENS, DEFAULT_SEQ_LEN, DEFAULT_TRAINING_TOKENS)

app = typer.Typer(
    help="Training and inference performance of one model on one chip (calibrated, backtested models).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: the largest job a flag may describe [chips]; ten times the largest public cluster
MAX_CHIPS = 10_000_000
#: the longest sequence or request a flag may describe [tokens]
MAX_TOKENS_PER_SEQUENCE = 10_000_000


def _quantity_table(title: str):
    """A two-column table, ``quantity`` and ``value``, as ``perf train``, ``serve`` and ``agent`` print."""
    from rich.table import Table

    t = Table(title=title)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    return t


def _fail(flag: str, message: str, hint: str = "") -> None:
    fail(message, hint or None, flag=flag)


def _require(flag: str, value, low: float, high: float, hint: str, integer: bool = False) -> None:
    """Exit 2 naming ``flag`` unless ``low <= value <= high`` and finite (``None``: not given, fine)."""
    if value is None:
        return
    ok = isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high
    if ok and integer and value != int(value):
        ok = False
    if not ok:
        kind = "a whole number" if integer else "a number"
        fail(f"{value!r} is not {kind} from {low:,g} to {high:,g}", hint, flag=flag)


def _run(call, flags: dict[str, str]):
    """Run an API call, turning input errors into one message with the flag's name, and exit 2."""
    from gigawatt.errors import CatalogError, GigawattError
    from gigawatt.perf.api import LayoutError

    try:
        return call()
    except LayoutError as exc:
        _fail(exc.flag, str(exc), exc.hint)
    except CatalogError as exc:
        text = str(exc)
        flag = "--model" if "model" in text else ("--chip" if "chip" in text else "--system")
        hint = flags.get(flag, "")
        _fail(flag, text, "" if "did you mean" in text or hint in text else hint)
    except GigawattError as exc:
        _fail("input", str(exc))


def _parse(value: Optional[str], dimension: str, flag: str, positive: bool = True) -> Optional[float]:
    """A flag's quantity string in SI; a value that is not finite, or not positive, exits 2."""
    if value is None:
        return None
    from gigawatt import units
    from gigawatt.errors import UnitError

    try:
        x = units.parse_count(value, field=flag) if dimension == "count" else units.parse(value, dimension, field=flag)
    except UnitError as exc:
        _fail(flag, f"cannot read {value!r}: {exc}", "write e.g. '2s', '50ms', '15.6T'")
    if not math.isfinite(x) or (positive and x <= 0):
        _fail(flag, f"{value!r} must be a positive, finite {dimension}", "write e.g. '2s', '50ms', '15.6T'")
    return x


_HINTS = {"--model": "see `gigawatt catalog models`", "--chip": "see `gigawatt catalog chips`"}


def train_command(
    model: str = typer.Option(..., "--model", help="Catalog model id, e.g. llama3.1-405b."),
    chip: str = typer.Option(..., "--chip", help="Catalog chip id or alias, e.g. trainium2, h100-sxm."),
    chips: int = typer.Option(..., "--chips", help="Chips in the job."),
    tp: Optional[int] = typer.Option(None, "--tp", help="Tensor parallel degree (searched if omitted)."),
    pp: Optional[int] = typer.Option(None, "--pp", help="Pipeline parallel degree."),
    ep: Optional[int] = typer.Option(None, "--ep", help="Expert parallel degree."),
    cp: Optional[int] = typer.Option(None, "--cp", help="Context parallel degree."),
    vpp: Optional[int] = typer.Option(None, "--vpp", help="Virtual pipeline stages per chip."),
    micro_batch: Optional[int] = typer.Option(None, "--micro-batch", help="Sequences per micro-batch."),
    recompute: Optional[str] = typer.Option(None, "--recompute", help="none, selective or full."),
    search: bool = typer.Option(False, "--search", help="Search every degree (ignores --tp ... )."),
    seq_len: int = typer.Option(DEFAULT_SEQ_LEN, "--seq-len", help="Tokens per sequence."),
    global_batch: Optional[int] = typer.Option(None, "--global-batch", help="Sequences per step (default: 16M tokens, or 1,024 tokens per chip if more)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="bf16, fp8, mxfp8 or fp4 (default: the "
                                            "chip's training precision in the catalog)."),
    tokens: str = typer.Option(f"{DEFAULT_TRAINING_TOKENS / 1e12:g}T", "--tokens", help="Training tokens for the days-to-train figure."),
    system: Optional[str] = typer.Option(None, "--system", help="Catalog system (default: largest scale-up)."),
    schedule: str = typer.Option("1f1b", "--schedule", help="Pipeline schedule: 1f1b, zero-bubble, dualpipe, or any (searched)."),
    stack: Optional[str] = typer.Option(None, "--stack", help="Training software (megatron, maxtext, neuron, "
                                        "torchtitan, deepspeed, ... or an alias such as nemo): its fitted efficiency "
                                        "applies, the prior for one never fitted (default: the chip's, see "
                                        "`gigawatt catalog chips`)."),
    mtbf: Optional[str] = typer.Option(None, "--mtbf", help="Mean time between unexpected interruptions of one "
                                       "chip (default: about 50,677 h, Llama 3's 419 in 54 days on 16,384 H100)."),
    checkpoint_interval: str = typer.Option("20min", "--checkpoint-interval", help="Time between checkpoints "
                                            "(default: the scenario schema's, calibrated to Llama 3)."),
    restart_time: str = typer.Option("8.5min", "--restart-time", help="Time to restart from the last checkpoint "
                                     "(default: the scenario schema's, calibrated to Llama 3)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Step time breakdown, memory, tokens/s, MFU, goodput and days to train of one training layout."""
    _require("--chips", chips, 1, MAX_CHIPS, "e.g. --chips 16384", integer=True)
    for flag, value in (("--tp", tp), ("--pp", pp), ("--ep", ep), ("--cp", cp), ("--vpp", vpp),
                        ("--micro-batch", micro_batch)):
        _require(flag, value, 1, chips if flag != "--vpp" and flag != "--micro-batch" else 1024,
                 f"a degree from 1 to --chips ({chips:,}); leave it out to search it", integer=True)
    _require("--seq-len", seq_len, 1, MAX_TOKENS_PER_SEQUENCE, "e.g. --seq-len 8192", integer=True)
    _require("--global-batch", global_batch, 1, 1e9, "sequences per step, e.g. --global-batch 2048", integer=True)
    from gigawatt.perf.api import Layout, Reliability, train_plan

    n_tokens = _parse(tokens, "count", "--tokens")
    rel = Reliability(checkpoint_interval_s=_parse(checkpoint_interval, "time", "--checkpoint-interval"),
                      restart_s=_parse(restart_time, "time", "--restart-time"))
    if mtbf is not None:
        rel = Reliability.from_mtbf(_parse(mtbf, "time", "--mtbf"), rel.checkpoint_interval_s, rel.restart_s)
    try:
        layout = Layout(tp=tp, pp=pp, ep=ep, cp=cp, vpp=vpp, micro_batch=micro_batch, recompute=recompute)
    except ValueError as exc:
        _fail("--recompute", str(exc), "none, selective or full")
    r = _run(lambda: train_plan(model, chip, chips, layout=layout, search=search, seq_len=seq_len,
                                global_batch_seqs=global_batch, precision=precision.lower() if precision else None,
                                tokens=n_tokens,
                                system=system, schedule=schedule.lower(), reliability=rel, stack=stack), _HINTS)
    if json_out:
        print_json(r, indent=2)
        return
    lay = r["layout"]
    rc = {0: "none", 1: "selective", 2: "full"}[lay["recompute"]]
    t = _quantity_table(f"{r['model']} on {r['chips']:,} x {r['chip']} ({r['precision']}, seq {r['seq_len']}, "
                        f"batch {r['global_batch_seqs']} seqs)")
    t.add_row("layout", f"TP{lay['tp']} PP{lay['pp']} (v{lay['vpp']}) CP{lay['cp']} EP{lay['ep']} DP{lay['dp']}, "
                        f"mb {lay['micro_batch']}, recompute {rc}, {'FSDP' if lay['fsdp'] else 'ZeRO-1'}"
                        + {0: "", 1: ", zero-bubble", 2: ", DualPipe"}[lay.get("schedule", 0)])
    for key, label in (("step_time_s", "step time"), ("compute_s", "  compute"), ("bubble_s", "  pipeline bubble"),
                       ("tp_comm_s", "  TP/CP comm (exposed)"), ("ep_comm_s", "  EP all-to-all (exposed)"),
                       ("pp_comm_s", "  PP send/recv"), ("dp_comm_s", "  DP sync (exposed)"),
                       ("optimizer_s", "  optimizer"), ("overhead_s", "  other overhead")):
        t.add_row(label, f"{r[key]:.3f} s")
    t.add_row("memory per chip", f"{r['memory_bytes'] / 1e9:.1f} of {r['hbm_bytes'] / 1e9:.0f} GB")
    t.add_row("tokens/s", f"{r['tokens_per_s']:,.0f} (80% interval {r['tokens_per_s_low']:,.0f} to "
                          f"{r['tokens_per_s_high']:,.0f}; {r['interval_basis']})")
    t.add_row("stack", r["stack"] or "none (the prior)")
    t.add_row("MFU", f"{r['mfu']:.1%}")
    t.add_row("goodput", f"{r['goodput']:.1%}: an interruption every {r['job_mtbf_s'] / 3600:.2g} h (chip MTBF "
              f"{r['chip_mtbf_s'] / 3600:,.0f} h), checkpoint every {r['checkpoint_interval_s'] / 60:g} min, "
              f"restart {r['restart_s'] / 60:g} min")
    t.add_row(f"days to train {r['tokens'] / 1e12:.1f}T tokens", f"{r['days_to_train']:.1f} "
              f"({r['days_to_train_with_goodput']:.1f} at {r['goodput']:.0%} goodput)")
    t.add_row("layouts evaluated", f"{r['n_evaluated']:,}")
    stdout().print(t)


def serve_command(
    model: str = typer.Option(..., "--model", help="Catalog model id."),
    chip: str = typer.Option(..., "--chip", help="Catalog chip id or alias."),
    chips: int = typer.Option(..., "--chips", help="Chips in the system."),
    input_len: float = typer.Option(2000, "--input", help="Prompt tokens per request."),
    output_len: float = typer.Option(200, "--output", help="Generated tokens per request."),
    ttft: Optional[str] = typer.Option(None, "--ttft", help="TTFT limit, e.g. 2s (server regime)."),
    tpot: Optional[str] = typer.Option(None, "--tpot", help="TPOT limit, e.g. 50ms (server regime)."),
    tp: Optional[int] = typer.Option(None, "--tp", help="Tensor parallel degree per replica (searched if omitted)."),
    pp: Optional[int] = typer.Option(None, "--pp", help="Pipeline parallel degree per replica (searched if omitted: "
                                     "the depths at which the weights fit)."),
    ep: Optional[int] = typer.Option(None, "--ep", help="Expert parallel degree over the chips of a pipeline stage "
                                     "(MoE; searched if omitted)."),
    attention_dp: Optional[bool] = typer.Option(None, "--attention-dp/--no-attention-dp",
                                                help="Run attention data-parallel over the TP ranks (whole sequences "
                                                     "per rank, no KV copies), as engines offer for MoE with --ep; "
                                                     "searched for MLA models if omitted (GQA models: head-split "
                                                     "unless asked)."),
    kv_precision: Optional[str] = typer.Option(None, "--kv-precision", help="bf16 or fp8 KV cache (default: fp8 with fp8/fp4 weights)."),
    kv_reservation: str = typer.Option("mean", "--kv-reservation", help="How the engine admits requests against "
                                       "the KV cache: mean (by what sequences hold now, as vLLM) or full (each "
                                       "request's whole length reserved, TensorRT-LLM's default)."),
    batch: Optional[int] = typer.Option(None, "--batch", help="Fixed batch (latency regime)."),
    precision: str = typer.Option("bf16", "--precision", help="bf16, fp8 or fp4 weights and matmuls."),
    system: Optional[str] = typer.Option(None, "--system", help="Catalog system."),
    stack: Optional[str] = typer.Option(None, "--stack", help="Serving software (tensorrt-llm, vllm, sglang, "
                                        "neuron, ...): its fitted efficiency applies (default: the chip's)."),
    spec_tokens: int = typer.Option(0, "--spec-tokens", help="Speculative draft tokens per decode step (MTP "
                                    "next-n layers; 0: none)."),
    disaggregated: Optional[bool] = typer.Option(None, "--disaggregated/--no-disaggregated",
                                                 help="Prefill and decode on separate replicas, the KV cache moved "
                                                      "between them (searched if omitted)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Throughput, TTFT and TPOT of serving one request mix under continuous batching."""
    _require("--chips", chips, 1, MAX_CHIPS, "e.g. --chips 8", integer=True)
    _require("--input", input_len, 1, MAX_TOKENS_PER_SEQUENCE, "prompt tokens per request, e.g. --input 2000")
    _require("--output", output_len, 1, MAX_TOKENS_PER_SEQUENCE, "generated tokens per request, e.g. --output 200")
    for flag, value in (("--tp", tp), ("--pp", pp), ("--ep", ep)):
        _require(flag, value, 1, chips, f"a degree from 1 to --chips ({chips:,})", integer=True)
    _require("--batch", batch, 1, 1_000_000, "requests in flight per replica, e.g. --batch 64", integer=True)
    _require("--spec-tokens", spec_tokens, 0, 16, "draft tokens per step, e.g. --spec-tokens 3", integer=True)
    from gigawatt.perf.api import Layout, serve_plan

    ttft_s = _parse(ttft, "time", "--ttft")
    tpot_s = _parse(tpot, "time", "--tpot")
    layout = Layout(tp=tp, pp=pp, ep=ep, attention_dp=attention_dp)
    r = _run(lambda: serve_plan(model, chip, chips, input_len=input_len, output_len=output_len, layout=layout,
                                precision=precision.lower(), ttft_limit_s=ttft_s, tpot_limit_s=tpot_s, batch=batch,
                                system=system, kv_precision=kv_precision,
                                kv_reservation=kv_reservation.lower(), stack=stack, spec_tokens=spec_tokens,
                                disaggregated=disaggregated), _HINTS)
    if json_out:
        print_json(r, indent=2)
        return
    t = _quantity_table(f"{r['model']} on {r['chips']} x {r['chip']} ({r['precision']}, {r['regime']}, "
                        f"{input_len:.0f} in / {output_len:.0f} out)")
    attn = ", attention data-parallel" if r.get("attention_dp") else ""
    t.add_row("replicas", f"{r['replicas']:.0f} of TP{r['tp']} x PP{r['pp']} x EP{r.get('ep', 1)}{attn}")
    if r.get("disaggregated"):
        t.add_row("replicas prefilling (disaggregated)",
                  f"{r['prefill_share']:.0%} (prefill batch {r['prefill_batch']:.0f})")
    t.add_row("batch per replica", f"{r['batch']:.0f}")
    t.add_row("output tokens/s", f"{r['output_tokens_per_s']:,.0f}")
    t.add_row("output tokens/s per chip", f"{r['output_tokens_per_s_per_chip']:,.0f}")
    t.add_row("TTFT", f"{r['ttft_s'] * 1e3:.0f} ms")
    t.add_row("TPOT", f"{r['tpot_s'] * 1e3:.1f} ms")
    t.add_row("KV cache per replica", f"{r['kv_capacity_tokens']:,.0f} tokens")
    parts = [(k, r[k]) for k in ("dense_gemm_s", "expert_gemm_s", "attention_s", "comm_s", "overhead_s") if k in r]
    if parts:
        t.add_row("iteration: dense / expert / attention / comm / fixed",
                  " / ".join(f"{v * 1e3:.1f}" for _, v in parts) + " ms")
    t.add_row("layouts evaluated", f"{r.get('n_evaluated', 0):,}")
    stdout().print(t)


def agent_command(
    model: str = typer.Option(..., "--model", help="Catalog model id."),
    chip: str = typer.Option(..., "--chip", help="Catalog chip id or alias."),
    steps: int = typer.Option(AGENT_STEPS_PER_TASK, "--steps", help="Model calls per task (the GitHub Copilot "
                              "agent trace averages 31)."),
    prompt: float = typer.Option(AGENT_PROMPT_TOKENS, "--prompt", help="Context of the first call [tokens] "
                                 "(an assumption by default)."),
    tool_output: float = typer.Option(AGENT_TOOL_OUTPUT_TOKENS, "--tool-output", help="Tokens each tool result "
                                      "adds to the context (an assumption by default)."),
    output: float = typer.Option(AGENT_OUTPUT_TOKENS_PER_STEP, "--output", help="Tokens generated per call "
                                 "(the trace's 527 by default)."),
    cache_policy: str = typer.Option("hold", "--cache-policy", help="hold (KV kept in HBM while tools run), "
                                     "offload (to host memory) or drop (prefill again)."),
    cache_lifetime: str = typer.Option("5 min", "--cache-lifetime", help="How long a waiting session's cache "
                                       "lives, refreshed by each hit (Anthropic: 5 min, or 1 h on request)."),
    tool_time: str = typer.Option("1 s", "--tool-time", help="Median time of one tool call (assumption)."),
    tool_time_p90: str = typer.Option("8 s", "--tool-time-p90", help="90th percentile of one tool call's time."),
    turns: float = typer.Option(1.0, "--turns", help="User turns per task, 1 to --steps (the GitHub Copilot "
                                "agent trace averages 3.95); between turns the user is idle."),
    user_idle: str = typer.Option("1 min", "--user-idle", help="Median time the user takes to reply between "
                                  "turns (assumption)."),
    user_idle_p90: str = typer.Option("10 min", "--user-idle-p90", help="90th percentile of the user's idle "
                                      "time between turns (assumption)."),
    task_latency: Optional[str] = typer.Option(None, "--task-latency", help="Task latency target, e.g. 20 min."),
    quantile: str = typer.Option("p90", "--quantile", help="What the target applies to: p50 or p90."),
    ttft: Optional[str] = typer.Option(None, "--ttft", help="TTFT limit per call, e.g. 2s."),
    tpot: Optional[str] = typer.Option(None, "--tpot", help="TPOT limit per call, e.g. 50ms."),
    price: Optional[str] = typer.Option(None, "--price", help="Chip price, e.g. '$1.80/h' (default: the "
                                        "catalog's committed price)."),
    cpu: str = typer.Option("graviton4", "--cpu", help="Catalog CPU that runs the tools."),
    cpu_per_call: str = typer.Option("0.5 s", "--cpu-per-call", help="CPU time of one tool call (assumption)."),
    sandbox_memory: str = typer.Option("2 GiB", "--sandbox-memory", help="Memory of one session's sandbox."),
    tp: Optional[int] = typer.Option(None, "--tp", help="Tensor parallel degree per replica (searched if omitted)."),
    precision: str = typer.Option("fp8", "--precision", help="bf16, fp8 or fp4 weights and matmuls."),
    system: Optional[str] = typer.Option(None, "--system", help="Catalog system."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """One agentic task's breakdown: tokens, cache hits, chip time, latency, cost, chips and CPUs per task rate."""
    from gigawatt.scenario.limits import MAX_AGENTIC_STEPS

    _require("--steps", steps, 1, MAX_AGENTIC_STEPS, f"model calls per task, 1 to {MAX_AGENTIC_STEPS:,}", integer=True)
    _require("--prompt", prompt, 1, MAX_TOKENS_PER_SEQUENCE, "tokens, e.g. --prompt 20000")
    _require("--tool-output", tool_output, 0, MAX_TOKENS_PER_SEQUENCE, "tokens, e.g. --tool-output 3000")
    _require("--output", output, 1, MAX_TOKENS_PER_SEQUENCE, "tokens, e.g. --output 527")
    _require("--tp", tp, 1, 1024, "a degree, e.g. --tp 32", integer=True)
    if cache_policy.lower() not in ("hold", "offload", "drop"):
        _fail("--cache-policy", f"{cache_policy!r} is not one of hold, offload, drop",
              "hold: KV kept in HBM; offload: to host memory; drop: prefill again")
    if quantile.lower() not in ("p50", "p90"):
        _fail("--quantile", f"{quantile!r} is not p50 or p90")
    lifetime_s = _parse(cache_lifetime, "time", "--cache-lifetime")
    median_s = _parse(tool_time, "time", "--tool-time")
    p90_s = _parse(tool_time_p90, "time", "--tool-time-p90")
    if p90_s < median_s:
        _fail("--tool-time-p90", f"{tool_time_p90} is below the median {tool_time}", "the p90 is at least the median")
    _require("--turns", turns, 1, steps, f"user turns per task, 1 to --steps ({steps})")
    idle_s = _parse(user_idle, "time", "--user-idle")
    idle_p90_s = _parse(user_idle_p90, "time", "--user-idle-p90")
    if idle_p90_s < idle_s:
        _fail("--user-idle-p90", f"{user_idle_p90} is below the median {user_idle}", "the p90 is at least the median")
    target_s = _parse(task_latency, "time", "--task-latency")
    cpu_s = _parse(cpu_per_call, "time", "--cpu-per-call", positive=False)
    if cpu_s < 0:
        _fail("--cpu-per-call", f"{cpu_per_call!r} must not be negative")
    mem = _parse(sandbox_memory, "data", "--sandbox-memory", positive=False)
    if mem < 0:
        _fail("--sandbox-memory", f"{sandbox_memory!r} must not be negative")
    price_h = _parse(price, "price_per_hour", "--price")
    from gigawatt.perf.api import Layout, agent_plan

    r = _run(lambda: agent_plan(
        model, chip, steps=steps, prompt_tokens=prompt, tool_output_tokens=tool_output,
        output_tokens_per_step=output, cache_policy=cache_policy.lower(), cache_lifetime_s=lifetime_s,
        tool_time_median_s=median_s, tool_time_p90_s=p90_s, turns=turns, user_idle_median_s=idle_s,
        user_idle_p90_s=idle_p90_s, layout=Layout(tp=tp), precision=precision.lower(),
        system=system, ttft_limit_s=_parse(ttft, "time", "--ttft"), tpot_limit_s=_parse(tpot, "time", "--tpot"),
        latency_target_s=target_s, latency_quantile=0.5 if quantile.lower() == "p50" else 0.9,
        price_usd_per_chip_h=price_h, cpu=cpu, cpu_s_per_tool_call=cpu_s, sandbox_memory_bytes=mem), _HINTS)
    if json_out:
        print_json(r, indent=2)
        return
    t = _quantity_table(f"One agentic task: {r['model']} on {r['chip']} ({r['precision']}, {r['steps']} calls, "
                        f"cache {r['policy']})")
    attn = ", attention data-parallel" if r.get("attention_dp") else ""
    t.add_row("replica", f"TP{r['tp']} x PP{r['pp']} x EP{r['ep']}{attn}, batch {r['batch']:.0f}")
    t.add_row("tokens per task: new input", f"{r['input_tokens_new']:,.0f}")
    t.add_row("tokens per task: cached input", f"{r['input_tokens_cached']:,.0f}")
    t.add_row("tokens per task: output", f"{r['output_tokens']:,.0f}")
    t.add_row("cache hit rate (of input)", f"{r['hit_rate']:.1%}")
    t.add_row("effective cache lifetime", f"{r['effective_lifetime_s']:,.0f} s")
    if r["policy"] == "hold":
        t.add_row("KV cache held by sessions waiting on tools", f"{r['held_kv_share']:.1%}")
    if r["policy"] == "offload":
        t.add_row("restore time per task", f"{r['offload_restore_s']:.2f} s")
        t.add_row("host memory per chip", f"{r['host_memory_bytes_per_chip'] / 2**30:,.1f} GiB")
    t.add_row("chip time per task", f"{r['chip_s']:,.0f} chip-s")
    t.add_row("TTFT / TPOT per call", f"{r['ttft_s'] * 1e3:,.0f} ms / {r['tpot_s'] * 1e3:.1f} ms")
    t.add_row("task latency: model / tools (mean)", f"{r['llm_time_s']:,.0f} s / {r['tool_time_mean_s']:,.0f} s")
    t.add_row("task latency p50 / p90", f"{r['task_latency_p50_s']:,.0f} s / {r['task_latency_p90_s']:,.0f} s")
    if r.get("turns", 1.0) > 1.0:
        t.add_row("user turns (idle time between them not in the latency)", f"{r['turns']:g}")
    t.add_row("tasks per day per chip", f"{r['tasks_per_day_per_chip']:,.1f}")
    if r["latency_target_s"] is not None:
        q = "p50" if r["latency_quantile"] == 0.5 else "p90"
        t.add_row(f"tasks within {r['latency_target_s']:,.0f} s", f"{r['within_target_share']:.1%} "
                  f"({q} {'meets' if r['meets_target'] else 'misses'} the target)")
        t.add_row("tasks per day per chip within target", f"{r['tasks_per_day_within_target_per_chip']:,.1f}")
    if r["chip_usd_per_task"] is not None:
        t.add_row("chip cost per task", f"${r['chip_usd_per_task']:,.3f} at ${r['price_usd_per_chip_h']:.2f}/h "
                  f"({r['price_source']})")
    else:
        t.add_row("chip cost per task", f"n/a ({r['price_source']})")
    t.add_row("billed at API list prices", f"${r['api_list_usd_per_task']:,.2f} a task (Opus 4.5: $5 in, "
              "$25 out per M tokens; cache writes 1.25x, reads 0.1x)")
    t.add_row("chips per million tasks a day", f"{r['chips_per_million_tasks_per_day']:,.0f}")
    t.add_row(f"{r['cpu']} CPUs per million tasks a day", f"{r['cpus_per_million_tasks_per_day']:,.1f} "
              f"(bound by {r['cpu_pool_bound_by']}; {r['cpu_cores_per_million_tasks_per_day']:,.0f} cores at "
              f"{r['cpu_utilization']:.0%})")
    t.add_row("sandbox memory per million tasks a day", f"{r['sandbox_memory_bytes_per_million_tasks_per_day'] / 2**40:,.1f} TiB")
    for p, q in r["policies"].items():
        t.add_row(f"policy {p}", q.get("error") or (f"{q['chip_s']:,.0f} chip-s, hits {q['hit_rate']:.1%}, "
                                                     f"batch {q['batch']:.0f}, p90 {q['task_latency_p90_s']:,.0f} s"))
    stdout().print(t)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_headline(console, held: dict) -> None:
    from rich.table import Table

    t = Table(title="held out: each publisher/stack block predicted from a fit without it (leave-one-source-out)")
    for col in ("target", "limit", "held out", "in sample", "rows", "met"):
        t.add_column(col, justify="left" if col == "target" else "right")
    for tg in held["targets"]:
        limit = tg["limit"]
        lim = (f"{limit[0]:.0%}-{limit[1]:.0%}" if isinstance(limit, list) else
               ("0 missed" if tg["target"] == "every row predicted" else f"<= {limit:.0%}"))
        value = tg["held_out"]
        shown = (f"{value} missed" if tg["target"] == "every row predicted" else _pct(value))
        t.add_row(tg["target"], lim, shown, "-" if tg["in_sample"] is None or tg["target"] == "every row predicted"
                  else _pct(tg["in_sample"]), str(tg["n"]), "yes" if tg["met"] else "NO")
    console.print(t)
    for key, title in (("by_kind_and_moe", "training/serving x dense/MoE"), ("by_measured_kind", "measured quantity"),
                       ("by_family", "chip family"), ("by_stack", "software stack")):
        b = Table(title=f"|error| by {title}: held out (in sample)")
        for col in (title, "rows", "median", "p90", "worst"):
            b.add_column(col, justify="left" if col == title else "right")
        for name, v in held[key].items():
            h, i = v["held_out"], v["in_sample"]
            b.add_row(name or "-", str(h["n"]), *(f"{_pct(h[s])} ({_pct(i[s])})" for s in ("median", "p90", "max")))
        console.print(b)
    cov = held["coverage_80"]
    console.print(f"80% intervals (each from the held-out errors of the other blocks): cover {_pct(cov['coverage'])} "
                  f"of {cov['n']} held-out rows")


def backtest_command(
    training: Path = typer.Option(None, "--training", help="Training CSV (default: the packaged published rows)."),
    inference: Path = typer.Option(None, "--inference", help="Inference CSV (default: the packaged published rows)."),
    json_out: bool = typer.Option(False, "--json", help="Print only the JSON object (rows with low/high)."),
    rows: bool = typer.Option(True, "--rows/--no-rows", help="List every row (default) or only the summaries."),
    held_out: bool = typer.Option(False, "--held-out", hidden=True, help="Kept for old scripts: the held-out "
                                  "(leave-one-source-out) figures are always computed."),
) -> None:
    """Predict published measurements: held-out (leave-one-source-out) errors first, in-sample beside them."""
    for flag, path in (("--training", training), ("--inference", inference)):
        if path is not None and not Path(path).is_file():
            _fail(flag, f"no such file {str(path)!r}", "give a CSV in the format of src/gigawatt/perf/data/FORMAT.md")
    from gigawatt.perf.backtest import run_backtest

    try:
        result = run_backtest(training, inference)
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        _fail("--training/--inference", f"cannot read the CSV: {exc}", "check the columns against the README")
    if json_out:
        print_json(result)
        return
    from rich.table import Table

    console = stdout()
    _print_headline(console, result["held_out"])
    for name in ("training", "inference"):
        part = result[name]
        if rows:
            t = Table(title=f"{name}: {part['n']} rows")
            for col, just in (("id", "left"), ("stack", "left"), ("kind", "left"), ("measured", "right"),
                              ("predicted", "right"), ("80% interval", "right"), ("error", "right"),
                              ("held out", "right")):
                t.add_column(col, justify=just)  # type: ignore[arg-type]
            for row in part["rows"]:
                pred = "-" if row["predicted"] is None else f"{row['predicted']:.4g}"
                err = row.get("reason", "miss") if row["error"] is None else f"{row['error']:+.1%}"
                iv = "-" if row.get("low") is None else f"{row['low']:.3g}-{row['high']:.3g}"
                h = row.get("held_out_error")
                t.add_row(row["id"], row.get("stack") or "-", row["measured_kind"],
                          f"{row['measured']:.4g}" if row["measured"] else "-", pred, iv, err,
                          "-" if h is None else f"{h:+.1%}")
            console.print(t)
        console.print(f"{name}, in sample: median |error| {part['median_abs_error']:.1%}, "
                      f"max {part['max_abs_error']:.1%}")


app.command("train")(train_command)
app.command("serve")(serve_command)
app.command("agent")(agent_command)


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="perf", help="Training and inference performance of one workload on one chip.")
    main.command("backtest", help="Predict the published training and inference measurements and report the "
                 "errors. Your own rows go in CSV files with the columns of the packaged ones "
                 "(gigawatt/perf/data/FORMAT.md); a row the model cannot predict is a miss with its reason.")(
        backtest_command)
