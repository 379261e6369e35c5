"""Named arrays over named dimensions: what a run computed, held as numpy until xarray is asked for.

A run's monthly arrays (``installed``, ``spend_usd``, ``allocated``, ...) are
built, summarized, written to ``fleet.nc`` and saved in the store without
importing xarray or pandas, whose import alone costs more than the whole
computation of a typical scenario. :class:`ArrayData` is that plain holder:
variables ``(dims, values, attrs)``, coordinates and attributes, with
:meth:`ArrayData.to_xarray` building the ``xarray.Dataset`` users get from
``Results.dataset``, and :meth:`ArrayData.write_netcdf` writing the same
netCDF file that ``Dataset.to_netcdf`` writes through its scipy engine
(netCDF3, 64-bit offset), read back by ``xarray.open_dataset`` identically.

References
----------
.. [1] Unidata, "The NetCDF Classic and 64-bit Offset File Formats",
   https://docs.unidata.ucar.edu/netcdf-c/current/file_format_specifications.html
.. [2] CF Conventions 1.11, section 4.4 (time coordinates, ``days since``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_INT32 = np.iinfo(np.int32)


@dataclass
class Variable:
    """One array: its dimension names, values and attributes."""

    dims: tuple
    values: np.ndarray
    attrs: dict = field(default_factory=dict)


class _Unsupported(Exception):
    """A value this writer does not encode; xarray's own writer is used instead."""


