"""The catalog: chips, systems, LLM architectures and prices, each number sourced.

The data lives in dated YAML files under ``catalog/data/``; this module loads
them into the typed records of :mod:`gigawatt.catalog.schema`, parsing each
quantity string into SI with the unit its field declares.

>>> from gigawatt.catalog import get_chip
>>> get_chip("trn2").id
'trainium2'
"""

from __future__ import annotations

import difflib
import functools
from importlib import resources
from typing import Any

from gigawatt.catalog.schema import RECORDS, Chip, Entry, Model, Price, Provenance, System
from gigawatt.errors import CatalogError, UnitError

__all__ = [
    "Chip",
    "Model",
    "Price",
    "System",
    "chips",
    "close_names",
    "get_chip",
    "get_model",
    "get_price",
    "get_system",
    "load",
    "models",
    "prices",
    "systems",
]


def _read_yaml(kind: str) -> list[dict[str, Any]]:
    from gigawatt.datafiles import load_yaml

    path = resources.files("gigawatt.catalog") / "data" / f"{kind}.yaml"
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"catalog file {kind}.yaml is missing from the installed package") from None
    if not isinstance(doc, dict) or doc.get("schema") != kind or not isinstance(doc.get("entries"), list):
        raise CatalogError(f"catalog file {kind}.yaml must be a mapping with 'schema: {kind}' and a list 'entries'")
    return doc["entries"]


def _parse_entry(kind: str, raw: dict[str, Any]) -> Entry:
    from gigawatt import units

    record = RECORDS[kind]
    numeric = record.numeric_fields()
    data: dict[str, Any] = {}
    field_prov: dict[str, Provenance] = {}
    entry_id = raw.get("id", "<no id>")
    for key, value in raw.items():
        if key in ("as_of",) or key.endswith("available"):
            data[key] = str(value)
            continue
        if key not in numeric:
            if isinstance(value, dict) and "value" in value and "source" in value:
                # a text field with its own provenance, e.g. family: {value: hopper, source: ..., as_of: ...}
                prov = {k: value[k] for k in ("source", "as_of", "estimate", "notes") if k in value}
                prov["as_of"] = str(prov.get("as_of", raw.get("as_of", "")))
                field_prov[key] = Provenance(**prov)
                value = value["value"]
            data[key] = value
            continue
        if isinstance(value, dict):
            prov = {k: value[k] for k in ("source", "as_of", "estimate", "notes") if k in value}
            if "source" in prov:
                prov.setdefault("as_of", str(raw.get("as_of", "")))
                prov["as_of"] = str(prov["as_of"])
                field_prov[key] = Provenance(**prov)
            elif prov.get("estimate"):
                field_prov[key] = Provenance(
                    source=str(raw.get("source", "")), as_of=str(raw.get("as_of", "")), estimate=True,
                    notes=prov.get("notes"),
                )
            value = value.get("value")
        if value is None:
            data[key] = None
            continue
        dim = numeric[key]
        try:
            data[key] = units.parse_count(value, field=key) if dim == "count" else units.parse(value, dim, field=key)
        except UnitError as exc:
            raise CatalogError(f"{kind}.yaml, entry {entry_id!r}: {exc}") from None
    data["field_provenance"] = field_prov
    if "aliases" in data:
        data["aliases"] = tuple(data["aliases"] or ())
    try:
        return record(**data)
    except Exception as exc:
        raise CatalogError(f"{kind}.yaml, entry {entry_id!r}: {exc}") from None


@functools.cache
def load(kind: str) -> dict[str, Entry]:
    """All entries of one catalog file, by id (``chips``, ``systems``, ``models``, ``prices``)."""
    if kind not in RECORDS:
        raise CatalogError(f"unknown catalog {kind!r}; choose one of {', '.join(RECORDS)}")
    out: dict[str, Entry] = {}
    for raw in _read_yaml(kind):
        entry = _parse_entry(kind, raw)
        if entry.id in out:
            raise CatalogError(f"{kind}.yaml: id {entry.id!r} appears twice")
        out[entry.id] = entry
    return out


@functools.cache
def _aliases(kind: str) -> dict[str, str]:
    table = {}
    for entry in load(kind).values():
        table[entry.id.lower()] = entry.id
        for alias in entry.aliases:
            table[alias.lower()] = entry.id
    return table


def close_names(kind: str, name: str, n: int = 5) -> list[str]:
    """Catalog ids that look like ``name``, best first (for did-you-mean hints)."""
    table = _aliases(kind)
    hits = difflib.get_close_matches(name.lower(), list(table), n=n, cutoff=0.5)
    prefix = [k for k in table if k.startswith(name.lower()[:3])] if len(name) >= 3 else []
    seen: list[str] = []
    for key in hits + prefix:
        if table[key] not in seen:
            seen.append(table[key])
    return seen[:n]


def resolve(kind: str, name: str) -> str:
    """The catalog id for ``name`` or one of its aliases; CatalogError if none."""
    table = _aliases(kind)
    key = str(name).lower()
    if key in table:
        return table[key]
    close = close_names(kind, str(name))
    hint = f"; did you mean {', '.join(close)}?" if close else f"; see `gigawatt catalog {kind}`"
    raise CatalogError(f"no {kind[:-1]} named {name!r} in the catalog{hint}")


def get_chip(name: str) -> Chip:
    return load("chips")[resolve("chips", name)]  # type: ignore[return-value]


def get_system(name: str) -> System:
    return load("systems")[resolve("systems", name)]  # type: ignore[return-value]


def get_model(name: str) -> Model:
    return load("models")[resolve("models", name)]  # type: ignore[return-value]


def get_price(chip: str) -> Price | None:
    """Published prices for a chip, or None where the catalog has none."""
    chip_id = resolve("chips", chip)
    for price in load("prices").values():
        if resolve("chips", price.chip) == chip_id:  # type: ignore[attr-defined]
            return price  # type: ignore[return-value]
    return None


def chips() -> dict[str, Chip]:
    return load("chips")  # type: ignore[return-value]


def systems() -> dict[str, System]:
    return load("systems")  # type: ignore[return-value]


def models() -> dict[str, Model]:
    return load("models")  # type: ignore[return-value]


def prices() -> dict[str, Price]:
    return load("prices")  # type: ignore[return-value]


def systems_for_chip(chip: str) -> list[System]:
    """Systems built from a chip, in catalog order."""
    chip_id = resolve("chips", chip)
    return [s for s in systems().values() if resolve("chips", s.chip) == chip_id]
