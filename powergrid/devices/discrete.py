"""Network equipment with a discrete position: switched shunts, OLTCs, switches.

Each has one discrete control, a category ``k`` in ``0 .. n-1`` that maps to a
physical position ``offset + k`` (shunt step, tap position, closed flag), and a
wear cost per position moved. They inject nothing themselves; the grid reads
their position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np

from powergrid.costs import switching_cost, tap_change_cost
from powergrid.devices.base import (
    Device,
    Feature,
    Fleet,
    FleetOutput,
    State,
    bus_index,
    require_element,
    upsert_element,
)
from powergrid.devices.capability import clip


class PositionFleet(Fleet):
    """Devices with one discrete position each. Subclasses set the position
    name, the category offset and the cost of a move."""

    CONTROLS_D = ("position",)
    #: the state key holding the physical position (``"step"``, ``"tap_pos"``, ``"closed"``)
    POSITION: ClassVar[str] = "position"

    def __init__(self, devices: Sequence[PositionDevice]) -> None:
        super().__init__(devices)
        self.offset = self.offsets()
        self.n_positions = np.array([d.position_count() for d in devices], dtype=np.int64)
        self.init = np.array([d.initial_position() for d in devices], dtype=np.int64)

    def offsets(self) -> np.ndarray:
        return np.zeros(self.n, dtype=np.int64)

    def move_cost(self, old: np.ndarray, new: np.ndarray) -> dict[str, np.ndarray]:
        """Cost terms in $ of moving from ``old`` to ``new`` positions."""
        raise NotImplementedError

    def initial_state(self, rng: np.random.Generator | None = None) -> State:
        return {self.POSITION: self.init.copy()}

    def default_controls(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((self.n, 0)), (state[self.POSITION] - self.offset)[:, None].copy()

    def step(self, state: State, c: np.ndarray, d: np.ndarray,
             exog: dict[str, np.ndarray], dt_h: float) -> tuple[State, FleetOutput]:
        old = state[self.POSITION]
        new = self.offset + clip(d[:, 0].astype(np.int64), 0, self.n_positions - 1)
        p, q = self.injection(new)
        return {self.POSITION: new}, FleetOutput(p, q, self.move_cost(old, new), {})

    def injection(self, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(p_mw, q_mvar)`` drawn at ``position`` (zero unless overridden)."""
        z = np.zeros(self.n)
        return z, z.copy()


class PositionDevice(Device):
    """Shared controls of the position devices (a mixin over the dataclasses)."""

    controllable: bool

    def position_count(self) -> int:
        raise NotImplementedError

    def initial_position(self) -> int:
        raise NotImplementedError

    def discrete_controls(self) -> dict[str, int]:
        return {"position": self.position_count()} if self.controllable else {}

    def held_category(self, state: Mapping[str, float]) -> int:
        """The category that keeps the position where ``state`` has it (the initial
        position when ``state`` is empty)."""
        fleet = cast("type[PositionFleet]", self.fleet_class())
        position = state.get(fleet.POSITION, self.initial_position())
        return int(round(float(position))) - getattr(self, "tap_min", 0)

    def neutral_categories(self, state: Mapping[str, float]) -> dict[str, int]:
        """No intervention holds the position (an automatic tap changer is not an
        agent's to move anyway)."""
        return {"position": self.held_category(state)}

    def observation_spec(self) -> list[Feature]:
        """The position as a fraction of its range (0 = first, 1 = last position)."""
        fleet = cast("type[PositionFleet]", self.fleet_class())
        first = getattr(self, "tap_min", 0)
        span = max(self.position_count() - 1, 1)
        return [Feature(f"{self.name}.{fleet.POSITION}", fleet.POSITION, scale=span,
                        offset=first)]


#: the phases of a three-phase circuit, in order (a regulator bank's units, a
#: circuit's nodes)
PHASES = "abc"

