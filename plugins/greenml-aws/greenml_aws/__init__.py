"""greenml provider for AWS: EC2 regions and GPU/Trainium offers from package data.

Importing this module is cheap: boto3 is imported only inside launch code.
"""

from __future__ import annotations

import greenml


class AWS(greenml.CatalogProvider):
    """Amazon Web Services (EC2)."""

    name = "aws"
    display_name = "Amazon Web Services"
    data_package = "greenml_aws.data"


@greenml.hookimpl
def greenml_providers() -> list[greenml.Provider]:
    return [AWS()]
