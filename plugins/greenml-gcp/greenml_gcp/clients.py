"""The connection to Google Cloud: credentials, project, and the REST clients one provider
object makes on first use and keeps, with what they looked up.

The SDKs (google-auth, google-cloud-compute, google-cloud-tpu) are imported inside methods,
never when the plugin is imported. Credentials and project come from Application Default
Credentials (``gcloud auth application-default login``, ``GOOGLE_APPLICATION_CREDENTIALS``,
the metadata server) or explicit settings. ``GREENML_GCP_ENDPOINT`` points every client at
another Compute Engine and Cloud TPU endpoint (a local emulator or test server); requests to
it are anonymous unless ``GOOGLE_APPLICATION_CREDENTIALS`` names a credentials file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from greenml_gcp.errors import MissingProject
from greenml_gcp.spec import CLOUD_PLATFORM_SCOPE

ENV_ENDPOINT = "GREENML_GCP_ENDPOINT"
PROJECT_ENVIRONMENT = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT")
#: What ``describe`` says when only ADC could tell the project (a dry run calls nothing).
ADC_PROJECT = "<the Application Default Credentials project>"


def endpoint() -> str:
    return os.environ.get(ENV_ENDPOINT, "").strip()


def anonymous() -> bool:
    """Whether calls go unauthenticated: an overridden endpoint without a credentials file."""
    return bool(endpoint()) and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")


def environment_project() -> str:
    return next((os.environ[k].strip() for k in PROJECT_ENVIRONMENT
                 if os.environ.get(k, "").strip()), "")


def describe_project(chosen: str) -> str:
    """The project for a dry run, without any call (ADC may need the network)."""
    return chosen or environment_project() or ADC_PROJECT


def project(chosen: str) -> str:
    """The project: ``chosen`` (the ``project`` setting), the environment, else ADC's."""
    found: str | None = chosen or environment_project()
    if found:
        return found
    if not anonymous():
        import google.auth
        import google.auth.exceptions

        try:
            _, found = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        except google.auth.exceptions.DefaultCredentialsError:
            found = None
    if not found:
        raise MissingProject("no Google Cloud project: pass -o gcp.project=PROJECT_ID, set "
                             "GOOGLE_CLOUD_PROJECT, or run 'gcloud config set project'")
    return found


def credentials() -> Any:
    """ADC, or anonymous credentials for an overridden endpoint without a credentials file."""
    if anonymous():
        from google.auth.credentials import AnonymousCredentials

        untyped: Any = AnonymousCredentials  # google-auth does not type its constructor
        return untyped()
    import google.auth

    found, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    return found


class GoogleClients:
    """One REST client per kind and endpoint, made on first use and shared by threads (a
    gang's members create at once); with what the zones offer and which projects this
    provider created in, both looked up or learnt once."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}
        #: (project, zone, kind, name) -> the machine, accelerator or TPU type found, or
        #: None / False when the zone lacks it.
        self._zone_offers: dict[tuple[str, str, str, str], Any] = {}
        #: Projects VMs or TPU nodes were created in, searched too when finding a launch's.
        self._projects_used: set[str] = set()
        self._lock = threading.Lock()

    def client(self, kind: str) -> Any:
        """The client for ``kind``: instances, zone_operations, machine_types,
        accelerator_types, regions, projects, or tpu (the Cloud TPU API); all made with the
        same endpoint."""
        key = (kind, endpoint())
        with self._lock:
            if key not in self._clients:
                self._clients[key] = _make(kind, key[1])
            return self._clients[key]

    def forget(self) -> None:
        """Drop the clients and what they looked up (credentials or endpoint changed)."""
        with self._lock:
            self._clients.clear()
            self._zone_offers.clear()
            self._projects_used.clear()

    def known_offer(self, key: tuple[str, str, str, str]) -> tuple[bool, Any]:
        """(whether ``key`` was looked up, what was found)."""
        with self._lock:
            return key in self._zone_offers, self._zone_offers.get(key)

    def remember_offer(self, key: tuple[str, str, str, str], found: Any) -> None:
        with self._lock:
            self._zone_offers[key] = found

    def used(self, project_id: str) -> None:
        """Note a project something is created in, for ``projects``."""
        with self._lock:
            self._projects_used.add(project_id)

    def projects(self) -> list[str]:
        """Where to search for a launch's resources: every project created in here, and the
        environment's or ADC's project; none rather than failing when there is none."""
        with self._lock:
            found = set(self._projects_used)
        with contextlib.suppress(MissingProject):
            found.add(project(""))
        return sorted(found)


def _make(kind: str, api_endpoint: str) -> Any:
    from google.api_core.client_options import ClientOptions

    cls: type
    if kind == "tpu":
        from google.cloud import tpu_v2

        cls = tpu_v2.TpuClient
    else:
        from google.cloud import compute_v1

        cls = {
            "instances": compute_v1.InstancesClient,
            "zone_operations": compute_v1.ZoneOperationsClient,
            "machine_types": compute_v1.MachineTypesClient,
            "accelerator_types": compute_v1.AcceleratorTypesClient,
            "regions": compute_v1.RegionsClient,
            "projects": compute_v1.ProjectsClient,
        }[kind]
    options = ClientOptions(api_endpoint=api_endpoint) if api_endpoint else None
    return cls(credentials=credentials(), client_options=options, transport="rest")
