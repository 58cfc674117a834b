"""A plan and a report in Jupyter (``_repr_html_``): the table a parser reads back matches the
figures ``to_dict()`` holds, the chart is inline SVG where matplotlib is installed and a line
saying how to install it where it is not, every name is escaped, and ``repr`` stays short."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser

import pytest

import greenml
from greenml import Catalog, Job
from greenml.measure import records
from greenml.measure.report import Report, reconcile
from greenml.plan.statement import number
from greenml.testing import accelerator, offer, region

CHARTS_HINT = "pip install 'greenml[charts]'"


class Page(HTMLParser):
    """The tables (caption, rows of cell texts), paragraphs and list items of a page, and
    how often each tag opens."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.paragraphs: list[str] = []
        self.items: list[str] = []
        self.opened: dict[str, int] = {}
        self._text: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.opened[tag] = self.opened.get(tag, 0) + 1
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th", "caption", "p", "li"):
            self._text = []

    def handle_data(self, data) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag) -> None:
        if self._text is None or tag not in ("td", "th", "caption", "p", "li"):
            return
        text, self._text = "".join(self._text), None
        if tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append(text)
        elif tag == "caption":
            self.tables[-1]["caption"] = text
        else:
            (self.paragraphs if tag == "p" else self.items).append(text)


def figure(cell: str) -> float:
    return float(cell.replace(",", ""))


def catalog(region_name: str = "north-1", provider: str = "alpha") -> Catalog:
    """Twelve offers over two providers, so the notebook shows ten of them."""
    regions = [region(provider, region_name, "SE", 20.0, 1.1), region("beta", "west-1", "FR",
                                                                      60.0, 1.15)]
    offers = [offer(r.provider, r.name, f"a100x{n}", "A100", n, 4.0 * n + i, 1.5 * n)
              for i, r in enumerate(regions) for n in (1, 2, 4, 8, 16, 32)]
    return Catalog(regions, offers, [accelerator("A100", 400, 312)])


def report_of(plan: greenml.Plan) -> Report:
    """The plan's best option reconciled with a sampler record of its eight GPUs."""
    record = {"greenml_measure": 1, "started_at": "2026-05-01T10:00:00Z", "hours": 9.0,
              "devices": [{"id": f"gpu{i}", "kind": "gpu", "name": "A100",
                           "method": "nvml-energy-counter", "kwh": 2.5, "hours": 9.0,
                           "samples": 32400, "gap_s": 0} for i in range(8)],
              "trace": [[0, 2000.0], [16200, 2300.0], [32400, 2100.0]]}
    measurement = records.from_records([record], "greenml sampler record run.json")
    return Report(reconcile("bert", plan.best.to_dict(), measurement))


def test_the_plan_s_table_is_its_top_ten_options_with_their_figures() -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=10), catalog=catalog())
    assert len(plan) > 10
    page = Page(plan._repr_html_())
    [table] = page.tables
    header, *rows = table["rows"]
    assert header == ["#", "provider", "region", "location", "instances", "accelerators",
                      "hours", "kWh", "kg CO2e", "USD", "g/kWh", "PUE"]
    options = plan.to_dict(top=10)["options"]
    assert len(rows) == len(options) == 10 and page.opened["tr"] == 11
    for cells, o in zip(rows, options, strict=True):
        rank = f"{o['rank']}{'*' if o['pareto'] else ''}"
        assert cells[0] == (f"{rank} (chosen)" if o["rank"] == 1 else rank)
        assert cells[1:3] == [o["provider"], o["region"]]
        assert cells[4] == f"{o['instances']} x {o['instance_type']}"
        assert cells[5] == f"{o['instances'] * o['accelerators_per_instance']} x A100"
        assert figure(cells[6]) == pytest.approx(o["hours"], abs=0.05)
        assert figure(cells[7]) == pytest.approx(o["energy_kwh"], abs=0.5)
        assert figure(cells[8]) == pytest.approx(o["co2e_kg"], abs=0.05)
        assert figure(cells[9]) == pytest.approx(o["cost_usd"], abs=0.5)
        assert figure(cells[10]) == o["intensity"]["g_per_kwh"]
    assert sum("(chosen)" in r[0] for r in rows) == 1
    assert "* on the Pareto front" in table["caption"] and "first 10 of" in table["caption"]
    assert "\n" not in repr(plan) and len(repr(plan)) < 80


def test_the_report_s_table_is_planned_against_measured_with_sources() -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=10), catalog=catalog())
    done = report_of(plan)
    facts = done.to_dict()
    page = Page(done._repr_html_())
    [table] = page.tables
    header, *rows = table["rows"]
    assert header == ["item", "planned", "measured", "source"]
    by_item = {r[0]: r[1:] for r in rows}
    p, a = facts["planned"], facts["actual"]
    assert by_item["emissions"][:2] == [f"{number(p['co2e_kg'])} kg CO2e",
                                        f"{number(a['co2e_kg'])} kg CO2e"]
    assert by_item["runtime"][:2] == [f"{number(p['hours'])} h", "9.00 h"]
    assert by_item["IT energy"][1].startswith(f"{number(a['it_kwh'])} kWh")
    assert by_item["grid intensity"][2] == facts["sources"]["intensity"]
    assert by_item["PUE"] == [f"{facts['pue']:g}", f"{facts['pue']:g}", facts["sources"]["pue"]]
    assert table["caption"] == "Emissions report for bert (measured)"
    assert page.items == facts["explanation"]
    assert "\n" not in repr(done) and len(repr(done)) < 80


def test_the_chart_is_inline_svg_where_matplotlib_is_installed() -> None:
    pytest.importorskip("matplotlib")
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=10), catalog=catalog())
    for page in (plan._repr_html_(), report_of(plan)._repr_html_()):
        assert page.count("<svg") == 1 and "<?xml" not in page and "<!DOCTYPE" not in page
        assert page.index("</table>") < page.index("<svg")
        assert CHARTS_HINT not in page


SCRIPT = """
import json, sys
sys.modules["matplotlib"] = None  # as if greenml[charts] were not installed
sys.path.insert(0, {tests!r})
import greenml
from test_html_repr import catalog, report_of

plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10), catalog=catalog())
repr(plan), str(plan)
loaded = "greenml.plan.html" in sys.modules
print(json.dumps({{"loaded_by_planning": loaded, "plan": plan._repr_html_(),
                  "report": report_of(plan)._repr_html_()}}))
"""


def test_without_matplotlib_the_table_comes_with_how_to_install_the_chart() -> None:
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=tests)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["loaded_by_planning"] is False
    for name in ("plan", "report"):
        page = Page(out[name])
        assert "<svg" not in out[name] and len(page.tables) == 1
        assert page.paragraphs[-1] == f"For the chart: {CHARTS_HINT}"


def test_every_name_is_escaped() -> None:
    name, provider = "<b>north</b>-1", "alpha&<i>"
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=10),
                        catalog=catalog(name, provider))
    assert plan.best.region.name == name
    for text in (plan._repr_html_(), report_of(plan)._repr_html_()):
        head = text[:text.find("<svg")] if "<svg" in text else text
        assert "<b>" not in head and "<i>" not in head and "&lt;b&gt;north&lt;/b&gt;-1" in head
        page = Page(head)
        cells = [c for t in page.tables for r in t["rows"] for c in r]
        assert name in cells or any(name in p for p in page.paragraphs)
    plan_cells = Page(plan._repr_html_()).tables[0]["rows"][1]
    assert plan_cells[1:3] == [provider, name]
