"""Three-phase snapshot power flow of a feeder on OpenDSS: the seed of a three-phase
solver backend (issue 18). Not wired into the environments or federates.

One :class:`ThreePhaseSolver` builds a feeder's circuit once
(:class:`powergrid.networks.three_phase.Feeder`; by name, "ieee13" or "ieee34", from
:data:`powergrid.networks.three_phase.FEEDERS`) with a ``Generator`` at each
injection bus and then, per :meth:`~ThreePhaseSolver.solve`, sets the injections,
the regulator taps and the load level in place and solves (about 0.2 ms on IEEE 13,
0.6 ms on IEEE 34). :func:`solve_snapshot` is the one-call form.

Units and signs: injections in kW and kvar, positive into the grid (generation; a
charging battery is negative), each split evenly over the phases of its bus (a
balanced injection on a three-phase bus); taps in steps of 0.625 % from neutral,
one per regulator unit (:attr:`ThreePhaseSolver.regulators`: phases a, b, c of each
regulator bank); ``load_scale`` multiplies every published load's kW and kvar.
Results per bus-phase in p.u. (:class:`PhaseSnapshot`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

import powergrid.networks.three_phase.dss as dss
from powergrid.networks.three_phase import FEEDERS, Feeder
from powergrid.networks.three_phase.opendss import PhaseSnapshot

__all__ = ["PhaseSnapshot", "ThreePhaseSolver", "solve_snapshot"]


def _feeder(feeder: Feeder | str) -> Feeder:
    if isinstance(feeder, Feeder):
        return feeder
    if feeder not in FEEDERS:
        raise ValueError(f"no three-phase feeder {feeder!r}; known: {sorted(FEEDERS)}")
    return FEEDERS[feeder]


class ThreePhaseSolver:
    """The three-phase ``feeder`` (a :class:`Feeder` or its name) with injections at
    ``injection_buses`` (IEEE names, e.g. ["675", "680", "611"]; each at most once),
    solved one snapshot at a time.

    :attr:`nodes` ("<bus>.<phase>"), :attr:`buses` and :attr:`regulators` (the
    regulator units, the order of ``regulator_taps``) are fixed for the solver's
    life; every :class:`PhaseSnapshot` it returns uses them.
    """

    def __init__(self, feeder: Feeder | str, injection_buses: Sequence[str] = ()) -> None:
        self.feeder = _feeder(feeder)
        phases, kv = self.feeder.bus_phases(), self.feeder.bus_kv()
        source = self.feeder.source.bus
        unknown = [bus for bus in injection_buses if bus not in phases or bus == source]
        if unknown:
            raise ValueError(f"injection buses not on the {self.feeder.name} feeder: {unknown}")
        if len(set(injection_buses)) != len(injection_buses):
            raise ValueError(f"injection buses repeat: {list(injection_buses)}")
        self.injection_buses = tuple(injection_buses)
        self._generators = tuple(f"inj{bus}" for bus in self.injection_buses)
        self.circuit = self.feeder.circuit()
        for name, bus in zip(self._generators, self.injection_buses, strict=True):
            self.circuit.command(dss.generator(name, bus, phases[bus], kv_ll=kv[bus]))
        self.buses = tuple(bus for bus in kv if bus != source)
        self.nodes = self.circuit.nodes
        self.regulators = self.feeder.regulator_units
        self.published_taps = self.feeder.published_taps

    def solve(
        self,
        p_kw: ArrayLike | None = None,
        q_kvar: ArrayLike | None = None,
        *,
        regulator_taps: Sequence[int] | None = None,
        load_scale: float = 1.0,
        regulator_control: bool = False,
    ) -> PhaseSnapshot:
        """Set the injections (kW, kvar per :attr:`injection_buses`; ``None`` = 0),
        the regulator taps (one per unit in :attr:`regulators`; ``None`` the
        published ones) and the load level, solve one snapshot.
        ``regulator_control``: the taps are the starting point and the published
        line-drop compensators move them (the snapshot reports where they settled)."""
        n = len(self.injection_buses)
        p = np.zeros(n) if p_kw is None else np.asarray(p_kw, dtype=float).reshape(-1)
        q = np.zeros(n) if q_kvar is None else np.asarray(q_kvar, dtype=float).reshape(-1)
        if p.shape != (n,) or q.shape != (n,):
            raise ValueError(f"p_kw and q_kvar: one value per injection bus ({n})")
        if not (np.isfinite(p).all() and np.isfinite(q).all() and np.isfinite(load_scale)):
            raise ValueError("injections and load_scale must be finite")
        taps = self.feeder.check_taps(self.published_taps if regulator_taps is None
                                      else regulator_taps)
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


def solve_snapshot(
    feeder: Feeder | str,
    injections: Mapping[str, tuple[float, float]] | None = None,
    *,
    regulator_taps: Sequence[int] | None = None,
    load_scale: float = 1.0,
) -> PhaseSnapshot:
    """One snapshot of the three-phase ``feeder``: ``injections`` {bus: (kW, kvar)}
    (positive into the grid, balanced over the bus's phases), a tap per regulator
    unit (``None`` the published ones), loads times ``load_scale``.
    ``snapshot.nodes`` / ``snapshot.vm_pu`` are the per-bus-phase magnitudes (p.u.);
    ``snapshot.phase_matrix(buses)`` the (bus, phase) array."""
    injections = dict(injections or {})
    solver = ThreePhaseSolver(feeder, list(injections))
    values = np.array(list(injections.values()), dtype=float).reshape(-1, 2)
    return solver.solve(values[:, 0], values[:, 1], regulator_taps=regulator_taps,
                        load_scale=load_scale)
