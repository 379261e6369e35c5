"""Tool hosts: the CPU pool that runs agent tools, sized from the agent tasks the fleet serves.

An agentic stream's tools run on CPUs beside the accelerators (Graviton in the AWS deal). This
stage reads what the simulation served and sizes the pool that the tools of those tasks need
at their daily peak: CPU time per tool call and a sandbox per session in flight
(:func:`gigawatt.perf.agentic.tool_host_demand`). The host CPUs that come with the installed
accelerator systems count first, at the share of their cores left free by serving; the rest
is a dedicated pool of CPUs of the stream's kind (Graviton4 by default, from the catalog),
whose IT power and rental cost are reported beside the accelerators'. The pool is checked
against the power the sites and the deal's cap leave after the accelerators (the months it
would not fit are reported). The buildout reserves that power ahead, from the tasks demanded
(:mod:`gigawatt.fleet.tool_reserve`, whose ``binding`` may be ``cpu``), so that the pool sized
here from the tasks served fits within what was reserved.

References
----------
.. [1] J. D. C. Little, "A Proof for the Queuing Formula: L = lambda W", Operations Research
   9(3), 1961.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# share of an accelerator system's host CPUs free for agent tools [1]: its one home, with its reasons,
# is gigawatt.workload_defaults; a scenario sets it with ``demand.tool_hosts.free_host_share``
from gigawatt.workload_defaults import HOST_FREE_SHARE

__all__ = ["HostPool", "tool_host_pool", "tool_host_settings", "host_cpus_per_chip", "HOST_FREE_SHARE",
           "CPU_PLATFORM_POWER_W", "CPU_PRICE_USD_PER_CORE_H"]


#: power of one tool CPU's server besides the CPU's own TDP [W]: a gigawatt estimate of host
#: memory (~150 W for 384 GiB of DDR5), Nitro card, NIC and storage (~125 W), the same parts as
#: the Trn3 server's host estimate in the catalog (trn3-ultraserver-64 host_power_w)
CPU_PLATFORM_POWER_W = 275.0

#: rental price of a tool CPU's core [USD/h]: a gigawatt estimate of about $0.04 per vCPU-hour,
#: the order of AWS's Graviton4 (C8g/M8g) on-demand list prices (not re-read at source); one
#: Graviton4 core is one vCPU
CPU_PRICE_USD_PER_CORE_H = 0.04


@dataclass
class HostPool:
    """The tool CPUs of a run's agentic streams; arrays are ``(sample, period)`` unless noted."""

    cpu: str
    cores_per_cpu: float
    power_w_per_cpu: float  # CPU TDP plus platform [W]
    price_usd_per_cpu_h: float
    streams: list[str]
    tasks_per_day: np.ndarray  # (sample, period, agent stream) agent tasks served per day, mean
    tasks_per_day_within_target: np.ndarray  # (sample, period, agent stream) of those, within the latency target
    peak_tasks_per_s: np.ndarray  # (sample, period, agent stream) at the daily peak [1/s]
    cpus_for_cores: np.ndarray
    cpus_for_memory: np.ndarray
    cpus_needed: np.ndarray  # the larger of the two [1]
    cpus_from_systems: np.ndarray  # host CPUs of installed accelerator systems free for tools [1]
    cpus_dedicated: np.ndarray  # the dedicated pool [1]
    power_w: np.ndarray  # IT power of the dedicated pool [W]
    cost_usd: np.ndarray  # rental of the dedicated pool in the period [USD]
    chip_cost_usd: np.ndarray  # (sample, period, agent stream) accelerator spend held for the stream [USD]
    power_headroom_w: np.ndarray  # IT power the sites and the cap leave after the accelerators [W]
    tokens_per_task: list = field(default_factory=list)  # per agent stream: new, cached, output [tokens]
    notes: list = field(default_factory=list)

    def summary(self, fleet, sample: int = 0) -> dict[str, Any]:
        """Peak pool, power and cost, and per agent stream the cost per task and CPUs per million tasks a day."""
        s = sample
        days = fleet.period_s / 86400.0
        short = self.power_w[s] > self.power_headroom_w[s] + 1e-6
        peak = int(np.argmax(self.cpus_needed[s])) if self.cpus_needed.shape[1] else 0
        streams = []
        for a, name in enumerate(self.streams):
            tasks = float((self.tasks_per_day[s, :, a] * days).sum())
            per_m = 1e6 / np.where(self.tasks_per_day[s, :, a] > 0, self.tasks_per_day[s, :, a], np.nan)
            with np.errstate(invalid="ignore"):
                cpus_per_m = float(np.nanmean(self.cpus_needed[s] * per_m)) if np.isfinite(per_m).any() else None
            within = float((self.tasks_per_day_within_target[s, :, a] * days).sum())
            streams.append({
                "name": name, "tasks_served": tasks, "tasks_served_within_target": within,
                "chip_usd_per_task": float(self.chip_cost_usd[s, :, a].sum() / tasks) if tasks > 0 else None,
                "cpu_usd_per_task": float(self.cost_usd[s].sum() / tasks) if tasks > 0 and len(self.streams) == 1
                else None,
                "cpus_per_million_tasks_per_day": cpus_per_m,
                **self.tokens_per_task[a],
            })
        return {
            "cpu": self.cpu, "cores_per_cpu": self.cores_per_cpu, "power_w_per_cpu": self.power_w_per_cpu,
            "peak_month": fleet.months[peak] if len(fleet.months) else None,
            "peak_cpus_needed": float(self.cpus_needed[s, peak]),
            "peak_cpus_from_systems": float(self.cpus_from_systems[s, peak]),
            "peak_cpus_dedicated": float(self.cpus_dedicated[s, peak]),
            "peak_power_w": float(self.power_w[s, peak]),
            "cost_usd": float(self.cost_usd[s].sum()),
            "months_short_of_power": int(short.sum()),
            "peak_power_reserved_w": (float(fleet.tool_cpu_reserve_w[s].sum(axis=-1).max())
                                      if getattr(fleet, "tool_cpu_reserve_w", None) is not None else 0.0),
            "first_month_short_of_power": fleet.months[int(np.argmax(short))] if short.any() else None,
            "bound_by": "memory" if self.cpus_for_memory[s, peak] > self.cpus_for_cores[s, peak] else "cores",
            "streams": streams, "notes": list(self.notes),
        }


