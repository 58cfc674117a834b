"""A machine for running greenml's boot script under bash in a test, with nothing real touched.

The script a provider puts in user data ends the machine, writes to the serial console and
reads the platform's metadata server; here ``shutdown`` is a stub that notes its call in
``ended``, the console and the log are files, and the metadata URLs are the caller's local
fake (``GREENML_IMDS_URL``, ``GREENML_GCE_METADATA_URL``, ... given in ``env``). ``HOME`` is
the test's folder, so the login shell the script starts (``bash -lc``) reads no profile of
this machine (one that runs ``pyenv init``, say, is slow and can be left locked by a killed
shell).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import attrs


@attrs.frozen
class BootMachine:
    """Where a boot script under test writes: ``console``, ``log``, ``ended`` (the stub's
    record of ``shutdown``), and the environment to run it with."""

    folder: Path
    env: dict[str, str]

    @property
    def console(self) -> Path:
        return self.folder / "console"

    @property
    def log(self) -> Path:
        return self.folder / "run.log"

    @property
    def ended(self) -> Path:
        return self.folder / "ended"

    @property
    def bin(self) -> Path:
        return self.folder / "bin"

    def run(self, script: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``script`` under bash, as the machine's first boot would."""
        path = self.folder / "boot.sh"
        path.write_text(script)
        return subprocess.run(["bash", str(path)], env=self.env, capture_output=True,
                              text=True, timeout=timeout_s)


def boot_machine(folder: Path, **env: str) -> BootMachine:
    """A machine in ``folder`` (a test's tmp_path), with ``env`` added to its environment."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "shutdown"
    stub.write_text(f'#!/bin/sh\necho "shutdown $*" >> {folder / "ended"}\n')
    stub.chmod(0o755)
    (folder / "console").touch()
    base = {**os.environ, "HOME": str(folder), "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "GREENML_CONSOLE": str(folder / "console"), "GREENML_LOG": str(folder / "run.log"),
            "GREENML_STATE_DIR": str(folder / "state"), "GREENML_RENDEZVOUS_POLL_S": "0.1",
            "NO_PROXY": "127.0.0.1"}
    return BootMachine(folder, {**base, **env})
