"""Strict JSON: the one encoder for everything gigawatt writes or prints.

JSON has no NaN or infinity; Python's ``json`` writes them as bare ``NaN`` and
``Infinity`` unless told not to, which most readers reject. Here a figure that
is NaN or infinite becomes ``null`` (the summary says why beside it, where it
can), numpy scalars and arrays become plain numbers and lists, and the result
is dumped with ``allow_nan=False``. Only the standard library is imported.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["plain", "dumps"]


def plain(value: Any) -> Any:
    """``value`` as plain JSON types: numpy values made Python, NaN and infinity made None.

    Examples
    --------
    >>> plain({"a": float("nan"), "b": [1.0, float("inf")], "c": (1, "x")})
    {'a': None, 'b': [1.0, None], 'c': [1, 'x']}
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain(value.tolist())
    if hasattr(value, "isoformat"):  # dates
        return value.isoformat()
    if hasattr(value, "__fspath__"):  # paths
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any, **kwargs) -> str:
    """Strict JSON text of ``value`` (see :func:`plain`); keyword arguments go to :func:`json.dumps`.

    Examples
    --------
    >>> dumps({"x": float("-inf"), "y": 2})
    '{"x": null, "y": 2}'
    """
    return json.dumps(plain(value), allow_nan=False, **kwargs)