@dataclass(kw_only=True)
class Shunt(PositionDevice):
    """A switched capacitor or reactor bank with ``max_step`` equal steps.

    ================================  ======  ==============================================
    parameter                         unit    meaning
    ================================  ======  ==============================================
    ``q_mvar``                        Mvar    reactive consumption per step (pandapower
                                              sign: a capacitor is negative, e.g. -0.2)
    ``max_step``                      --      number of steps; positions 0 .. max_step
    ``step_init``                     --      position at reset
    ``switching_cost_per_step``       $       wear cost per step switched
    ``controllable``                  --      the step is a setpoint of an agent
    ================================  ======  ==============================================
    """

    q_mvar: float
    max_step: int = 1
    step_init: int = 0
    switching_cost_per_step: float = 0.0
    controllable: bool = True

    ELEMENT: ClassVar[str] = "shunt"

    def __post_init__(self) -> None:
        if not 0 <= self.step_init <= self.max_step:
            raise ValueError(f"shunt {self.name!r}: step_init outside 0..max_step")

    @classmethod
    def fleet_class(cls) -> type[Fleet]:
        return ShuntFleet

    def position_count(self) -> int:
        return self.max_step + 1

    def initial_position(self) -> int:
        return self.step_init

    def write_to_net(self, net: Any) -> int:
        bus = bus_index(net, self.bus, self.name)
        values = {"bus": bus, "q_mvar": self.q_mvar, "p_mw": 0.0, "step": self.step_init,
                  "max_step": self.max_step, "in_service": True}

        def create() -> int:
            import pandapower as pp

            return pp.create_shunt(net, name=self.name, vn_kv=net.bus.at[bus, "vn_kv"], **values)

        return upsert_element(net, "shunt", self.name, values, create)


class ShuntFleet(PositionFleet):
    """Shunts stepped together. State: ``step``."""

    POSITION = "step"

    def __init__(self, devices: list[Shunt]) -> None:
        super().__init__(devices)
        self.q_per_step = self.param("q_mvar")
        self.cost = self.param("switching_cost_per_step")

    def move_cost(self, old: np.ndarray, new: np.ndarray) -> dict[str, np.ndarray]:
        return {"switching": tap_change_cost(new - old, self.cost)}

    def injection(self, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.n), position * self.q_per_step


@dataclass(kw_only=True)
class Transformer(PositionDevice):
    """An on-load tap changer on an existing transformer: ``name`` is the
    transformer's name in ``net.trafo``.

    ========================  =====  ===================================================
    parameter                 unit   meaning
    ========================  =====  ===================================================
    ``tap_min, tap_max``      --     tap range; categories map to ``tap_min + k``
    ``tap_init``              --     tap position at reset
    ``tap_step_percent``      %      voltage change per tap (written if the net has none)
    ``tap_side``              --     ``"hv"`` or ``"lv"``: the winding with the taps (None:
                                     the net's, else ``"hv"``); with ``"lv"`` a higher tap
                                     raises the LV voltage, with ``"hv"`` it lowers it
    ``tap_change_cost``       $      wear cost per tap step moved
    ``controllable``          --     the tap is a setpoint of an agent
    ``vm_set_pu``             p.u.   automatic voltage control when not controllable:
                                     keep ``regulated_bus`` within the deadband
    ``vm_deadband_pu``        p.u.   half-width of the band around ``vm_set_pu``
    ``regulated_bus``         --     the bus whose voltage is regulated (default: the
                                     transformer's LV bus)
    ``max_tap_change``        --     largest automatic move per step, in taps
    ``bank``                  --     three-phase physics: the regulator bank this device
                                     is one phase unit of (its name ``<bank>.<phase>``,
                                     a tap of its own); None: the transformer ``name``
    ``unit_tap_init``         --     three-phase physics: the tap at reset of each phase
                                     unit, ``{"a": 6, "b": 2, "c": 8}`` (a phase not
                                     named: ``tap_init``; the balanced model ignores it)
    ========================  =====  ===================================================

    Automatic control, as a line regulator's controller does it, is settled
    within the step's power flow by the grid model (:class:`TapRegulation`): the
    regulator moves by ``round((vm_set_pu - vm_pu) / tap_step)`` taps while the
    regulated voltage is outside the deadband, at most ``max_tap_change`` taps
    from where it entered the step. The device adopts the settled tap at its next
    step (exogenous input ``settled_tap_pos``) and books the wear of the move then.
    """

    tap_min: int = -16
    tap_max: int = 16
    tap_init: int = 0
    tap_step_percent: float = 0.625
    tap_side: str | None = None
    tap_change_cost: float = 0.0
    controllable: bool = True
    vm_set_pu: float | None = None
    vm_deadband_pu: float = 0.01
    regulated_bus: str | None = None
    max_tap_change: int = 2
    bank: str | None = None
    unit_tap_init: Mapping[str, int] | None = None

    ELEMENT: ClassVar[str] = "trafo"

    def __post_init__(self) -> None:
        if not self.tap_min <= self.tap_init <= self.tap_max:
            raise ValueError(f"transformer {self.name!r}: tap_init outside tap_min..tap_max")
        for phase, tap in (self.unit_tap_init or {}).items():
            if phase not in PHASES or not self.tap_min <= tap <= self.tap_max:
                raise ValueError(f"transformer {self.name!r}: unit_tap_init {phase!r}: {tap!r}"
                                 f" is not a phase of {tuple(PHASES)} with a tap in"
                                 " tap_min..tap_max")
        if self.vm_set_pu is not None and self.tap_side not in ("hv", "lv"):
            raise ValueError(f"transformer {self.name!r}: automatic control (vm_set_pu)"
                             " needs tap_side 'hv' or 'lv'")

    @property
    def automatic(self) -> bool:
        """The tap follows its own voltage controller (not an agent)."""
        return self.vm_set_pu is not None and not self.controllable

    @classmethod
    def fleet_class(cls) -> type[Fleet]:
        return TransformerFleet

    @property
    def raises_lv_voltage(self) -> bool:
        """A higher tap raises the low-voltage side's voltage (taps on the LV winding)."""
        return self.tap_side == "lv"

    def position_count(self) -> int:
        return self.tap_max - self.tap_min + 1

    def initial_position(self) -> int:
        return self.tap_init

    @property
    def phase(self) -> str | None:
        """The phase (``"a"``, ``"b"``, ``"c"``) of a bank's phase unit; None otherwise."""
        return self.name.rpartition(".")[2] if self.bank is not None else None

    @property
    def transformer(self) -> str:
        """The name of the transformer in ``net.trafo`` the taps are on (a phase unit's:
        its bank's)."""
        return self.bank if self.bank is not None else self.name

    def write_to_net(self, net: Any) -> int:
        idx = require_element(net, "trafo", self.transformer, self.name)
        table = net.trafo
        if not isinstance(table.at[idx, "tap_changer_type"], str):
            table.at[idx, "tap_changer_type"] = "Ratio"  # pandapower >= 3 ignores taps otherwise
        if not np.isfinite(table.at[idx, "tap_step_percent"]):
            table.at[idx, "tap_step_percent"] = self.tap_step_percent
        if self.tap_side is not None:
            table.at[idx, "tap_side"] = self.tap_side
        elif not isinstance(table.at[idx, "tap_side"], str):
            table.at[idx, "tap_side"] = "hv"
        for column, value in (("tap_min", self.tap_min), ("tap_max", self.tap_max),
                              ("tap_pos", self.tap_init), ("tap_neutral", 0)):
            table.at[idx, column] = value
        return idx


