"""A parallel layout: how one training job, or one serving replica, is split over its chips.

:class:`Layout` is the one record every model and search passes around. A field
left ``None`` is free: the searches (:func:`gigawatt.perf.search.search_training`,
:func:`gigawatt.perf.search.search_serving`) try its candidates, and the models
(:func:`gigawatt.perf.training.training_step`, :func:`gigawatt.perf.inference.serve`)
take its default (:data:`DEFAULTS`). A field may hold a numpy array, one entry per
layout: the training search evaluates its whole grid as one ``Layout`` of arrays.

>>> Layout(tp=8, pp=16, vpp=7, recompute="full").complete().recompute
2
>>> Layout(tp=8).fixed()
{'tp': 8}
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Layout", "DEFAULTS", "RECOMPUTE", "SCHEDULES", "FIELDS"]

#: activation recomputation: none, selective (attention core), full (every layer's forward)
RECOMPUTE = {"none": 0, "selective": 1, "full": 2}
#: pipeline schedules: 1F1B (interleaved with virtual stages), zero-bubble ZB-H1, DualPipe
SCHEDULES = {"1f1b": 0, "zero-bubble": 1, "dualpipe": 2}

#: the value a model takes for a field left None (``dp`` follows from the chips, ``etp`` from ``ep``)
DEFAULTS: dict[str, Any] = {"tp": 1, "pp": 1, "cp": 1, "ep": 1, "vpp": 1, "micro_batch": 1, "recompute": 1,
                            "fsdp": False, "schedule": 0, "attention_dp": False}


@dataclass(frozen=True)
class Layout:
    """Parallel degrees and the choices that go with them; ``None`` is free (searched, or defaulted).

    Attributes
    ----------
    tp, pp, cp : int
        Tensor, pipeline and context parallel degrees [1].
    ep : int
        Expert parallel degree; in training carved out of ``tp·cp·dp`` (Megatron-Core's expert
        grid), in serving spread over the replica's ``tp·pp`` chips [1].
    dp : int
        Data parallel degree, ``chips / (tp·pp·cp)``: set by the searches, derived by the models [1].
    vpp : int
        Virtual pipeline stages per chip (interleaved 1F1B) [1].
    micro_batch : int
        Sequences per micro-batch [1].
    recompute : int or str
        ``none`` (0), ``selective`` (1) or ``full`` (2) activation recomputation.
    fsdp : bool
        Weights and gradients sharded too (ZeRO-3 / FSDP) instead of ZeRO-1.
    schedule : int or str
        Pipeline schedule: ``1f1b`` (0), ``zero-bubble`` (1), ``dualpipe`` (2).
    etp : int
        Tensor parallelism inside each expert; None: 1 with expert parallelism, else ``tp`` [1].
    attention_dp : bool
        Serving: attention runs data-parallel over the ``tp`` ranks instead of splitting heads.
    """

    tp: Any = None
    pp: Any = None
    cp: Any = None
    ep: Any = None
    dp: Any = None
    vpp: Any = None
    micro_batch: Any = None
    recompute: Any = None
    fsdp: Any = None
    schedule: Any = None
    etp: Any = None
    attention_dp: Any = None

    def __post_init__(self) -> None:
        for name, codes in (("recompute", RECOMPUTE), ("schedule", SCHEDULES)):
            value = getattr(self, name)
            if isinstance(value, str):
                key = value.strip().lower()
                if key not in codes:
                    raise ValueError(f"{name} {value!r} is not one of {', '.join(codes)}")
                object.__setattr__(self, name, codes[key])

    def complete(self) -> "Layout":
        """The same layout with every free field at its default (``dp`` and ``etp`` stay as given)."""
        missing = {k: v for k, v in DEFAULTS.items() if getattr(self, k) is None}
        return replace(self, **missing) if missing else self

    def fixed(self) -> dict[str, Any]:
        """The fields that are set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def with_(self, **changes: Any) -> "Layout":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain ints and bools by field name (JSON-ready); free fields are None."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = None if v is None else (bool(v) if f.name in ("fsdp", "attention_dp") else int(v))
        return out


#: field names, in order
FIELDS = tuple(f.name for f in fields(Layout))