def _session_latency(stream, fleet) -> tuple[float, np.ndarray, np.ndarray]:
    """An agentic stream's task duration: the longest mean over the chips it may use [s]; per
    chip the share of tasks within its latency target (1 without a target; nan where the chip
    cannot serve it); per chip the new and cached input tokens of a task, ``(chip, 2)`` [tokens]
    (nan where it cannot serve it)."""
    target = stream.tools.get("task_latency_s")
    session = dict(stream.agentic)
    if target is not None and "cache_policy" in session:
        session.update(latency_target_s=target, latency_quantile=stream.tools["task_latency_quantile"])
    longest, within = 0.0, np.full(len(fleet.chips), np.nan)
    tokens = np.full((len(fleet.chips), 2), np.nan)
    for c, spec in enumerate(fleet.chips):
        if not stream.allowed[c]:
            continue
        r = _session_on_chip(stream.model, spec.chip, spec.system, float(stream.context_tokens),
                             float(stream.output_tokens), stream.precision, tuple(sorted(session.items())))
        if r is None:  # a chip that cannot serve the task holds no sessions
            continue
        mean_s, new_in, cached_in, share = r
        longest = max(longest, mean_s or 0.0)
        tokens[c] = (new_in, cached_in)
        within[c] = 1.0 if target is None else (share if share is not None else
                                                float((np.inf if mean_s is None else mean_s) <= target))
    return longest, within, tokens


