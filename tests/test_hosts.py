"""The agent tools' CPU pool (gigawatt.fleet.hosts), by hand from what the simulation served."""

from __future__ import annotations

import numpy as np
import pytest

import gigawatt
from gigawatt.fleet import run_fleet
from gigawatt.fleet.hosts import CPU_PLATFORM_POWER_W, CPU_PRICE_USD_PER_CORE_H, tool_host_pool, yearly
from gigawatt.scenario import load_scenario_text
from gigawatt.scenario.inputs import resolve

AGENTS = """\
demand:
  inference:
    - name: agents
      model: llama3.1-70b
      at: 2026-01
      input_tokens: 8000
      output_tokens: 400
      peak_to_mean: 2
      agentic: {tasks_per_day: 2M, steps_per_task: 21, context_growth: 1000, cache_policy: hold,
                cpu_per_tool_call: 2 s, sandbox_memory: 4 GiB}
"""


@pytest.fixture(scope="module")
def tiny_agents():
    from tests.conftest import MINIMAL

    scn = load_scenario_text(MINIMAL + AGENTS)
    fleet, sim, _ = run_fleet(resolve(scn))
    return fleet, sim


def test_pool_by_hand(tiny_agents):
    fleet, sim = tiny_agents
    pool = tool_host_pool(fleet, sim, free_host_share=0.0)
    share = sim.served_tokens[..., 0] / sim.demand_tokens[..., 0]
    tasks = 2e6 * share  # no growth
    assert pool.tasks_per_day[..., 0] == pytest.approx(tasks)
    # cores: peak tasks/s x 20 tool calls x 2 CPU-s / 50% busy, on 96-core Graviton4s
    peak = tasks * 2 / 86400
    assert pool.cpus_for_cores == pytest.approx(peak * 20 * 2 / 0.5 / 96)
    # memory: sessions in flight (Little's law) x 4 GiB on 384 GiB per CPU
    latency = pool.tokens_per_task[0]["task_latency_mean_s"]
    assert latency > 20 * 1.0  # at least the tools' median times
    assert pool.cpus_for_memory == pytest.approx(peak * latency * 4 / 384)
    assert pool.cpus_dedicated == pytest.approx(np.maximum(pool.cpus_for_cores, pool.cpus_for_memory))
    # tokens per task from the session model: 21 x 8,000 + 1,400 x 21 x 20 / 2 = 462,000 input tokens,
    # of which at most the seen context (less the first prompt and each newest tool output) is cached
    tok = pool.tokens_per_task[0]
    assert tok["input_tokens_new_per_task"] + tok["input_tokens_cached_per_task"] == pytest.approx(462_000)
    assert 0 < tok["input_tokens_cached_per_task"] <= 462_000 - 8_000 - 20 * 1_000
    assert tok["output_tokens_per_task"] == 21 * 400
    # power and rental of the dedicated pool
    assert pool.power_w == pytest.approx(pool.cpus_dedicated * (300.0 + CPU_PLATFORM_POWER_W))
    assert pool.cost_usd == pytest.approx(pool.cpus_dedicated * 96 * CPU_PRICE_USD_PER_CORE_H * fleet.period_s / 3600)


def test_accelerator_hosts_count_first(tiny_agents):
    fleet, sim = tiny_agents
    none = tool_host_pool(fleet, sim, free_host_share=0.0)
    some = tool_host_pool(fleet, sim, free_host_share=0.25)
    # trn2.48xlarge: its host CPUs over its 16 chips, a quarter of them free
    from gigawatt.catalog import get_system

    s = get_system("trn2-48xlarge")
    free = 0.25 * fleet.installed.sum(axis=(2, 3)) * s.host_cpus_per_node / s.chips_per_node
    assert some.cpus_from_systems == pytest.approx(free)
    assert some.cpus_dedicated == pytest.approx(np.maximum(none.cpus_needed - free, 0.0))
    rows = yearly(none, fleet)
    assert set(rows) == {2026, 2027} and rows[2027]["tool_cpus"] == pytest.approx(none.cpus_dedicated[0, 12:].max())


