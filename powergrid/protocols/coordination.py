"""Coordination in a running co-simulation: who tells whom what, and what changes.

A :class:`Coordination` runs once per step after the agents have decided. It
takes their setpoints (and the coordinator's action), applies the protocol's
mathematics (:mod:`powergrid.protocols`) and returns what the co-simulation must
carry out: final device setpoints, messages to send (which travel with their
route's delay), PCC tariffs, money settled between agents, per-agent infos and
features the agents will observe.

=================  =================================================================
protocol           effect
=================  =================================================================
``none``           agents act alone
``price_signal``   the coordinator sets the retail price its members pay at their
                   PCC (``market + action * band``); members are told the price
``setpoint``       the coordinator's action is a total battery power for its members,
                   split over their batteries in proportion to headroom
``p2p``            members trade their forecast net positions in a double auction
                   with a fee; trades settle against their PCC bills
``consensus``      members agree by neighbour averaging over a graph on a common
                   reactive-power level that sets their batteries' Q
=================  =================================================================
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import numpy as np

from powergrid.devices import ESS, RES, ActionSpec, Device, Generator
from powergrid.messaging import Broker, Message
from powergrid.protocols.consensus import local_update, ring_adjacency
from powergrid.protocols.p2p import (
    clear_double_auction,
    orders_from_positions,
    pcc_marginal_costs,
    settle,
)
from powergrid.protocols.price_signal import price_from_action
from powergrid.protocols.setpoint import split_setpoint

Setpoints = dict[str, dict[str, float]]


@dataclass(frozen=True)
class AgentRole:
    """What the coordination knows of an agent (no reference to the network).

    ``zone_devices`` are all devices in the agent's zone (for its net position);
    ``load_mw`` the nominal load of its zone and ``load_series`` the series it
    follows; ``pcc`` the name of its PCC; ``bus_positions`` the rows of its
    zone's buses in the grid's voltage list.
    """

    name: str
    coordinator: bool = False
    devices: tuple[Device, ...] = ()
    zone_devices: tuple[Device, ...] = ()
    load_mw: float = 0.0
    load_series: str | None = None
    pcc: str | None = None
    sell_discount: float = 1.0
    bus_positions: tuple[int, ...] = ()


@dataclass
class CoordinationResult:
    """What the co-simulation carries out after one coordination step."""

    setpoints: dict[str, Setpoints]
    messages: list[Message] = field(default_factory=list)
    tariffs: dict[str, float] = field(default_factory=dict)
    settlements: dict[str, float] = field(default_factory=dict)
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)
    features: dict[str, dict[str, float]] = field(default_factory=dict)


class Coordination:
    """No coordination: agents act alone. Subclasses implement the protocols.

    ``FEATURES`` are the message payload keys members observe, with the scale
    and bounds of the observed value: ``(key, scale, low, high)``.
    """

    NAME = "none"
    FEATURES: tuple[tuple[str, float, float, float], ...] = ()
    TOPICS: tuple[str, ...] = ()
    #: the protocol's user parameters and their ranges ``(low, high)``, inclusive
    PARAMS: ClassVar[dict[str, tuple[float, float]]] = {}

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """A ValueError naming the first parameter of ``params`` the protocol does not
        know, or whose value is not a finite number within its range."""
        for key, value in params.items():
            if key not in cls.PARAMS:
                raise ValueError(f"protocol {cls.NAME!r}: unknown parameter {key!r}"
                                 f" (valid: {sorted(cls.PARAMS)})")
            low, high = cls.PARAMS[key]
            ok = isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value) and low <= value <= high
            if not ok:
                raise ValueError(f"protocol {cls.NAME!r}: {key} must be a number in"
                                 f" [{low:g}, {high:g}], not {value!r}")

    def __init__(self, roles: Sequence[AgentRole], price_series: str | None,
                 load_scale: float = 1.0, **params: Any) -> None:
        self.roles = {r.name: r for r in roles}
        self.members = [r.name for r in roles if not r.coordinator]
        self.coordinators = [r.name for r in roles if r.coordinator]
        self.price_series = price_series
        self.load_scale = load_scale
        self.params = params

    def coordinator_spec(self, agent: str) -> ActionSpec:
        """The coordinator's action space (none without a coordinating role)."""
        return ActionSpec()

    def coordinator_rule(self, agent: str, obs: Any) -> np.ndarray:
        """A sensible coordinator action when no learner drives it."""
        return np.zeros(self.coordinator_spec(agent).dim_c)

    def market_price(self, obs: Any) -> float:
        return float(obs.exogenous.get(self.price_series or "", 0.0))

    def step(self, time_s: float, dt_h: float, setpoints: dict[str, Setpoints],
             coordinator_actions: Mapping[str, np.ndarray], observations: Mapping[str, Any],
             broker: Broker) -> CoordinationResult:
        return CoordinationResult({a: dict(s) for a, s in setpoints.items()})

    # -- shared helpers -------------------------------------------------------------
    def _batteries(self, agent: str) -> list[ESS]:
        return [d for d in self.roles[agent].devices if isinstance(d, ESS)]

    def _broadcast(self, sender: str, time_s: float, payload: dict[str, Any],
                   topic: str) -> Message:
        return Message(sender, payload, float(time_s), topic=topic)


