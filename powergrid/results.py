"""Run results: one flat record per step, and the summary of a run.

``timeseries.csv`` columns (one row per step):

=======================  =====  ==================================================
column                   unit   meaning
=======================  =====  ==================================================
``time``                 s      simulation time at the start of the step
``converged``            0/1    the step's power flow converged
``cost``                 $      devices' costs + energy bill at the external PCCs +
                                money settled between agents (P2P fees)
``safety``               --     devices' + network's safety terms
``price``                $/MWh  energy price
``pcc_p_mw``             MW     import at the main PCC (the first one)
``pcc_p_mw:<pcc>``       MW     import at each PCC
``pcc_cost:<pcc>``       $      each PCC's energy bill (an internal PCC's bill is a
                                transfer inside the system: not in ``cost``)
``vm_pu:<bus>``          p.u.   every bus voltage (0 = not energised); under
                                three-phase physics the bus's worst phase (the one
                                farthest from 1 p.u.)
``vm_pu.<ph>:<bus>``     p.u.   three-phase physics: every bus-phase's voltage
                                (``<ph>`` a, b or c; the circuit's extra nodes too,
                                e.g. IEEE 13's 670)
``soc:<ess>``            --     every battery's state of charge after the step
``p_mw:<device>``        MW     every injecting device's active power
``tap_pos:<trafo>``      --     OLTC positions in force in the step's power flow (an
                                automatic regulator's settled tap); likewise
                                ``step:<shunt>``, ``closed:<switch>``, ``on:<generator>``
``tap_pos.<ph>:<reg>``   --     three-phase physics: each regulator unit's tap
``cost:<device>``        $      each device's cost
``<kind>:<series>``      --     the exogenous series values used
=======================  =====  ==================================================
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from powergrid.safety import VM_MAX_PU, VM_MIN_PU

if TYPE_CHECKING:
    import pandas as pd

_STATE_COLUMNS = ("soc", "tap_pos", "step", "closed", "on")
#: the column prefixes of the bus-phase voltages (three-phase physics)
PHASE_VOLTAGE_PREFIXES = ("vm_pu.a:", "vm_pu.b:", "vm_pu.c:")


def step_record(time_s: int, grid: Mapping[str, Any], devices: Mapping[str, Mapping[str, Any]],
                exogenous: Mapping[str, float], bus_names: Sequence[str],
                pcc_names: Sequence[str], price_series: str | None,
                agents: Mapping[str, Mapping[str, Any]] | None = None,
                regulator_names: Sequence[str] = (), phase_names: Sequence[str] = (),
                regulator_unit_names: Sequence[str] = ()) -> dict[str, float]:
    """The flat record of one step (columns as in the module docstring).
    ``phase_names`` ("<bus>.<phase>") and ``regulator_unit_names``
    ("<regulator>.<phase>") name the grid's three-phase lists."""
    device_cost = sum(float(d.get("cost", 0.0)) for d in devices.values())
    device_cost += sum(float(a.get("settlement") or 0.0) for a in (agents or {}).values())
    device_safety = sum(float(d.get("safety", 0.0)) for d in devices.values())
    pcc_p = list(grid.get("pcc_p_mw") or [])
    row: dict[str, float] = {
        "time": time_s,
        "converged": int(bool(grid.get("converged", True))),
        "cost": device_cost + float(grid.get("cost", 0.0)),
        "safety": device_safety + float(grid.get("safety", 0.0)),
        "price": float(exogenous.get(price_series or "", math.nan)),
        "pcc_p_mw": float(pcc_p[0]) if pcc_p else math.nan,
    }
    for name, p in zip(pcc_names, pcc_p, strict=False):
        row[f"pcc_p_mw:{name}"] = float(p)
    for name, bill in zip(pcc_names, grid.get("pcc_cost") or [], strict=False):
        row[f"pcc_cost:{name}"] = float(bill)
    for name, vm in zip(bus_names, grid.get("vm_pu") or [], strict=False):
        row[f"vm_pu:{name}"] = float(vm)
    for name, vm in zip(phase_names, grid.get("vm_phase_pu") or [], strict=False):
        bus, _, phase = name.rpartition(".")
        row[f"vm_pu.{phase}:{bus}"] = float(vm)
    for name in sorted(devices):
        out = devices[name]
        state = out.get("state") or {}
        for key in _STATE_COLUMNS:
            if key in state:
                row[f"{key}:{name}"] = float(state[key])
        if "p_mw" in state and "tap_pos" not in state:
            row[f"p_mw:{name}"] = float(state["p_mw"])
        row[f"cost:{name}"] = float(out.get("cost", 0.0))
    # the grid moved the automatic regulators within the step; their devices learn it
    # (and book the wear) at the next step
    for name, tap in zip(regulator_names, grid.get("regulator_tap_pos") or [], strict=False):
        row[f"tap_pos:{name}"] = float(tap)
    for name, tap in zip(regulator_unit_names, grid.get("regulator_unit_tap_pos") or [],
                         strict=False):
        regulator, _, phase = name.rpartition(".")
        row[f"tap_pos.{phase}:{regulator}"] = float(tap)
    for series in sorted(exogenous):
        row[series] = float(exogenous[series])
    return row


