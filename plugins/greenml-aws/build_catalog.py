#!/usr/bin/env python3
"""Build greenml-aws's catalog (greenml_aws/data) from the shared reference data.

Usage::

    python plugins/greenml-aws/build_catalog.py [--shared PATH] [--data FOLDER]

Writes ``regions.csv``, ``offers.csv`` and ``offers.columns.json`` into FOLDER (default: the
package's data folder) and nothing else; ``plugins/build_catalogs.py`` runs it after building
greenml's core data. The rules every plugin shares (PUE, grid zones, whole accelerators, the
checks) are in ``plugins/catalog_build``; AWS's own choices are here:

* Regions: the 34 AWS regions of ``cloud_regions.csv``; fleet PUE 1.14 (calendar 2025,
  Amazon's sustainability page); ``GRID_ZONES`` maps each location to an Electricity Maps
  zone id, sub-national where Electricity Maps splits the grid.
* Offers: priced ``vm_total`` rows of ``instance_types.csv``; the rows without a public
  on-demand price are skipped (and listed in the docs); no spot price (no source gives one).
* Variants: p4d = A100 40GB SXM4, p4de = A100 80GB SXM4.
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
    "us-east-1": "US-MIDA-PJM", "us-east-2": "US-MIDA-PJM", "us-west-1": "US-CAL-CISO",
    "us-west-2": "US-NW-BPAT", "us-gov-east-1": "US-MIDA-PJM",
    "us-gov-west-1": "US-NW-BPAT", "af-south-1": "ZA", "ap-east-1": "HK",
    "ap-south-1": "IN-WE", "ap-south-2": "IN-SO", "ap-southeast-1": "SG",
    "ap-southeast-2": "AU-NSW", "ap-southeast-3": "ID", "ap-southeast-4": "AU-VIC",
    "ap-southeast-5": "MY-WM", "ap-northeast-1": "JP-TK", "ap-northeast-2": "KR",
    "ap-northeast-3": "JP-KN", "ca-central-1": "CA-QC", "ca-west-1": "CA-AB",
    "cn-north-1": "CN", "cn-northwest-1": "CN", "eu-central-1": "DE",
    "eu-central-2": "CH", "eu-west-1": "IE", "eu-west-2": "GB", "eu-west-3": "FR",
    "eu-south-1": "IT-NO", "eu-south-2": "ES", "eu-north-1": "SE-SE3",
    "il-central-1": "IL", "me-south-1": "BH", "me-central-1": "AE", "sa-east-1": "BR-CS",
}

# (instance-type regex, accelerator string in the source, canonical name)
INSTANCE_RULES = (
    (r"^p4d\.", "A100", "A100"),
    (r"^p4de\.", "A100-80GB", "A100-80GB"),
)


def aws_offers(src: Sources, names: AcceleratorNames, log: BuildLog) -> list[dict[str, str]]:
    """Priced vm_total rows; rows without a public price are logged as skipped."""
    for row in provider_rows(src, "aws", "no public"):
        log.skipped.append(
            f"aws {row['instance_type']} ({row['accelerator']} x{row['accelerator_count']}): "
            f"{row['price_basis']}"
        )
    return [
        offer(row, names(row["instance_type"], row["accelerator"]), spot_usd_per_hour="")
        for row in provider_rows(src, "aws", "vm_total")
    ]


BUILDER = ProviderBuilder(
    provider="aws", label="AWS", data=HERE / "greenml_aws" / "data", expected_regions=34,
    expected_fleet_pue=1.14, grid_zones=GRID_ZONES, offers=aws_offers, rules=INSTANCE_RULES,
)

if __name__ == "__main__":
    sys.exit(main(BUILDER, __doc__))
