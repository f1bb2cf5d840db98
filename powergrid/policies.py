"""Built-in control policies and what they see.

A policy maps an :class:`Observation` to an action ``(c, d)`` over its
agent's :class:`~powergrid.devices.ActionSpec`: ``c`` continuous setpoints in
physical units, ``d`` discrete categories. :func:`setpoints_from_action`
turns an action into the ``{device: {control: value}}`` dict that travels to
the devices.

=========  ===============================================================
policy     behaviour
=========  ===============================================================
``idle``   no intervention: each device at the neutral setpoint its class
           defines (:meth:`Device.idle_action`): PV and wind at their
           available power (no curtailment), batteries at 0, generators at
           their minimum and units with commitment not started, capacitor
           banks, tap changers and switches held where they are (automatic
           tap changers follow their own controller)
``random`` uniform over the action space (seeded)
``rule``   price- and SOC-aware: batteries charge in the cheap hours and
           discharge in the dear ones of the trailing day, never asking for
           more than their SOC allows; generators dispatch where their
           marginal cost meets the price and commit when the price covers
           their average cost; capacitor banks step in when voltages sag and
           out when they rise; tap changers move one step against a voltage
           outside the band; switches held
=========  ===============================================================
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from powergrid.devices import ESS, ActionSpec, Device, Generator, Shunt, Transformer
from powergrid.devices.discrete import PositionDevice


@dataclass
class Observation:
    """What an agent sees at the start of a step.

    ``exogenous``: series values of the coming step by name (``"price:DA"``);
    ``grid``: the grid's outputs of the last step (``vm_pu`` list, ...);
    ``devices``: each device's outputs of the last step by device name
    (``state`` dict, ``cost``, ``safety``, ...); ``time_s``: simulation time;
    ``messages``: the latest value of every message key the agent has received;
    ``own``: what the agent's own last step settled (``settlement`` in $, the
    coordination's ``info``); ``agents``: other agents' outputs (recorder view).
    """

    time_s: int = 0
    exogenous: dict[str, float] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, float] = field(default_factory=dict)
    own: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)


Action = tuple[np.ndarray, np.ndarray]


class Policy(Protocol):
    def act(self, obs: Observation) -> Action: ...


def setpoints_from_action(spec: ActionSpec, c: np.ndarray, d: np.ndarray
                          ) -> dict[str, dict[str, float]]:
    """``{device: {control: value}}`` from an action over ``spec``."""
    out: dict[str, dict[str, float]] = {}
    for name, value in zip(spec.names_c, np.asarray(c, dtype=float).reshape(-1), strict=True):
        device, control = name.rsplit(".", 1)
        out.setdefault(device, {})[control] = float(value)
    for name, value in zip(spec.names_d, np.asarray(d).reshape(-1), strict=True):
        device, control = name.rsplit(".", 1)
        out.setdefault(device, {})[control] = int(value)
    return out


def device_state(obs: Observation, device: Device) -> dict[str, Any]:
    """The last reported state of ``device`` (empty before its first report)."""
    return obs.devices.get(device.name, {}).get("state") or {}


def current_categories(devices: Sequence[Device], obs: Observation) -> np.ndarray:
    """Discrete categories that hold every controllable position where it is (and a
    unit's commitment as it is)."""
    cats: list[int] = []
    for dev in devices:
        if not dev.discrete_controls():
            continue
        state = device_state(obs, dev)
        if isinstance(dev, PositionDevice):
            cats.append(dev.held_category(state))
        else:  # unit commitment: hold the on/off state
            cats.append(int(state.get("on", 1.0 if getattr(dev, "initially_on", True) else 0.0)))
    return np.array(cats, dtype=np.int64)


class IdlePolicy:
    """No intervention: every device at its class's neutral setpoint
    (:meth:`~powergrid.devices.Device.idle_action`), whatever it observes."""

    def __init__(self, devices: Sequence[Device], spec: ActionSpec) -> None:
        self.devices, self.spec = list(devices), spec

    def act(self, obs: Observation) -> Action:
        if not self.devices:  # a coordinator: its commands at 0 (clipped into their box)
            return np.clip(np.zeros(self.spec.dim_c), self.spec.low, self.spec.high), \
                np.zeros(self.spec.dim_d, dtype=np.int64)
        c: list[float] = []
        d: list[int] = []
        for dev in self.devices:
            dev_c, dev_d = dev.idle_action(device_state(obs, dev))
            c += dev_c
            d += dev_d
        return np.array(c, dtype=float), np.array(d, dtype=np.int64)


class RandomPolicy:
    """Uniform random actions from a seeded generator."""

    def __init__(self, devices: Sequence[Device], spec: ActionSpec, seed: int | None = None):
        self.spec = spec
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Observation) -> Action:
        c = self.rng.uniform(self.spec.low, self.spec.high)
        d = self.rng.integers(0, self.spec.nvec) if self.spec.dim_d else np.zeros(0, np.int64)
        return c, np.asarray(d, dtype=np.int64)