class CsvAppender:
    """Writes records as they come: header from the first record, one complete line each.

    Every line reaches the operating system in one ``write`` call of the whole line
    (the header with the first row), unbuffered, so a process killed at any moment
    (even by SIGKILL) leaves a file of whole lines: every step written before is kept.
    The file is fsynced at most every ``fsync_every_s`` seconds and at close, which
    bounds what a crash of the machine itself may lose. Columns missing from a later
    record are left empty, new ones are ignored.
    """

    def __init__(self, path: str | os.PathLike[str], fsync_every_s: float = 5.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115
        self._fields: list[str] | None = None
        self.fsync_every_s = float(fsync_every_s)
        self._synced_at = time.monotonic()

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as one line (``float`` by ``repr``: read back bit-identical)."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        if self._fields is None:
            self._fields = list(record)
            writer.writerow(self._fields)
        writer.writerow([_fmt(record.get(k, "")) for k in self._fields])
        self._write_all(text.getvalue().encode("utf-8"))
        if time.monotonic() - self._synced_at >= self.fsync_every_s:
            os.fsync(self._file.fileno())
            self._synced_at = time.monotonic()

    def _write_all(self, data: bytes) -> None:
        """Append ``data`` whole or not at all: a write that fails part-way (a full disk)
        is cut back to the last complete line and raised as an OSError naming the file."""
        end = self._file.tell()
        view = memoryview(data)
        try:
            while view:  # one call for a regular file; the loop only covers a short write
                view = view[self._file.write(view):]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), end)
                self._file.seek(end)
            raise OSError(exc.errno, f"cannot write {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        if not self._file.closed:
            try:
                os.fsync(self._file.fileno())
            finally:
                self._file.close()


def read_timeseries(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A run's ``timeseries.csv`` as a DataFrame, of complete lines only: a last line
    without its newline (a writer killed mid-line) is left out; a missing or empty
    file is an empty DataFrame."""
    import pandas as pd

    path = Path(path)
    data = path.read_bytes() if path.exists() else b""
    data = data[:data.rfind(b"\n") + 1]
    if not data:
        return pd.DataFrame()
    return pd.read_csv(io.BytesIO(data))


def _fmt(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def summarize(timeseries_csv: str | os.PathLike[str], wall_s: float | None = None,
              vm_min_pu: float = VM_MIN_PU, vm_max_pu: float = VM_MAX_PU) -> dict[str, Any]:
    """Totals of a run from its ``timeseries.csv``.

    ``voltage_violations`` counts bus-steps of energised buses outside
    ``[vm_min_pu, vm_max_pu]``; of a three-phase run (``vm_pu.<ph>:<bus>`` columns),
    bus-phase-steps, and ``min_vm_pu`` / ``max_vm_pu`` are over the bus-phases.
    Only complete lines count (:func:`read_timeseries`).
    """
    import numpy as np

    df = read_timeseries(timeseries_csv)
    for column in ("cost", "safety", "converged"):
        if column not in df:  # a run that ended before its first row
            df[column] = np.zeros(len(df))
    phases = [c for c in df.columns if c.startswith(PHASE_VOLTAGE_PREFIXES)]
    vm = df[phases or [c for c in df.columns if c.startswith("vm_pu:")]].to_numpy(float)
    energised = vm > 0.0
    outside = energised & ((vm < vm_min_pu) | (vm > vm_max_pu))
    vm_live = np.where(energised, vm, np.nan)
    summary: dict[str, Any] = {
        "steps": int(len(df)),
        "total_cost": float(df["cost"].sum()),
        "total_safety": float(df["safety"].sum()),
        "min_vm_pu": float(np.nanmin(vm_live)) if energised.any() else math.nan,
        "max_vm_pu": float(np.nanmax(vm_live)) if energised.any() else math.nan,
        "voltage_violations": int(outside.sum()),
        "nonconverged_steps": int((df["converged"] == 0).sum()),
    }
    if wall_s is not None:
        summary["wall_s"] = float(wall_s)
        summary["steps_per_s"] = float(len(df) / wall_s) if wall_s > 0 else math.nan
    return summary


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (nan, inf) as None, so strict JSON parsers
    read it (``json.dump`` would write ``NaN``/``Infinity``, which are not JSON)."""
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Write JSON so that ``path`` holds either the old or the whole new file, never half.
    Non-finite numbers are written as ``null`` (:func:`json_safe`); the file gets the
    same permissions as any file the process creates (0644 under the usual umask).

    The JSON goes to a temporary file in the same folder, is fsynced, then renamed over
    ``path``; anything that fails before the rename (an object JSON cannot encode, a
    full disk, a signal) removes the temporary file and leaves ``path`` as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as any other output (mkstemp makes it 0600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the rename itself durable (where dirs can be opened)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class OutputFolderBusyError(ValueError):
    """Another run writes to the same output folder."""


class RunFolder:
    """A run's ownership of its output folder, for as long as the run lasts.

    On entry: an exclusive lock on ``<folder>/.powergrid-run.lock`` (another run into
    the same folder fails at once with :class:`OutputFolderBusyError` naming the folder and
    the pid that holds it; the lock dies with its process, even a SIGKILLed one), then
    the outputs of any earlier run (``timeseries.csv``, ``summary.json``,
    ``overview.png``, temporary files of an interrupted summary write) are removed and
    a provisional ``summary.json`` says ``"completed": false, "status": "running"``.
    So a folder never shows a summary of another run: a run that is killed before it
    can write its own (SIGKILL, the machine's OOM killer) leaves that provisional one,
    and its ``timeseries.csv`` holds every step it completed.
    """

    LOCK = ".powergrid-run.lock"
    OUTPUTS = ("timeseries.csv", "summary.json", "overview.png")

    def __init__(self, path: str | os.PathLike[str], provisional: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.provisional = dict(provisional)
        self._fd: int | None = None

    def __enter__(self) -> RunFolder:
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputFolderBusyError(f"output folder '{self.path}' is in use by another run"
                                   f" (pid {holder}); wait for it or choose another --out"
                                   ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        try:
            for name in self.OUTPUTS:
                (self.path / name).unlink(missing_ok=True)
            for stale in self.path.glob(".summary.json.*.tmp"):
                stale.unlink(missing_ok=True)
            write_json_atomic(self.path / "summary.json",
                              {**self.provisional, "completed": False, "status": "running",
                               "pid": os.getpid()})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
