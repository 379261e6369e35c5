"""Number formats of every table and sentence the CLI prints; SI values in, text out.

A missing or non-numeric value prints as ``-`` everywhere.

Examples
--------
>>> gw(9.5e8), usd_b(4.2e9), money(-3.1e6), chips(1_680_000), pct(0.707), pct(None), twh(1.3e16)
('0.95', '4.2', '-$3.10M', '1.68M', '71%', '-', '3.6')
>>> days(443.4), sig(12288), sig(0.88046), sig(412.34), sig("x")
('443', '12,288', '0.8805', '412.3', '-')
"""

from __future__ import annotations

from typing import Any

J_PER_TWH = 3.6e15
MISSING = "-"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def gw(watts: Any, digits: int = 2) -> str:
    """Power in GW."""
    return f"{watts / 1e9:,.{digits}f}" if _number(watts) else MISSING


def usd_b(usd: Any, digits: int = 1) -> str:
    """Money in billions of dollars, without the unit (for columns headed ``$B``)."""
    return f"{usd / 1e9:,.{digits}f}" if _number(usd) else MISSING


def money(usd: Any, unit: str = "") -> str:
    """Money with its scale: ``$4.2B``, ``$3.10M``, ``$1.20``; ``unit`` is appended (``/h``)."""
    if not _number(usd):
        return MISSING
    sign = "-" if usd < 0 else ""
    x = abs(usd)
    if x >= 1e9:
        return f"{sign}${x / 1e9:,.1f}B{unit}"
    if x >= 1e6:
        return f"{sign}${x / 1e6:,.2f}M{unit}"
    return f"{sign}${x:,.2f}{unit}"


def chips(n: Any) -> str:
    """A chip count: ``337k``, ``1.68M``, ``12``."""
    if not _number(n):
        return MISSING
    if n >= 999_500:
        return f"{n / 1e6:.2f}M"
    if n >= 1e3:
        return f"{n / 1e3:.0f}k"
    return f"{n:.0f}"


def pct(share: Any, digits: int = 0) -> str:
    """A share as a percentage."""
    return f"{100 * share:.{digits}f}%" if _number(share) else MISSING


def twh(joules: Any, digits: int = 1) -> str:
    """Energy in TWh."""
    return f"{joules / J_PER_TWH:,.{digits}f}" if _number(joules) else MISSING


def eflops(flops: Any) -> str:
    """FLOP/s in EFLOP/s."""
    return f"{flops / 1e18:,.0f}" if _number(flops) else MISSING


def per_hour(usd: Any) -> str:
    """A price per chip-hour, in dollars."""
    return f"{usd:,.2f}" if _number(usd) else MISSING


def days(n: Any) -> str:
    """A number of days, whole."""
    return f"{n:.0f}" if _number(n) else MISSING


def sig(x: Any, digits: int = 4) -> str:
    """A catalog value: ``digits`` significant digits, thousands separated, never in exponent notation above 1."""
    if not _number(x):
        return MISSING
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    return f"{x:,.{digits}g}"
