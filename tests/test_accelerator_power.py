"""One power basis for every accelerator (average system power per processor, as in Patterson
et al. 2021): measured where published, else one documented factor x a published chip figure.
All against the real embedded catalog."""

from __future__ import annotations

import csv
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

import greenml
from greenml import datafiles
from greenml.datafiles import defaults

ROOT = Path(__file__).resolve().parents[1]
TABLE3 = Path(__file__).parent / "data" / "patterson2021_table3_avg_power.csv"
DOC = ROOT / "docs" / "accelerator-power.md"
RULE = "system_power_per_chip_power"
# Patterson's processor names -> the catalog rows that carry their measurement.
MEASURED_ROWS = {"TPU v2": ("TPU-v2",), "TPU v3": ("TPU-v3",), "P100 GPU": ("P100",),
                 "V100 GPU": ("V100", "V100-32GB")}


def table3() -> dict[str, float]:
    with TABLE3.open(newline="") as handle:
        return {r["processor"]: float(r["average_system_power_w"]) for r in csv.DictReader(handle)}


def catalog_accelerators() -> dict[str, greenml.Accelerator]:
    return {a.name: a for a in greenml.default_catalog().accelerators}


def factor() -> float:
    return defaults()[RULE].value


def test_every_offered_accelerator_has_one_basis_power_or_a_reason() -> None:
    catalog = greenml.default_catalog()
    offered = {o.accelerator for o in catalog.offers}
    accs = catalog_accelerators()
    assert offered <= set(accs)
    for name in sorted(offered):
        acc = accs[name]
        power = acc.power()
        if power is None:
            # excluded from every plan: the row says why
            assert acc.system_power_source and not acc.system_power_basis, name
            continue
        assert acc.system_power_w == power.value, name
        assert acc.system_power_basis == "measured" or \
            acc.system_power_basis.startswith("derived from "), name
        assert power.source and re.search(r"(19|20)\d\d", power.year), name
        assert "average system power per processor" in power.note
        assert acc.system_power_basis in power.note, name


def test_measured_figures_are_patterson_table3() -> None:
    accs = catalog_accelerators()
    published = table3()
    assert set(published) == set(MEASURED_ROWS)
    for processor, watts in published.items():
        for name in MEASURED_ROWS[processor]:
            acc = accs[name]
            assert acc.system_power_basis == "measured"
            assert acc.system_power_w == watts
            assert "Patterson et al. 2021 Table 3" in acc.system_power_source
    measured = {a.name for a in accs.values() if a.system_power_basis == "measured"}
    assert measured == {n for names in MEASURED_ROWS.values() for n in names}


def test_the_factor_is_the_mean_measured_over_tdp_ratio() -> None:
    accs = catalog_accelerators()
    published = table3()
    ratios = [published[p] / accs[names[0]].tdp_w for p, names in MEASURED_ROWS.items()]
    assert factor() == round(statistics.fmean(ratios), 3)
    rule = defaults()[RULE]
    assert "Patterson et al. 2021 Table 3" in rule.source and rule.year
    for processor, names in MEASURED_ROWS.items():  # the derivation is written out
        tdp = accs[names[0]].tdp_w
        assert f"{processor} {published[processor]:g}/{tdp:g}" in rule.source


def test_derived_figures_are_chip_power_times_the_factor() -> None:
    derived = [a for a in catalog_accelerators().values()
               if a.system_power_basis.startswith("derived from ")]
    assert len(derived) > 20
    for acc in derived:
        assert acc.system_power_from_w, acc.name
        assert acc.system_power_w == pytest.approx(round(acc.system_power_from_w * factor(), 1))
        if acc.tdp_w:
            assert acc.system_power_basis == "derived from TDP"
            assert acc.system_power_from_w == acc.tdp_w
        assert acc.system_power_source and acc.system_power_year, acc.name
    # no figure on another basis is left: nothing ships a bare TDP as its power
    for acc in catalog_accelerators().values():
        if acc.tdp_w and acc.system_power_basis != "measured":
            assert acc.power().value != acc.tdp_w, acc.name


def test_an_accelerator_given_only_a_tdp_is_derived_by_the_same_rule() -> None:
    acc = greenml.Accelerator(name="MI355X", tdp_w=1400, source="AMD data sheet", year="2025")
    power = acc.power()
    assert power.value == pytest.approx(round(1400 * factor(), 1))
    assert "derived from TDP 1400 W" in power.note and RULE in power.note
    assert acc.power_basis == "derived from TDP"
    assert greenml.Accelerator(name="none").power() is None


