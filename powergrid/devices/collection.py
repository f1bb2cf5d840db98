"""A set of devices of mixed types, stepped fleet by fleet.

:class:`DeviceSet` groups devices by type into :class:`~powergrid.devices.base.Fleet`
objects, routes named setpoints and exogenous inputs to the right rows, and
returns every device's outputs by name. It is what the devices federate (and
any other host) drives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from powergrid.devices.base import Device, Fleet, State
from powergrid.devices.batch import DeviceBatch


@dataclass(frozen=True)
class DeviceReport:
    """One device's outputs after a step (plain floats, JSON-clean)."""

    p_mw: float
    q_mvar: float
    cost: float
    safety: float
    cost_terms: dict[str, float]
    safety_terms: dict[str, float]
    state: dict[str, float]


class DeviceSet:
    """Devices of any types, stepped together: the name-keyed front of a
    :class:`~powergrid.devices.batch.DeviceBatch` of one copy (the fleets are stepped by
    the same code for one copy and for many).

    ``step`` takes setpoints ``{device: {control: value}}`` (continuous
    controls in physical units, discrete ones as categories) and exogenous
    inputs ``{device: {input: value}}``; devices without a setpoint keep their
    own behaviour (:meth:`Fleet.default_controls`).
    """

    def __init__(self, devices: Sequence[Device]) -> None:
        names = [d.name for d in devices]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"device names must be unique; repeated: {dupes}")
        self.devices = {d.name: d for d in devices}
        self.batch = DeviceBatch(devices, 1, [], [], {})
        self.fleets: list[Fleet] = self.batch.fleets
        self.where: dict[str, tuple[int, int]] = dict(self.batch.where)
        self._started = False

    @property
    def states(self) -> list[State]:
        return self.batch.states

    def reset(self, rng: np.random.Generator | None = None) -> None:
        """Start every fleet from its initial state."""
        self.batch.states = [f.initial_state(rng) for f in self.fleets]
        self._started = True

    def state_of(self, name: str) -> dict[str, float]:
        """The current state of device ``name`` as floats."""
        k, i = self.where[name]
        return {key: float(v[i]) for key, v in self.states[k].items()}

    def step(self, setpoints: Mapping[str, Mapping[str, float]],
             exogenous: Mapping[str, Mapping[str, float]], dt_h: float) -> dict[str, DeviceReport]:
        """Advance all devices one step of ``dt_h`` hours; outputs by device name."""
        if not self._started:
            self.reset()
        controls, exog = self.batch.defaults()
        for k, fleet in enumerate(self.fleets):
            c, d = controls[k]
            for i, name in enumerate(fleet.names):
                for control, value in setpoints.get(name, {}).items():
                    _apply_control(fleet, name, c, d, i, control, value)
                for key, value in exogenous.get(name, {}).items():
                    if key not in exog[k]:
                        raise ValueError(f"device {name!r}: unknown input {key!r}"
                                         f" (expects {list(fleet.EXOGENOUS)})")
                    exog[k][key][i] = value
        outs = self.batch.advance(controls, exog, dt_h)
        reports: dict[str, DeviceReport] = {}
        for fleet, out, new_state in zip(self.fleets, outs, self.states, strict=True):
            p, q = out.p_mw.tolist(), out.q_mvar.tolist()
            cost, safety = out.cost.tolist(), out.safety.tolist()
            cost_terms = {t: v.tolist() for t, v in out.cost_terms.items()}
            safety_terms = {t: v.tolist() for t, v in out.safety_terms.items()}
            states = {key: np.asarray(v, dtype=float).tolist() for key, v in new_state.items()}
            for i, name in enumerate(fleet.names):
                reports[name] = DeviceReport(
                    p_mw=p[i], q_mvar=q[i], cost=cost[i], safety=safety[i],
                    cost_terms={t: v[i] for t, v in cost_terms.items()},
                    safety_terms={t: v[i] for t, v in safety_terms.items()},
                    state={key: v[i] for key, v in states.items()})
        return reports


def _apply_control(fleet: Fleet, name: str, c: np.ndarray, d: np.ndarray, i: int,
                   control: str, value: Any) -> None:
    if control in fleet.CONTROLS_C:
        c[i, fleet.CONTROLS_C.index(control)] = float(value)
    elif control in fleet.CONTROLS_D:
        d[i, fleet.CONTROLS_D.index(control)] = int(value)
    else:
        valid = list(fleet.CONTROLS_C + fleet.CONTROLS_D)
        raise ValueError(f"device {name!r}: unknown control {control!r} (valid: {valid})")