class PriceSignal(Coordination):
    """The coordinator sets its members' retail price: ``market + a * band_per_mwh``."""

    NAME = "price_signal"
    PARAMS: ClassVar[dict[str, tuple[float, float]]] = {"band_per_mwh": (0.0, 1e4)}
    FEATURES = (("price", 100.0, -10.0, 20.0),)
    TOPICS = ("price",)

    def coordinator_spec(self, agent: str) -> ActionSpec:
        return ActionSpec(names_c=(f"{agent}.price_action",), low=np.array([-1.0]),
                          high=np.array([1.0]))

    def coordinator_rule(self, agent: str, obs: Any) -> np.ndarray:
        """Raise the price with the feeder's import above its running mean, lower below."""
        head = float((obs.grid.get("pcc_p_mw") or [0.0])[0])
        history = self.params.setdefault("_head_history", deque(maxlen=168))
        history.append(head)
        ref = float(np.mean(history)) or 1.0
        return np.array([np.clip((head - ref) / abs(ref), -1.0, 1.0)])

    def step(self, time_s, dt_h, setpoints, coordinator_actions, observations, broker):
        result = super().step(time_s, dt_h, setpoints, coordinator_actions, observations, broker)
        band = float(self.params.get("band_per_mwh", 30.0))
        for coordinator in self.coordinators:
            action = float(np.asarray(coordinator_actions.get(coordinator, [0.0]))[0])
            market = self.market_price(observations[coordinator])
            price = float(price_from_action(action, market, band, floor=0.0))
            for member in self.members:
                pcc = self.roles[member].pcc
                if pcc is not None:
                    result.tariffs[pcc] = price
            result.messages.append(self._broadcast(coordinator, time_s, {"price": price},
                                                   "price"))
            result.infos[coordinator] = {"retail_price": price, "market_price": market}
        return result