class RulePolicy:
    """A sensible price-responsive operator (see the module docstring).

    ``price`` names the price series; ``steps_per_day`` sets the length of the
    trailing price window (and the step length); ``vm_low_pu``/``vm_high_pu``
    the voltages at which capacitor banks and tap changers act. With three-phase
    physics, ``phase_names`` (the grid's bus-phases, ``"<bus>.<phase>"``, the order of
    its ``vm_phase_pu``): a regulator's phase unit (a Transformer with a ``bank``, named
    ``<bank>.<phase>``) acts on the voltages of its own phase.
    """

    def __init__(self, devices: Sequence[Device], spec: ActionSpec, price: str | None = None,
                 steps_per_day: int = 24, vm_low_pu: float = 0.96, vm_high_pu: float = 1.04,
                 phase_names: Sequence[str] | None = None):
        self.devices, self.spec, self.price = list(devices), spec, price
        #: a phase unit's positions in the grid's ``vm_phase_pu``, by device name
        self._phase_of: dict[str, np.ndarray] = {
            d.name: np.array([k for k, n in enumerate(phase_names or ())
                              if n.rpartition(".")[2] == d.phase], dtype=np.intp)
            for d in devices if isinstance(d, Transformer) and d.phase is not None
            and phase_names}
        self.history: deque[float] = deque(maxlen=max(steps_per_day, 2))
        self.dt_h = 24.0 / steps_per_day
        self.vm_low, self.vm_high = vm_low_pu, vm_high_pu
        self._ess_fleets = {d.name: d.fleet_class()([d]) for d in devices if isinstance(d, ESS)}

    def _price(self, obs: Observation) -> float:
        if "price" in obs.messages:  # a coordinator's retail price, when one is announced
            return float(obs.messages["price"])
        if self.price and self.price in obs.exogenous:
            return float(obs.exogenous[self.price])
        prices = [v for k, v in obs.exogenous.items() if k.startswith("price:")]
        return float(prices[0]) if prices else 0.0

    def act(self, obs: Observation) -> Action:
        price = self._price(obs)
        self.history.append(price)
        cheap, dear = (np.percentile(self.history, [25, 75]) if len(self.history) >= 4
                       else (-np.inf, np.inf))
        vm = np.asarray(obs.grid.get("vm_pu") or [1.0], dtype=float)
        vm = vm[vm > 0.0] if (vm > 0.0).any() else np.ones(1)
        holds = current_categories(self.devices, obs)
        c: list[float] = []
        d: list[int] = []
        k = 0
        for dev in self.devices:
            cont = dev.continuous_controls()
            for control, (lo, hi) in cont.items():
                if isinstance(dev, ESS) and control == "p_mw":  # stay within what the SOC allows
                    state = obs.devices.get(dev.name, {}).get("state") or {}
                    soc = np.array([state.get("soc", dev.soc_init)])
                    lo_soc, hi_soc = self._ess_fleets[dev.name].feasible_p_range(soc, self.dt_h)
                    lo, hi = max(lo, float(lo_soc[0])), min(hi, float(hi_soc[0]))
                c.append(float(np.clip(self._continuous(dev, control, price, cheap, dear),
                                       lo, hi)))
            if dev.discrete_controls():
                d.append(self._discrete(dev, int(holds[k]), price,
                                        self._phase_vm(obs, dev.name, vm)))
                k += 1
        return np.array(c, dtype=float), np.array(d, dtype=np.int64)

    def _phase_vm(self, obs: Observation, name: str, vm: np.ndarray) -> np.ndarray:
        """The energised voltages device ``name`` acts on: its phase's for a regulator's
        phase unit (three-phase physics), else every bus's ``vm``."""
        positions = self._phase_of.get(name)
        phases = obs.grid.get("vm_phase_pu")
        if positions is None or not len(positions) or not phases:
            return vm
        mine = np.asarray(phases, dtype=float)[positions]
        return mine[mine > 0.0] if (mine > 0.0).any() else vm

    def _continuous(self, dev: Device, control: str, price: float, cheap: float,
                    dear: float) -> float:
        if isinstance(dev, ESS) and control == "p_mw":
            assert dev.p_min_mw is not None     # set in ESS.__post_init__
            if price <= cheap:
                return dev.p_max_mw
            return dev.p_min_mw if price >= dear else 0.0
        if isinstance(dev, Generator) and control == "p_mw":
            return _economic_output_mw(dev, price)
        if control == "p_limit_mw":
            return getattr(dev, "sn_mva", 0.0)  # no curtailment
        return 0.0

    def _discrete(self, dev: Device, hold: int, price: float, vm: np.ndarray) -> int:
        if isinstance(dev, Generator):  # commit when the price covers the average cost
            p = max(dev.p_max_mw, 1e-9)
            a, b, c = dev.cost_coefs
            return int(price * p >= a * p * p + b * p + c)
        if isinstance(dev, Shunt) and dev.q_mvar < 0:  # capacitor bank
            if vm.min() < self.vm_low + 0.01 and vm.max() < self.vm_high - 0.01 \
                    and hold < dev.max_step:
                return hold + 1
            if vm.max() > self.vm_high and hold > 0:
                return hold - 1
        if isinstance(dev, Transformer):
            raise_step = 1 if dev.raises_lv_voltage else -1
            if vm.max() > self.vm_high and vm.min() > self.vm_low + 0.005:
                return int(np.clip(hold - raise_step, 0, dev.position_count() - 1))
            if vm.min() < self.vm_low and vm.max() < self.vm_high - 0.005:
                return int(np.clip(hold + raise_step, 0, dev.position_count() - 1))
        return hold


