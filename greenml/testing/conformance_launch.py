"""The conformance kit's launch checks: describe calls nothing, and on the provider's test
double a launch through greenml's own loop is idempotent, found again and removed by down."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenml.launch.types import (
    TAG_CO2E,
    TAG_INDEX,
    TAG_LAUNCH_ID,
    TAG_NAME,
    InstanceRequest,
    Journal,
    Resource,
)
from greenml.model import Offer, Region
from greenml.testing.conformance_io import by_kind, record_io

if TYPE_CHECKING:
    from greenml.model import Option
    from greenml.plan.result import Plan
    from greenml.provider import Provider


def _kit_catalog(p: Provider, regions: Sequence[Region], offers: Sequence[Offer]) -> Any:
    """A catalog of just this provider instance, with every installed accelerator, its regions
    measured with the default dataset as in any plan."""
    from greenml import default_catalog
    from greenml.catalog import Catalog

    return Catalog(regions, offers, default_catalog().accelerators, providers={p.name: p},
                   owners={p.name: "greenml.testing"}).with_dataset(None)


def _offline_plan(p: Provider, regions: Sequence[Region], offers: Sequence[Offer],
                  problems: list[str]) -> Plan | None:
    """A plan of one instance of the provider's first offer that greenml can estimate."""
    from greenml import default_catalog
    from greenml.job import Job
    from greenml.plan import plan

    powered = {a.name for a in default_catalog().accelerators if a.power() is not None}
    first = next((o for o in offers if o.accelerator in powered), None)
    if first is None:
        return None
    job = Job(accelerator=first.accelerator, count=first.accelerators_per_instance, hours=1,
              providers=p.name, regions=first.region)
    try:
        return plan(job, catalog=_kit_catalog(p, regions, offers), notify=False)
    except Exception as exc:
        problems.append(f"greenml cannot plan {first.accelerator} on the provider's own "
                        f"offers: {type(exc).__name__}: {exc}")
        return None


def _request(option: Option, launch_id: str, name: str, index: int, token: str,
             zone: str | None, run: str = "echo greenml conformance kit",
             settings: Mapping[str, str] | None = None) -> InstanceRequest:
    """An instance request as greenml's launch loop builds one (default ending included)."""
    from greenml.provider.boot import limit_hours

    tags = {TAG_LAUNCH_ID: launch_id, TAG_NAME: name,
            TAG_CO2E: f"{option.estimate.co2e_kg:.1f}", TAG_INDEX: str(index)}
    return InstanceRequest(launch_id=launch_id, name=name, index=index, option=option,
                           zone=zone, run=run, token=token, tags=tags,
                           settings=settings or {}, max_hours=limit_hours(option.estimate.hours))


def _check_describe(p: Provider, option: Option, problems: list[str]) -> None:
    zone = option.region.zones[0] if option.region.zones else None
    request = _request(option, "0123456789abcdef", "kit-check", 0,
                       "gm-0123456789abcdef-0-0", zone)
    try:
        with record_io() as events:
            line = p.describe(request)
    except Exception as exc:
        problems.append(f"describe() raised {type(exc).__name__}: {exc}")
        return
    for kind, details in by_kind(e for e in events if e[0] != "open"):
        problems.append(f"describe() must call nothing (a dry run), but it did {kind} I/O: "
                        f"{details}")
    if not isinstance(line, str) or option.offer.instance_type not in line:
        problems.append(f"describe() must say what would be created, naming the instance type "
                        f"{option.offer.instance_type!r}; got {line!r}")


KIT_LAUNCH_NAME = "kit-check"


def _check_launch(p: Provider, double: Callable[[], contextlib.AbstractContextManager[Any]],
                  regions: Sequence[Region], offers: Sequence[Offer], run: str,
                  settings: dict[str, str], problems: list[str]) -> None:
    from greenml.launch.ledger import Ledger

    context = double() if callable(double) else double
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(context)
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="greenml-kit-"))
        ledger = Ledger(Path(folder) / "ledger.sqlite3")
        stack.callback(ledger.close)
        try:
            ok, why = p.check_credentials()
        except Exception as exc:
            problems.append(f"check_credentials() raised {type(exc).__name__}: {exc}")
            return
        if ok is not True or not isinstance(why, str):
            problems.append(f"check_credentials() must pass inside the double and return "
                            f"(True, reason); got ({ok!r}, {why!r})")
            return
        plan = _launch_plan(p, target, regions, offers, problems)
        if plan is None:
            return
        created: list[Resource] = []
        stack.callback(_leave_nothing, p, ledger, created)
        _launch_and_down(p, plan, ledger, run, settings, created, problems)