class SetpointCoordination(Coordination):
    """The coordinator's action is the total battery power (MW, > 0 charges) of its members."""

    NAME = "setpoint"
    FEATURES = (("setpoint_mw", 1.0, -10.0, 10.0),)

    def _all_batteries(self) -> list[tuple[str, ESS]]:
        return [(m, b) for m in self.members for b in self._batteries(m)]

    def coordinator_spec(self, agent: str) -> ActionSpec:
        batteries = self._all_batteries()
        return ActionSpec(names_c=(f"{agent}.total_p_mw",),
                          low=np.array([sum(cast(float, b.p_min_mw) for _, b in batteries)]),
                          high=np.array([sum(b.p_max_mw for _, b in batteries)]))

    def coordinator_rule(self, agent: str, obs: Any) -> np.ndarray:
        """Charge every battery in the cheap hours, discharge in the dear ones."""
        price = self.market_price(obs)
        history = self.params.setdefault("_price_history", deque(maxlen=24))
        history.append(price)
        spec = self.coordinator_spec(agent)
        if len(history) < 4:
            return np.zeros(1)
        cheap, dear = np.percentile(history, [25, 75])
        total = spec.high[0] if price <= cheap else spec.low[0] if price >= dear else 0.0
        return np.array([total])

    def step(self, time_s, dt_h, setpoints, coordinator_actions, observations, broker):
        result = super().step(time_s, dt_h, setpoints, coordinator_actions, observations, broker)
        batteries = self._all_batteries()
        for coordinator in self.coordinators:
            total = float(np.asarray(coordinator_actions.get(coordinator, [0.0]))[0])
            shares = split_setpoint(total, [cast(float, b.p_min_mw) for _, b in batteries],
                                    [b.p_max_mw for _, b in batteries])
            per_member: dict[str, float] = {}
            for (member, battery), share in zip(batteries, shares, strict=True):
                result.setpoints.setdefault(member, {}).setdefault(battery.name, {})[
                    "p_mw"] = float(share)
                per_member[member] = per_member.get(member, 0.0) + float(share)
            for member, share in per_member.items():
                result.messages.append(Message(coordinator, {"setpoint_mw": share},
                                               float(time_s), recipient=member))
            result.infos[coordinator] = {"total_p_mw": total,
                                         "split_mw": {b.name: float(s) for (_, b), s
                                                      in zip(batteries, shares, strict=True)}}
        return result


class P2PTrading(Coordination):
    """Members trade their forecast net positions in a double auction (fee per MWh)."""

    NAME = "p2p"
    PARAMS: ClassVar[dict[str, tuple[float, float]]] = {"fee_per_mwh": (0.0, 1e4)}
    FEATURES = (("traded_mwh", 1.0, -10.0, 10.0), ("trade_price", 100.0, -10.0, 20.0))

    def net_demand_mw(self, member: str, setpoints: Setpoints, obs: Any) -> float:
        """Forecast net demand of the member's zone for the step, in MW (> 0 buys)."""
        role = self.roles[member]
        exo = obs.exogenous
        load = role.load_mw * float(exo.get(role.load_series or "", 0.0)) * self.load_scale
        supply = 0.0
        for dev in role.zone_devices:
            sp = setpoints.get(dev.name, {})
            state = obs.devices.get(dev.name, {}).get("state") or {}
            if isinstance(dev, RES):
                series = self.params.get("profiles", {}).get(dev.name)
                supply += dev.sn_mva * float(np.clip(exo.get(series or "", 0.0), 0.0, 1.0))
            elif isinstance(dev, Generator):
                on = sp.get("on", state.get("on", 1.0)) if dev.commitment else 1.0
                supply += float(on) * float(sp.get("p_mw", state.get("p_mw", 0.0)))
            elif isinstance(dev, ESS):
                load += float(sp.get("p_mw", 0.0))
        return load - supply

    def step(self, time_s, dt_h, setpoints, coordinator_actions, observations, broker):
        result = super().step(time_s, dt_h, setpoints, coordinator_actions, observations, broker)
        fee = float(self.params.get("fee_per_mwh", 1.0))
        positions = {m: self.net_demand_mw(m, setpoints.get(m, {}), observations[m])
                     for m in self.members}
        prices = {m: self.market_price(observations[m]) for m in self.members}
        discounts = {m: self.roles[m].sell_discount for m in self.members}
        costs = pcc_marginal_costs(positions, prices, discounts)
        clearing = clear_double_auction(orders_from_positions(positions, costs, dt_h), fee)
        adjustments = settle(clearing, prices, discounts)
        for member in self.members:
            energy = float(clearing.energy_mwh.get(member, 0.0))
            result.settlements[member] = float(adjustments.get(member, 0.0))
            trades = [t for t in clearing.trades if member in (t.buyer, t.seller)]
            price = (sum(t.quantity_mwh * t.price_per_mwh for t in trades)
                     / max(sum(t.quantity_mwh for t in trades), 1e-12)) if trades else 0.0
            result.infos[member] = {"p2p_energy_mwh": energy, "p2p_trades": len(trades),
                                    "p2p_price": price, "net_demand_mw": positions[member]}
            if trades:
                result.messages.append(Message("market", {"traded_mwh": energy,
                                                          "trade_price": price},
                                               float(time_s), recipient=member))
        return result


