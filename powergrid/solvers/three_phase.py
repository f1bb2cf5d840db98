"""Three-phase snapshot power flow of a feeder on OpenDSS (issue 18): the backend of
:class:`powergrid.phase_gridmodel.ThreePhaseGridModel`, which the grid federate runs
when a scenario's ``physics`` is ``"three_phase"``.

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

Step by step (the grid model's use), the solver's state persists between solves: set
what changed with :meth:`~ThreePhaseSolver.set_loads` (kW, kvar per load column),
:meth:`~ThreePhaseSolver.set_capacitors`, :meth:`~ThreePhaseSolver.set_regulator_taps`,
:meth:`~ThreePhaseSolver.set_transformer_tap`, :meth:`~ThreePhaseSolver.set_switch`,
:meth:`~ThreePhaseSolver.set_automatic` (which regulator units their ``RegControl``
moves, and whether the substation's on-load tap changer does),
:meth:`~ThreePhaseSolver.set_regulator_level`, :meth:`~ThreePhaseSolver.set_ltc_tap`,
then :meth:`~ThreePhaseSolver.step`; :meth:`~ThreePhaseSolver.max_currents_a`
and :meth:`~ThreePhaseSolver.element_power_kw` read what the snapshot does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

import powergrid.networks.three_phase.dss as dss
from powergrid.networks._elements import PT_SECONDARY_V, pt_ratio
from powergrid.networks.three_phase import FEEDERS, Feeder
from powergrid.networks.three_phase.feeder import check_tap
from powergrid.networks.three_phase.opendss import PhaseSnapshot, engine_errors

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

    def __init__(self, feeder: Feeder | str, injection_buses: Sequence[str] = (),
                 capacitors: Mapping[str, tuple[str, float]] | None = None) -> None:
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
        for name, (bus, kvar) in (capacitors or {}).items():
            if bus not in phases:
                raise ValueError(f"capacitor {name!r}: bus {bus!r} is not on the"
                                 f" {self.feeder.name} feeder")
            self.circuit.command(dss.capacitor(name, bus, phases[bus], kvar=kvar, kv_ll=kv[bus]))
        self.buses = tuple(bus for bus in kv if bus != source)
        self.nodes = self.circuit.nodes
        self.regulators = self.feeder.regulator_units
        self.published_taps = self.feeder.published_taps
        engine = self.circuit.engine
        #: the load columns (OpenDSS names, :meth:`Feeder.load_names` order) and the
        #: capacitor units ("cap675a", ...): the order of :meth:`set_loads`, the
        #: names :meth:`set_capacitors` takes
        self.loads: tuple[str, ...] = tuple(engine.Loads.AllNames())
        self.capacitors: tuple[str, ...] = tuple(engine.Capacitors.AllNames())
        #: the power-delivery elements ("Line.632-645", "Transformer.reg1a", ...; OpenDSS
        #: spells bus names in lower case), the order of :meth:`max_currents_a`
        self.pd_elements: tuple[str, ...] = tuple(engine.PDElements.AllNames())
        #: the substation transformer whose on-load tap changer :meth:`set_automatic` can
        #: enable (None: the feeder has none)
        self.ltc: str | None = (self.feeder.substation.name
                                if self.feeder.substation_ltc is not None else None)
        self._automatic = False
        self._tap_changers: list[str] = []

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

    # -- step by step: the state persists between solves ------------------------------
    def set_loads(self, kw: ArrayLike, kvar: ArrayLike) -> None:
        """Every load column's kW and kvar (at its rated voltage), :attr:`loads` order."""
        loads = self.circuit.engine.Loads
        for name, p, q in zip(self.loads, np.asarray(kw, float), np.asarray(kvar, float),
                              strict=True):
            loads.Name(name)
            loads.kW(float(p))
            loads.kvar(float(q))

    def set_load_multiplier(self, factor: float) -> None:
        """Every load at ``factor`` times its kW and kvar (OpenDSS' ``LoadMult``)."""
        self.circuit.engine.Solution.LoadMult(float(factor))

    def set_capacitors(self, closed: Mapping[str, bool]) -> None:
        """Switch capacitor units (by name, :attr:`capacitors`) in (True) or out."""
        capacitors = self.circuit.engine.Capacitors
        for name, on in closed.items():
            capacitors.Name(name)
            capacitors.States([int(bool(on))])

    def set_regulator_taps(self, taps: Sequence[int]) -> None:
        """A tap per regulator unit (:attr:`regulators` order, steps from neutral)."""
        self.circuit.set_regulator_taps(self.feeder.check_taps(taps))

    def regulator_taps(self) -> np.ndarray:
        """The units' taps as the engine holds them (:attr:`regulators` order)."""
        held = self.circuit.regulator_taps()
        return np.array([held[name] for name in self.regulators], dtype=np.int64)

    def set_transformer_tap(self, name: str, winding: int, ratio: float) -> None:
        """Winding ``winding`` (1 HV, 2 LV) of transformer ``name`` at ``ratio`` (p.u. of
        its rated voltage: 1.025 = +2.5 %)."""
        transformers = self.circuit.engine.Transformers
        transformers.Name(name)
        transformers.Wdg(int(winding))
        transformers.Tap(float(ratio))

    def set_switch(self, name: str, closed: bool) -> None:
        """Close or open (all phases, at terminal 1) the switch ``name`` ("671-692")."""
        self.circuit.command(f"{'Close' if closed else 'Open'} Line.{name} 1")

    def set_automatic(self, units: Sequence[bool], substation: bool = False) -> None:
        """Which regulator units (:attr:`regulators` order) their ``RegControl`` (the
        published line-drop compensator) moves within :meth:`step`; the others hold
        the tap they are set to. ``substation``: the substation's on-load tap changer
        (:attr:`ltc`) moves too."""
        if len(units) != len(self.regulators):
            raise ValueError(f"{len(self.regulators)} regulator flags expected, got {len(units)}")
        if substation and self.ltc is None:
            raise ValueError(f"the {self.feeder.name} feeder's substation has no on-load tap"
                             " changer")
        controls = [*zip(self.regulators, units, strict=True)]
        if self.ltc is not None:
            controls.append((self.ltc, substation))
        for name, on in controls:
            self.circuit.command(f"Edit RegControl.{name} enabled={'yes' if on else 'no'}")
        self._automatic = any(units) or substation or bool(self._tap_changers)

    def add_tap_changer(self, name: str, winding: int, ratios: tuple[float, float],
                        steps: int, bus: str, vreg_pu: float, band_pu: float) -> None:
        """Give transformer ``name``'s ``winding`` an automatic tap changer: ``steps``
        steps between the ``ratios`` (lowest, highest), a ``RegControl`` of its name
        holding the highest phase of ``bus`` within ``vreg_pu`` +/- ``band_pu`` / 2 (no
        line-drop compensation). It moves within every :meth:`step`."""
        phases, kv = self.feeder.bus_phases(), self.feeder.bus_kv()
        if bus not in phases:
            raise ValueError(f"tap changer {name!r}: bus {bus!r} is not on the"
                             f" {self.feeder.name} feeder")
        self.circuit.command(dss.tap_range(name, winding, ratios, steps))
        self.circuit.command(dss.regcontrol(
            name, name, vreg_v=vreg_pu * PT_SECONDARY_V, band_v=band_pu * PT_SECONDARY_V,
            pt_ratio=pt_ratio(kv[bus]), winding=winding,
            bus_name=bus, pt_phase="MAX"))
        self._tap_changers.append(name)
        self._automatic = True

    def transformer_tap(self, name: str, winding: int) -> float:
        """Transformer ``name``'s ``winding`` ratio (p.u.) as the engine holds it."""
        transformers = self.circuit.engine.Transformers
        transformers.Name(name)
        transformers.Wdg(int(winding))
        return float(transformers.Tap())

    def set_regulator_level(self, unit: str, vreg_v: float) -> None:
        """The voltage level of regulator unit ``unit``'s ``RegControl`` (V on its PT's
        secondary; the band and the compensator stay as published)."""
        if unit not in self.regulators:
            raise ValueError(f"{unit!r} is not a regulator unit of the {self.feeder.name}"
                             f" feeder ({', '.join(self.regulators)})")
        self.circuit.command(f"Edit RegControl.{unit} vreg={float(vreg_v)!r}")

    def ltc_tap(self) -> int:
        """The substation LTC's tap (steps from neutral) as the engine holds it."""
        transformers = self.circuit.engine.Transformers
        transformers.Name(self._ltc_name())
        transformers.Wdg(2)
        return round((transformers.Tap() - 1.0) / self.circuit.tap_step)

    def set_ltc_tap(self, tap: int) -> None:
        """Put the substation LTC at ``tap`` (steps from neutral, -16..16)."""
        self.set_transformer_tap(self._ltc_name(), 2,
                                 1.0 + check_tap(tap, "substation LTC") * self.circuit.tap_step)

    def _ltc_name(self) -> str:
        if self.ltc is None:
            raise ValueError(f"the {self.feeder.name} feeder's substation has no on-load tap"
                             " changer")
        return self.ltc

    def step(self, p_kw: ArrayLike, q_kvar: ArrayLike) -> PhaseSnapshot:
        """Set the injections (kW, kvar per :attr:`injection_buses`) and solve one
        snapshot at the state held (loads, taps, capacitors, switches), the automatic
        units (:meth:`set_automatic`) settling their taps within it."""
        generators = self.circuit.engine.Generators
        for name, p_i, q_i in zip(self._generators, np.asarray(p_kw, float),
                                  np.asarray(q_kvar, float), strict=True):
            generators.Name(name)
            generators.kW(float(p_i))
            generators.kvar(float(q_i))
        try:
            return self.circuit.solve(regulator_control=self._automatic)
        except engine_errors():  # e.g. the regulators' control loop did not settle
            return replace(self.circuit.snapshot(), converged=False)

    def max_currents_a(self) -> np.ndarray:
        """The largest conductor current (A) of each of :attr:`pd_elements` in the last
        solve (at any of its terminals)."""
        return np.asarray(self.circuit.engine.PDElements.AllMaxCurrents(False), dtype=float)

    def terminal_currents_a(self, element: str) -> np.ndarray:
        """Current magnitudes (A) of ``element``'s phase conductors in the last solve,
        shape (terminals, phases) (a wye winding's neutral left out)."""
        self.circuit.engine.Circuit.SetActiveElement(element)
        cktel = self.circuit.engine.CktElement
        mags = np.asarray(cktel.CurrentsMagAng(), dtype=float)[::2]
        per_terminal = cktel.NumConductors()
        return mags.reshape(-1, per_terminal)[:, :cktel.NumPhases()]

    def element_power_kw(self, element: str, terminal: int = 1) -> tuple[float, float]:
        """Power (kW, kvar) *into* ``element`` ("Line.650-632", "Vsource.source") at
        ``terminal`` in the last solve; for the source, minus what it delivers."""
        p, q = self.circuit.terminal_power(element, terminal)
        return -p, -q

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