@functools.lru_cache(maxsize=256)
def _session_on_chip(model: str, chip: str, system: str, context_tokens: float, output_tokens: float,
                     precision: str, session: tuple):
    """One agent task on one chip (:func:`gigawatt.perf.api.serve_plan` with ``agentic``): its mean
    duration [s] (None where not given), new and cached input tokens [tokens], share within the
    latency target (None without one); None where the chip cannot serve it. Cached: the buildout's tool reserve and the
    pool after the simulation ask for the same tasks."""
    from gigawatt.perf.api import serve_plan

    path = _session_cache_path(model, chip, system, context_tokens, output_tokens, precision, session)
    if path is not None and path.exists():
        try:
            stored = json.loads(path.read_text())["result"]
            return None if stored is None else tuple(stored)
        except (OSError, ValueError, KeyError, TypeError):  # a damaged cache file is recomputed
            pass
    try:
        r = serve_plan(model, chip, None, input_len=context_tokens, output_len=output_tokens, precision=precision,
                       system=system, agentic=dict(session))
    except Exception:  # a chip that cannot serve the task holds no sessions
        result = None
    else:
        share = r.get("within_target_share")
        mean_s = r.get("task_latency_mean_s")
        result = (None if mean_s is None else float(mean_s), float(r["input_tokens_new"]),
                  float(r["input_tokens_cached"]), None if share is None else float(share))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"result": result}))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home is no reason to fail a run
    return result


def _session_cache_path(*args):
    """The on-disk cache file of one agent task's serving search (beside the throughput matrix's cache,
    keyed by the same fingerprint of the performance code, calibration and catalog); None when the
    cache is off (``GIGAWATT_NO_CACHE``)."""
    import hashlib

    from gigawatt.fleet.throughput import _cache_path, _model_fingerprint

    key = hashlib.sha256(json.dumps([_model_fingerprint(), *args], default=str).encode()).hexdigest()[:24]
    return _cache_path(key, "sessions", ".json")


def tool_host_settings(inputs) -> tuple[str, float]:
    """The scenario's tool CPU and share of accelerator hosts free for tools
    (``demand.tool_hosts``), or the defaults (Graviton4, :data:`HOST_FREE_SHARE`)."""
    th = getattr(getattr(inputs, "demand", None), "tool_hosts", None)
    if th is None:
        return "graviton4", HOST_FREE_SHARE
    from gigawatt.catalog import resolve

    return resolve("chips", th.cpu), float(th.free_host_share)


def host_cpus_per_chip(chips) -> np.ndarray:
    """``(chip,)`` host CPUs (sockets) per accelerator of each chip's system [1]: the system's host CPUs
    per node over its chips per node; 0 for a system without host figures."""
    from gigawatt.catalog import get_system

    per_chip = np.zeros(len(chips))
    for k, spec in enumerate(chips):
        try:
            sysrec = get_system(spec.system)
            per_chip[k] = (sysrec.host_cpus_per_node or 0.0) / (sysrec.chips_per_node or 1.0)
        except Exception:  # a system without host figures brings no CPUs
            per_chip[k] = 0.0
    return per_chip


