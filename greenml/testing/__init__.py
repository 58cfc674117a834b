"""Public helpers for testing greenml and its plugins.

* value factories (``accelerator``, ``region``, ``offer``) whose figures all carry a test
  source, so a test double can never pass for real data;
* ``run_cli``, the installed ``greenml`` command in a subprocess;
* ``MemoryProvider``, a launching provider backed by ``MemoryCloud``, an in-process stand-in
  for a cloud API (idempotency tokens, tags, injected errors), so core and hook tests need no
  cloud; ``ProviderPlugin`` registers providers on the plugin manager;
* ``self_signed_certificate``, for serving a test double over HTTPS;
* ``Countdown``, when a test double's injected fault acts (skip some calls, hit some);
* ``check_provider`` (and ``provider_problems``, ``record_io``), the conformance kit of
  ``greenml.testing.conformance``: it checks a provider plugin against the contract
  in ``greenml.provider`` and raises one AssertionError listing every violation.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from greenml.accelerator import Accelerator
from greenml.hookspecs import hookimpl
from greenml.launch.types import (
    TAG_LAUNCH_ID,
    Failure,
    InstanceRequest,
    Journal,
    Resource,
)
from greenml.model import PUE, Intensity, Offer, Region
from greenml.provider import Capability, Provider
from greenml.testing.conformance import check_provider, provider_problems
from greenml.testing.conformance_io import record_io


def accelerator(name: str, power_w: float | None = 400, tflops: float | None = 312,
                memory_gb: float = 80, family: str = "", measured: bool = False) -> Accelerator:
    """An accelerator whose estimates use ``power_w`` as they are (its average system power,
    ``measured`` or a test figure; also its TDP unless measured) and a dense BF16 throughput."""
    return Accelerator(
        name=name, family=family, vendor="test", memory_gb=memory_gb,
        tdp_w=None if measured else power_w,
        system_power_w=power_w,
        system_power_basis="measured" if measured else "test figure",
        system_power_source="test measurement" if measured else "test datasheet",
        system_power_year="2024",
        dense_bf16_tflops=tflops, source="test datasheet", year="2024",
    )


def region(provider: str, name: str, country: str, g_per_kwh: float, pue: float = 1.1,
           zones: tuple[str, ...] = (), grid_zone: str | None = None) -> Region:
    """A region with a test PUE and a test annual-average grid intensity.

    ``g_per_kwh`` is what a hand-built ``Catalog`` plans with; a catalog built from plugins
    takes every region's figure from its dataset by ``grid_zone`` instead (default: the
    country's zone, or its first sub-national zone, e.g. ``SE-SE1``).
    """
    return Region(
        provider=provider, name=name, location=f"{name} city", country=country,
        pue=PUE(pue, "test PUE", "2024"),
        intensity=Intensity(g_per_kwh, "test grid", "2024"),
        zones=zones, grid_zone=country_zone(country) if grid_zone is None else grid_zone,
    )


def country_zone(country: str) -> str:
    """The Electricity Maps zone of a country, or its first sub-national zone ("" if none)."""
    from greenml import datasets

    zones = datasets.zone_names()
    if country.upper() in zones:
        return country.upper()
    return next((z for z in zones if z.startswith(f"{country.upper()}-")), "")


def offer(provider: str, region_name: str, instance_type: str, acc: str, per_instance: int,
          usd: float | None, spot: float | None = None) -> Offer:
    """An offer with test prices."""
    return Offer(
        provider=provider, region=region_name, instance_type=instance_type, accelerator=acc,
        accelerators_per_instance=per_instance, ondemand_usd_per_hour=usd,
        spot_usd_per_hour=spot, price_basis="test", price_source="test prices",
        price_date="2026-01-01",
    )


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """Run the installed ``greenml`` command in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    script = Path(sys.executable).parent / "greenml"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "greenml.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout)


def self_signed_certificate(directory: Path, name: str = "greenml test server"
                            ) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost that is its own CA, written to
    ``directory``: (cert.pem, key.pem). Trust the first (``SSL_CERT_FILE``, a CA bundle) to
    serve a local test double over HTTPS. Needs the ``cryptography`` package.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Countdown:
    """When a test double's injected fault acts: the first ``skip`` matching calls pass, the
    next ``remaining`` are hit (``None``: every one from then on).

    Mix it into a rule class (a dataclass, say) that has ``skip`` and ``remaining``
    attributes, and call ``take()`` once per matching call.
    """

    skip: int
    remaining: int | None

    def take(self) -> bool:
        """Count one matching call; True when the fault acts on it."""
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.remaining is None:
            return True
        if self.remaining > 0:
            self.remaining -= 1
            return True
        return False

    @property
    def spent(self) -> bool:
        return self.remaining == 0


