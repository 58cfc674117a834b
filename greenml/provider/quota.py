"""A GPU quota as a provider reads it from its cloud, in accelerators: the value a provider
author returns from ``quotas()`` and ``greenml quotas`` turns into fleet limits."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Quota:
    """One GPU quota in accelerators: at most ``limit`` accelerators of ``accelerator`` (a
    family such as ``A100``, or an accelerator's own name such as ``A100-80GB``) at once in
    ``region`` of ``provider``; ``region`` and ``accelerator`` both "" is the provider's
    total over all regions and kinds (Compute Engine's ``GPUS_ALL_REGIONS``).

    ``used``: accelerators in use now, where the platform says (None: it does not).
    ``spot``: the quota for spot / preemptible capacity, which clouds count separately.
    ``source``: where the number came from, e.g. ``"AWS Service Quotas L-417A185B (Running
    On-Demand P instances: 384 vCPUs; p4d.24xlarge: 96 vCPUs, 8 A100)"``.
    """

    provider: str
    region: str
    accelerator: str
    limit: int
    used: int | None = None
    spot: bool = False
    source: str = ""

    @property
    def key(self) -> str:
        """The ``[limits]`` key: ``provider/region/accelerator``, or the provider alone."""
        if not self.region and not self.accelerator:
            return self.provider
        return f"{self.provider}/{self.region}/{self.accelerator}"

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)