@dataclass
class ArrayData:
    """Variables over named dimensions, with coordinates and attributes (numpy only).

    Attributes
    ----------
    variables : dict of str to Variable
        The data variables, in order.
    coords : dict of str to numpy.ndarray
        Coordinate labels of the dimensions that have them.
    attrs : dict
        Attributes of the whole collection.
    """

    variables: dict = field(default_factory=dict)
    coords: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    @classmethod
    def build(cls, data_vars: dict, coords: dict | None = None, attrs: dict | None = None) -> "ArrayData":
        """From ``{name: (dims, values[, attrs])}``, the form ``xarray.Dataset`` takes."""
        variables = {}
        for name, spec in data_vars.items():
            dims, values, *rest = spec
            values = np.asarray(values)
            dims = tuple(dims)
            if values.ndim != len(dims):
                raise ValueError(f"{name}: {values.ndim} axes but dimensions {dims}")
            variables[name] = Variable(dims, values, dict(rest[0]) if rest else {})
        return cls(variables, {k: np.asarray(v) for k, v in (coords or {}).items()}, dict(attrs or {}))

    def __contains__(self, name: str) -> bool:
        return name in self.variables or name in self.coords

    def __getitem__(self, name: str) -> np.ndarray:
        """The values of a variable or of a coordinate."""
        if name in self.variables:
            return self.variables[name].values
        return self.coords[name]

    @property
    def sizes(self) -> dict:
        """Length of each dimension."""
        out: dict = {}
        for var in self.variables.values():
            for d, n in zip(var.dims, var.values.shape):
                out.setdefault(d, int(n))
        for name, values in self.coords.items():
            out.setdefault(name, len(values))
        return out

    def labels(self, dim: str) -> np.ndarray:
        """The coordinate of ``dim``, or its positions where it has none."""
        return self.coords[dim] if dim in self.coords else np.arange(self.sizes[dim])

    def merge(self, other: "ArrayData") -> "ArrayData":
        """Both collections' variables and coordinates; attributes of this one first."""
        coords = dict(self.coords)
        for name, values in other.coords.items():
            if name in coords and not np.array_equal(coords[name], values):
                raise ValueError(f"coordinate {name!r} differs between the arrays merged")
            coords[name] = values
        return ArrayData({**self.variables, **other.variables}, coords, {**other.attrs, **self.attrs})

    def subset(self, names) -> "ArrayData":
        """Only the variables named (and the coordinates of their dimensions)."""
        variables = {n: self.variables[n] for n in names}
        dims = {d for v in variables.values() for d in v.dims}
        return ArrayData(variables, {k: v for k, v in self.coords.items() if k in dims}, dict(self.attrs))

    # ------------------------------------------------------------------ xarray

    def to_xarray(self):
        """The ``xarray.Dataset`` with the same variables, coordinates and attributes."""
        import xarray as xr

        return xr.Dataset({n: (v.dims, v.values, v.attrs) for n, v in self.variables.items()},
                          coords=dict(self.coords), attrs=dict(self.attrs))

    @classmethod
    def from_xarray(cls, ds) -> "ArrayData":
        """The arrays of an ``xarray.Dataset`` (its index coordinates as coordinates)."""
        variables = {str(n): Variable(tuple(str(d) for d in v.dims), v.values, dict(v.attrs))
                     for n, v in ds.data_vars.items()}
        coords = {str(n): ds[n].values for n in ds.coords if ds[n].dims == (n,)}
        return cls(variables, coords, dict(ds.attrs))

    # ------------------------------------------------------------------ netCDF

    def write_netcdf(self, path: str | Path) -> None:
        """Write the netCDF3 (64-bit offset) file that ``xarray.Dataset.to_netcdf`` writes with its scipy engine.

        Encodes as xarray does for netCDF3: text as ``char`` arrays along a
        ``string<N>`` dimension with ``_Encoding = "utf-8"``, floats with a
        ``_FillValue`` of NaN, 64-bit integers as 32-bit, dates as whole
        ``days since`` the first date. A value outside that (booleans, missing
        dates, integers beyond 32 bits) is written by xarray itself.

        Notes
        -----
        The file is laid out as the format specification [1]_ gives it (header,
        then each variable's values in turn, big-endian, padded to 4 bytes);
        the bytes are composed here rather than through ``scipy.io``, whose
        import (it loads ``scipy.sparse``) costs more than the write. Tests read
        the file back with scipy and with xarray.
        """
        try:
            encoded = self._encode_netcdf3()
        except _Unsupported:
            self.to_xarray().to_netcdf(path)
            return
        Path(path).write_bytes(_netcdf3_bytes(*encoded))

    def _encode_netcdf3(self):
        """(dimensions, {name: (dims, data, attrs)}, global attributes) as xarray's netCDF3 encoding writes them."""
        sizes = self.sizes
        dims = dict(sizes)
        entries: dict = {}

        def encode(name: str, var_dims: tuple, values: np.ndarray, attrs: dict):
            attrs = {k: _attr(v) for k, v in attrs.items()}
            values = np.asarray(values)
            kind = values.dtype.kind
            if kind == "M":
                if np.isnat(values).any() or values.size == 0:
                    raise _Unsupported
                days = values.astype("datetime64[D]")
                if not np.array_equal(days.astype(values.dtype), values):
                    raise _Unsupported  # not whole days
                first = days.ravel()[0]
                offsets = (days - first).astype(np.int64)
                data = _int32(offsets)
                attrs.update(units=f"days since {first} 00:00:00", calendar="proleptic_gregorian")
            elif kind in "UO":
                texts = values.ravel().tolist()
                if not all(isinstance(t, str) for t in texts):
                    raise _Unsupported
                raw = [t.encode("utf-8") for t in texts]
                width = max([len(r) for r in raw] + [1])
                char_dim = f"string{width}"
                dims[char_dim] = width
                data = np.array(raw, dtype=f"S{width}").reshape(values.shape + (1,)).view("S1")
                data = data.reshape(values.shape + (width,))
                var_dims = tuple(var_dims) + (char_dim,)
                attrs["_Encoding"] = "utf-8"
            elif kind == "f":
                data = values.astype(">f8" if values.dtype.itemsize == 8 else ">f4")
                attrs.setdefault("_FillValue", np.nan if values.dtype.itemsize == 8 else np.float32(np.nan))
            elif kind in "iu":
                data = _int32(values)
            else:
                raise _Unsupported
            entries[name] = (tuple(var_dims), data, attrs)

        for name, values in self.coords.items():
            encode(name, (name,), values, {})
        for name, var in self.variables.items():
            encode(name, var.dims, var.values, var.attrs)
        return dims, entries, {k: _attr(v) for k, v in self.attrs.items()}


