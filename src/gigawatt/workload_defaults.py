"""Defaults of a training workload where the input gives none, each with its source.

One home for figures that the performance models, the scenario schema, the
fleet and the command line all use. Only plain numbers: importing this costs
nothing (``gigawatt --help`` reads the defaults of ``perf train``).
"""

#: training sequence length where none is given (a catalog model without ``seq_len``, the
#: ``perf train`` and throughput-matrix defaults) [tokens]: the 8,192 tokens of Llama 3's
#: pre-training after its first 252M tokens (Grattafiori et al. 2024, sec. 3.4.1), which the
#: catalog's frontier models also give
DEFAULT_SEQ_LEN = 8192

#: tokens per optimizer step where none is given [tokens]: Llama 3 405B ended its pre-training at
#: 16M (Grattafiori et al. 2024, sec. 3.4.1). Larger MoE runs go higher: DeepSeek-V3 kept 15,360
#: sequences of 4K tokens, about 63M (arXiv:2412.19437, sec. 4.2)
DEFAULT_BATCH_TOKENS = 16 * 2**20

#: tokens per optimizer step per chip below which a large job's default batch does not go
#: [tokens]: Llama 3 405B's 16M tokens on 16,384 GPUs, so that larger jobs grow the batch with
#: the chips as big runs do
MIN_BATCH_TOKENS_PER_CHIP = 1024

#: training tokens of the days-to-train figure by default [tokens]: Llama 3 405B's 15.6T
#: (Grattafiori et al. 2024, arXiv:2407.21783, sec. 1)
DEFAULT_TRAINING_TOKENS = 15.6e12

# ------------------------------------------------------------------ agentic sessions
# The GitHub Copilot coding-agent trace: Microsoft/GitHub (Liu, Qiu, Goiri, Fonseca, Bianchini,
# Choukse), "Agentic Coding in the Wild: Characterizing GitHub Copilot Traces at Production Scale",
# arXiv 2608.00101, 2026; dataset card github.com/Azure/AzurePublicDataset
# analysis/GitHubCopilotCodingAgents/DATASET_CARD.md (read 2026-12): 301,026 sessions,
# 1,189,581 user turns, 9,310,255 LLM calls, 8,681,190 tool calls, 631.4B prompt tokens,
# 4.91B completion tokens, 540.95B cached prompt tokens, 2026-06-01..07.

#: sessions of the Copilot agent trace [1]
COPILOT_TRACE_SESSIONS = 301_026
#: LLM calls of the trace [1]
COPILOT_TRACE_LLM_CALLS = 9_310_255
#: tool calls of the trace [1]
COPILOT_TRACE_TOOL_CALLS = 8_681_190
#: user turns of the trace [1]
COPILOT_TRACE_TURNS = 1_189_581
#: prompt tokens of the trace [tokens]
COPILOT_TRACE_PROMPT_TOKENS = 631.4e9
#: completion tokens of the trace [tokens]
COPILOT_TRACE_COMPLETION_TOKENS = 4.91e9
#: cached prompt tokens of the trace [tokens]
COPILOT_TRACE_CACHED_PROMPT_TOKENS = 540.95e9

#: model calls per agent task by default [1]: the trace's 9,310,255 calls over 301,026 sessions
#: (30.9), rounded; SWE-Bench Pro trajectories have medians of 29-78 steps across four models
#: (nilenso, "SWE-Bench Pro trajectory analysis", 2025)
AGENT_STEPS_PER_TASK = 31
#: tokens an agent's model call generates by default [tokens]: the trace's 4.91B completion
#: tokens over 9,310,255 calls (527)
AGENT_OUTPUT_TOKENS_PER_STEP = 527
#: context of an agent's first call by default [tokens]: a gigawatt assumption (system prompt,
#: tool definitions and the request), because the trace's card gives no per-position sizes;
#: with AGENT_TOOL_OUTPUT_TOKENS it gives a mean prompt per call of about 73k against the
#: trace's 67.8k (631.4B / 9,310,255)
AGENT_PROMPT_TOKENS = 20_000
#: tokens one tool result adds to the context by default [tokens]: a gigawatt assumption;
#: context growth per tool call is not published (SWE-Effi, arXiv 2509.09853, describes it only
#: as a "token snowball"; the trace's shards hold it, not read here)
AGENT_TOOL_OUTPUT_TOKENS = 3_000

