"""What every device type shares: action specs, fleets, net attachment.

A *device* (``ESS``, ``Generator``, ...) is a small dataclass holding the
parameters of one physical unit and where it sits (``bus``). Its physics --
dynamics for one step of length ``dt_h``, cost and safety terms -- is written
once per type as numpy code over a :class:`Fleet`: ``n`` devices of that type
stacked into arrays. One device is a fleet with ``n = 1``; many copies of a
scenario stepped together are one fleet with ``n = copies x devices``.

Control layout
--------------
Each fleet type has a fixed *full* control layout (``CONTROLS_C`` continuous,
``CONTROLS_D`` discrete), e.g. ``("p_mw", "q_mvar")`` for a battery. A device
exposes the subset it can really control as its :class:`ActionSpec`; the
columns it does not control are filled by :meth:`Fleet.default_controls`.
Discrete controls are categories ``0 .. n-1`` (a tap category ``k`` means tap
position ``tap_min + k``).
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from powergrid.devices.capability import ReactiveCapability

State = dict[str, np.ndarray]


@dataclass(frozen=True)
class ActionSpec:
    """The controls a device (or a group of devices) exposes.

    ``low``/``high`` are physical bounds of the continuous part (units in the
    names, e.g. ``"ess1.p_mw"``); ``nvec`` the number of categories of each
    discrete control.
    """

    names_c: tuple[str, ...] = ()
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))
    names_d: tuple[str, ...] = ()
    nvec: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def dim_c(self) -> int:
        return len(self.names_c)

    @property
    def dim_d(self) -> int:
        return len(self.names_d)

    @staticmethod
    def concat(specs: Sequence[ActionSpec]) -> ActionSpec:
        """One spec holding the controls of ``specs`` in order."""
        if not specs:
            return ActionSpec()
        return ActionSpec(
            names_c=tuple(n for s in specs for n in s.names_c),
            low=np.concatenate([s.low for s in specs]).astype(float),
            high=np.concatenate([s.high for s in specs]).astype(float),
            names_d=tuple(n for s in specs for n in s.names_d),
            nvec=np.concatenate([s.nvec for s in specs]).astype(np.int64),
        )


@dataclass(frozen=True)
class Feature:
    """One observed quantity: ``clip((state[key] - offset) / scale, low, high)``.

    ``name`` is ``"<device>.<key>"``; ``low``/``high`` bound the feature, and
    every feature is clipped into them so observations stay inside their space.
    """

    name: str
    key: str
    scale: float = 1.0
    offset: float = 0.0
    low: float = 0.0
    high: float = 1.0

    def value(self, state: dict[str, float]) -> float:
        raw = (float(state.get(self.key, self.offset)) - self.offset) / self.scale
        return min(max(raw, self.low), self.high)


@dataclass(frozen=True)
class FleetOutput:
    """What a fleet step produces, one entry per device.

    ``p_mw``/``q_mvar`` are the injections the device puts into the grid in
    the pandapower convention of its element (sgen: generation; storage:
    charging). ``cost`` ($ over the step) is the sum of ``cost_terms``;
    ``safety`` (dimensionless) the sum of ``safety_terms``.
    """

    p_mw: np.ndarray
    q_mvar: np.ndarray
    cost_terms: dict[str, np.ndarray]
    safety_terms: dict[str, np.ndarray]

    @property
    def cost(self) -> np.ndarray:
        return _sum_terms(self.cost_terms, self.p_mw.shape)

    @property
    def safety(self) -> np.ndarray:
        return _sum_terms(self.safety_terms, self.p_mw.shape)


def _sum_terms(terms: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    total = np.zeros(shape)
    for value in terms.values():
        total = total + value
    return total


@dataclass(kw_only=True)
class Device(ABC):
    """One device: parameters and location. Subclasses are dataclasses.

    ``name`` must be unique among the devices of a scenario; ``bus`` is the
    name of the pandapower bus it connects to.
    """

    name: str
    bus: str = ""

    #: the pandapower table the device lives in (``"sgen"``, ``"storage"``, ...)
    ELEMENT: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def fleet_class(cls) -> type[Fleet]:
        """The :class:`Fleet` type that steps devices of this class."""

    # -- controls --------------------------------------------------------
    def continuous_controls(self) -> dict[str, tuple[float, float]]:
        """Controllable continuous setpoints: ``{control: (low, high)}`` in physical units."""
        return {}

    def discrete_controls(self) -> dict[str, int]:
        """Controllable discrete setpoints: ``{control: number of categories}``."""
        return {}

    def action_spec(self) -> ActionSpec:
        """This device's exposed controls, names prefixed by the device name."""
        cont = self.continuous_controls()
        disc = self.discrete_controls()
        return ActionSpec(
            names_c=tuple(f"{self.name}.{k}" for k in cont),
            low=np.array([lo for lo, _ in cont.values()], dtype=float),
            high=np.array([hi for _, hi in cont.values()], dtype=float),
            names_d=tuple(f"{self.name}.{k}" for k in disc),
            nvec=np.array(list(disc.values()), dtype=np.int64),
        )

    # -- no intervention ----------------------------------------------------
    def neutral_setpoints(self) -> dict[str, float]:
        """The continuous setpoints of no intervention, ``{control: value}`` in physical
        units: 0 (clipped into the control's range) unless the class says otherwise."""
        return {k: min(max(0.0, lo), hi) for k, (lo, hi) in self.continuous_controls().items()}

    def neutral_categories(self, state: Mapping[str, float]) -> dict[str, int]:
        """The discrete setpoints of no intervention given the device's current
        ``state`` (its last reported state; empty at the start): the class decides."""
        return {}

    def idle_action(self, state: Mapping[str, float]) -> tuple[list[float], list[int]]:
        """No intervention over :meth:`action_spec`: :meth:`neutral_setpoints` and
        :meth:`neutral_categories`, in the spec's order."""
        neutral_c = self.neutral_setpoints()
        neutral_d = self.neutral_categories(state)
        return ([neutral_c[k] for k in self.continuous_controls()],
                [neutral_d[k] for k in self.discrete_controls()])

    # -- what an agent observes of it ------------------------------------
    def observation_spec(self) -> list[Feature]:
        """The features of this device's state an agent observes (see :class:`Feature`)."""
        return []

    # -- the pandapower net ----------------------------------------------
    @abstractmethod
    def write_to_net(self, net: Any) -> int:
        """Write the device into ``net`` and return its index in :attr:`ELEMENT`.

        Idempotent: an element with the device's name is found and updated,
        never duplicated.
        """

    # -- one device, stepped on its own -----------------------------------
    def reset(self, rng: np.random.Generator | None = None) -> State:
        """Start a fresh state (scalar convenience over a fleet of one)."""
        self._fleet = self.fleet_class()([self])
        self.state = self._fleet.initial_state(rng)
        return self.state

    def step(self, action_c: Sequence[float] = (), action_d: Sequence[int] = (),
             dt_h: float = 1.0, **exogenous: float) -> FleetOutput:
        """Advance one step of ``dt_h`` hours with this device's exposed action.

        ``action_c``/``action_d`` follow :meth:`action_spec`; ``exogenous`` are
        the fleet's inputs (e.g. ``profile=0.7`` for a PV unit, ``price=40``).
        Returns the fleet output of length 1; the new state is in ``self.state``.
        """
        if not hasattr(self, "_fleet"):
            self.reset()
        fleet = self._fleet
        c, d = fleet.default_controls(self.state)
        cont_cols = [fleet.CONTROLS_C.index(k) for k in self.continuous_controls()]
        disc_cols = [fleet.CONTROLS_D.index(k) for k in self.discrete_controls()]
        c[0, cont_cols] = np.asarray(action_c, dtype=float).reshape(-1)[: len(cont_cols)]
        d[0, disc_cols] = np.asarray(action_d, dtype=np.int64).reshape(-1)[: len(disc_cols)]
        exog = {k: np.array([float(v)]) for k, v in exogenous.items()}
        self.state, out = fleet.step(self.state, c, d, exog, dt_h)
        return out