def test_explain_names_the_power_basis() -> None:
    job = greenml.Job(accelerator="TPU-v3", count=8, hours=10)
    result = greenml.estimate(job, pue=1.1, intensity=100)
    power = next(f for f in result.inputs if f.name == "power_w")
    assert power.value == table3()["TPU v3"] and "measured" in power.note
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72))
    for option in plan.options[:20]:
        text = option.explain()
        assert "average system power per processor" in text
        assert option.accelerator.system_power_basis in text


def test_pcie_parts_say_their_runtime_assumes_the_sxm_peak() -> None:
    """A100 PCIe has the SXM part's datasheet peak at a lower TDP: its power is lower by the
    TDP ratio (one factor for all), so its option must say what its runtime assumes."""
    accs = catalog_accelerators()
    sxm, pcie = accs["A100"], accs["A100-80GB-PCIe"]
    assert pcie.dense_tflops == sxm.dense_tflops and pcie.tdp_w < sxm.tdp_w
    assert pcie.system_power_w / sxm.system_power_w == pytest.approx(pcie.tdp_w / sxm.tdp_w,
                                                                     rel=1e-3)
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72))
    by_acc: dict[str, list[greenml.Option]] = {}
    for option in plan.options:
        by_acc.setdefault(option.accelerator.name, []).append(option)
    assert "A100-80GB-PCIe" in by_acc and "A100" in by_acc
    for option in by_acc["A100-80GB-PCIe"]:
        assert any(f"assumes the SXM peak ({sxm.dense_tflops:g} TFLOPS)" in n
                   for n in option.notes)
    for option in by_acc["A100"] + by_acc.get("A100-80GB", []):
        assert not any("assumes the SXM peak" in n for n in option.notes)


def test_nvl_parts_scale_by_their_own_datasheet_peak() -> None:
    plan = greenml.plan(greenml.Job(accelerator="H100", count=8, hours=72))
    nvl = [o for o in plan.options if o.accelerator.name == "H100-NVL"]
    assert nvl
    ref = catalog_accelerators()["H100"]
    for option in nvl:
        assert option.estimate.hours == pytest.approx(
            72 * ref.dense_tflops / option.accelerator.dense_tflops)
        assert any("assumes its datasheet peak" in n for n in option.notes)


@pytest.mark.parametrize("name", ["RTX-PRO-6000", "Qualcomm-AI100", "B300", "TPU-v4"])
def test_newly_covered_parts_appear_in_a_plan(name: str) -> None:
    plan = greenml.plan(greenml.Job(accelerator=name, count=8, hours=10))
    options = [o for o in plan.options if o.accelerator.name == name]
    assert options
    acc = catalog_accelerators()[name]
    assert acc.system_power_basis.startswith("derived from ")
    assert all(o.estimate.power_w == acc.system_power_w for o in options)


def test_a_part_without_a_figure_is_excluded_with_the_reason() -> None:
    with pytest.raises(greenml.NoFeasibleOption) as caught:
        greenml.plan(greenml.Job(accelerator="TPU-v5e", count=8, hours=10))
    reasons = [str(e) for e in caught.value.excluded]
    assert reasons
    assert all("no published power figure for TPU-v5e" in r for r in reasons)
    assert all("Google publishes no chip power figure" in r for r in reasons)


def doc_section(heading: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, heading
    return match.group(1)


def table_rows(section: str) -> list[list[str]]:
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_the_docs_table_matches_the_csv() -> None:
    rows = [row for _, _, row in datafiles.rows("greenml.data", "accelerators.csv")]
    expected = [[r["name"], r["system_power_w"],
                 r["system_power_basis"] or "none: excluded from plans",
                 r["system_power_from_w"], r["system_power_source"], r["system_power_year"]]
                for r in rows]
    assert table_rows(doc_section("Figures")) == expected


def test_the_docs_calibration_matches_the_data() -> None:
    rows = table_rows(doc_section("The rule"))
    published = table3()
    accs = catalog_accelerators()
    by_processor = {r[0]: r for r in rows}
    for processor, names in MEASURED_ROWS.items():
        row = by_processor[processor]
        assert row[1] == names[0]
        assert float(row[2]) == published[processor]
        assert float(row[3]) == accs[names[0]].tdp_w
    assert by_processor["**mean**"][4] == f"**{factor():.3f}**"
    assert f"system power = **{factor():.3f}** x the published chip power" in \
        doc_section("The rule").replace("\n", " ")


def test_the_cli_lists_the_basis() -> None:
    out = subprocess.run([sys.executable, "-m", "greenml.cli", "accelerators"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    lines = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    assert "measured" in lines["TPU-v3"]
    assert "derived from TDP" in lines["H100"]
    assert " none " in lines["TPU-v5e"]
