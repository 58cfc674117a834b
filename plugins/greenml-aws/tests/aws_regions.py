"""The AWS regions the tests' A100 plan walks first, greenest first (from the embedded data)."""

REGIONS = ["eu-north-1", "ca-central-1", "sa-east-1", "us-west-2", "eu-west-2", "eu-west-1",
           "eu-central-1"]
