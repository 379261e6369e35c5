"""Structure of the catalog: every number has a declared unit and a source."""

import pytest
import yaml
from importlib import resources

from gigawatt import catalog, units
from gigawatt.catalog.schema import RECORDS
from gigawatt.errors import CatalogError

KINDS = list(RECORDS)


def _raw(kind):
    text = (resources.files("gigawatt.catalog") / "data" / f"{kind}.yaml").read_text()
    return yaml.safe_load(text)["entries"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_numeric_field_declares_a_known_unit(kind):
    record = RECORDS[kind]
    numeric = record.numeric_fields()
    assert numeric, f"{kind} has no numeric fields"
    for name, dim in numeric.items():
        assert dim == "count" or dim in units.DIMENSIONS, f"{kind}.{name}: unknown dimension {dim!r}"
    # every float field of the record is declared with a unit
    for name, info in record.model_fields.items():
        if "float" in str(info.annotation):
            assert name in numeric, f"{kind}.{name} is numeric but declares no unit"


@pytest.mark.parametrize("kind", KINDS)
def test_every_number_in_the_files_is_a_declared_field(kind):
    numeric = RECORDS[kind].numeric_fields()
    for entry in _raw(kind):
        for key, value in entry.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert key in numeric, f"{kind}.yaml {entry['id']}.{key} is a number without a declared unit"


@pytest.mark.parametrize("kind", KINDS)
def test_every_entry_and_field_has_a_source(kind):
    entries = catalog.load(kind)
    assert entries
    for entry in entries.values():
        assert len(entry.source) > 10, f"{kind} {entry.id}: source too short"
        assert entry.as_of[:4].isdigit(), f"{kind} {entry.id}: as_of {entry.as_of!r}"
        for field in type(entry).numeric_fields():
            if getattr(entry, field) is not None:
                prov = entry.provenance(field)
                assert prov.source and prov.as_of, f"{kind} {entry.id}.{field} lacks provenance"


def test_required_chips_systems_models_are_present():
    chips = set(catalog.chips())
    for name in ["trainium1", "trainium2", "trainium3", "trainium4", "inferentia2", "a100-40gb", "a100-80gb",
                 "h100-sxm", "h800", "h200", "b200", "gb200", "gb300", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e",
                 "tpu7x", "mi300x", "mi325x", "mi355x", "graviton4"]:
        assert name in chips, name
    assert catalog.get_chip("trainium4").estimate or catalog.get_chip("trainium4").is_estimate("peak_fp8_flops")
    systems = set(catalog.systems())
    for name in ["trn2-48xlarge", "trn2-ultraserver", "trn3-ultraserver-64", "trn3-ultraserver-144", "dgx-h100",
                 "dgx-b200", "gb200-nvl72", "gb300-nvl72"]:
        assert name in systems, name
    models = set(catalog.models())
    for name in ["gpt3-175b", "llama2-70b", "llama3.1-8b", "llama3.1-70b", "llama3.1-405b", "mixtral-8x7b", "deepseek-v3"]:
        assert name in models, name
    assert any(m.hypothetical for m in catalog.models().values())


def test_every_accelerator_has_the_power_and_compute_the_buildout_needs():
    for chip in catalog.chips().values():
        assert chip.tdp_w and chip.tdp_w > 0, chip.id
        if chip.kind == "accelerator":
            assert chip.peak_bf16_flops and chip.hbm_bytes and chip.hbm_bw_bytes_per_s, chip.id
            assert catalog.systems_for_chip(chip.id), f"no system for {chip.id}"


def test_aliases_and_did_you_mean():
    assert catalog.get_chip("trn2").id == "trainium2"
    assert catalog.get_chip("TRN1").id == "trainium1"
    with pytest.raises(CatalogError) as err:
        catalog.get_chip("trainum3")
    assert "trainium3" in str(err.value)
