"""The ``demand:`` section of a scenario: training runs and inference streams.

Quantities are written with units and parsed into SI floats here, like the rest
of the schema (:mod:`gigawatt.scenario.schema`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from gigawatt.scenario import limits
from gigawatt.scenario.fields import Compute, Duration, Fraction, Growth, Month, count, distinct_months, quantity
from gigawatt.workload_defaults import (CACHE_LIFETIME_S, CPU_S_PER_TOOL_CALL, DEFAULT_BATCH_TOKENS,
                                        HOST_FREE_SHARE, SANDBOX_MEMORY_BYTES, TOOL_TIME_MEDIAN_S,
                                        TOOL_TIME_P90_S, USER_IDLE_MEDIAN_S, USER_IDLE_P90_S)

#: a training run's precision (the catalog's training formats, gigawatt.catalog.schema.TRAINING_PRECISIONS)
TrainingPrecision = Literal["bf16", "fp8", "mxfp8", "fp4"]

Chips = count("chips")
Tokens = count("tokens")
RequestTokens = count("request_tokens")
BatchTokens = count("batch_tokens")
TokensPerDay = count("tokens_per_day")
TasksPerDay = count("tasks_per_day")
Steps = count("steps")
Data = quantity("data")


#: the allocation policies of :data:`gigawatt.fleet.policies.POLICIES`, by name, so that checking a
#: scenario does not import the fleet (and numpy); a test keeps the two the same
POLICY_NAMES = ("earliest_deadline_first", "first_come_first_served", "largest_first")
#: how capacity is split (:data:`gigawatt.fleet.policies.ALLOCATIONS`) and who yields when it is short
#: (:data:`gigawatt.fleet.policies.PRIORITIES`); docs/allocation.md
ALLOCATION_NAMES = ("pooled", "legacy")
PRIORITY_NAMES = ("inference", "training", "deadline")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class TrainingRun(_Strict):
    """One training run, listed by name."""

    name: str = Field(min_length=1)
    model: str
    tokens: Tokens | None = Field(default=None, gt=0)
    compute_flop: Compute | None = Field(default=None, validation_alias=AliasChoices("compute", "compute_flop"), gt=0)
    start: Month
    deadline: Month | None = None
    min_chips: Chips = Field(gt=0)
    max_chips: Chips | None = Field(default=None, gt=0)
    chips: list[str] | None = Field(default=None, max_length=limits.MAX_ROADMAP_ENTRIES)
    priority: int = Field(default=0, ge=-limits.MAX_PRIORITY, le=limits.MAX_PRIORITY)
    batch_tokens: BatchTokens = Field(default=DEFAULT_BATCH_TOKENS, gt=0)
    #: the matmul precision it trains in; None: each chip's catalog ``training_precision``
    precision: TrainingPrecision | None = None

    @model_validator(mode="after")
    def _size(self) -> "TrainingRun":
        if (self.tokens is None) == (self.compute_flop is None):
            raise ValueError("give exactly one of tokens (e.g. 40T) or compute (e.g. 3e26 FLOP)")
        if self.max_chips is not None and self.max_chips < self.min_chips:
            raise ValueError(f"max_chips {self.max_chips:g} is below min_chips {self.min_chips:g}")
        return self


class GeneratedRuns(_Strict):
    """A frontier run every N months, each larger by a growth factor per year."""

    name: str = "frontier"
    model: str
    first: Month
    every_s: Duration = Field(validation_alias=AliasChoices("every", "every_s"), gt=0)
    until: Month | None = None
    count: int | None = Field(default=None, gt=0, le=limits.MAX_TRAINING_RUNS)
    compute_flop: Compute = Field(validation_alias=AliasChoices("compute", "compute_flop"), gt=0)
    compute_growth: Growth = 1.0
    duration_s: Duration = Field(default=120 * 86400, validation_alias=AliasChoices("duration", "duration_s"), gt=0)
    min_chips: Chips = Field(gt=0)
    max_chips: Chips | None = Field(default=None, gt=0)
    chips: list[str] | None = Field(default=None, max_length=limits.MAX_ROADMAP_ENTRIES)
    batch_tokens: BatchTokens = Field(default=DEFAULT_BATCH_TOKENS, gt=0)
    #: the matmul precision the runs train in; None: each chip's catalog ``training_precision``
    precision: TrainingPrecision | None = None


class Generate(_Strict):
    generate: GeneratedRuns


class Agentic(_Strict):
    """Agentic tasks: N tool-calling steps whose context grows each step.

    With a ``cache_policy`` (hold, offload, drop) the session model of
    :mod:`gigawatt.perf.agentic` gives the cache hit rate from the tool time and the cache
    lifetime; without one, ``cache_hit_rate`` is a fixed share of each step's seen context.
    """

    tasks_per_day: TasksPerDay = Field(gt=0)
    #: at least one step, at most limits.MAX_AGENTIC_STEPS (agent traces run tens of steps)
    steps_per_task: Steps = Field(ge=1)
    context_growth_tokens: RequestTokens = Field(default=0, validation_alias=AliasChoices("context_growth", "context_growth_tokens"), ge=0)
    cache_hit_rate: Fraction = Field(default=0.0, ge=0.0, le=1.0)
    cache_policy: Literal["hold", "offload", "drop"] | None = None
    cache_lifetime_s: Duration = Field(default=CACHE_LIFETIME_S, gt=0,
                                       validation_alias=AliasChoices("cache_lifetime", "cache_lifetime_s"))
    tool_time_median_s: Duration = Field(default=TOOL_TIME_MEDIAN_S, gt=0,
                                         validation_alias=AliasChoices("tool_time_median", "tool_time_median_s"))
    tool_time_p90_s: Duration = Field(default=TOOL_TIME_P90_S, gt=0,
                                      validation_alias=AliasChoices("tool_time_p90", "tool_time_p90_s"))
    #: user turns per task (a mean, 1 to steps_per_task); between turns the user is idle
    turns: float = Field(default=1.0, ge=1.0)
    user_idle_median_s: Duration = Field(default=USER_IDLE_MEDIAN_S, gt=0,
                                         validation_alias=AliasChoices("user_idle_median", "user_idle_median_s"))
    user_idle_p90_s: Duration = Field(default=USER_IDLE_P90_S, gt=0,
                                      validation_alias=AliasChoices("user_idle_p90", "user_idle_p90_s"))
    cpu_s_per_tool_call: Duration = Field(default=CPU_S_PER_TOOL_CALL, ge=0,
                                          validation_alias=AliasChoices("cpu_per_tool_call", "cpu_s_per_tool_call"))
    sandbox_memory_bytes: Data = Field(default=SANDBOX_MEMORY_BYTES, ge=0,
                                       validation_alias=AliasChoices("sandbox_memory", "sandbox_memory_bytes"))
    task_latency_s: Duration | None = Field(default=None, gt=0,
                                            validation_alias=AliasChoices("task_latency", "task_latency_s"))
    task_latency_quantile: Literal["p50", "p90"] = "p90"

    @model_validator(mode="after")
    def _policy(self) -> "Agentic":
        if self.cache_policy is not None and "cache_hit_rate" in self.model_fields_set:
            raise ValueError("give cache_policy (the hit rate is then computed) or a fixed cache_hit_rate, not both")
        if self.tool_time_p90_s < self.tool_time_median_s:
            raise ValueError(f"tool_time_p90 ({self.tool_time_p90_s:g} s) is below tool_time_median "
                             f"({self.tool_time_median_s:g} s); the 90th percentile is at least the median")
        if self.user_idle_p90_s < self.user_idle_median_s:
            raise ValueError(f"user_idle_p90 ({self.user_idle_p90_s:g} s) is below user_idle_median "
                             f"({self.user_idle_median_s:g} s); the 90th percentile is at least the median")
        if self.turns > round(self.steps_per_task):
            raise ValueError(f"turns ({self.turns:g}) is above steps_per_task ({self.steps_per_task:g}); each turn "
                             "has at least one step")
        return self


class InferenceStream(_Strict):
    """A stream of inference traffic on one model."""

    name: str | None = None
    model: str
    tokens_per_day: TokensPerDay | None = Field(default=None, gt=0)
    at: Month
    growth: Growth | Annotated[dict[Month, Growth], BeforeValidator(distinct_months),
                               Field(max_length=limits.MAX_GROWTH_POINTS)] = 1.0
    input_tokens: RequestTokens = Field(gt=0)
    output_tokens: RequestTokens = Field(gt=0)
    ttft_s: Duration | None = Field(default=None, validation_alias=AliasChoices("ttft", "ttft_s"), gt=0)
    tpot_s: Duration | None = Field(default=None, validation_alias=AliasChoices("tpot", "tpot_s"), gt=0)
    peak_to_mean: float = Field(default=1.0, ge=1.0, le=limits.MAX_PEAK_TO_MEAN)
    precision: str = "fp8"
    chips: list[str] | None = Field(default=None, max_length=limits.MAX_ROADMAP_ENTRIES)
    agentic: Agentic | None = None

    @model_validator(mode="after")
    def _volume(self) -> "InferenceStream":
        if self.tokens_per_day is None and self.agentic is None:
            raise ValueError("give tokens_per_day (e.g. 2e12) or an agentic block with tasks_per_day")
        if self.agentic is not None:
            a = self.agentic
            last = self.input_tokens + (a.steps_per_task - 1) * (a.context_growth_tokens + self.output_tokens)
            if last + self.output_tokens > limits.MAX_AGENTIC_CONTEXT_TOKENS:
                raise ValueError(
                    f"the last step's context reaches {last + self.output_tokens:,.0f} tokens (input_tokens + "
                    f"(steps_per_task - 1) x (context_growth + output_tokens)), past the limit of "
                    f"{limits.MAX_AGENTIC_CONTEXT_TOKENS:,}; lower steps_per_task or context_growth, or model the "
                    "job as several tasks (sub-agents)")
        return self


def _training_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "<generate>" if "generate" in value else "<run>"
    return "<generate>" if isinstance(value, Generate) else "<run>"


TrainingItem = Annotated[
    Annotated[TrainingRun, Tag("<run>")] | Annotated[Generate, Tag("<generate>")],
    Discriminator(_training_kind),
]


#: a share of the installed chips, or ``{month: share}``: each share holds from its month to the next, none before
ReserveShare = Fraction | Annotated[dict[Month, Fraction], BeforeValidator(distinct_months),
                                    Field(max_length=limits.MAX_GROWTH_POINTS)]


def _shares(value) -> list[float]:
    return list(value.values()) if isinstance(value, dict) else [value]


def _share_at(value, month: str) -> float:
    """The share a reserve holds in ``month`` (0 before its first month)."""
    from gigawatt.units import month_index

    if not isinstance(value, dict):
        return float(value)
    held = [(month_index(m), v) for m, v in value.items() if month_index(m) <= month_index(month)]
    return max(held)[1] if held else 0.0


class Reserve(_Strict):
    """Capacity held for one workload: the other never runs on it (docs/allocation.md)."""

    training: ReserveShare = 0.0
    inference: ReserveShare = 0.0

    @model_validator(mode="after")
    def _bounded(self) -> "Reserve":
        for name in ("training", "inference"):
            for share in _shares(getattr(self, name)):
                if not 0.0 <= share <= 1.0:
                    raise ValueError(f"a {name} reserve of {share:.0%} is outside 0-100% of the installed chips")
        months = [m for v in (self.training, self.inference) if isinstance(v, dict) for m in v] or ["0001-01"]
        for month in months:
            total = _share_at(self.training, month) + _share_at(self.inference, month)
            if total > 1.0 + 1e-9:
                raise ValueError(f"the training and inference reserves add up to {total:.0%} of the chips "
                                 f"(from {month}); together they can hold at most 100%")
        return self


class ToolHosts(_Strict):
    """The CPUs that run the agentic streams' tools (:mod:`gigawatt.fleet.hosts`).

    The buildout reserves the dedicated pool's power ahead of the accelerators
    (:mod:`gigawatt.fleet.tool_reserve`); ``free_host_share`` of the accelerator systems' own host
    CPUs count first.
    """

    #: catalog CPU of the dedicated pool
    cpu: str = "graviton4"
    #: share of the accelerator systems' host CPUs free for tools (0: every tool runs on the dedicated pool)
    free_host_share: Fraction = Field(default=HOST_FREE_SHARE, ge=0.0, le=1.0)


class Demand(_Strict):
    """What the capacity must carry, and how it is shared (docs/allocation.md)."""

    training: list[TrainingItem] = Field(default_factory=list, max_length=limits.MAX_TRAINING_RUNS)
    inference: list[InferenceStream] = Field(default_factory=list, max_length=limits.MAX_INFERENCE_STREAMS)
    policy: str = "earliest_deadline_first"
    # calibrated to Llama 3's >90% effective training time on 16,384 H100 with 419 interruptions in
    # 54 days (Grattafiori et al. 2024, arXiv:2407.21783, sec. 3.3.4): c/2 + r = 0.308 h lost per
    # interruption, a goodput of 0.900 there (gigawatt.perf.goodput, which restates them)
    checkpoint_interval_s: Duration = Field(default=1200.0, validation_alias=AliasChoices("checkpoint_interval", "checkpoint_interval_s"), gt=0)
    restart_s: Duration = Field(default=510.0, validation_alias=AliasChoices("restart_time", "restart_s"), ge=0)
    idle_power_fraction: Fraction = Field(default=0.3, ge=0.0, le=1.0)
    #: pooled: the streams are sized on their combined peak and training backfills what inference leaves idle
    #: off its peak; legacy: each stream on its own peak, one after another, training only on chips free all day
    allocation: Literal["pooled", "legacy"] = "pooled"
    #: which workload yields when capacity is short: inference goes first (training backfills), training goes
    #: first, or runs that can still make their deadline go first
    priority: Literal["inference", "training", "deadline"] = "inference"
    reserve: Reserve | None = None
    #: the streams' combined peak over the sum of their own peaks: 1 when the peaks coincide
    inference_coincidence: Fraction = Field(default=1.0, gt=0.0, le=1.0)
    #: whether training runs on the chips inference leaves idle off its daily peak (preempted daily)
    backfill: bool = True
    #: the order inference takes pools in: ``oldest`` generation first (the newest stay for training;
    #: inference-only generations before all, the cheapest per token first), or ``cheapest`` per output
    #: token first over every pool (gigawatt.fleet.serving_order)
    inference_order: Literal["oldest", "cheapest"] = "oldest"
    #: the agent tools' CPUs: the dedicated pool's CPU and the share of accelerator hosts free for tools
    tool_hosts: ToolHosts | None = None

    @model_validator(mode="after")
    def _legacy_alone(self) -> "Demand":
        if self.allocation == "legacy":
            given = [k for k in ("priority", "reserve", "inference_coincidence", "backfill") if k in self.model_fields_set]
            if given:
                raise ValueError(f"allocation: legacy is the engine's earlier rule (each stream on its own peak, "
                                 f"inference first, no backfill) and takes no {', '.join(given)}; remove "
                                 f"{'it' if len(given) == 1 else 'them'} or use allocation: pooled")
        return self
