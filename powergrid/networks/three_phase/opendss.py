"""Solve an OpenDSS circuit through OpenDSSDirect.py and read per-bus-phase results.

OpenDSSDirect.py (PyPI ``opendssdirect.py``, the project's ``three_phase`` extra)
carries the OpenDSS engine (DSS C-API via dss_python); nothing is downloaded at run
time. It is imported inside :func:`new_engine`, so ``import powergrid`` does not need
it; without it :func:`new_engine` raises ``ModuleNotFoundError`` naming the extra.

Each :class:`OpenDSSCircuit` has its own engine context, so several circuits (or a
user's own ``opendssdirect`` session) do not overwrite one another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from powergrid.networks.three_phase.dss import AREA_SEPARATOR, PHASE_NODE
from powergrid.networks.three_phase.dss import bus as dss_bus

_PHASE_OF_NODE = {node: phase for phase, node in PHASE_NODE.items()}
#: Control iterations allowed for the regulators to settle in automatic control.
MAX_CONTROL_ITERATIONS = 100


def new_engine() -> Any:
    """A fresh OpenDSS engine context (``opendssdirect.NewContext()``)."""
    try:
        import opendssdirect
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the three-phase OpenDSS model needs OpenDSSDirect.py: "
            "pip install 'powergrid[three-phase]' (or opendssdirect.py)"
        ) from exc
    return opendssdirect.NewContext()


def engine_errors() -> tuple[type[BaseException], ...]:
    """The exceptions the OpenDSS engine raises (a solve or a control loop that fails)."""
    from dss import DSSException

    return (DSSException,)


@dataclass(frozen=True)
class PhaseSnapshot:
    """One solved power flow, per bus-phase.

    ``nodes`` are "<bus>.<phase>" with the circuit's bus names as given to it (e.g.
    "RG60.a", "684.c"), only the phases each bus has; ``vm_pu`` (line-to-neutral
    magnitude over the bus's base kV / sqrt(3)) and ``va_degree`` are in the same
    order. ``source_p_kw`` / ``source_q_kvar`` is the power into the feeder at the
    measuring point the caller named (kW, kvar, all phases). ``regulator_taps``
    maps each regulator unit to its tap (steps from neutral).
    """

    converged: bool
    nodes: tuple[str, ...]
    vm_pu: np.ndarray
    va_degree: np.ndarray
    source_p_kw: float
    source_q_kvar: float
    losses_kw: float
    regulator_taps: dict[str, int]

    def vm(self, bus: str, phase: str) -> float:
        """Voltage magnitude (p.u.) of ``bus`` on ``phase`` ("a", "b", "c")."""
        return float(self.vm_pu[self.nodes.index(f"{bus}.{phase}")])

    def phase_matrix(self, buses: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(vm_pu, present)``, both of shape (len(buses), 3), columns phases a, b, c:
        the magnitudes (0.0 where the bus has no such phase) and a boolean mask of
        the phases the bus has. No NaN."""
        vm = np.zeros((len(buses), 3))
        present = np.zeros((len(buses), 3), dtype=bool)
        row = {bus: i for i, bus in enumerate(buses)}
        for node, value in zip(self.nodes, self.vm_pu, strict=True):
            bus, _, phase = node.rpartition(".")
            if bus in row:
                k = "abc".index(phase)
                vm[row[bus], k] = value
                present[row[bus], k] = True
        return vm, present

    def by_bus(self) -> dict[str, dict[str, float]]:
        """{bus: {phase: vm_pu}} for the phases each bus has."""
        out: dict[str, dict[str, float]] = {}
        for node, vm in zip(self.nodes, self.vm_pu, strict=True):
            bus, _, phase = node.rpartition(".")
            out.setdefault(bus, {})[phase] = float(vm)
        return out


class OpenDSSCircuit:
    """One OpenDSS circuit built from ``commands`` in its own engine context.

    ``bus_names`` are the circuit's bus names as the caller spells them (OpenDSS
    lower-cases them); results use them. ``source_element`` /
    ``source_terminal`` name where the feeder's input power is measured (e.g. the
    substation transformer's secondary, terminal 2); ``tap_step`` is the
    regulators' step (p.u.) for reading tap positions back.
    """

    def __init__(
        self,
        commands: Sequence[str],
        *,
        bus_names: Sequence[str],
        regulators: Sequence[str] = (),
        source_element: str = "Vsource.source",
        source_terminal: int = 1,
        tap_step: float = 0.00625,
    ) -> None:
        self.engine = new_engine()
        for command in commands:
            self.engine.Text.Command(command)
        self._names = {dss_bus(name).lower(): name for name in bus_names}
        if len(self._names) != len(bus_names):
            raise ValueError("two bus names are one OpenDSS bus (a name with"
                             f" {AREA_SEPARATOR!r} and one with '.')")
        self.regulators = tuple(regulators)
        self.source_element = source_element
        self.source_terminal = source_terminal
        self.tap_step = tap_step
        self.engine.Solution.MaxControlIterations(MAX_CONTROL_ITERATIONS)
        # Results in a fixed order: buses as in ``bus_names`` (others after, as
        # OpenDSS lists them), phases a, b, c; OpenDSS' own order follows the
        # order elements touched the nodes. Neutral / other nodes are left out.
        rank = {name: i for i, name in enumerate(self._names)}
        keys = []
        for position, raw in enumerate(self.engine.Circuit.AllNodeNames()):
            bus, _, node = raw.rpartition(".")
            if int(node) in _PHASE_OF_NODE:
                keys.append((rank.get(bus, len(rank)), position if bus not in rank else 0,
                             int(node), position, bus))
        keys.sort()
        #: positions in OpenDSS' node list of :attr:`nodes`
        self._order = np.array([k[3] for k in keys], dtype=np.intp)
        self.nodes: tuple[str, ...] = tuple(
            f"{self._names.get(k[4], k[4])}.{_PHASE_OF_NODE[k[2]]}" for k in keys
        )

    def command(self, text: str) -> None:
        """Run one OpenDSS command (e.g. "Load.675a.kW=400"); errors raise."""
        self.engine.Text.Command(text)

    def set_regulator_taps(self, taps: Sequence[int]) -> None:
        """Put each regulator unit (in :attr:`regulators` order) at its tap."""
        if len(taps) != len(self.regulators):
            raise ValueError(f"{len(self.regulators)} regulator taps expected, got {len(taps)}")
        transformers = self.engine.Transformers
        for name, tap in zip(self.regulators, taps, strict=True):
            transformers.Name(name)
            transformers.Wdg(2)
            transformers.Tap(1.0 + tap * self.tap_step)

    def regulator_taps(self) -> dict[str, int]:
        """Each regulator unit's tap (steps from neutral) as the engine holds it."""
        transformers = self.engine.Transformers
        out = {}
        for name in self.regulators:
            transformers.Name(name)
            transformers.Wdg(2)
            out[name] = round((transformers.Tap() - 1.0) / self.tap_step)
        return out

    def solve(self, *, regulator_control: bool = False) -> PhaseSnapshot:
        """One snapshot power flow. ``regulator_control``: let the regulators'
        ``RegControl`` (line-drop compensation, band) move their taps until settled
        (OpenDSS "static" control mode); otherwise the taps stay where they are."""
        self.engine.Text.Command(
            f"Set Mode=Snapshot ControlMode={'Static' if regulator_control else 'Off'}"
        )
        self.engine.Solution.Solve()
        return self.snapshot()

    def snapshot(self) -> PhaseSnapshot:
        """The results of the last solve."""
        circuit = self.engine.Circuit
        vm = np.asarray(circuit.AllBusMagPu(), dtype=float)[self._order]
        va = np.angle(np.asarray(circuit.AllBusVolts(), dtype=float).view(complex), deg=True)
        p_kw, q_kvar = self.terminal_power(self.source_element, self.source_terminal)
        losses_w = circuit.Losses()[0]
        return PhaseSnapshot(
            converged=bool(self.engine.Solution.Converged()),
            nodes=self.nodes,
            vm_pu=vm,
            va_degree=va[self._order],
            source_p_kw=p_kw,
            source_q_kvar=q_kvar,
            losses_kw=float(losses_w) / 1000.0,
            regulator_taps=self.regulator_taps(),
        )

    def terminal_power(self, element: str, terminal: int) -> tuple[float, float]:
        """Power (kW, kvar) flowing *out of* ``element`` at ``terminal`` (1-based),
        summed over its conductors; for a source or a transformer's secondary, the
        power it delivers to the circuit."""
        self.engine.Circuit.SetActiveElement(element)
        cktel = self.engine.CktElement
        powers = np.asarray(cktel.Powers(), dtype=float).reshape(-1, 2)
        per_terminal = cktel.NumConductors()
        rows = powers[(terminal - 1) * per_terminal : terminal * per_terminal]
        # OpenDSS reports power *into* the element at each terminal.
        return float(-rows[:, 0].sum()), float(-rows[:, 1].sum())
