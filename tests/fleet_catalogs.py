"""Hand-built catalogs for the fleet tests: a few regions of known intensity and price."""

from __future__ import annotations

from datetime import datetime, timezone

from greenml import Catalog
from greenml.testing import accelerator, offer, region

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)


def small_catalog() -> Catalog:
    """Provider p: clean (10 g/kWh), mid (50), dirty (400); provider q: other (30). A100
    everywhere in 8s (A100 also in 16s in mid), H100 in clean and other."""
    regions = [region("p", "clean", "SE", 10), region("p", "mid", "FR", 50),
               region("p", "dirty", "PL", 400), region("q", "other", "NO", 30)]
    offers = [
        offer("p", "clean", "a8", "A100", 8, usd=40.0),
        offer("p", "mid", "a8", "A100", 8, usd=20.0),
        offer("p", "mid", "a16", "A100", 16, usd=38.0),
        offer("p", "dirty", "a8", "A100", 8, usd=10.0),
        offer("q", "other", "a8", "A100", 8, usd=30.0),
        offer("p", "clean", "h8", "H100", 8, usd=60.0),
        offer("q", "other", "h8", "H100", 8, usd=50.0),
    ]
    accelerators = [accelerator("A100", power_w=400, tflops=312),
                    accelerator("H100", power_w=700, tflops=989)]
    return Catalog(regions, offers, accelerators)


def tied_catalog() -> Catalog:
    """Two regions of the same intensity and PUE: their kg CO2e tie, their prices differ."""
    regions = [region("p", "north", "SE", 10), region("p", "south", "SE", 10)]
    offers = [offer("p", "north", "a8", "A100", 8, usd=50.0),
              offer("p", "south", "a8", "A100", 8, usd=30.0)]
    return Catalog(regions, offers, [accelerator("A100", power_w=400, tflops=312)])


def variant_catalog() -> Catalog:
    """The A100 family's two parts in a clean region (A100 and A100-80GB) and the 80 GB part
    in a dirty one: a limit on the part's own name is not the family's."""
    regions = [region("p", "clean", "SE", 10), region("p", "dirty", "PL", 400)]
    offers = [offer("p", "clean", "a8", "A100", 8, usd=40.0),
              offer("p", "clean", "b8", "A100-80GB", 8, usd=50.0),
              offer("p", "dirty", "b8", "A100-80GB", 8, usd=20.0)]
    accelerators = [accelerator("A100", power_w=400, tflops=312),
                    accelerator("A100-80GB", power_w=400, tflops=312, family="A100")]
    return Catalog(regions, offers, accelerators)
