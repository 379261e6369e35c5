"""Typed records of the catalog, with each numeric field's unit declared once.

Following PyPSA's habit, a field's unit lives in one place, the record's schema,
through ``unit(...)``; the loader, the ``gigawatt catalog`` listing and the tests
all read it from there. A field whose unit is not declared is a bug that
``tests/test_catalog.py`` catches.

In the data files a numeric field is either a quantity string (``"667 TFLOP/s"``)
or a mapping that gives that one field its own provenance::

    tdp_w: {value: "500 W", source: "...", as_of: 2025-01, estimate: true}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


def unit(dimension: str, description: str = "", **kwargs: Any):
    """A numeric field of the catalog, declared with its dimension.

    ``dimension`` is a key of :data:`gigawatt.units.DIMENSIONS`, or ``"count"``
    for plain numbers of things (chips, layers, parameters).
    """
    extra = {"dimension": dimension}
    return Field(default=kwargs.pop("default", None), description=description, json_schema_extra=extra, **kwargs)


class Provenance(BaseModel):
    """Where a number comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    as_of: str
    estimate: bool = False
    notes: str | None = None


class Entry(BaseModel):
    """Fields shared by every catalog entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    source: str = Field(min_length=3)
    as_of: str
    estimate: bool = False
    notes: str | None = None
    aliases: tuple[str, ...] = ()
    #: provenance of single fields whose source differs from the entry's
    field_provenance: dict[str, Provenance] = Field(default_factory=dict)

    @classmethod
    def numeric_fields(cls) -> dict[str, str]:
        """Names of the numeric fields and their declared dimensions."""
        out = {}
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra or {}
            if isinstance(extra, dict) and "dimension" in extra:
                out[name] = str(extra["dimension"])
        return out

    def provenance(self, field: str) -> Provenance:
        """The provenance of one field: its own where it has one, else the entry's."""
        if field in self.field_provenance:
            return self.field_provenance[field]
        return Provenance(source=self.source, as_of=self.as_of, estimate=self.estimate)

    def is_estimate(self, field: str) -> bool:
        return self.estimate or self.provenance(field).estimate


#: the precisions a training run can state (``demand.training[].precision``, ``gigawatt perf train --precision``)
TrainingPrecision = Literal["bf16", "fp8", "mxfp8", "fp4"]
TRAINING_PRECISIONS: tuple[str, ...] = ("bf16", "fp8", "mxfp8", "fp4")


class Chip(Entry):
    """An accelerator or a host CPU."""

    vendor: str
    kind: Literal["accelerator", "cpu"] = "accelerator"
    #: calibration family of the performance models (``gigawatt.perf.calibration``): the
    #: vendor's name for the chip's architecture (NVIDIA Ampere, Hopper, Blackwell; AMD CDNA;
    #: AWS NeuronCore; Google TPU); None for a host CPU
    family: Literal["ampere", "hopper", "blackwell", "cdna", "neuron", "tpu"] | None = None
    available: str
    peak_bf16_flops: float | None = unit("compute_rate", "dense BF16 peak [FLOP/s]")
    peak_fp16_flops: float | None = unit("compute_rate", "dense FP16 peak [FLOP/s]")
    peak_fp8_flops: float | None = unit("compute_rate", "dense FP8 peak [FLOP/s]")
    peak_fp4_flops: float | None = unit("compute_rate", "dense FP4 peak [FLOP/s]")
    peak_tf32_flops: float | None = unit("compute_rate", "dense TF32 peak [FLOP/s]")
    peak_int8_ops: float | None = unit("compute_rate", "dense INT8 peak [OP/s]")
    hbm_bytes: float | None = unit("data", "HBM capacity [B]")
    hbm_bw_bytes_per_s: float | None = unit("bandwidth", "HBM bandwidth [B/s]")
    scaleup_bw_bytes_per_s: float | None = unit("bandwidth", "scale-up link bandwidth per chip, both directions [B/s]")
    scaleout_bw_bytes_per_s: float | None = unit("bandwidth", "scale-out network bandwidth per chip [B/s]")
    tdp_w: float | None = unit("power", "thermal design power [W]")
    cores_per_chip: float | None = unit("count", "NeuronCores or TensorCores per chip [1]")
    cores: float | None = unit("count", "CPU cores [1]")
    memory_bw_bytes_per_s: float | None = unit("bandwidth", "CPU memory bandwidth [B/s]")
    #: formats the chip trains in at its catalog peaks (``bf16``, ``fp8``: per-tensor or block
    #: scaled FP8, ``mxfp8``: OCP microscaled FP8, ``fp4``); None: derived from its peaks
    #: (:meth:`training_formats`)
    training_precisions: tuple[TrainingPrecision, ...] | None = None
    #: the format its software stack trains in by default (a run that states no ``precision``);
    #: None: BF16
    training_precision: TrainingPrecision | None = None
    #: the software stacks the chip trains and serves with by default (names or aliases of the
    #: ``stacks`` of ``gigawatt/perf/data/calibration.yaml``): the fleet's throughput uses their
    #: fitted efficiency; None: the prior alone
    training_stack: str | None = None
    serving_stack: str | None = None

    @model_validator(mode="after")
    def _training_precision_is_one_it_has(self) -> "Chip":
        if self.training_precision is not None and self.training_precision not in self.training_formats():
            raise ValueError(f"training_precision {self.training_precision!r} is not among the chip's "
                             f"training formats {list(self.training_formats())}")
        return self

    def training_formats(self) -> tuple[str, ...]:
        """The precisions the chip trains in: ``training_precisions``, else those it has a peak for.

        Derived, BF16 is always there; FP8 and FP4 where the catalog gives their peaks. MXFP8
        only where ``training_precisions`` names it (microscaling is a hardware feature the peaks
        do not show).
        """
        if self.training_precisions is not None:
            return tuple(self.training_precisions)
        if self.kind != "accelerator":
            return ()
        return ("bf16",) + (("fp8",) if self.peak_fp8_flops else ()) + (("fp4",) if self.peak_fp4_flops else ())

    def default_training_precision(self) -> str:
        """The precision a run trains in when it states none: ``training_precision``, else BF16."""
        return self.training_precision or "bf16"

    def peak_flops(self, precision: str) -> float | None:
        """Dense peak for a precision name (``bf16``, ``fp16``, ``fp8``, ``mxfp8``, ``fp4``).

        FP16 falls back to BF16, which every catalog accelerator runs at the same rate; MXFP8
        is an FP8 format, at the FP8 peak.
        """
        precision = precision.lower()
        if precision == "mxfp8":
            precision = "fp8"
        value = getattr(self, f"peak_{precision}_flops", None)
        if value is None and precision == "fp16":
            value = self.peak_bf16_flops
        return value


