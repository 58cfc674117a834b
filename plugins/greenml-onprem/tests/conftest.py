"""On-prem tests: a real single-node SLURM cluster (slurm_cluster.py) for the whole session.

Tests that need it take the ``slurm`` fixture (skipped with the reason where SLURM cannot
run); ``onprem`` gives each test a fresh ledger and plugin manager and an inventory writer.
"""

from __future__ import annotations

import os

import pytest
from onprem_sites import site, write
from slurm_cluster import SlurmCluster, Unavailable

import greenml


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except Unavailable as why:
        pytest.skip(str(why))
    yield cluster
    cluster.stop()


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """A ledger in tmp_path, no user inventory, fast retries, plugins loaded afresh."""
    monkeypatch.setenv("GREENML_LEDGER", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("GREENML_RETRY_BASE_DELAY_S", "0.01")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("GREENML_ONPREM_INVENTORY", raising=False)
    monkeypatch.delenv("SLURM_CONF", raising=False)
    greenml.registry.reset()
    yield tmp_path
    greenml.registry.reset()


@pytest.fixture
def onprem(slurm, clean_env, monkeypatch):
    """One site, ``campus``, on the test cluster; the inventory is ``onprem.inventory``."""

    class Setup:
        cluster = slurm
        tmp = clean_env
        inventory = clean_env / "onprem.toml"

        def write(self, *sites: str):
            write(self.inventory, *sites)
            greenml.registry.reset()
            return self.inventory

    setup = Setup()
    setup.write(site("campus", slurm.conf))
    monkeypatch.setenv("GREENML_ONPREM_INVENTORY", str(setup.inventory))
    yield setup
    slurm.run("scancel", f"--user={os.getuid()}")
