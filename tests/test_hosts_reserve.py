"""The agent tools' CPU pool reserved in the buildout (gigawatt.fleet.tool_reserve): its size from
demand by hosts.py's rule, its power held at the sites and under the cap, and ``binding: cpu``."""

from __future__ import annotations

import numpy as np
import pytest

import gigawatt
from gigawatt.errors import ScenarioError
from gigawatt.fleet import BINDING, run_fleet
from gigawatt.fleet.buildout import build_fleet
from gigawatt.fleet.hosts import CPU_PLATFORM_POWER_W
from gigawatt.fleet.tool_reserve import plan_tool_reserve
from gigawatt.scenario import load_scenario_text
from gigawatt.scenario.inputs import resolve
from tests.conftest import MINIMAL
from tests.test_hosts import AGENTS

GRAVITON4_W = 300.0 + CPU_PLATFORM_POWER_W  # catalog TDP (an estimate) plus platform [W]


def inputs(share=None, cap=None):
    text = MINIMAL + AGENTS
    if share is not None:
        text = text.replace("demand:\n", f"demand:\n  tool_hosts: {{free_host_share: {share}}}\n")
    if cap is not None:
        text = text.replace("capacity_cap: 1 GW", f"capacity_cap: {cap}")
    return resolve(load_scenario_text(text))


def test_reserve_sized_from_demand_by_hand():
    inp = inputs(share=0)
    r = plan_tool_reserve(inp)
    # 2M tasks a day at a peak-to-mean of 2: cores for 20 tool calls x 2 CPU-s at 50% on 96 cores,
    # or sandboxes of 4 GiB for the task's duration on 384 GiB per CPU, whichever is more
    fleet, sim, _ = run_fleet(inp)
    latency = gigawatt.fleet.hosts.tool_host_pool(fleet, sim).tokens_per_task[0]["task_latency_mean_s"]
    peak = 2e6 * 2 / 86400
    want = max(peak * 20 * 2 / 0.5 / 96, peak * latency * 4 / 384)
    assert r.cpus_needed == pytest.approx(np.full(24, want))
    assert r.power_w_per_cpu == GRAVITON4_W and r.free_host_cpus_per_chip.tolist() == [0.0]
    # no agentic stream: nothing to reserve
    assert plan_tool_reserve(resolve(load_scenario_text(MINIMAL))) is None


def test_power_held_before_the_chips_and_binding_cpu():
    held = build_fleet(inputs(share=0))
    free = build_fleet(inputs())  # a quarter of the Trn2 hosts free: they hold every tool
    r = plan_tool_reserve(inputs(share=0))
    # the whole pool is held at the one site, every month
    assert held.tool_cpu_reserve_w[0, :, 0] == pytest.approx(r.cpus_needed * GRAVITON4_W)
    assert not free.tool_cpu_reserve_w.any()
    # chips and the pool together within the energized power
    it = (held.installed * held.it_w_per_chip).sum(axis=(2, 3))
    assert (it + held.tool_cpu_reserve_w.sum(axis=2) <= held.energized_it_w.sum(axis=2) + 1e-6).all()
    # the first month by hand: whole trn2.48xlarge servers of 16 chips in 100 MW less the pool
    unit_w = 16 * held.it_w_per_chip[0]
    e0, pool = held.energized_it_w[0, 0, 0], r.cpus_needed[0] * GRAVITON4_W
    assert free.installed[0, 0, 0, 0] == 16 * np.floor(e0 / unit_w + 1e-9)
    assert held.installed[0, 0, 0, 0] == 16 * np.floor((e0 - pool) / unit_w + 1e-9)
    # power stopped the additions; with the pool's power released one more server would fit: cpu
    assert pool > unit_w - (e0 - free.installed[0, 0, 0, 0] * held.it_w_per_chip[0])
    assert [BINDING[c] for c in free.binding[0]] == ["power"] * 24
    assert [BINDING[c] for c in held.binding[0]] == ["cpu"] * 24


def test_cap_counts_the_pool_too():
    # a 50 MW cap below the site's power: the cap stops the chips, the pool's power counts against it
    fleet = build_fleet(inputs(share=0, cap="50 MW"))
    it = (fleet.installed * fleet.it_w_per_chip).sum(axis=(2, 3))
    assert (it + fleet.tool_cpu_reserve_w.sum(axis=2) <= 50e6 + 1e-6).all()
    assert BINDING[fleet.binding[0, 0]] == "cpu"
    assert BINDING[build_fleet(inputs(cap="50 MW")).binding[0, 0]] == "cap"


def test_the_simulated_pool_fits_what_was_reserved():
    res = gigawatt.run(load_scenario_text(MINIMAL + AGENTS.replace("demand:\n", "demand:\n  tool_hosts: {free_host_share: 0}\n")))
    th = res.summary()["tool_hosts"]
    assert th["months_short_of_power"] == 0
    assert 0 < th["peak_power_w"] <= th["peak_power_reserved_w"] + 1e-6
    assert {y["binding"] for y in res.summary()["years"]} == {"cpu"}


def test_tool_hosts_checked():
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(MINIMAL + AGENTS.replace("demand:\n", "demand:\n  tool_hosts: {cpu: trainium2}\n"))
    (p,) = e.value.problems
    assert p.path == "demand.tool_hosts.cpu" and "not a CPU" in p.message and "graviton4" in p.hint
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(MINIMAL + AGENTS.replace("demand:\n", "demand:\n  tool_hosts: {free_host_share: 2}\n"))
    assert "demand.tool_hosts.free_host_share" in str(e.value)