class ConsensusCoordination(Coordination):
    """Members agree on a common reactive-power level (per unit of their batteries' Q range).

    Each member proposes ``clip((1 - mean own voltage) / 0.05, -1, 1)``; the
    proposals are averaged over a ring of members by rounds of messages on the
    broker (topic ``"consensus"``) until no value moves by more than
    ``tolerance`` or ``max_iterations`` rounds; each member's batteries then
    inject ``value * q_max_mvar``.
    """

    NAME = "consensus"
    #: rounds are messages over the broker within one step: bounded, so a step ends
    PARAMS: ClassVar[dict[str, tuple[float, float]]] = {"tolerance": (1e-12, 1e3),
                                                        "max_iterations": (0, 1000)}
    FEATURES = (("consensus", 1.0, -1.0, 1.0),)
    TOPICS = ("consensus",)

    def proposal(self, member: str, obs: Any) -> float:
        vm = np.asarray(obs.grid.get("vm_pu") or [1.0], dtype=float)
        mine = vm[list(self.roles[member].bus_positions)] if self.roles[member].bus_positions \
            else vm
        mine = mine[mine > 0.0]
        mean = float(mine.mean()) if len(mine) else 1.0
        return float(np.clip((1.0 - mean) / 0.05, -1.0, 1.0))

    def step(self, time_s, dt_h, setpoints, coordinator_actions, observations, broker):
        result = super().step(time_s, dt_h, setpoints, coordinator_actions, observations, broker)
        members = self.members
        n = len(members)
        if n == 0:
            return result
        adjacency = ring_adjacency(n) if n > 2 else np.ones((n, n)) - np.eye(n)
        step = 1.0 / n
        tolerance = float(self.params.get("tolerance", 1e-3))
        max_iterations = int(self.params.get("max_iterations", 50))
        values = {m: self.proposal(m, observations[m]) for m in members}
        rounds = 0
        for rounds in range(1, max_iterations + 1):  # noqa: B007 - reported below
            for k, m in enumerate(members):
                for j in np.flatnonzero(adjacency[k]):
                    broker.send(Message(m, {"consensus": values[m], "round": rounds},
                                        float(time_s), recipient=members[j]))
            new = {}
            for m in members:
                received = [msg.payload["consensus"] for msg in broker.receive(m)
                            if msg.payload.get("round") == rounds]
                new[m] = float(local_update(values[m], received, step)) if received \
                    else values[m]
            change = max(abs(new[m] - values[m]) for m in members)
            values = new
            if change < tolerance:
                break
        for m in members:
            for battery in self._batteries(m):
                q_max = max(abs(battery.q_min_mvar or 0.0), abs(battery.q_max_mvar or 0.0))
                result.setpoints.setdefault(m, {}).setdefault(battery.name, {})[
                    "q_mvar"] = float(values[m] * q_max)
            result.features[m] = {"consensus": values[m]}
            result.infos[m] = {"consensus_value": values[m], "consensus_rounds": rounds}
        return result


PROTOCOLS: dict[str, type[Coordination]] = {
    c.NAME: c for c in (Coordination, PriceSignal, SetpointCoordination, P2PTrading,
                        ConsensusCoordination)}


def make_coordination(name: str, roles: Sequence[AgentRole], price_series: str | None,
                      **params: Any) -> Coordination:
    """The coordination of protocol ``name``; a ValueError naming an unknown one."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r} (valid: {sorted(PROTOCOLS)})")
    coordinators = [r.name for r in roles if r.coordinator]
    if name in ("price_signal", "setpoint") and not coordinators:
        raise ValueError(f"protocol {name!r} needs a coordinator agent")
    return PROTOCOLS[name](roles, price_series, **params)
