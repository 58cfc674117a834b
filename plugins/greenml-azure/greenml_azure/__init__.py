"""greenml provider for Microsoft Azure: regions and NC/ND-series GPU offers.

The Azure SDKs are imported only inside launch code.
"""

from __future__ import annotations

import greenml


class Azure(greenml.CatalogProvider):
    """Microsoft Azure (Virtual Machines)."""

    name = "azure"
    display_name = "Microsoft Azure"
    data_package = "greenml_azure.data"


@greenml.hookimpl
def greenml_providers() -> list[greenml.Provider]:
    return [Azure()]
