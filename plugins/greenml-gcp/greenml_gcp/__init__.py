"""greenml provider for Google Cloud: Compute Engine regions, GPU and TPU offers.

GPU prices are published in parts (host VM, GPUs); the catalog composes full VM prices and
says so in each offer's ``price_basis``. google-cloud-compute is imported only to launch.
"""

from __future__ import annotations

import greenml


class GCP(greenml.CatalogProvider):
    """Google Cloud Platform (Compute Engine, Cloud TPU)."""

    name = "gcp"
    display_name = "Google Cloud"
    data_package = "greenml_gcp.data"


@greenml.hookimpl
def greenml_providers() -> list[greenml.Provider]:
    return [GCP()]
