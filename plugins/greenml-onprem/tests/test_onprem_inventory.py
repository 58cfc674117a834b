"""The inventory file: what it accepts, and errors that name the file, the line and the field.

None of these needs a cluster: a malformed file is refused before any SLURM command runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from greenml_onprem import batch, inventory, jobs
from greenml_onprem.cluster import parse_gres, usable
from greenml_onprem.settings import OnPremSettings
from onprem_sites import site, write

import greenml
from greenml.provider import parse_settings
from greenml.testing import run_cli

DOCS_EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "onprem-inventory.toml"


def test_the_documented_example_parses() -> None:
    parsed = inventory.load(DOCS_EXAMPLE)
    assert [s.name for s in parsed.sites] == ["campus-hpc", "lab-cluster"]
    first = parsed.sites[0]
    assert (first.country, first.pue, first.grid_zone) == ("FI", 1.2, "FI")
    assert dict(first.gres_types)["a100"] == "A100"


def test_a_valid_site_keeps_every_figure_with_its_source(tmp_path) -> None:
    conf = tmp_path / "slurm.conf"
    conf.write_text("# not read by this test\n")
    path = write(tmp_path / "inv.toml", site("campus", "slurm.conf", partitions=["gpu"],
                                             gres_types={"a100": "A100"}))
    [parsed] = inventory.load(path).sites
    assert parsed.slurm_conf == str(conf)  # relative to the inventory file
    assert (parsed.pue, parsed.pue_source, parsed.pue_year) == (1.2, "test facility metering",
                                                                 "2024")
    assert parsed.grid_zone == "FI"
    assert parsed.partitions == ("gpu",) and parsed.gres_types == (("a100", "A100"),)


def bad(tmp_path: Path, text: str) -> str:
    path = tmp_path / "inv.toml"
    path.write_text(text)
    with pytest.raises(greenml.CatalogError) as info:
        inventory.load(path)
    return str(info.value).replace(str(path), "FILE")


def line(text: str, content: str, nth: int = 1) -> int:
    """The 1-based number of the ``nth`` line of ``text`` that is ``content``."""
    numbers = [n for n, x in enumerate(text.splitlines(), 1) if x == content]
    return numbers[nth - 1]


def test_a_figure_out_of_range_names_file_line_and_field(tmp_path) -> None:
    text = site("ok", None) + site("campus", None).replace("pue = 1.2", "pue = 0.9")
    assert bad(tmp_path, text) == (f"FILE:{line(text, 'pue = 0.9')}: sites[1].pue: must be a "
                                   "number >= 1 and <= 3 (max_pue in greenml/data/defaults.csv)"
                                   ", got 0.9")


@pytest.mark.parametrize(("replace", "by", "field", "reason"), [
    ("pue = 1.2", "pue = 3.5", "pue", "must be a number >= 1 and <= 3 (max_pue"),
    ("pue = 1.2", "pue = 1e300", "pue", "must be a number >= 1 and <= 3 (max_pue"),
    ("pue = 1.2", "pue = nan", "pue", "must be a number >= 1 and <= 3"),
    ('grid_zone = "FI"', 'grid_zone = "Finland"', "grid_zone",
     "must be an Electricity Maps zone id of electricitymaps-2025, such as \"FI\" or "
     "\"SE-SE3\", got 'Finland'"),
    ('grid_zone = "FI"', 'grid_zone = "SE-SE9"', "grid_zone",
     "must be an Electricity Maps zone id of electricitymaps-2025, such as \"FI\" or "
     "\"SE-SE3\", got 'SE-SE9' (did you mean 'SE-SE4', 'SE-SE3', 'SE-SE2'?)"),
    ('country = "FI"', 'country = "XX"', "country",
     "must be an ISO 3166-1 alpha-2 code such as \"FI\", got 'XX'"),
    ('country = "FI"', 'country = "Sweden"', "country",
     "must be an ISO 3166-1 alpha-2 code such as \"FI\", got 'Sweden' (did you mean 'SE'?)"),
    ("usd_per_accelerator_hour = 0.75", "usd_per_accelerator_hour = 1e300",
     "usd_per_accelerator_hour", "must be a number > 0 and <= 1000 "
     "(max_usd_per_accelerator_hour"),
])
def test_absurd_figures_and_unknown_countries_are_refused(tmp_path, replace, by, field,
                                                          reason) -> None:
    text = site("ok", None) + site("campus", None).replace(replace, by)
    assert bad(tmp_path, text).startswith(f"FILE:{line(text, by)}: sites[1].{field}: {reason}")


def test_the_bounds_come_from_the_documented_data_file(tmp_path) -> None:
    from greenml.datafiles import defaults

    bounds = defaults()
    for name in ("max_pue", "max_usd_per_accelerator_hour"):
        assert bounds[name].source and bounds[name].year, name
    most = bounds["max_pue"].value
    parsed = inventory.parse(site("edge", None).replace("pue = 1.2", f"pue = {most}"),
                             tmp_path / "x.toml")
    assert parsed.sites[0].pue == most
    assert inventory.parse(site("lower", None).replace('"FI"', '"fi"'),
                           tmp_path / "x.toml").sites[0].country == "FI"


def test_a_missing_field_points_at_its_site(tmp_path) -> None:
    text = site("ok", None) + site("campus", None).replace('pue_source = "test facility '
                                                            'metering"\n', "")
    assert bad(tmp_path, text).startswith(
        f"FILE:{line(text, '[[sites]]', 2)}: sites[1].pue_source: missing")


def test_syntax_errors_unknown_fields_and_wrong_types(tmp_path) -> None:
    def where(text: str, content: str, nth: int = 1) -> tuple[str, str]:
        return bad(tmp_path, text), f"FILE:{line(text, content, nth)}: "

    assert bad(tmp_path, '[[sites]]\nname = "a"\npue = \n').startswith(
        "FILE:3:7: invalid TOML: Invalid value")
    text = site("a", None).replace("pue_year", "pue_yaer")
    message, at = where(text, 'pue_yaer = "2024"')
    assert message == at + "sites[0].pue_yaer: unknown field (did you mean 'pue_year'?)"
    message, at = where(site("a", None).replace('"FI"', '"Finland"'), 'country = "Finland"')
    assert message.startswith(at + "sites[0].country: must be an ISO 3166-1 alpha-2 code")
    message, at = where(site("a", None).replace("pue = 1.2", 'pue = "1.2"'), 'pue = "1.2"')
    assert message.startswith(at + "sites[0].pue: must be a number")
    message, at = where(site("a", None) + site("a", None), 'name = "a"', 2)
    assert message == at + "sites[1].name: site 'a' is already sites[0]"
    message, at = where(site("a", None, partitions="gpu"), 'partitions = "gpu"')
    assert message.startswith(at + "sites[0].partitions: must be a list of names")
    message, at = where(site("a", None, gres_types={"a100": 3}), '"a100" = 3')
    assert message.startswith(at + "sites[0].gres_types.a100: must be a greenml accelerator")
    nope = tmp_path / "nope.conf"
    message, at = where(site("a", nope), f'slurm_conf = "{nope}"')
    assert message.startswith(at + "sites[0].slurm_conf: no such file")
    assert bad(tmp_path, "version = 1\n") == "FILE:1: version: unknown field"


def test_a_site_needs_a_grid_zone_and_may_not_bring_its_own_figure(tmp_path) -> None:
    text = site("a", None).replace('grid_zone = "FI"\n', "")
    assert bad(tmp_path, text).startswith(
        "FILE:1: sites[0].grid_zone: missing: the site's Electricity Maps zone id")
    for field in ("intensity_source", "carbon_source"):
        text = site("a", None, **{field: "electricitymaps"})
        assert f"sites[0].{field}: no longer read" in bad(tmp_path, text)


def test_no_inventory_means_no_onprem_regions_and_no_error(clean_env) -> None:
    provider = greenml.default_catalog().providers["onprem"]
    assert provider.regions() == () and provider.offers() == ()
    assert "onprem" not in greenml.default_catalog().provider_names()
    ok, why = provider.check_credentials()
    assert not ok and "GREENML_ONPREM_INVENTORY" in why


def test_an_inventory_named_by_the_environment_must_exist(clean_env, monkeypatch) -> None:
    monkeypatch.setenv(inventory.ENV_PATH, str(clean_env / "typo.toml"))
    with pytest.raises(greenml.CatalogError, match="typo.toml: no such inventory file"):
        inventory.load()


def test_the_default_inventory_lives_in_the_user_config_dir(clean_env) -> None:
    path = clean_env / "config" / "greenml" / "onprem.toml"
    assert inventory.default_path() == path
    path.parent.mkdir(parents=True)
    write(path, site("campus", None))
    assert [s.name for s in inventory.load().sites] == ["campus"]


@pytest.mark.parametrize("where", [["--provider", "onprem"], [], ["--provider", "aws"]])
def test_cli_reports_a_malformed_inventory_in_one_line(clean_env, monkeypatch, where) -> None:
    """Whenever the inventory is read, a malformed one exits 2 naming file, line and field:
    also from a plain plan and one narrowed to a cloud, never dropped as "excluded"."""
    path = write(clean_env / "inv.toml", site("campus", None).replace("pue = 1.2", "pue = 0.5"))
    monkeypatch.setenv(inventory.ENV_PATH, str(path))
    result = run_cli("plan", "--accelerator", "A100", "--count", "2", "--hours", "1", *where)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    number = path.read_text().splitlines().index("pue = 0.5") + 1
    assert result.stderr == (f"greenml: error: {path}:{number}: sites[0].pue: must be a number "
                             ">= 1 and <= 3 (max_pue in greenml/data/defaults.csv), got 0.5\n")


def test_every_command_that_reads_the_inventory_exits_2(clean_env, monkeypatch) -> None:
    path = write(clean_env / "inv.toml", site("campus", None).replace('"FI"', '"XX"'))
    monkeypatch.setenv(inventory.ENV_PATH, str(path))
    for command in (["regions"], ["regions", "--provider", "onprem", "--json"],
                    ["launch", "--accelerator", "A100", "--hours", "1", "--name", "x1",
                     "--run", "true", "--dry-run"]):
        result = run_cli(*command)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith(f"greenml: error: {path}:") and "sites[0].country" in (
            result.stderr), command
    with pytest.raises(greenml.CatalogError, match="sites.0..country: must be an ISO"):
        greenml.plan(greenml.Job(accelerator="A100", hours=1))


def test_gres_strings_as_sinfo_prints_them() -> None:
    assert parse_gres("gpu:a100:2(S:0)") == {"a100": 2}
    assert parse_gres("gpu:a100:2(S:0-1),gpu:v100:1(S:0,1),mps:100") == {"a100": 2, "v100": 1}
    assert parse_gres("gpu:4") == {"": 4}
    assert parse_gres("gpu:tesla:no_consume:8") == {"tesla": 8}
    assert parse_gres("(null)") == {} and parse_gres("") == {}
    assert usable("idle") and usable("mixed") and usable("allocated")
    assert not usable("down*") and not usable("drained") and not usable("idle*")


def test_time_limit_adds_the_margin_and_at_least_ten_minutes() -> None:
    def settings(**values: str) -> OnPremSettings:
        return parse_settings(OnPremSettings, values, provider="onprem")

    assert jobs.time_limit_minutes(10, settings()) == 660
    assert jobs.time_limit_minutes(0.5, settings()) == 40
    assert jobs.time_limit_minutes(1, settings(time_margin="0.5")) == 90
    assert jobs.time_limit_minutes(1, settings(time_margin_min_minutes="0")) == 66
    with pytest.raises(greenml.InputError, match="time_margin: must be a number >= 0, got 'lots'"):
        settings(time_margin="lots")


def test_the_batch_script_runs_the_command_verbatim(tmp_path) -> None:
    """Outside an srun gang (one task): rank 0 of 1, the command verbatim through bash -lc,
    then its exit code as the last line of the output."""
    command = ("""echo "$HOME"; touch 'a b' && rm -rf /nonexistent | cat; """
               'echo "$GREENML_NODE_RANK/$GREENML_NUM_NODES $NODE_RANK/$WORLD_SIZE '
               '$MASTER_PORT $GREENML_ACCELERATORS_PER_NODE"; exit 7')
    script = batch.batch_script(command, accelerators_per_node=4)
    assert script.startswith("#!/bin/bash\n")
    [line] = [line for line in script.splitlines() if line.startswith("greenml_run=")]
    assert shlex.split(line) == [f"greenml_run={command}"]  # one quoted word
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 7, done.stderr
    assert done.stdout == f"{os.environ['HOME']}\n0/1 0/1 29500 4\ngreenml-exit=7\n"
    assert (tmp_path / "a b").exists()


def test_begin_only_for_a_later_start() -> None:
    class Later:
        start = datetime.now(timezone.utc) + timedelta(hours=3)

    class Option:
        schedule = Later()

    class Now:
        start = datetime.now(timezone.utc)

    class Soon:
        schedule = Now()

    expected = Later.start.astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    assert jobs.begin_time(Option()) == expected
    assert jobs.begin_time(Soon()) is None
    assert jobs.begin_time(object()) is None  # an Option from before time shifting


def test_the_inventory_shown_in_the_docs_parses() -> None:
    text = (DOCS_EXAMPLE.parents[1] / "onprem.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        parsed = inventory.parse(block, Path("docs/onprem.md"))
        assert parsed.sites and all(s.pue >= 1 for s in parsed.sites)


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "1e400", "0"])
def test_a_malformed_timeout_variable_exits_2_naming_it(clean_env, monkeypatch, value) -> None:
    """Read before any SLURM command runs: no cluster needed, and never "excluded"."""
    conf = clean_env / "slurm.conf"
    conf.write_text("# not read: the timeout is checked first\n")
    monkeypatch.setenv(inventory.ENV_PATH, str(write(clean_env / "inv.toml",
                                                     site("campus", conf))))
    result = run_cli("plan", "--accelerator", "A100", "--count", "2", "--hours", "1",
                     env={"GREENML_ONPREM_TIMEOUT_S": value})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ("greenml: error: GREENML_ONPREM_TIMEOUT_S: must be a positive "
                             f"number of seconds, got '{value}'\n")