class Fleet(ABC):
    """``n`` devices of one type, stepped together with numpy.

    Subclasses set the class constants and implement :meth:`initial_state`,
    :meth:`default_controls` and :meth:`step`. Parameters are stacked into
    ``float`` arrays of shape ``(n,)`` by :meth:`param` at construction.
    """

    #: full continuous control layout (columns of ``c``)
    CONTROLS_C: ClassVar[tuple[str, ...]] = ()
    #: full discrete control layout (columns of ``d``)
    CONTROLS_D: ClassVar[tuple[str, ...]] = ()
    #: names of exogenous inputs ``step`` reads (arrays of shape ``(n,)``)
    EXOGENOUS: ClassVar[tuple[str, ...]] = ()
    #: the value of an exogenous input a host does not provide (default 0)
    EXOGENOUS_DEFAULTS: ClassVar[dict[str, float]] = {}

    def __init__(self, devices: Sequence[Device]) -> None:
        self.devices = list(devices)
        self.n = len(self.devices)
        self.names = [d.name for d in self.devices]

    def param(self, attr: str, default: float = np.nan) -> np.ndarray:
        """Stack attribute ``attr`` of every device as a float array (None -> default)."""
        values = [getattr(d, attr) for d in self.devices]
        return np.array([default if v is None else v for v in values], dtype=float)

    def exogenous_inputs(self) -> dict[str, np.ndarray]:
        """Every exogenous input at its default (``EXOGENOUS_DEFAULTS``, else 0), for a
        host to fill in."""
        return {key: np.full(self.n, self.EXOGENOUS_DEFAULTS.get(key, 0.0))
                for key in self.EXOGENOUS}

    def reactive_capability(self, sn_mva: np.ndarray,
                            min_pf: np.ndarray | float) -> ReactiveCapability:
        """The devices' :class:`~powergrid.devices.capability.ReactiveCapability`: the box
        ``(q_min_mvar, q_max_mvar)`` of devices with Q control (``(0, 0)`` for the others),
        their rating ``sn_mva`` and minimum power factor ``min_pf``."""
        mask = np.array([getattr(d, "has_q_control", False) for d in self.devices], dtype=bool)
        return ReactiveCapability(np.where(mask, self.param("q_min_mvar", 0.0), 0.0),
                                  np.where(mask, self.param("q_max_mvar", 0.0), 0.0),
                                  sn_mva, min_pf)

    @abstractmethod
    def initial_state(self, rng: np.random.Generator | None = None) -> State:
        """The state at the start of an episode."""

    @abstractmethod
    def default_controls(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        """Controls ``(c, d)`` of shape ``(n, len(CONTROLS_C))``, ``(n, len(CONTROLS_D))``
        used where a device is not controlled: the device's own behaviour."""

    @abstractmethod
    def step(self, state: State, c: np.ndarray, d: np.ndarray,
             exog: dict[str, np.ndarray], dt_h: float) -> tuple[State, FleetOutput]:
        """Advance every device one step of ``dt_h`` hours; return the new state and outputs.

        ``state`` is not modified; the returned state is a new dict.
        """


def device_params(device: Device) -> dict[str, Any]:
    """The dataclass fields of ``device`` as a dict (for configs and logs)."""
    return {f.name: getattr(device, f.name) for f in fields(device)}



# -- checking plain-data configs against a dataclass's annotations -----------

def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside square brackets, parts stripped."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    return [*parts, text[start:].strip()]


def _fits(value: Any, annotation: str) -> bool:
    """Whether JSON-like ``value`` fits a type annotation written as a string
    (``"float | None"``, ``"dict[str, str]"``, ...); names it does not know fit anything."""
    for option in _split_top(annotation, "|"):
        base, _, rest = option.partition("[")
        args = _split_top(rest[:-1], ",") if rest else []
        if base == "None":
            ok = value is None
        elif base == "bool":
            ok = isinstance(value, (bool, np.bool_))
        elif base in ("int", "float"):
            kinds = (numbers.Integral,) if base == "int" else (numbers.Real,)
            ok = isinstance(value, kinds) and not isinstance(value, (bool, np.bool_))
        elif base == "str":
            ok = isinstance(value, str)
        elif base == "dict":
            ok = isinstance(value, dict) and (len(args) != 2 or all(
                _fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items()))
        elif base in ("list", "tuple"):
            ok = isinstance(value, (list, tuple))
            if ok and args and (base == "list" or args[-1] == "..."):
                ok = all(_fits(v, args[0]) for v in value)
            elif ok and args:
                ok = len(value) == len(args) and all(map(_fits, value, args))
        else:  # Any, or a class of its own: checked where it is built
            ok = True
        if ok:
            return True
    return False


def check_field_types(cls: type, params: dict[str, Any], where: str) -> None:
    """A ValueError naming the first key of ``params`` whose value does not fit the
    annotation of the dataclass field of ``cls`` of that name (``where`` prefixes the
    message, e.g. ``"device 'ess1'"``). Integers pass where floats are expected and
    lists where tuples are; unknown keys are left to the caller."""
    annotations = {f.name: f.type for f in fields(cls)}
    for key, value in params.items():
        annotation = annotations.get(key)
        if isinstance(annotation, str) and not _fits(value, annotation):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ValueError(f"{where}: {key!r} must be {annotation}, not"
                             f" {type(value).__name__} {shown}")


# -- pandapower helpers shared by the device types ---------------------------

def bus_index(net: Any, bus_name: str, device_name: str) -> int:
    """Index of the bus named ``bus_name``; a ValueError naming the device if absent."""
    hits = net.bus.index[net.bus["name"] == bus_name]
    if len(hits) == 0:
        raise ValueError(
            f"device {device_name!r}: bus {bus_name!r} is not in the network"
            f" {net.name or ''!r}".rstrip())
    return int(hits[0])


def element_index(net: Any, table: str, name: str) -> int | None:
    """Index of the element named ``name`` in ``net[table]``, or None."""
    df = net[table]
    if len(df) == 0 or "name" not in df:
        return None
    hits = df.index[df["name"] == name]
    return int(hits[0]) if len(hits) else None


def require_element(net: Any, table: str, name: str, device_name: str) -> int:
    """Index of an existing element; a ValueError naming the device if absent."""
    idx = element_index(net, table, name)
    if idx is None:
        raise ValueError(
            f"device {device_name!r}: no {table} named {name!r} in the network")
    return idx


def upsert_element(net: Any, table: str, name: str, values: dict[str, Any],
                   create: Any) -> int:
    """Find the element ``name`` in ``net[table]`` and set ``values`` on it, or
    call ``create()`` (which must create it with those values) and return the
    new index. Never creates a second element of the same name."""
    idx = element_index(net, table, name)
    if idx is None:
        return int(create())
    for column, value in values.items():
        net[table].at[idx, column] = value
    return idx
