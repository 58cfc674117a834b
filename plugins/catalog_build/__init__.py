"""The pieces greenml's catalog builders share (standard library only, no network).

Every plugin whose catalog ships as package data owns its builder
(``plugins/greenml-<p>/build_catalog.py``): which regions, which offers, how a price is
composed. What those builders have in common lives here, so that one rule (a CSV's
formatting, a region's PUE, an offer's key) is written once:

* ``common``: reading the shared reference data, CSV and text writing, number formatting,
  the ``--shared PATH`` argument;
* ``regions`` and ``offers``: the rows of a plugin's ``regions.csv`` and ``offers.csv``, the
  filters that drop rows (with the reason logged) and the consistency checks;
* ``plugin``: a plugin's builder as data (``ProviderBuilder``), building and writing its
  files, the compiled ``offers.columns.json``, and its command line.

``accelerators``, ``countries`` and ``docs_page`` build greenml's core data and its docs page;
only ``plugins/build_catalogs.py`` uses them. It builds the core data, then runs every
plugin's builder, then writes the docs.
"""
