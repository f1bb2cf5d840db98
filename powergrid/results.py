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
``vm_pu:<bus>``          p.u.   every bus voltage (0 = not energised)
``soc:<ess>``            --     every battery's state of charge after the step
``p_mw:<device>``        MW     every injecting device's active power
``tap_pos:<trafo>``      --     OLTC positions; likewise ``step:<shunt>``,
                                ``closed:<switch>``, ``on:<generator>``
``cost:<device>``        $      each device's cost
``<kind>:<series>``      --     the exogenous series values used
=======================  =====  ==================================================
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from powergrid.safety import VM_MAX_PU, VM_MIN_PU

_STATE_COLUMNS = ("soc", "tap_pos", "step", "closed", "on")


def step_record(time_s: int, grid: Mapping[str, Any], devices: Mapping[str, Mapping[str, Any]],
                exogenous: Mapping[str, float], bus_names: Sequence[str],
                pcc_names: Sequence[str], price_series: str | None,
                agents: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, float]:
    """The flat record of one step (columns as in the module docstring)."""
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
    for name, vm in zip(bus_names, grid.get("vm_pu") or [], strict=False):
        row[f"vm_pu:{name}"] = float(vm)
    for name in sorted(devices):
        out = devices[name]
        state = out.get("state") or {}
        for key in _STATE_COLUMNS:
            if key in state:
                row[f"{key}:{name}"] = float(state[key])
        if "p_mw" in state and "tap_pos" not in state:
            row[f"p_mw:{name}"] = float(state["p_mw"])
        row[f"cost:{name}"] = float(out.get("cost", 0.0))
    for series in sorted(exogenous):
        row[series] = float(exogenous[series])
    return row


class CsvAppender:
    """Writes records as they come: header from the first record, one flushed row each.

    A run that dies keeps every row written before; columns missing from a
    later record are left empty, new ones are ignored.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer: csv.DictWriter | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(record),
                                          extrasaction="ignore", lineterminator="\n")
            self._writer.writeheader()
        self._writer.writerow({k: _fmt(v) for k, v in record.items()})
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _fmt(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def summarize(timeseries_csv: str | os.PathLike[str], wall_s: float | None = None,
              vm_min_pu: float = VM_MIN_PU, vm_max_pu: float = VM_MAX_PU) -> dict[str, Any]:
    """Totals of a run from its ``timeseries.csv``.

    ``voltage_violations`` counts bus-steps of energised buses outside
    ``[vm_min_pu, vm_max_pu]``.
    """
    import numpy as np
    import pandas as pd

    df = pd.read_csv(timeseries_csv)
    vm = df[[c for c in df.columns if c.startswith("vm_pu:")]].to_numpy(float)
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


def write_json_atomic(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Write JSON so that ``path`` holds either the old or the whole new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
