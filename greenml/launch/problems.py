"""One line for what went wrong in a provider's code, shared by status, down and logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenml.provider.contract import LaunchingProvider as Provider


def provider_problem(provider: Provider, error: BaseException) -> str:
    """What went wrong in ``provider``'s code, in one line: where its ``classify`` calls it
    a credentials or permission problem and ``check_credentials`` explains it, that
    explanation (what to set or run); else the error itself, on one line with every
    configured secret masked (the API path prints it without the CLI's scrubbing)."""
    try:
        failure = provider.classify(error)
    except Exception:  # a classifier that fails must not hide the error
        failure = None
    if failure is not None and failure.scope == "provider" and failure.stop:
        try:
            ok, why = provider.check_credentials()
        except Exception:
            ok, why = True, ""
        if not ok and why:
            return why
    from greenml.scrub import scrub

    return scrub(" ".join(f"{type(error).__name__}: {error}".split()))[:300]