def _launch_plan(p: Provider, target: Any, regions: Sequence[Region], offers: Sequence[Offer],
                 problems: list[str]) -> Plan | None:
    """The plan to launch: the double's Job or Option, else a gang of the first offer."""
    import attrs

    from greenml.job import Job
    from greenml.model import Option
    from greenml.plan import plan

    if isinstance(target, Option):
        target = Job(accelerator=target.accelerator.name, regions=target.region.name,
                     count=target.instances * target.offer.accelerators_per_instance,
                     hours=target.estimate.hours, spot=target.spot)
    if target is None:
        first = offers[0] if offers else None
        if first is None:
            problems.append("the provider has no offers to launch: yield a greenml.Job or "
                            "Option from the double")
            return None
        gang = 2 if "gang" in p.capabilities else 1
        target = Job(accelerator=first.accelerator, regions=first.region, hours=1,
                     count=gang * first.accelerators_per_instance)
    if not isinstance(target, Job):
        problems.append(f"the double yielded {target!r}; yield None, a greenml.Job or an "
                        "Option")
        return None
    try:
        return plan(attrs.evolve(target, providers=p.name),
                    catalog=_kit_catalog(p, regions, offers), notify=False)
    except Exception as exc:
        problems.append(f"cannot plan the launch: {type(exc).__name__}: {exc}")
        return None


def _launch_and_down(p: Provider, plan: Plan, ledger: Any, run: str, settings: dict[str, str],
                     created: list[Resource], problems: list[str]) -> None:
    from greenml.errors import GreenmlError
    from greenml.launch.loop import provider_settings
    from greenml.launch.running import down
    from greenml.retry import RetryPolicy

    try:
        launch = plan.launch(name=KIT_LAUNCH_NAME, run=run, ledger=ledger, settings=settings,
                                retry=RetryPolicy(attempts=3, base_delay_s=0.01))
    except GreenmlError as exc:
        problems.append(f"launching through greenml failed on the double: {exc}")
        return
    option = launch.option
    assert option is not None
    created += launch.instances
    region_name = option.region.name
    gang = p.gang_size(option)
    made = {r.resource_id for r in launch.instances}
    if len(launch.instances) != gang or len(made) != gang:
        problems.append(f"a launch of gang_size {gang} created {len(launch.instances)} "
                        f"resource(s) with {len(made)} distinct id(s)")
    for r in launch.instances:
        if (r.provider, r.region) != (p.name, region_name) or not r.resource_id:
            problems.append(f"create_instance returned {r!r}: it needs provider {p.name!r}, "
                            f"region {region_name!r} and a resource_id")
    rows = [(t, r) for t, r in ledger.open_resources(launch.launch_id)
            if r.kind == "instance" and r.state == "created"]
    if rows:
        token, row = rows[0]
        index = int(row.name.rsplit("-", 1)[-1]) if row.name[-1:].isdigit() else 0
        mine = provider_settings(p.name, settings)
        request = _request(option, launch.launch_id, KIT_LAUNCH_NAME, index, token,
                           row.zone or None, run, mine)
        try:
            planned = p.planned_id(request)
        except Exception as exc:
            planned = ""
            problems.append(f"planned_id() raised {type(exc).__name__}: {exc}")
        if planned and planned != row.resource_id:
            problems.append(f"planned_id() said {planned!r}, but create_instance made "
                            f"{row.resource_id!r}: after a crash, down would miss it")
        try:
            again = p.create_instance(request, Journal(request, None, p.name))
            created.append(again)
            if again.resource_id != row.resource_id:
                problems.append(f"create_instance with a used token created {again.resource_id!r}"
                                f" instead of returning {row.resource_id!r}: a retry would "
                                "duplicate an instance")
                made.add(again.resource_id)
        except Exception as exc:
            problems.append(f"create_instance with a used token raised "
                            f"{type(exc).__name__}: {exc}; it must return the same instance")
        orphan_request = _request(option, launch.launch_id, KIT_LAUNCH_NAME, gang + index,
                                  f"gm-{launch.launch_id}-kit-{gang + index}", row.zone or None,
                                  run, mine)
        try:
            orphan = p.create_instance(orphan_request, Journal(orphan_request, None, p.name))
            created.append(orphan)
            made.add(orphan.resource_id)
        except Exception as exc:
            problems.append(f"create_instance raised {type(exc).__name__}: {exc}")
    _check_states(p, launch.instances, problems)
    if "logs" in p.capabilities:
        _check_console(p, launch.instances, problems)
    found = _ids(p.find_resources(launch.launch_id, [region_name]))
    if found != made:
        problems.append(f"find_resources found {sorted(found)}, but the launch (with one "
                        f"instance never recorded in the ledger) created {sorted(made)}")
    removed = _ids(down(KIT_LAUNCH_NAME, ledger=ledger, providers={p.name: p}))
    if not made <= removed:
        problems.append(f"greenml.down terminated {sorted(removed)}, not all of "
                        f"{sorted(made)}")
    left = _eventually_empty(lambda: p.find_resources(launch.launch_id, [region_name]))
    if left:
        problems.append(f"after greenml.down, find_resources still finds {sorted(left)}")
    again_removed = down(KIT_LAUNCH_NAME, ledger=ledger, providers={p.name: p})
    if again_removed:
        problems.append(f"a second greenml.down terminated {again_removed!r}; it must be a "
                        "no-op")
    try:
        p.terminate(list(launch.instances))
    except Exception as exc:
        problems.append(f"terminate of resources already gone raised "
                        f"{type(exc).__name__}: {exc}; gone already is fine")