def test_run_reports_the_pool(write_scenario, minimal_text):
    res = gigawatt.run(write_scenario(minimal_text + AGENTS))
    th = res.summary()["tool_hosts"]
    assert th["cpu"] == "graviton4" and th["streams"][0]["name"] == "agents"
    assert th["peak_cpus_needed"] > 0 and th["streams"][0]["chip_usd_per_task"] > 0
    years = res.years()
    assert {"agent_tasks_per_day", "tool_cpus", "tool_cpu_power_w", "tool_cpu_cost_usd"} <= set(years.columns)
    # no agentic stream: no pool
    plain = gigawatt.run(write_scenario(minimal_text))
    assert "tool_hosts" not in plain.summary()


# ------------------------------------------------------------------ the agentic block's session inputs

def _problems(text):
    from gigawatt.errors import ScenarioError

    with pytest.raises(ScenarioError) as err:
        load_scenario_text(text, "bad.yaml")
    return {p.path: p for p in err.value.problems}


@pytest.mark.parametrize("change,path,word", [
    ("cache_policy: hold,", "demand.inference[0].agentic", "not both"),
    ("cache_policy: keep, cache_hit_rate: 0.5,", "demand.inference[0].agentic.cache_policy", "hold"),
    ("cache_lifetime: 0 s,", "demand.inference[0].agentic.cache_lifetime", ""),
    ("tool_time_median: 10 s, tool_time_p90: 1 s,", "demand.inference[0].agentic", "median"),
    ("sandbox_memory: 2 furlongs,", "demand.inference[0].agentic.sandbox_memory", ""),
    ("turns: 22,", "demand.inference[0].agentic", "steps_per_task"),
    ("turns: 0.5,", "demand.inference[0].agentic.turns", ""),
    ("turns: 3, user_idle_median: 10 min, user_idle_p90: 1 min,", "demand.inference[0].agentic", "user_idle"),
])
def test_session_inputs_are_checked(minimal_text, change, path, word):
    text = minimal_text + AGENTS.replace("cache_policy: hold,", "cache_hit_rate: 0.5,").replace(
        "agentic: {", "agentic: {" + change + " ")
    got = _problems(text)
    assert path in got, got
    assert word in got[path].message + (got[path].hint or "")


def test_context_limit(minimal_text):
    text = minimal_text + AGENTS.replace("steps_per_task: 21", "steps_per_task: 1000").replace(
        "context_growth: 1000", "context_growth: 20000")
    got = _problems(text)
    p = got["demand.inference[0]"]
    assert "10,000,000" in p.message and "sub-agents" in p.message


def test_tasks_within_the_latency_target(minimal_text):
    def pool(extra):
        scn = load_scenario_text(minimal_text + AGENTS.replace("cache_policy: hold,", "cache_policy: hold, " + extra))
        fleet, sim, _ = run_fleet(resolve(scn))
        return tool_host_pool(fleet, sim)

    loose, tight, none = pool("task_latency: 10 h,"), pool("task_latency: 1 s,"), pool("")
    served = none.tasks_per_day.sum()
    assert served > 0 and none.tasks_per_day_within_target.sum() == pytest.approx(served)  # no target: all
    assert loose.tasks_per_day_within_target.sum() == pytest.approx(served, rel=1e-6)
    assert tight.tasks_per_day_within_target.sum() == 0.0  # a whole task cannot take a second


def test_pool_power_against_the_headroom(tiny_agents):
    fleet, sim = tiny_agents
    pool = tool_host_pool(fleet, sim, free_host_share=0.0)
    it = (fleet.installed * fleet.it_w_per_chip).sum(axis=(2, 3))
    want = np.maximum(np.minimum(fleet.energized_it_w.sum(axis=2) - it, fleet.capacity_cap_w - it), 0.0)
    assert pool.power_headroom_w == pytest.approx(want)
    summ = pool.summary(fleet)
    short = pool.power_w[0] > want[0] + 1e-6
    assert summ["months_short_of_power"] == int(short.sum())