#: user turns per agent task in the trace [1]: 1,189,581 turns over 301,026 sessions (3.95; the card
#: also states 3.95 turns per session and 7.83 LLM calls per turn). A session model's own default is
#: one turn (no user idle between calls); a stream states its turns
AGENT_TURNS_PER_TASK = round(COPILOT_TRACE_TURNS / COPILOT_TRACE_SESSIONS, 2)
#: median time a user takes to reply between two turns of an agent session [s]: a gigawatt
#: assumption, a round minute (reading the agent's answer or diff and typing the next request);
#: the trace's card does not publish user idle times
USER_IDLE_MEDIAN_S = 60.0
#: 90th percentile of the user's idle time between turns [s]: a gigawatt assumption, a round ten
#: minutes (users who step away); not published by the trace's card
USER_IDLE_P90_S = 600.0

#: how long a waiting session's prompt cache lives by default [s]: Anthropic's 5 minutes,
#: refreshed on each hit (platform.claude.com prompt caching docs, 2026, as mirrored on Google
#: Cloud's Vertex AI page for Claude)
CACHE_LIFETIME_S = 300.0
#: Anthropic's extended cache lifetime, on request [s] (same source)
CACHE_LIFETIME_LONG_S = 3600.0
#: price of a cache read, of a 5-minute cache write and of a 1-hour write, per base input price
#: [1] (Anthropic prompt caching docs, 2026)
CACHE_READ_PRICE_FACTOR = 0.1
CACHE_WRITE_PRICE_FACTOR = 1.25
CACHE_WRITE_LONG_PRICE_FACTOR = 2.0

#: median time of one tool call [s]: a gigawatt assumption (file reads and searches take well under
#: a second, builds and test runs tens of seconds); the trace's tool durations (its
#: tool_duration_cdf figure) were not read. Checked against Vals.ai's SWE-bench page
#: (2025-06-13): Claude Sonnet 4 takes about 426.5 s a task, or 5.5-15 s per step of model and
#: tool time together at SWE-Bench Pro's 29-78 median steps
TOOL_TIME_MEDIAN_S = 1.0
#: 90th percentile of one tool call's time [s]: a gigawatt assumption (as above); with the median
#: a log-normal of mean 3.7 s
TOOL_TIME_P90_S = 8.0

#: host-link bandwidth per accelerator for offloaded KV caches [B/s]: a gigawatt assumption of one
#: PCIe 5.0 x16 link per chip, 32 GT/s x 16 lanes x 128/130 / 8 = 63 GB/s each way (PCI-SIG
#: PCIe 5.0 base specification, 2019)
HOST_LINK_BW_BYTES_PER_S = 63e9

#: CPU time one tool call takes on the host or sandbox [core·s]: a gigawatt assumption, half the
#: median tool time (tools wait on disk, network and subprocesses)
CPU_S_PER_TOOL_CALL = 0.5
#: memory of one session's sandbox while the session lasts [B]: a gigawatt assumption of a small
#: container or micro-VM with a checked-out repository (2 GiB)
SANDBOX_MEMORY_BYTES = 2 * 2**30
#: busy share of the tool CPUs' cores at which the pool is sized [1]: a gigawatt assumption
#: (headroom for bursts, as web fleets run at 40-60% average utilization)
CPU_POOL_UTILIZATION = 0.5
#: host memory per tool CPU for sandboxes [B]: a gigawatt estimate of 384 GiB per Graviton4 socket,
#: AWS's general-purpose ratio of 4 GiB per vCPU (m8g.48xlarge: 192 vCPUs, 768 GiB, as listed on the
#: EC2 M8g page; not re-read at source)
HOST_MEMORY_PER_CPU_BYTES = 384 * 2**30
#: Anthropic's list prices for Claude Opus 4.5 and later, per million tokens [USD]: input (uncached),
#: output (platform.claude.com/docs/en/about-claude/pricing, 2026: $5 in, $6.25 5-minute cache
#: write, $0.50 cache hit, $25 out); what a task bills at list, beside what its chips cost
API_INPUT_USD_PER_MTOK = 5.0
API_OUTPUT_USD_PER_MTOK = 25.0
#: share of an accelerator system's host CPUs (cores and memory) free for agent tools [1]: a
#: gigawatt assumption. The hosts also run the serving engine's scheduler, tokenization, networking
#: and KV transfers, and providers may keep sandboxes that run model-written code off the serving
#: hosts for isolation (then 0; a scenario sets it with ``demand.tool_hosts.free_host_share``)
HOST_FREE_SHARE = 0.25
