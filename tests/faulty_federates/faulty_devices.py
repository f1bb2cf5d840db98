"""A devices federate that fails on purpose mid-run: for tests/test_faults.py only.

    python tests/faulty_federates/faulty_devices.py MODE AT_S HOST:PORT

It is the real :class:`simulators.devices.DevicesSim` until its first step at or after
simulation time ``AT_S`` (seconds; the scenario's time resolution is 1 s), where it

- ``crash``: exits at once with code 3 (no reply, no clean-up, as a crash would);
- ``kill``: is killed by SIGKILL (as by the kernel's out-of-memory killer);
- ``hang``: stops answering, and ignores SIGTERM (as a process stuck in native code);
- ``raise``: raises a ValueError from its step (the process itself keeps serving).

It is started by the scenario as ``placement={"devices": "cmd:<this command>"}``, so
the fault injection stays out of the production federates.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository's packages

from simulators import run_federate  # noqa: E402
from simulators.devices import DevicesSim  # noqa: E402

MODES = ("crash", "kill", "hang", "raise")


class FaultyDevicesSim(DevicesSim):
    """:class:`DevicesSim` that fails in ``mode`` at its first step at or after ``at_s``."""

    def __init__(self, mode: str, at_s: int) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.mode = mode
        self.at_s = at_s

    def step(self, time_s: int, inputs: Any, max_advance: int) -> int:
        if time_s >= self.at_s:
            if self.mode == "crash":
                os._exit(3)
            if self.mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "hang":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                while True:
                    time.sleep(60.0)
            raise ValueError(f"injected fault at t={time_s} s")
        return super().step(time_s, inputs, max_advance)


if __name__ == "__main__":
    mode, at_s, *rest = sys.argv[1:]
    sys.exit(run_federate(FaultyDevicesSim(mode, int(at_s)), "faulty devices federate",
                          "devices", argv=rest))