# A provider for tests: a launching provider whose "cloud" lives in this process.


class ProviderPlugin:
    """A plugin object adding ``providers``; register it on
    ``greenml.registry.default().manager``."""

    def __init__(self, *providers: Provider) -> None:
        self.providers = providers

    @hookimpl
    def greenml_providers(self) -> list[Provider]:
        return list(self.providers)


class MemoryCloudError(Exception):
    """An error of the stand-in cloud, with a code as a cloud API would send."""

    def __init__(self, code: str, message: str = "", retry_after_s: float | None = None) -> None:
        self.code, self.retry_after_s = code, retry_after_s
        super().__init__(f"{code}: {message or code}")


class MemoryCloud:
    """An in-process stand-in for a cloud's instance API, honouring what real ones honour.

    A reused idempotency token returns the first instance (with other parameters it is an
    ``IdempotentParameterMismatch``), instances carry tags and are found by them, deleting a
    gone instance is ``NotFound``, and ``inject`` makes the next calls fail with a code
    (``Unauthorized``: refused credentials; ``Unreachable``: no answer; ``Throttled``,
    ``NoCapacity``, ``QuotaExceeded``, ``InstanceTypeUnavailable``: as a cloud says them).
    """

    def __init__(self) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._tokens: dict[str, str] = {}
        self._faults: list[tuple[str, str, str | None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def inject(self, call: str, code: str, times: int = 1, region: str | None = None) -> None:
        """Make the next ``times`` calls of ``call`` ("create", "delete", "find") fail."""
        with self._lock:
            self._faults += [(call, code, region)] * times

    def clear_faults(self) -> None:
        """Forget every injected fault not yet acted on (the cloud answers again)."""
        with self._lock:
            self._faults.clear()

    def _fault(self, call: str, region: str) -> None:
        for i, (c, code, where) in enumerate(self._faults):
            if c == call and where in (None, region):
                del self._faults[i]
                raise MemoryCloudError(code, f"injected into {call} in {region}")

    def create(self, *, token: str, region: str, zone: str, name: str, instance_type: str,
               tags: Mapping[str, str], spot: bool = False) -> dict[str, Any]:
        """Create a running instance, or return the one ``token`` already created."""
        params = {"region": region, "zone": zone, "name": name, "instance_type": instance_type,
                  "tags": dict(tags), "spot": spot}
        with self._lock:
            self.calls.append(("create", {"token": token, **params}))
            self._fault("create", region)
            if token in self._tokens:
                first = self.instances[self._tokens[token]]
                if {k: first[k] for k in params} != params:
                    raise MemoryCloudError("IdempotentParameterMismatch", token)
                return dict(first)
            instance_id = f"mem-{next(self._ids):06d}"
            self.instances[instance_id] = {"id": instance_id, "state": "running", **params}
            self._tokens[token] = instance_id
            return dict(self.instances[instance_id])

    def delete(self, region: str, instance_id: str) -> None:
        """Terminate an instance; one that is gone (or elsewhere) is ``NotFound``."""
        with self._lock:
            self.calls.append(("delete", {"region": region, "id": instance_id}))
            self._fault("delete", region)
            found = self.instances.get(instance_id)
            if found is None or found["region"] != region or found["state"] == "terminated":
                raise MemoryCloudError("NotFound", f"no instance {instance_id} in {region}")
            found["state"] = "terminated"

    def find(self, region: str, tag: tuple[str, str]) -> list[dict[str, Any]]:
        """Running instances in ``region`` carrying the tag ``(key, value)``."""
        with self._lock:
            self.calls.append(("find", {"region": region, "tag": tag}))
            self._fault("find", region)
            return [dict(i) for i in self.instances.values() if i["region"] == region
                    and i["state"] == "running" and i["tags"].get(tag[0]) == tag[1]]

    def live(self) -> list[dict[str, Any]]:
        """Every instance still running."""
        with self._lock:
            return [dict(i) for i in self.instances.values() if i["state"] == "running"]


#: How the memory provider reads its cloud's error codes.
MEMORY_SCOPES = {"NoCapacity": "zone", "InstanceTypeUnavailable": "offer",
                 "QuotaExceeded": "region"}


class MemoryProvider(Provider):
    """A provider with two test regions whose instances live in a ``MemoryCloud``.

    It plans and launches like a cloud plugin (zones, gangs, spot, tags, idempotency), so the
    launch loop, ``down`` and the launch hooks can be tested with no cloud at all. Subclass it
    to get another ``name``.
    """

    name: ClassVar[str] = "memory"
    display_name: ClassVar[str] = "greenml test double"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.SPOT, Capability.GANG})

    def __init__(self, cloud: MemoryCloud | None = None, *, credentials: bool = True) -> None:
        self.cloud = cloud if cloud is not None else MemoryCloud()
        self.credentials = credentials

    def regions(self) -> Sequence[Region]:
        return (region(self.name, "memory-north-1", "SE", 20.0, 1.1,
                       zones=("memory-north-1a", "memory-north-1b")),
                region(self.name, "memory-south-1", "ES", 150.0, 1.2))

    def offers(self) -> Sequence[Offer]:
        return (offer(self.name, "memory-north-1", "mem.a100x8", "A100", 8, 30.0, 12.0),
                offer(self.name, "memory-north-1", "mem.h100x8", "H100", 8, 90.0),
                offer(self.name, "memory-south-1", "mem.a100x8", "A100", 8, 25.0, 9.0))

    def check_credentials(self) -> tuple[bool, str]:
        if self.credentials:
            return True, ""
        return False, "memory cloud: credentials switched off (MemoryProvider(credentials=False))"

    def create_instance(self, request: InstanceRequest, journal: Journal) -> Resource:
        o = request.option
        made = self.cloud.create(token=request.token, region=o.region.name,
                                 zone=request.zone or "", name=request.instance_name,
                                 instance_type=o.offer.instance_type, tags=request.tags,
                                 spot=o.spot)
        return self._resource(made, request.launch_id)

    def terminate(self, resources: Sequence[Resource]) -> None:
        for r in resources:
            try:
                self.cloud.delete(r.region, r.resource_id)
            except MemoryCloudError as exc:
                if exc.code != "NotFound":
                    raise

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[Resource]:
        return [self._resource(i, launch_id) for r in regions
                for i in self.cloud.find(r, (TAG_LAUNCH_ID, launch_id))]

    def classify(self, error: BaseException) -> Failure:
        if not isinstance(error, MemoryCloudError):
            return Failure("none", f"{type(error).__name__}: {error}", stop=True)
        if error.code == "Throttled":
            return Failure("none", str(error), error.code, retry=True,
                           retry_after_s=error.retry_after_s)
        if error.code == "Unauthorized":
            return Failure("provider", str(error), error.code, stop=True)
        if error.code == "Unreachable":  # no answer: nothing known about the credentials
            return Failure("provider", f"cannot reach the memory cloud ({error})", error.code)
        scope = MEMORY_SCOPES.get(error.code)
        return Failure(scope or "none", str(error), error.code, stop=scope is None)

    def _resource(self, made: Mapping[str, Any], launch_id: str) -> Resource:
        return Resource(self.name, made["region"], made["id"], "instance", made["zone"],
                        made["name"], launch_id, made["state"])


