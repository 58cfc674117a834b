#!/usr/bin/env python3
"""Measure the energy a run uses on this machine: GPUs through NVML or nvidia-smi, CPU
package and DRAM through the Linux powercap (RAPL) counters. Standalone (Python 3.7+, the
standard library only): greenml's boot script embeds this file and runs it on a node where
greenml is not installed and nothing may be downloaded.

Why counters first: NVML's cumulative energy counter (Volta and later) and RAPL's
``energy_uj`` count every joule, so sampling them only at the ends and once a second loses
nothing; power read once a second (older GPUs, nvidia-smi) is integrated between samples
(trapezoids), which misses what happens between two readings. Each device says which it
got. A device that cannot be read is listed with why; a run where nothing could be read
records why and no figure: a measured figure is never invented.

Two ways to run it. ``sampler.py [--record FILE] [--line] -- CMD ...`` runs CMD, samples
until it exits, writes the record and exits with CMD's code. ``sampler.py --record FILE``
(no command) samples until SIGTERM or SIGINT, which is how the boot script runs it beside
the user's command, so a sampler that fails can never stop the run. The record is one JSON
line (``RECORD_VERSION``); ``--line`` also prints it as ``greenml-measure=<json>``.

Test hooks (a node never sets them): ``GREENML_POWERCAP_ROOT`` (default
/sys/class/powercap), ``GREENML_NVML=0`` (do not try NVML), ``GREENML_SAMPLE_INTERVAL_S``
(default 1 s), and PATH, where ``nvidia-smi`` is looked for.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

RECORD_VERSION = 1
LINE_PREFIX = "greenml-measure="
DEFAULT_INTERVAL_S = 1.0
#: A pause between two readings longer than this many intervals is a gap in the record.
GAP_FACTOR = 3.0
#: At most this many points of the power trace (the total measured power) are kept.
TRACE_POINTS = 120
NVIDIA_SMI_ARGS = ["--query-gpu=index,name,power.draw", "--format=csv,noheader,nounits"]
NVIDIA_SMI_TIMEOUT_S = 10.0
JOULES_PER_KWH = 3.6e6


class Device:
    """One measured device: a cumulative energy counter (``counter``) or power readings
    integrated between samples; its gaps are pauses between readings longer than
    ``GAP_FACTOR`` intervals (a failed read, a stalled machine)."""

    def __init__(self, ident: str, kind: str, name: str, method: str, counter: bool,
                 wrap_j: float = 0.0) -> None:
        self.ident, self.kind, self.name, self.method = ident, kind, name, method
        self.counter, self.wrap_j = counter, wrap_j
        self.energy_j, self.samples = 0.0, 0
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.last_value = 0.0
        self.last_w: float | None = None
        self.gaps: list[tuple[float, float]] = []

    def add(self, t: float, value: float, interval_s: float, origin: float) -> None:
        """One reading at monotonic time ``t``: joules for a counter, else watts."""
        self.samples += 1
        if self.last_t is None:
            self.first_t, self.last_t, self.last_value = t, t, value
            self.last_w = None if self.counter else value
            return
        dt = t - self.last_t
        if dt > GAP_FACTOR * interval_s:
            self.gaps.append((round(self.last_t - origin, 3), round(t - origin, 3)))
        if self.counter:
            delta = value - self.last_value
            if delta < 0:  # the counter wrapped (RAPL: at max_energy_range_uj)
                delta += self.wrap_j
            self.energy_j += max(delta, 0.0)
            self.last_w = delta / dt if dt > 0 else self.last_w
        else:
            self.energy_j += (value + self.last_value) / 2 * dt
            self.last_w = value
        self.last_t, self.last_value = t, value

    def to_dict(self) -> dict[str, Any]:
        hours = ((self.last_t or 0.0) - (self.first_t or 0.0)) / 3600
        return {"id": self.ident, "kind": self.kind, "name": self.name,
                "method": self.method, "kwh": self.energy_j / JOULES_PER_KWH,
                "hours": hours, "samples": self.samples,
                "average_w": self.energy_j / (hours * 3600) if hours > 0 else None,
                "gaps": [list(g) for g in self.gaps],
                "gap_s": round(sum(b - a for a, b in self.gaps), 3)}


class Source:
    """Something that reads devices: ``devices`` found at the start, ``unmeasured`` lines
    (kind, why) for what it could not read, and ``read()`` once per sample: one call of
    ``readers`` per device, divided by ``scale`` (unless a source reads all at once)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.devices: list[Device] = []
        self.unmeasured: list[tuple[str, str]] = []
        self.readers: dict[str, Callable[[], Any]] = {}
        self.scale = scale

    def read(self) -> dict[str, float]:
        """device id -> joules (a counter) or watts (a power reading); a reading that
        fails is left out, a gap the next one closes."""
        out = {}
        for ident, reader in self.readers.items():
            try:
                out[ident] = float(reader()) / self.scale
            except Exception:
                continue
        return out

    def close(self) -> None:
        pass


