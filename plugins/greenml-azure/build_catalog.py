#!/usr/bin/env python3
"""Build greenml-azure's catalog (greenml_azure/data) from the shared reference data.

Usage::

    python plugins/greenml-azure/build_catalog.py [--shared PATH] [--data FOLDER]

Writes ``regions.csv``, ``offers.csv`` and ``offers.columns.json`` into FOLDER (default: the
package's data folder) and nothing else; ``plugins/build_catalogs.py`` runs it after building
greenml's core data. The rules every plugin shares (PUE, grid zones, whole accelerators, the
checks) are in ``plugins/catalog_build``; Azure's own choices are here:

* Regions: the 68 Azure regions of ``cloud_regions.csv``; fleet PUE 1.185 (Microsoft's
  trailing-twelve-month statement; the 1.12 of 2022 is a design target); ``GRID_ZONES`` maps
  each location to an Electricity Maps zone id, sub-national where Electricity Maps splits
  the grid.
* Offers: ``vm_total`` rows of ``instance_types.csv`` as they are, spot prices where listed.
* Variants: the catalogue names only the family for A100 and H100 rows, so a rule per
  instance type picks the variant (NC A100 v4 = A100 80GB PCIe, ND96amsr A100 v4 = A100 80GB
  SXM4, ND96asr v4 = A100 40GB SXM4, NC/NCC H100 v5 = H100 NVL, ND H100 v5 = H100 SXM5); an
  A100 or H100 instance no rule covers is an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # plugins/, where the shared catalog_build lives
    sys.path.insert(0, str(HERE.parent))

from catalog_build.common import BuildLog, Sources  # noqa: E402
from catalog_build.offers import AcceleratorNames, offer, provider_rows  # noqa: E402
from catalog_build.plugin import ProviderBuilder, main  # noqa: E402

GRID_ZONES = {
    "australiacentral": "AU-NSW", "australiacentral2": "AU-NSW",
    "australiaeast": "AU-NSW", "australiasoutheast": "AU-VIC", "austriaeast": "AT",
    "belgiumcentral": "BE", "brazilsouth": "BR-CS", "brazilsoutheast": "BR-CS",
    "canadacentral": "CA-ON", "canadaeast": "CA-QC", "centralindia": "IN-WE",
    "centralus": "US-MIDW-MISO", "chilecentral": "CL-SEN", "denmarkeast": "DK-DK2",
    "eastasia": "HK", "eastus": "US-MIDA-PJM", "eastus2": "US-MIDA-PJM",
    "eastus3": "US-SE-SOCO", "finlandcentral": "FI", "francecentral": "FR",
    "francesouth": "FR", "germanynorth": "DE", "germanywestcentral": "DE",
    "greececentral": "GR", "indiasouthcentral": "IN-SO", "indonesiacentral": "ID",
    "israelcentral": "IL", "italynorth": "IT-NO", "japaneast": "JP-TK",
    "japanwest": "JP-KN", "jioindiacentral": "IN-WE", "jioindiawest": "IN-WE",
    "koreacentral": "KR", "koreasouth": "KR", "malaysiawest": "MY-WM",
    "mexicocentral": "MX", "newzealandnorth": "NZ", "northcentralus": "US-MIDA-PJM",
    "northeurope": "IE", "norwayeast": "NO-NO1", "norwaywest": "NO-NO2",
    "polandcentral": "PL", "qatarcentral": "QA", "saudiarabiasouthcentral": "SA",
    "southafricanorth": "ZA", "southafricawest": "ZA", "southcentralus": "US-TEX-ERCO",
    "southeastasia": "SG", "southindia": "IN-SO", "spaincentral": "ES",
    "swedencentral": "SE-SE3", "swedensouth": "SE-SE4", "switzerlandnorth": "CH",
    "switzerlandwest": "CH", "taiwannorth": "TW", "uaecentral": "AE", "uaenorth": "AE",
    "uksouth": "GB", "ukwest": "GB", "usgovarizona": "US-SW-AZPS",
    "usgovtexas": "US-TEX-ERCO", "usgovvirginia": "US-MIDA-PJM",
    "westcentralus": "US-NW-WACM", "westeurope": "NL", "westindia": "IN-WE",
    "westus": "US-CAL-CISO", "westus2": "US-NW-GCPD", "westus3": "US-SW-AZPS",
}

# (instance-type regex, accelerator string in the source, canonical name)
INSTANCE_RULES = (
    (r"^Standard_NC\d+ads_A100_v4$", "A100-80GB", "A100-80GB-PCIe"),
    (r"^Standard_ND96amsr_A100_v4$", "A100-80GB", "A100-80GB"),
    (r"^Standard_ND96asr_v4$", "A100", "A100"),
    (r"^Standard_NCC?\d+adi?s_H100_v5$", "H100", "H100-NVL"),
    (r"^Standard_ND96isr_H100_v5$", "H100", "H100"),
)
# Source strings that name a family here: a rule above must decide the variant.
RULE_REQUIRED = frozenset({"A100", "A100-80GB", "H100"})


def azure_offers(src: Sources, names: AcceleratorNames, log: BuildLog) -> list[dict[str, str]]:
    """vm_total rows as they are (variant rules applied to the accelerator)."""
    return [offer(row, names(row["instance_type"], row["accelerator"]))
            for row in provider_rows(src, "azure", "vm_total")]


BUILDER = ProviderBuilder(
    provider="azure", label="Azure", data=HERE / "greenml_azure" / "data", expected_regions=68,
    expected_fleet_pue=1.185, grid_zones=GRID_ZONES, offers=azure_offers,
    rules=INSTANCE_RULES, rule_required=RULE_REQUIRED,
)

if __name__ == "__main__":
    sys.exit(main(BUILDER, __doc__))