class System(Entry):
    """A server, rack or pod: the unit chips are deployed in."""

    chip: str
    host_cpu: str | None = None
    chips_per_node: float = unit("count", "accelerators per node (server, or rack where the rack is the unit) [1]")
    chips_per_scaleup: float = unit("count", "accelerators in one scale-up domain [1]")
    host_cpus_per_node: float | None = unit("count", "host CPUs per node [1]")
    host_power_w: float | None = unit("power", "host CPUs, memory, NICs, storage per node [W]")
    node_other_power_w: float | None = unit("power", "fans, power conversion, in-node switches per node [W]")
    network_power_w_per_chip: float | None = unit("power", "share of scale-out switches and optics per chip [W]")
    node_power_w: float | None = unit("power", "published maximum power of one node [W]")
    scaleup_bw_bytes_per_s: float | None = unit("bandwidth", "scale-up bandwidth per chip, if not the chip's [B/s]")
    scaleout_bw_bytes_per_s: float | None = unit("bandwidth", "scale-out bandwidth per chip [B/s]")
    max_chips_per_cluster: float | None = unit("count", "largest published cluster or pod [1]")


class Model(Entry):
    """An LLM architecture."""

    params_total: float = unit("count", "all parameters [1]")
    params_active: float = unit("count", "parameters used per token [1]")
    layers: float = unit("count", "transformer layers [1]")
    d_model: float = unit("count", "hidden size [1]")
    n_heads: float = unit("count", "attention heads [1]")
    n_kv_heads: float = unit("count", "key/value heads [1]")
    head_dim: float | None = unit("count", "size of one attention head [1]")
    d_ff: float | None = unit("count", "dense FFN intermediate size [1]")
    ffn_type: Literal["swiglu", "gelu"] = "swiglu"
    vocab: float = unit("count", "vocabulary size [1]")
    attention: Literal["mha", "gqa", "mla"] = "gqa"
    moe_experts: float = unit("count", "routed experts [1]", default=0)
    moe_active: float = unit("count", "routed experts per token [1]", default=0)
    moe_shared: float = unit("count", "shared experts [1]", default=0)
    moe_d_ff: float = unit("count", "expert FFN intermediate size [1]", default=0)
    dense_layers: float = unit("count", "leading dense layers of an MoE [1]", default=0)
    mtp_layers: float = unit("count", "multi-token-prediction modules trained beside the model [1]", default=0)
    seq_len: float | None = unit("count", "training sequence length [tokens]")
    kv_lora_rank: float | None = unit("count", "MLA latent KV rank [1]")
    q_lora_rank: float | None = unit("count", "MLA latent query rank [1]")
    qk_rope_head_dim: float | None = unit("count", "MLA rotary head size [1]")
    qk_nope_head_dim: float | None = unit("count", "MLA non-rotary head size [1]")
    v_head_dim: float | None = unit("count", "MLA value head size [1]")
    hypothetical: bool = False
    tied_embeddings: bool = False

    @property
    def is_moe(self) -> bool:
        return self.moe_experts > 0


class Price(Entry):
    """Published prices of one chip per chip-hour."""

    chip: str
    provider: str | None = None
    instance: str | None = None
    list_usd_per_chip_h: float | None = unit("price_per_hour", "on-demand list price per chip-hour [USD/h]")
    committed_usd_per_chip_h: float | None = unit("price_per_hour", "typical committed price per chip-hour [USD/h]")


RECORDS: dict[str, type[Entry]] = {"chips": Chip, "systems": System, "models": Model, "prices": Price}