class Rapl(Source):
    """CPU packages (``intel-rapl:N``) and their DRAM (``intel-rapl:N:M`` named dram) from
    powercap's ``energy_uj``, which wraps at ``max_energy_range_uj``. Core and uncore are
    parts of the package and psys overlaps it, so neither is added."""

    def __init__(self, root: str) -> None:
        super().__init__(scale=1e6)  # microjoules
        try:
            found = {e: os.path.join(root, e) for e in os.listdir(root)}
        except OSError as exc:
            self.unmeasured.append(("cpu", f"no powercap RAPL counters at {root} ({exc.strerror})"))
            return
        for entry, folder in list(found.items()):  # sysfs lists subdomains at the top too
            if entry.count(":") == 1 and os.path.isdir(folder):
                found.update({e: os.path.join(folder, e) for e in os.listdir(folder)
                              if e.startswith(entry + ":") and e not in found})
        for entry, folder in sorted(found.items()):
            parts = entry.split(":")
            if parts[0] != "intel-rapl" or len(parts) not in (2, 3):
                continue
            name = _text(os.path.join(folder, "name"))
            if len(parts) == 2 and name.startswith("package"):
                kind, ident = "cpu", f"cpu-{name}"
            elif len(parts) == 3 and name == "dram":
                kind, ident = "dram", f"dram-{parts[1]}"
            else:
                continue
            path = os.path.join(folder, "energy_uj")
            try:
                _text(path, strict=True)
                wrap = float(_text(os.path.join(folder, "max_energy_range_uj")) or 0) / 1e6
            except OSError as exc:
                why = ("the kernel lets only root read it" if isinstance(exc, PermissionError)
                       else exc.strerror)
                self.unmeasured.append((kind, f"{path} is not readable ({why})"))
                continue
            self.readers[ident] = functools.partial(_text, path, True)
            self.devices.append(Device(ident, kind, name, "rapl-energy-counter", True, wrap))
        if not self.devices and not self.unmeasured:
            self.unmeasured.append(("cpu", f"no RAPL package domain under {root}"))


class Nvml(Source):
    """NVIDIA GPUs through NVML (``nvidia-ml-py``): the cumulative energy counter where the
    GPU has one (mJ), else its power reading (mW), integrated."""

    def __init__(self, nvml: Any) -> None:
        super().__init__(scale=1000.0)  # millijoules, milliwatts
        self.nvml = nvml
        for i in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            ident = f"gpu{i}"
            for method, call in (("nvml-energy-counter", nvml.nvmlDeviceGetTotalEnergyConsumption),
                                 ("nvml-power", nvml.nvmlDeviceGetPowerUsage)):
                try:
                    call(handle)
                except Exception:  # NVMLError_NotSupported and kin: try the next way
                    continue
                self.readers[ident] = functools.partial(call, handle)
                self.devices.append(Device(ident, "gpu", name, method,
                                           method == "nvml-energy-counter"))
                break
            else:
                self.unmeasured.append(("gpu", f"{ident} ({name}): NVML reads neither its "
                                               "energy counter nor its power"))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.nvml.nvmlShutdown()


