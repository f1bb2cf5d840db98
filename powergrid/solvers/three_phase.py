"""Three-phase snapshot power flow of the IEEE 13 feeder on OpenDSS: the seed of a
three-phase solver backend (issue 18). Not wired into the environments or federates.

One :class:`IEEE13ThreePhaseSolver` builds the circuit once
(:func:`powergrid.networks.three_phase.ieee13_circuit`) with a ``Generator`` at each
injection bus and then, per :meth:`~IEEE13ThreePhaseSolver.solve`, sets the
injections, the regulator taps and the load level in place and solves (about 0.2 ms
on IEEE 13). :func:`ieee13_snapshot` is the one-call form.

Units and signs: injections in kW and kvar, positive into the grid (generation; a
charging battery is negative), each split evenly over the phases of its bus (a
balanced injection on a three-phase bus); taps in steps of 0.625 % from neutral,
one per phase a, b, c; ``load_scale`` multiplies every published load's kW and
kvar. Results per bus-phase in p.u. (:class:`PhaseSnapshot`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

import powergrid.networks.three_phase.dss as dss
from powergrid.networks._elements import REGULATOR_TAP_MAX
from powergrid.networks.ieee13 import PUBLISHED_REGULATOR_TAPS
from powergrid.networks.three_phase.ieee13 import bus_kv, bus_phases, ieee13_circuit
from powergrid.networks.three_phase.opendss import PhaseSnapshot

__all__ = ["IEEE13ThreePhaseSolver", "PhaseSnapshot", "ieee13_snapshot"]


class IEEE13ThreePhaseSolver:
    """The three-phase IEEE 13 with injections at ``injection_buses`` (IEEE names,
    e.g. ["675", "680", "611"]; each at most once), solved one snapshot at a time.

    :attr:`nodes` ("<bus>.<phase>") and :attr:`buses` are fixed for the solver's
    life; every :class:`PhaseSnapshot` it returns uses them.
    """

    def __init__(self, injection_buses: Sequence[str] = ()) -> None:
        phases, kv = bus_phases(), bus_kv()
        unknown = [bus for bus in injection_buses if bus not in phases or bus == "sourcebus"]
        if unknown:
            raise ValueError(f"injection buses not on the IEEE 13 feeder: {unknown}")
        if len(set(injection_buses)) != len(injection_buses):
            raise ValueError(f"injection buses repeat: {list(injection_buses)}")
        self.injection_buses = tuple(injection_buses)
        self._generators = tuple(f"inj{bus}" for bus in self.injection_buses)
        self.circuit = ieee13_circuit()
        for name, bus in zip(self._generators, self.injection_buses, strict=True):
            self.circuit.command(dss.generator(name, bus, phases[bus], kv_ll=kv[bus]))
        self.buses = tuple(bus for bus in kv if bus != "sourcebus")
        self.nodes = self.circuit.nodes

    def solve(
        self,
        p_kw: ArrayLike | None = None,
        q_kvar: ArrayLike | None = None,
        *,
        regulator_taps: Sequence[int] = PUBLISHED_REGULATOR_TAPS,
        load_scale: float = 1.0,
        regulator_control: bool = False,
    ) -> PhaseSnapshot:
        """Set the injections (kW, kvar per :attr:`injection_buses`; ``None`` = 0),
        the regulator taps (a, b, c) and the load level, solve one snapshot.
        ``regulator_control``: the taps are the starting point and the published
        line-drop compensators move them (the snapshot reports where they settled)."""
        n = len(self.injection_buses)
        p = np.zeros(n) if p_kw is None else np.asarray(p_kw, dtype=float).reshape(-1)
        q = np.zeros(n) if q_kvar is None else np.asarray(q_kvar, dtype=float).reshape(-1)
        if p.shape != (n,) or q.shape != (n,):
            raise ValueError(f"p_kw and q_kvar: one value per injection bus ({n})")
        if not (np.isfinite(p).all() and np.isfinite(q).all() and np.isfinite(load_scale)):
            raise ValueError("injections and load_scale must be finite")
        taps = [int(t) for t in regulator_taps]
        if len(taps) != 3 or any(abs(t) > REGULATOR_TAP_MAX for t in taps):
            raise ValueError(f"regulator_taps: three taps (a, b, c) in -{REGULATOR_TAP_MAX}.."
                             f"{REGULATOR_TAP_MAX}, got {list(regulator_taps)}")
        generators = self.circuit.engine.Generators
        for name, p_i, q_i in zip(self._generators, p, q, strict=True):
            generators.Name(name)
            generators.kW(float(p_i))
            generators.kvar(float(q_i))
        self.circuit.set_regulator_taps(taps)
        self.circuit.command(f"Set LoadMult={float(load_scale)!r}")
        return self.circuit.solve(regulator_control=regulator_control)

    def vm_pu(self, snapshot: PhaseSnapshot) -> tuple[np.ndarray, np.ndarray]:
        """``(vm_pu, present)`` of shape (len(:attr:`buses`), 3), phases a, b, c
        (0.0 and False where a bus has no such phase)."""
        return snapshot.phase_matrix(self.buses)


def ieee13_snapshot(
    injections: Mapping[str, tuple[float, float]] | None = None,
    *,
    regulator_taps: Sequence[int] = PUBLISHED_REGULATOR_TAPS,
    load_scale: float = 1.0,
) -> PhaseSnapshot:
    """One snapshot of the three-phase IEEE 13: ``injections`` {bus: (kW, kvar)}
    (positive into the grid, balanced over the bus's phases), regulator taps per
    phase a, b, c, loads times ``load_scale``. ``snapshot.nodes`` /
    ``snapshot.vm_pu`` are the per-bus-phase magnitudes (p.u.);
    ``snapshot.phase_matrix(buses)`` the (bus, phase) array."""
    injections = dict(injections or {})
    solver = IEEE13ThreePhaseSolver(list(injections))
    values = np.array(list(injections.values()), dtype=float).reshape(-1, 2)
    return solver.solve(values[:, 0], values[:, 1], regulator_taps=regulator_taps,
                        load_scale=load_scale)
