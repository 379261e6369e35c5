"""A chip in its system, as the handful of numbers the performance models use.

:class:`Hardware` holds peaks, memory, bandwidths and the scale-up domain of one
chip, read from the catalog (:meth:`Hardware.from_catalog`) or given directly
(tests, what-if studies). Bandwidths are per chip; the catalog gives link
bandwidth in both directions, and a collective uses one direction of it, so
:attr:`Hardware.scaleup_bw_one_way_bytes_per_s` halves it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Any

from gigawatt.errors import GigawattError

__all__ = ["Hardware", "HardwareError", "chip_family", "DEFAULT_SCALEOUT_BW_BYTES_PER_S"]

#: scale-out bandwidth per chip where neither the chip nor its system gives one [B/s]: one
#: 100 Gb/s port (12.5 GB/s) per chip, what the catalog gives TPU v6e. An assumption, not a
#: published figure of the chips it applies to (tpu-v4 and tpu7x, whose pods the catalog gives
#: no data-center-network figure).
DEFAULT_SCALEOUT_BW_BYTES_PER_S = 12.5e9


class HardwareError(GigawattError, ValueError):
    """A chip lacks a figure the performance models need."""

def chip_family(chip_id: str) -> str:
    """The calibration family of a catalog chip: its ``family`` field (``h100-sxm`` -> ``hopper``).

    ``generic`` for a chip the catalog does not know, or gives no family (a host CPU).

    >>> chip_family("trn2"), chip_family("no-such-chip")
    ('neuron', 'generic')
    """
    return _catalog_family(chip_id.lower())


@functools.cache
def _catalog_family(chip_id: str) -> str:
    from gigawatt.catalog import get_chip
    from gigawatt.errors import CatalogError

    try:
        return get_chip(chip_id).family or "generic"
    except CatalogError:
        return "generic"


@dataclass(frozen=True)
class Hardware:
    """One accelerator as deployed in a system.

    Parameters
    ----------
    chip : str
        Catalog id of the chip.
    peak_flops : dict
        Dense peak per precision name (``bf16``, ``fp16``, ``fp8``, ``fp4``) [FLOP/s].
    hbm_bytes : float
        Memory per chip [B].
    hbm_bw_bytes_per_s : float
        Memory bandwidth per chip [B/s].
    scaleup_bw_bytes_per_s : float
        Scale-up link bandwidth per chip, both directions [B/s].
    scaleout_bw_bytes_per_s : float
        Scale-out network bandwidth per chip, one direction [B/s].
    chips_per_scaleup : int
        Chips in one scale-up domain (NVLink domain, Neuron ring, TPU slice) [1].
    chips_per_node : int
        Chips per server [1].
    cores_per_chip : int
        NeuronCores or TensorCores per chip; 1 for GPUs [1].
    tdp_w : float
        Thermal design power [W]; NaN (the default) when not known, so that the energy a
        model derives from it (joules per token) is NaN rather than another chip's.
    family : str
        Calibration family; the catalog chip's ``family`` field when empty
        (:func:`chip_family`).
    """

    chip: str
    peak_flops: dict[str, float]
    hbm_bytes: float
    hbm_bw_bytes_per_s: float
    scaleup_bw_bytes_per_s: float
    scaleout_bw_bytes_per_s: float
    chips_per_scaleup: int = 8
    chips_per_node: int = 8
    cores_per_chip: int = 1
    tdp_w: float = math.nan
    family: str = ""
    system: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", chip_family(self.chip))

    @property
    def scaleup_bw_one_way_bytes_per_s(self) -> float:
        """What one direction of the scale-up links carries [B/s]."""
        return self.scaleup_bw_bytes_per_s / 2.0

    def peak(self, precision: str) -> float:
        """Dense peak for ``precision``, falling back to the next wider format [FLOP/s].

        A chip without FP4 runs FP4 work at its FP8 rate, without FP8 at BF16.
        """
        order = ["fp4", "fp8", "bf16", "fp16"]
        p = precision.lower()
        if p == "fp16" and "fp16" not in self.peak_flops:
            p = "bf16"
        start = order.index(p) if p in order else order.index("bf16")
        for name in order[start:]:
            value = self.peak_flops.get(name)
            if value:
                return float(value)
        raise HardwareError(f"{self.chip}: no peak FLOP/s for {precision} in the catalog")

    def with_(self, **changes: Any) -> "Hardware":
        return replace(self, **changes)

    @classmethod
    def from_catalog(cls, chip: str, system: str | None = None) -> "Hardware":
        """Read a chip and a system of it from the catalog.

        Parameters
        ----------
        chip : str
            Chip id or alias (``h100-sxm``, ``trn2``, ``tpu-v5p``).
        system : str, optional
            System id; by default the chip's system with the largest scale-up
            domain (NVL72 for GB200, the UltraServer for Trainium2).

        A scale-out bandwidth that neither the chip nor the system gives is
        :data:`DEFAULT_SCALEOUT_BW_BYTES_PER_S`. A chip without HBM figures (a host CPU)
        reads as 0 B and 0 B/s, which :func:`gigawatt.perf.api.resolve` refuses.

        Raises
        ------
        gigawatt.errors.CatalogError
            Unknown chip or system (the message suggests close names), or a chip without
            its ``tdp_w``.
        """
        from gigawatt.catalog import get_chip, get_system, systems_for_chip
        from gigawatt.errors import CatalogError

        c = get_chip(chip)
        if c.tdp_w is None:
            raise CatalogError(f"chip {c.id!r} has no tdp_w (thermal design power) in the catalog (chips.yaml); "
                               "add it with its source")
        if system:
            s = get_system(system)
        else:
            candidates = systems_for_chip(c.id)
            s = max(candidates, key=lambda x: x.chips_per_scaleup) if candidates else None
        peaks = {}
        for p in ("bf16", "fp16", "fp8", "fp4"):
            value = c.peak_flops(p)
            if value:
                peaks[p] = float(value)
        scaleup = (s.scaleup_bw_bytes_per_s if s is not None and s.scaleup_bw_bytes_per_s else None) or c.scaleup_bw_bytes_per_s
        scaleout = (s.scaleout_bw_bytes_per_s if s is not None and s.scaleout_bw_bytes_per_s else None) or c.scaleout_bw_bytes_per_s
        return cls(
            chip=c.id,
            peak_flops=peaks,
            hbm_bytes=float(c.hbm_bytes or 0.0),
            hbm_bw_bytes_per_s=float(c.hbm_bw_bytes_per_s or 0.0),
            scaleup_bw_bytes_per_s=float(scaleup or 0.0),
            scaleout_bw_bytes_per_s=float(scaleout or DEFAULT_SCALEOUT_BW_BYTES_PER_S),
            chips_per_scaleup=int(s.chips_per_scaleup) if s is not None else 1,
            chips_per_node=int(s.chips_per_node) if s is not None else 1,
            cores_per_chip=int(c.cores_per_chip or 1),
            tdp_w=float(c.tdp_w),
            family=c.family or "generic",
            system=s.id if s is not None else "",
        )