class NvidiaSmi(Source):
    """NVIDIA GPUs through ``nvidia-smi --query-gpu=index,name,power.draw``: power only."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        found = self._query()
        if found is None:
            self.unmeasured.append(("gpu", f"{path} did not answer {' '.join(NVIDIA_SMI_ARGS)}"))
            return
        for index, (name, watts) in sorted(found.items()):
            if watts is None:
                self.unmeasured.append(("gpu", f"gpu{index} ({name}): nvidia-smi shows no "
                                               "power.draw"))
            else:
                self.devices.append(Device(f"gpu{index}", "gpu", name, "nvidia-smi-power",
                                           False))

    def _query(self) -> dict[str, tuple[str, float | None]] | None:
        try:
            done = subprocess.run([self.path, *NVIDIA_SMI_ARGS], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                  timeout=NVIDIA_SMI_TIMEOUT_S, text=True)
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode != 0:
            return None
        found: dict[str, tuple[str, float | None]] = {}
        for line in done.stdout.splitlines():
            cells = [c.strip() for c in line.split(",")]
            if len(cells) < 3 or not cells[0].isdigit():
                continue
            try:
                watts: float | None = float(cells[-1])
            except ValueError:  # [N/A], [Not Supported]
                watts = None
            found[cells[0]] = (", ".join(cells[1:-1]), watts)
        return found

    def read(self) -> dict[str, float]:
        found = self._query() or {}
        return {f"gpu{i}": w for i, (_, w) in found.items() if w is not None}


def gpu_source() -> Source:
    """NVML where ``pynvml`` imports and starts, else nvidia-smi on PATH, else none (why)."""
    why = []
    if os.environ.get("GREENML_NVML", "1") != "0":
        try:
            nvml: Any = importlib.import_module("pynvml")
            nvml.nvmlInit()
            return Nvml(nvml)
        except ImportError:
            why.append("pynvml (nvidia-ml-py) is not installed")
        except Exception as exc:
            why.append(f"NVML did not start ({type(exc).__name__}: {exc})")
    smi = shutil.which("nvidia-smi")
    if smi:
        return NvidiaSmi(smi)
    source = Source()
    source.unmeasured.append(("gpu", "; ".join([*why, "no nvidia-smi on PATH"])))
    return source


class Sampler:
    """Reads every source at ``start``, every ``interval_s`` on a thread, and at ``stop``,
    which returns the record (a dict; see the module's docstring)."""

    def __init__(self, interval_s: float | None = None, powercap_root: str | None = None,
                 sources: list[Source] | None = None) -> None:
        self.interval_s = interval_s if interval_s is not None else _interval_from_env()
        root = powercap_root or os.environ.get("GREENML_POWERCAP_ROOT", "/sys/class/powercap")
        self.sources = sources if sources is not None else [gpu_source(), Rapl(root)]
        self.trace: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.origin = time.monotonic()
        self.started_at = time.time()

    def start(self) -> None:
        self.origin, self.started_at = time.monotonic(), time.time()
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="greenml-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        """One reading of every device (a failed source is a gap, never an error)."""
        for source in self.sources:
            try:
                reading = source.read()
            except Exception:
                continue
            t = time.monotonic()
            for device in source.devices:
                if device.ident in reading:
                    device.add(t, reading[device.ident], self.interval_s, self.origin)
        watts = [d.last_w for s in self.sources for d in s.devices if d.last_w is not None]
        if watts:
            self.trace.append((round(time.monotonic() - self.origin, 3), round(sum(watts), 3)))

    def stop(self, exit_code: int | None = None) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        for source in self.sources:
            source.close()
        return self.record(exit_code)

    def record(self, exit_code: int | None = None) -> dict[str, Any]:
        ended = time.time()
        devices = [d.to_dict() for s in self.sources for d in s.devices if d.samples >= 2]
        unread = [(d.kind, f"{d.ident} ({d.name}): fewer than two readings")
                  for s in self.sources for d in s.devices if d.samples < 2]
        unmeasured = [*[(k, w) for s in self.sources for k, w in s.unmeasured], *unread]
        kwh: dict[str, float] = {}
        for d in devices:
            kwh[d["kind"]] = kwh.get(d["kind"], 0.0) + d["kwh"]
        if kwh:
            kwh["total"] = sum(kwh.values())
        record: dict[str, Any] = {
            "greenml_measure": RECORD_VERSION, "host": socket.gethostname(),
            "started_at": _utc(self.started_at), "ended_at": _utc(ended),
            "hours": (ended - self.started_at) / 3600, "interval_s": self.interval_s,
            "exit_code": exit_code, "kwh": kwh, "devices": devices,
            "unmeasured": [{"kind": k, "why": w} for k, w in unmeasured],
            "trace": [list(p) for p in _thin(self.trace, TRACE_POINTS)]}
        if not devices:
            record["nothing_measured"] = "; ".join(w for _, w in unmeasured) or "no device"
        return record


def record_line(record: dict[str, Any]) -> str:
    """The record as the one console line greenml reads back."""
    return LINE_PREFIX + json.dumps(record, separators=(",", ":"), sort_keys=True)


def write_record(record: dict[str, Any], path: str) -> None:
    """The record as one JSON line in ``path`` (written whole, then renamed into place)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "w") as out:
        out.write(json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n")
    os.replace(partial, path)


def run_command(command: list[str], sampler: Sampler,
                forward: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
                ) -> tuple[int, dict[str, Any]]:
    """Run ``command`` with this process's stdio, sampling until it exits; a signal this
    process gets is passed on to it. (exit code, record); a signal's exit is 128 + N."""
    sampler.start()
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        sampler.stop()
        raise SystemExit(f"greenml sampler: cannot run {command[0]!r}: {exc.strerror}") from exc
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in forward:
            previous[sig] = signal.signal(sig, lambda n, _f: child.send_signal(n))
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    code = 128 - code if code < 0 else code
    return code, sampler.stop(code)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    split = args.index("--") if "--" in args else len(args)
    options, command = args[:split], args[split + 1:]
    record_path, line = "", False
    while options:
        word = options.pop(0)
        if word == "--record" and options:
            record_path = options.pop(0)
        elif word == "--line":
            line = True
        else:
            print(f"usage: sampler.py [--record FILE] [--line] [-- CMD ...] ({word!r}?)",
                  file=sys.stderr)
            return 2
    stopping = threading.Event()
    if not command:  # beside the run: until told to stop
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _n, _f: stopping.set())
    sampler = Sampler()
    if command:
        code, record = run_command(command, sampler)
    else:
        sampler.start()
        if record_path:
            write_record({"greenml_measure": RECORD_VERSION, "sampling": True}, record_path)
        parent = os.getppid()
        while not stopping.wait(0.5) and os.getppid() == parent:
            pass  # a script killed before it could stop us: the record, then the end
        code, record = 0, sampler.stop()
    if record_path:
        write_record(record, record_path)
    if line:
        print(record_line(record), flush=True)
    return code


def _interval_from_env() -> float:
    try:
        value = float(os.environ.get("GREENML_SAMPLE_INTERVAL_S", DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if 0.001 <= value <= 3600 else DEFAULT_INTERVAL_S


def _thin(points: list[tuple[float, float]], most: int) -> list[tuple[float, float]]:
    if len(points) <= most:
        return points
    step = (len(points) - 1) / (most - 1)
    return [points[round(i * step)] for i in range(most)]


def _text(path: str, strict: bool = False) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        if strict:
            raise
        return ""


def _utc(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


if __name__ == "__main__":
    sys.exit(main())