def tool_host_pool(fleet, simulation, *, cpu: str | None = None, utilization: float | None = None,
                   free_host_share: float | None = None, memory_per_cpu_bytes: float | None = None,
                   price_usd_per_core_h: float = CPU_PRICE_USD_PER_CORE_H) -> HostPool | None:
    """Size the tool CPU pool of a run's agentic streams; None when it has none.

    Parameters
    ----------
    fleet : Fleet
        The buildout (installed systems give their host CPUs).
    simulation : Simulation
        What was served: ``served_tokens`` and ``demand_tokens`` ``(sample, period, stream)``,
        the chips each stream holds.
    cpu : str, optional
        Catalog CPU of the dedicated pool (its cores and TDP); default the scenario's
        ``demand.tool_hosts.cpu``, else Graviton4.
    utilization : float, optional
        Busy share of the cores at peak [1]; default
        :data:`gigawatt.workload_defaults.CPU_POOL_UTILIZATION`.
    free_host_share : float, optional
        Share of the accelerator systems' host cores free for tools [1]; default the scenario's
        ``demand.tool_hosts.free_host_share``, else :data:`HOST_FREE_SHARE`.
    memory_per_cpu_bytes : float, optional
        Sandbox memory per CPU [B]; default
        :data:`gigawatt.workload_defaults.HOST_MEMORY_PER_CPU_BYTES`.
    price_usd_per_core_h : float
        Rental price per core-hour [USD/h].

    Returns
    -------
    HostPool or None

    Notes
    -----
    Tasks served per day ``n = n_0(t)·served/demand``; at the daily peak
    ``lambda = n·peak_to_mean / 86,400`` [1/s]. CPUs needed
    ``max(lambda·(N-1)·s_cpu / (u·c), lambda·E[T]·m_sandbox / m_cpu)`` summed over streams, with
    ``E[T]`` the task's mean duration (the longest over its chips) [1]_. Free host CPUs
    ``f·sum_chips installed·h_node / n_node``; dedicated ``max(needed - free, 0)``, drawing
    ``(TDP + platform)`` each and renting at ``c·price`` an hour. Tokens per task: the session
    model's on each chip, weighted by the chip-time that served the stream (sample 0). Tasks
    within a stream's latency
    target: the tasks served times the share within it on each chip
    (:func:`gigawatt.perf.agentic.agentic_session`), weighted by the chips that serve the stream.
    """
    from gigawatt.catalog import get_chip
    from gigawatt.perf.agentic import tool_host_demand
    from gigawatt.workload_defaults import CPU_POOL_UTILIZATION, HOST_MEMORY_PER_CPU_BYTES

    streams = [(i, s) for i, s in enumerate(simulation.workloads.streams) if s.tools is not None]
    if not streams:
        return None
    said_cpu, said_share = tool_host_settings(getattr(fleet, "inputs", None))
    cpu = said_cpu if cpu is None else cpu
    free_host_share = said_share if free_host_share is None else free_host_share
    u = CPU_POOL_UTILIZATION if utilization is None else utilization
    mem = HOST_MEMORY_PER_CPU_BYTES if memory_per_cpu_bytes is None else memory_per_cpu_bytes
    c = get_chip(cpu)
    n_s, n_t = simulation.served_tokens.shape[:2]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(simulation.demand_tokens > 0, simulation.served_tokens / simulation.demand_tokens, 0.0)
    tasks = np.zeros((n_s, n_t, len(streams)))
    peak = np.zeros_like(tasks)
    for_cores = np.zeros((n_s, n_t))
    for_memory = np.zeros((n_s, n_t))
    chip_cost = np.zeros_like(tasks)
    within_target = np.zeros_like(tasks)
    held = simulation.allocated()  # (s, t, site, chip, workload)
    hours = fleet.period_s[None, :, None] / 3600.0
    tokens, notes = [], []
    for a, (i, s) in enumerate(streams):
        t = s.tools
        tasks[..., a] = t["tasks_per_day"][None, :] * share[..., i]
        peak[..., a] = tasks[..., a] * s.peak_to_mean / 86400.0
        latency, within, chip_tokens = _session_latency(s, fleet)
        # tasks within the latency target: each chip's share of them, weighted by the chips serving
        busy = held[..., i].sum(axis=2)  # (s, t, chip)
        w = np.where(np.isfinite(within), within, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(busy.sum(-1) > 0, (busy * w).sum(-1) / busy.sum(-1), 0.0)
        within_target[..., a] = tasks[..., a] * frac
        d = tool_host_demand(peak[..., a], t["tool_calls_per_task"], t["cpu_s_per_tool_call"],
                             t["sandbox_memory_bytes"], latency, cores_per_cpu=c.cores, utilization=u,
                             memory_per_cpu_bytes=mem)
        for_cores += d["cpus_for_cores"]
        for_memory += d["cpus_for_memory"]
        chip_cost[..., a] = (busy * fleet.price_usd_per_chip_h[None, :, :] * hours).sum(axis=-1)
        # tokens per task as the session model gives them on the chips that served the stream
        # (memory pressure included), weighted by their chip-time; else the request shape's
        weight = busy[0].sum(axis=0) * np.isfinite(chip_tokens[:, 0])
        if weight.sum() > 0:
            new_in, cached_in = (np.nan_to_num(chip_tokens) * weight[:, None]).sum(axis=0) / weight.sum()
        else:
            new_in, cached_in = t["input_tokens_new"], t["input_tokens_cached"]
        tokens.append({"input_tokens_new_per_task": float(new_in), "input_tokens_cached_per_task": float(cached_in),
                       "output_tokens_per_task": t["output_tokens"], "task_latency_mean_s": latency,
                       "task_latency_target_s": t.get("task_latency_s"),
                       "task_latency_quantile": t.get("task_latency_quantile")})
        notes.append(f"{s.name}: {t['tool_calls_per_task']:.0f} tool calls a task at {t['cpu_s_per_tool_call']:g} "
                     f"CPU-s each, a {t['sandbox_memory_bytes'] / 2**30:g} GiB sandbox per session for "
                     f"{latency:,.0f} s; peak-to-mean {s.peak_to_mean:g}")
    needed = np.maximum(for_cores, for_memory)
    per_chip = host_cpus_per_chip(fleet.chips)
    from_systems = free_host_share * (fleet.installed * per_chip[None, None, None, :]).sum(axis=(2, 3))
    dedicated = np.maximum(needed - from_systems, 0.0)
    power_per_cpu = float(c.tdp_w or 0.0) + CPU_PLATFORM_POWER_W
    notes.append(f"host CPUs of the accelerator systems count first at {free_host_share:.0%} of their cores; "
                 f"dedicated {c.id} at {u:.0%} busy, {mem / 2**30:g} GiB each, {power_per_cpu:.0f} W each "
                 f"(TDP {c.tdp_w:.0f} W, an estimate, plus {CPU_PLATFORM_POWER_W:.0f} W of platform)")
    price_cpu = price_usd_per_core_h * float(c.cores)
    # power left for the pool: the sites' energized IT power, and the deal's cap, less the accelerators'
    it_w = fleet.it_power_w().sum(axis=(2, 3))
    headroom = fleet.energized_it_w.sum(axis=2) - it_w
    if fleet.capacity_cap_w is not None:
        if fleet.capacity_basis == "facility":
            pue = float(np.mean(fleet.pue))
            cap_left = (fleet.capacity_cap_w - fleet.facility_power_w().sum(axis=(2, 3))) / pue
        else:
            cap_left = fleet.capacity_cap_w - it_w
        headroom = np.minimum(headroom, cap_left)
    headroom = np.maximum(headroom, 0.0)
    return HostPool(
        cpu=c.id, cores_per_cpu=float(c.cores), power_w_per_cpu=power_per_cpu, price_usd_per_cpu_h=price_cpu,
        streams=[s.name for _, s in streams], tasks_per_day=tasks, tasks_per_day_within_target=within_target,
        peak_tasks_per_s=peak,
        cpus_for_cores=for_cores, cpus_for_memory=for_memory, cpus_needed=needed, cpus_from_systems=from_systems,
        cpus_dedicated=dedicated, power_w=dedicated * power_per_cpu,
        cost_usd=dedicated * price_cpu * fleet.period_s[None, :] / 3600.0, chip_cost_usd=chip_cost,
        power_headroom_w=headroom,
        tokens_per_task=tokens, notes=notes)


def yearly(pool: HostPool, fleet) -> dict[int, dict[str, float]]:
    """Per calendar year, averaged over samples: agent tasks served a day (and within their latency
    targets; all of them where a stream states none), the dedicated tool CPUs at
    the year's peak, their mean IT power [W] and their rental in the year [USD]."""
    years = np.array([int(m[:4]) for m in fleet.months])
    out = {}
    for y in np.unique(years):
        k = years == y
        w = fleet.period_s[k] / fleet.period_s[k].sum()
        out[int(y)] = {
            "agent_tasks_per_day": float((pool.tasks_per_day[:, k].sum(axis=-1) * w).sum(axis=-1).mean()),
            "agent_tasks_within_target_per_day": float(
                (pool.tasks_per_day_within_target[:, k].sum(axis=-1) * w).sum(axis=-1).mean()),
            "tool_cpus": float(pool.cpus_dedicated[:, k].max(axis=1).mean()),
            "tool_cpus_from_systems": float(pool.cpus_from_systems[:, k].max(axis=1).mean()),
            "tool_cpu_power_w": float((pool.power_w[:, k] * w).sum(axis=1).mean()),
            "tool_cpu_cost_usd": float(pool.cost_usd[:, k].sum(axis=1).mean()),
        }
    return out