def _economic_output_mw(gen: Generator, price: float) -> float:
    """Output in MW where the generator's marginal cost equals ``price`` ($/MWh)."""
    if gen.cost_pwl is not None:
        pts = sorted(gen.cost_pwl)
        p = gen.p_min_mw
        for (p0, c0), (p1, c1) in zip(pts[:-1], pts[1:], strict=True):
            if (c1 - c0) / (p1 - p0) <= price:
                p = p1
        return float(np.clip(p, gen.p_min_mw, gen.p_max_mw))
    a, b, _ = gen.cost_coefs
    if a > 0:
        return float(np.clip((price - b) / (2 * a), gen.p_min_mw, gen.p_max_mw))
    return gen.p_max_mw if price >= b else gen.p_min_mw


POLICIES: dict[str, Callable[..., Policy]] = {
    "idle": IdlePolicy, "random": RandomPolicy, "rule": RulePolicy,
}


def make_policy(name: str, devices: Sequence[Device], spec: ActionSpec, **kwargs: Any) -> Policy:
    """A built-in policy by name; a ValueError naming an unknown one."""
    if name not in POLICIES:
        hint = (" ('zero' was renamed 'idle': no intervention, PV uncurtailed)"
                if name == "zero" else "")
        raise ValueError(f"unknown policy {name!r} (valid: {sorted(POLICIES)}){hint}")
    if name == "random":
        return RandomPolicy(devices, spec, seed=kwargs.get("seed"))
    if name == "rule":
        return RulePolicy(devices, spec, price=kwargs.get("price"),
                          steps_per_day=kwargs.get("steps_per_day", 24),
                          phase_names=kwargs.get("phase_names"))
    return IdlePolicy(devices, spec)