__all__ = [
    "Countdown", "MemoryCloud", "MemoryCloudError", "MemoryProvider", "ProviderPlugin",
    "accelerator", "check_provider", "offer", "provider_problems", "record_io", "region",
    "run_cli", "self_signed_certificate",
]


# --- Paths this process may only read --------------------------------------------------
#
# Read-only for real: the kernel refuses the writes. As an ordinary user that is chmod. root
# writes through any mode bits, so as root a path is given to ``nobody`` and the command
# runs under ``setpriv`` without the capabilities that let root override file permissions:
# still uid 0 (so it can run the project's interpreter), refused every write exactly as
# another user would be.

_NOBODY = 65534
#: The capabilities that let root write, read or chmod what it does not own.
_DROPPED_CAPABILITIES = "-dac_override,-dac_read_search,-fowner,-chown,-linux_immutable"


def unprivileged(command: list[str]) -> list[str]:
    """``command`` as a process that file permissions bind (skips the test where none can)."""
    import shutil

    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        import pytest

        pytest.skip("running as root without setpriv: no way to make a file read-only to root")
    return [setpriv, f"--bounding-set={_DROPPED_CAPABILITIES}", "--", *command]


def make_read_only(path: Path) -> None:
    """Make ``path`` (a file or a directory) unwritable for ``unprivileged`` processes."""
    if os.geteuid() == 0:
        os.chown(path, _NOBODY, _NOBODY)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    else:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)


def make_writable(*paths: Path) -> None:
    """Undo ``make_read_only``."""
    for path in paths:
        if path.exists():
            if os.geteuid() == 0:
                os.chown(path, 0, 0)
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