def test_report_panel(write_scenario, minimal_text):
    from gigawatt.report.charts import agents_section

    res = gigawatt.run(write_scenario(minimal_text + AGENTS))
    sec = agents_section(res)
    served, within, dedicated, from_systems = (list(tr.y) for tr in sec.figure.data)
    years = res.summary()["years"]
    assert served == pytest.approx([y["agent_tasks_per_day"] / 1e6 for y in years])
    assert dedicated == pytest.approx([y["tool_cpus"] for y in years])
    assert "Tool CPUs needed at the peak" in sec.note and "agents:" in sec.note
    bare = agents_section(gigawatt.run(write_scenario(minimal_text)))
    assert bare.figure is None and bare.note.startswith("Not drawn")


def test_an_agent_tasks_search_is_cached_on_disk(tmp_path, monkeypatch):
    """The tool pool's per-chip agent task is searched once and then read back from the cache folder."""
    from gigawatt.fleet import hosts

    monkeypatch.setenv("GIGAWATT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GIGAWATT_NO_CACHE", raising=False)
    session = {"cache_lifetime_s": 300.0, "cache_policy": "hold", "output_tokens_per_step": 400.0, "steps": 5,
               "system_prompt_tokens": 2000.0, "tool_output_tokens": 500.0, "tool_time_median_s": 1.0,
               "tool_time_p90_s": 8.0}
    args = ("llama3.1-8b", "trainium2", "trn2-48xlarge", 4000.0, 400.0, "bf16", tuple(sorted(session.items())))
    hosts._session_on_chip.cache_clear()
    first = hosts._session_on_chip(*args)
    files = list((tmp_path / "sessions").glob("*.json"))
    assert first is not None and len(files) == 1
    files[0].write_text('{"result": [1.0, 2.0, 3.0, null]}')  # what the cache holds is what a later run reads
    hosts._session_on_chip.cache_clear()
    assert hosts._session_on_chip(*args) == (1.0, 2.0, 3.0, None)
    files[0].write_text("not json")  # a damaged file is recomputed
    hosts._session_on_chip.cache_clear()
    assert hosts._session_on_chip(*args) == first
    hosts._session_on_chip.cache_clear()


def test_turns_reach_the_session_and_the_stream_shape(minimal_text):
    """A stream's user turns and idle times go to the session model, and the fleet's first
    estimate of the hit rate mixes the turns in: (1-q) P(W <= L) + q P(U <= L)."""
    from gigawatt.fleet.demand import _hit_rate, _session
    from gigawatt.perf import agentic as ag

    text = minimal_text + AGENTS.replace("cache_policy: hold,",
                                         "cache_policy: hold, turns: 3, user_idle_median: 2 min, user_idle_p90: 20 min,")
    s = load_scenario_text(text).demand.inference[0]
    kw = _session(s)
    assert (kw["turns"], kw["user_idle_median_s"], kw["user_idle_p90_s"]) == (3.0, 120.0, 1200.0)
    q = 2 / 20  # (turns - 1) / (steps - 1) with 21 steps
    mu, sigma = ag.lognormal_from_median_p90(s.agentic.tool_time_median_s, s.agentic.tool_time_p90_s)
    umu, usig = ag.lognormal_from_median_p90(120.0, 1200.0)
    want = (1 - q) * float(ag.lognormal_cdf(300.0, mu, sigma)) + q * float(ag.lognormal_cdf(300.0, umu, usig))
    assert _hit_rate(s.agentic) == pytest.approx(want)
    one = load_scenario_text(minimal_text + AGENTS).demand.inference[0]
    assert _session(one)["turns"] == 1.0 and _hit_rate(one.agentic) > _hit_rate(s.agentic)
