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