def phase_unit_name(bank: str, phase: str) -> str:
    """The name of regulator bank ``bank``'s unit on ``phase``: ``"reg1.a"`` (its device's,
    :attr:`Transformer.phase`, and the three-phase model's unit)."""
    return f"{bank}.{phase}"


class TransformerFleet(PositionFleet):
    """OLTCs stepped together. State: ``tap_pos``. Exogenous input (automatic ones):
    ``settled_tap_pos``, the tap their controller settled on in the grid's last step
    (nan = none yet: the tap holds). The controller itself is :class:`TapRegulation`,
    run by the grid model inside its power flow, so every host (one device set, a batch
    of copies) moves taps the same way."""

    POSITION = "tap_pos"
    EXOGENOUS = ("settled_tap_pos",)
    EXOGENOUS_DEFAULTS: ClassVar[dict[str, float]] = {"settled_tap_pos": np.nan}

    def __init__(self, devices: list[Transformer]) -> None:
        super().__init__(devices)
        self.cost = self.param("tap_change_cost")
        self.automatic = np.array([d.automatic for d in devices])

    def step(self, state: State, c: np.ndarray, d: np.ndarray,
             exog: dict[str, np.ndarray], dt_h: float) -> tuple[State, FleetOutput]:
        if self.automatic.any():
            settled = np.asarray(exog.get("settled_tap_pos", np.nan), dtype=float)
            held = state[self.POSITION]
            tap = np.where(np.isfinite(settled), settled, held)
            d = d.copy()
            d[:, 0] = np.where(self.automatic, np.rint(tap).astype(np.int64) - self.offset,
                               d[:, 0])
        return super().step(state, c, d, exog, dt_h)

    def offsets(self) -> np.ndarray:
        devices = cast("list[Transformer]", self.devices)
        return np.array([d.tap_min for d in devices], dtype=np.int64)

    def move_cost(self, old: np.ndarray, new: np.ndarray) -> dict[str, np.ndarray]:
        return {"tap_wear": tap_change_cost(new - old, self.cost)}