def _check_states(p: Provider, launched: Sequence[Resource], problems: list[str]) -> None:
    """Right after a launch, ``states`` knows every instance and none of them is gone."""
    try:
        said = p.states(list(launched))
    except Exception as exc:
        problems.append(f"states() raised {type(exc).__name__}: {exc}")
        return
    if not isinstance(said, dict):
        problems.append(f"states() must return a dict of resource id -> state, got {said!r}")
        return
    for r in sorted(launched, key=lambda r: r.resource_id):
        state = said.get(r.resource_id)
        if not isinstance(state, str) or not state or state == "gone":
            problems.append(f"states() says {state!r} for {r.resource_id!r}, which the launch "
                            "has just created")


def _check_console(p: Provider, launched: Sequence[Resource], problems: list[str]) -> None:
    """A provider declaring ``logs`` reads each instance it has just created: some text
    (perhaps none yet), or, for a kind of instance whose platform serves no console (a TPU
    slice), a GreenmlError saying so in words; never another error."""
    from greenml.errors import GreenmlError

    for r in launched:
        try:
            text = p.console_output(r)
        except GreenmlError as exc:
            if not str(exc).strip():
                problems.append(f"console_output({r.resource_id!r}) raised GreenmlError "
                                "without saying why")
            continue
        except Exception as exc:
            problems.append(f"console_output({r.resource_id!r}) raised "
                            f"{type(exc).__name__}: {exc}; an instance just created has a "
                            "console (empty is fine)")
            continue
        if not isinstance(text, str):
            problems.append(f"console_output({r.resource_id!r}) must return text, got "
                            f"{type(text).__name__}")


def _ids(resources: Iterable[Resource]) -> set[str]:
    return {r.resource_id for r in resources}


def _eventually_empty(find: Callable[[], Sequence[Resource]], timeout_s: float = 10.0
                      ) -> set[str]:
    """What ``find`` still lists once it is empty or ``timeout_s`` has passed (schedulers
    show a cancelled job for a moment)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = _ids(find())
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _leave_nothing(p: Provider, ledger: Any, created: Sequence[Resource]) -> None:
    """Whatever happened, remove what the kit created on the double."""
    from greenml.launch.running import down

    with contextlib.suppress(Exception):
        down(KIT_LAUNCH_NAME, ledger=ledger, providers={p.name: p})
    with contextlib.suppress(Exception):
        p.terminate(list({r.resource_id: r for r in created}.values()))
