"""The agent tools' CPU pool, reserved in the buildout ahead of the accelerators.

The tool CPU pool (:mod:`gigawatt.fleet.hosts`) is sized after the simulation from the tasks
served, which depend on the buildout. So that its power counts against the sites and the deal's
cap, the buildout reserves it ahead from demand, by the same sizing rule:

1. before the buildout, the CPUs the tools of the tasks *demanded* need at their daily peak,
   per period: cores (tool calls x CPU-seconds at the pool's utilization) or sandbox memory
   (sessions in flight by Little's law), whichever is more, summed over the agentic streams
   (:func:`gigawatt.perf.agentic.tool_host_demand`, with the task duration the session model
   gives on the chips the stream may use);
2. each period, the host CPUs of the accelerator systems in service count first, at the
   scenario's free share (``demand.tool_hosts.free_host_share``), those the period adds included
   (the buildout fills the period once without a reserve to count them); the rest is the
   dedicated pool, drawing its CPU's TDP plus platform power each;
3. where there is a dedicated pool, that fill is undone and the pool's power held before new
   chips are added: at each site in proportion to the site's energized IT power, as far as the
   site has room, the rest at the sites with room left, and against the deal's cap (times the
   site's PUE on a facility basis); then the period is filled again
   (:func:`gigawatt.fleet.buildout.build_fleet`);
4. a period whose additions stopped at power or at the cap, where the power held for the pool
   would have let one more unit in, is labelled ``cpu`` in ``binding``.

The reserve is sized for the tasks demanded, the pool reported after the simulation for the
tasks served, which are at most those. The reserve holds only power not yet in use: chips
installed in earlier periods stay until they retire, so where demand for tools grows faster than
old chips retire the pool outgrows the room, which the simulation's pool reports
(``months_short_of_power``); and where holding the reserve leaves the period fewer new systems
than its first fill, their hosts are fewer than the reserve counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ToolReserve", "plan_tool_reserve"]


@dataclass
class ToolReserve:
    """The tool CPUs the buildout holds power for; arrays on the period axis."""

    cpu: str
    cpus_needed: np.ndarray  # (period,) or (sample, period): CPUs the demanded tasks' tools need at the daily peak [1]
    free_host_cpus_per_chip: np.ndarray  # (chip,) host CPUs per installed accelerator free for tools [1]
    power_w_per_cpu: float  # TDP plus platform [W]

    def dedicated_cpus(self, current: np.ndarray, t: int) -> np.ndarray:
        """``(sample,)`` dedicated CPUs in period ``t`` with ``current`` ``(sample, site, chip)`` chips in service [1].

        Notes
        -----
        :math:`D_t = \\max(N_t - f \\sum_{i,c} n_{ic} h_c, 0)`, :math:`N_t` the CPUs needed,
        :math:`f h_c` the free host CPUs per chip.
        """
        from_systems = (current * self.free_host_cpus_per_chip[None, None, :]).sum(axis=(1, 2))
        return np.maximum(self.cpus_needed[..., t] - from_systems, 0.0)

    def hold(self, current: np.ndarray, t: int, site_room: np.ndarray, cap_room: np.ndarray,
             energized: np.ndarray, cap_k: np.ndarray) -> np.ndarray:
        """Hold the dedicated pool's power in period ``t``: subtract it from the rooms in place.

        Parameters
        ----------
        current : ndarray, (sample, site, chip)
            Chips in service at the period's start [1].
        site_room, cap_room : ndarray, (sample, site) and (sample,)
            IT power left at each site and under the cap [W]; reduced in place.
        energized : ndarray, (sample, site)
            Energized IT power, the split of the pool between sites [W].
        cap_k : ndarray, (site,)
            Cap watts per IT watt at each site (1, or the PUE on a facility basis).

        Returns
        -------
        ndarray, (sample, site)
            IT power held for the pool at each site [W] (at most the site's room).

        Notes
        -----
        The pool's power :math:`R = D_t w` is split in proportion to the sites' energized power,
        each site holding at most its room :math:`F_i`; what full sites cannot take, :math:`R'`, goes
        to the others in proportion to the room they have left, :math:`G_i`:
        :math:`h_i = \\min(R e_i / \\sum e, F_i) + G_i \\min(R' / \\sum G, 1)`.
        """
        want = self.dedicated_cpus(current, t) * self.power_w_per_cpu  # (s,)
        total = energized.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            split = np.where(total > 0, energized / total, 0.0)
        held = np.minimum(want[:, None] * split, site_room)
        # what a full site could not take goes to the sites with room left, in proportion to it
        left, room = want - held.sum(axis=1), site_room - held
        free = room.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            held += room * np.where(free > 0, np.minimum(left / free, 1.0), 0.0)[:, None]
        site_room -= held
        cap_room -= (held * cap_k[None, :]).sum(axis=1)
        return held


def plan_tool_reserve(inputs, demand_scale: np.ndarray | None = None) -> ToolReserve | None:
    """The tool CPUs the agentic streams' demanded tasks need, per period; None without agentic tools.

    Parameters
    ----------
    inputs : Inputs
        The scenario's demand (``demand.inference[].agentic``, ``demand.tool_hosts``), its chips and
        periods.
    demand_scale : ndarray, (sample, period, stream), optional
        Each sample's inference demand over the scenario's (a Monte Carlo's draws); the CPUs
        needed are then ``(sample, period)``.

    Returns
    -------
    ToolReserve or None

    Notes
    -----
    At the daily peak stream :math:`w` starts :math:`\\lambda_w = n_w(t) P_w / 86400` tasks a
    second (:math:`n_w` demanded a day, :math:`P_w` its peak-to-mean); the pool needs
    :math:`N_t = \\max(\\sum_w \\lambda_w (K_w - 1) s_w / (u c), \\sum_w \\lambda_w E[T_w] m_w / m)`
    CPUs, as :func:`gigawatt.fleet.hosts.tool_host_pool` sizes it from the tasks served.
    """
    demand = getattr(inputs, "demand", None)
    if demand is None or not any(s.agentic is not None for s in demand.inference):
        return None
    from gigawatt.catalog import get_chip
    from gigawatt.fleet.demand import resolve_workloads
    from gigawatt.fleet.hosts import CPU_PLATFORM_POWER_W, _session_latency, host_cpus_per_chip, tool_host_settings
    from gigawatt.perf.agentic import tool_host_demand
    from gigawatt.workload_defaults import CPU_POOL_UTILIZATION, HOST_MEMORY_PER_CPU_BYTES

    cpu, share = tool_host_settings(inputs)
    c = get_chip(cpu)
    workloads = resolve_workloads(inputs, inputs, lambda model: 1.0)  # runs unused: streams only
    n_t = len(inputs.periods)
    shape = (n_t,) if demand_scale is None else (demand_scale.shape[0], n_t)
    for_cores, for_memory = np.zeros(shape), np.zeros(shape)
    for w, s in enumerate(workloads.streams):
        if s.tools is None:
            continue
        t = s.tools
        peak = np.asarray(t["tasks_per_day"], dtype=float) * s.peak_to_mean / 86400.0
        if demand_scale is not None:
            peak = peak * demand_scale[:, :, w]
        latency = _session_latency(s, inputs)[0]
        d = tool_host_demand(peak, t["tool_calls_per_task"], t["cpu_s_per_tool_call"], t["sandbox_memory_bytes"],
                             latency, cores_per_cpu=c.cores, utilization=CPU_POOL_UTILIZATION,
                             memory_per_cpu_bytes=HOST_MEMORY_PER_CPU_BYTES)
        for_cores += d["cpus_for_cores"]
        for_memory += d["cpus_for_memory"]
    return ToolReserve(cpu=c.id, cpus_needed=np.maximum(for_cores, for_memory),
                       free_host_cpus_per_chip=share * host_cpus_per_chip(inputs.chips),
                       power_w_per_cpu=float(c.tdp_w or 0.0) + CPU_PLATFORM_POWER_W)