class TapRegulation:
    """The voltage controllers of automatic tap changers, settled within a step.

    A line regulator's controller moves one tap after a time delay of some 30-60 s
    while the regulated voltage stays outside its band (IEEE Std C57.15), so within an
    hour's step it has long settled. The grid model settles them inside the step's power
    flow: solve, move each regulator whose regulated voltage is outside ``vm_set_pu
    +/- vm_deadband_pu`` by ``round((vm_set_pu - vm_pu) / tap_step)`` taps, solve again,
    until none moves (at most :attr:`MAX_ROUNDS` rounds). A regulator travels at most
    ``max_tap_change`` taps from the tap it entered the step with, within
    ``tap_min .. tap_max``; one whose bus is not energised holds. Arrays are ``(N, R)``:
    N copies of R regulators (``devices``), acting on the net's trafo rows
    ``trafo_rows`` and watching the bus rows ``bus_rows``.
    """

    #: solves after the first one, at most (cascaded regulators settle in 2-3)
    MAX_ROUNDS: ClassVar[int] = 8

    def __init__(self, devices: Sequence[Transformer], trafo_rows: Sequence[int],
                 bus_rows: Sequence[int]) -> None:
        self.names = [d.name for d in devices]
        self.trafo_rows = np.asarray(trafo_rows, dtype=np.intp)
        self.bus_rows = np.asarray(bus_rows, dtype=np.intp)

        def param(key: str) -> np.ndarray:
            return np.array([float(getattr(d, key)) for d in devices])

        self.vm_set_pu = param("vm_set_pu")
        self.deadband_pu = param("vm_deadband_pu")
        self.tap_step_pu = param("tap_step_percent") / 100.0
        self.max_change = param("max_tap_change").astype(np.int64)
        self.tap_min = param("tap_min").astype(np.int64)
        self.tap_max = param("tap_max").astype(np.int64)
        self.raise_sign = np.array([1 if d.raises_lv_voltage else -1 for d in devices])

    def next_taps(self, taps: np.ndarray, start: np.ndarray, vm_pu: np.ndarray) -> np.ndarray:
        """The taps ``(N, R)`` after one controller round at bus voltages ``vm_pu``
        ``(N, n_bus)`` (nan or 0: unknown, the tap holds), from ``taps``; ``start`` the
        taps the step began with."""
        vm = vm_pu[:, self.bus_rows]
        with np.errstate(invalid="ignore"):
            error = self.vm_set_pu - vm
            act = np.isfinite(error) & (vm > 0.0) & (np.abs(error) > self.deadband_pu)
        move = np.where(act, np.rint(np.where(act, error, 0.0) / self.tap_step_pu), 0.0)
        travel = clip(taps - start + self.raise_sign * move.astype(np.int64),
                      -self.max_change, self.max_change)
        return clip(start + travel, self.tap_min, self.tap_max).astype(np.int64)


@dataclass(kw_only=True)
class Switch(PositionDevice):
    """A controllable switch: ``name`` is the switch's name in ``net.switch``.

    ====================  =====  =======================================
    parameter             unit   meaning
    ====================  =====  =======================================
    ``closed_init``       --     state at reset
    ``switching_cost``    $      cost of each open or close operation
    ``controllable``      --     the state is a setpoint of an agent
    ====================  =====  =======================================

    Categories: 0 open, 1 closed.
    """

    closed_init: bool = True
    switching_cost: float = 0.0
    controllable: bool = True

    ELEMENT: ClassVar[str] = "switch"

    @classmethod
    def fleet_class(cls) -> type[Fleet]:
        return SwitchFleet

    def position_count(self) -> int:
        return 2

    def initial_position(self) -> int:
        return int(self.closed_init)

    def write_to_net(self, net: Any) -> int:
        idx = require_element(net, "switch", self.name, self.name)
        net.switch.at[idx, "closed"] = bool(self.closed_init)
        return idx


class SwitchFleet(PositionFleet):
    """Switches stepped together. State: ``closed`` (0/1)."""

    POSITION = "closed"

    def __init__(self, devices: list[Switch]) -> None:
        super().__init__(devices)
        self.cost = self.param("switching_cost")

    def move_cost(self, old: np.ndarray, new: np.ndarray) -> dict[str, np.ndarray]:
        return {"switching": switching_cost(new != old, self.cost)}