#: netCDF3 external types by numpy dtype (NC_CHAR, NC_INT, NC_FLOAT, NC_DOUBLE)
_NC_TYPE = {"|S1": 2, ">i4": 4, ">f4": 5, ">f8": 6}


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _nc_name(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">i", len(raw)) + raw + _pad(len(raw))


def _nc_attrs(attrs: dict) -> bytes:
    """An attribute list: NC_ATTRIBUTE, count, then name, type, count and padded values of each."""
    if not attrs:
        return b"\0" * 8
    out = struct.pack(">ii", 0x0C, len(attrs))
    for key, value in attrs.items():
        if isinstance(value, str):
            raw, nc_type, count = value.encode("utf-8"), 2, len(value.encode("utf-8"))
        elif isinstance(value, np.int32):
            raw, nc_type, count = struct.pack(">i", int(value)), 4, 1
        elif isinstance(value, np.float32):
            raw, nc_type, count = struct.pack(">f", float(value)), 5, 1
        else:
            raw, nc_type, count = struct.pack(">d", float(value)), 6, 1
        out += _nc_name(key) + struct.pack(">ii", nc_type, count) + raw + _pad(len(raw))
    return out


def _netcdf3_bytes(dims: dict, entries: dict, attrs: dict) -> bytes:
    """A netCDF3 64-bit offset file (no record dimension) from encoded dimensions, variables and attributes."""
    dim_ids = {name: i for i, name in enumerate(dims)}
    dim_list = (struct.pack(">ii", 0x0A, len(dims)) + b"".join(_nc_name(n) + struct.pack(">i", size)
                                                                for n, size in dims.items())) if dims else b"\0" * 8
    datas = [np.ascontiguousarray(data).tobytes() for _, data, _ in entries.values()]

    def var_list(begins: list[int]) -> bytes:
        if not entries:
            return b"\0" * 8
        out = struct.pack(">ii", 0x0B, len(entries))
        for (name, (var_dims, data, var_attrs)), raw, begin in zip(entries.items(), datas, begins):
            out += _nc_name(name) + struct.pack(">i", len(var_dims))
            out += b"".join(struct.pack(">i", dim_ids[d]) for d in var_dims) + _nc_attrs(var_attrs)
            out += struct.pack(">iiq", _NC_TYPE[data.dtype.str], len(raw) + len(_pad(len(raw))), begin)
        return out

    head = b"CDF\x02" + struct.pack(">i", 0) + dim_list + _nc_attrs(attrs)
    size = len(head) + len(var_list([0] * len(entries)))
    begins = []
    for raw in datas:
        begins.append(size)
        size += len(raw) + len(_pad(len(raw)))
    return head + var_list(begins) + b"".join(raw + _pad(len(raw)) for raw in datas)


def _int32(values: np.ndarray) -> np.ndarray:
    """Integers as big-endian 32-bit, the widest netCDF3 holds."""
    values = np.asarray(values)
    if values.size and (values.min() < _INT32.min or values.max() > _INT32.max):
        raise _Unsupported
    return values.astype(">i4")


def _attr(value: Any):
    """An attribute value as netCDF3 holds it (text, 32-bit integers, 64-bit floats)."""
    if isinstance(value, (bool, np.bool_)):
        raise _Unsupported
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        if not _INT32.min <= int(value) <= _INT32.max:
            raise _Unsupported
        return np.int32(value)
    if isinstance(value, (float, np.floating)):
        return np.float64(value)
    raise _Unsupported
