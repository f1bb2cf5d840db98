"""The agents federate: one entity per control agent, observation in, setpoints out.

Inputs are accepted under any name (``any_inputs``) and sorted into an
:class:`~powergrid.policies.Observation` by their prefix, which the scenario
sets when it connects:

* ``"<kind>:<name>"`` (``"price:DA"``): a series value of the coming step;
* ``"grid.<attr>"``: a grid output of the last step (``"grid.vm_pu"``), or
  ``"grid.state"``: all of them in one dict;
* ``"device.<attr>"``: a device output of the last step, by source entity, or
  ``"device.report"``: its state, cost, safety and their terms in one dict;
* ``"inbox"``: messages another agent sent, arriving after their route's delay.

Outputs: ``setpoints`` (``{device: {control: value}}``), ``outbox`` (the
messages the agent sent this step, as JSON-clean dicts), ``tariffs`` (``{pcc:
price}`` a coordinator sets), ``settlement`` ($ the agent's trades settled this
step) and ``coordination`` (the protocol's info for the agent).

Each agent acts every ``period_steps`` steps and holds its setpoints between;
messages are delivered into a broker (:mod:`powergrid.messaging`), from which
each agent reads its mailbox.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, cast

import mosaik_api_v3
import numpy as np
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.devices import ActionSpec, Device, device_from_config
from powergrid.messaging import Broker, Message, make_broker
from powergrid.policies import Observation, Policy, make_policy, setpoints_from_action
from powergrid.protocols.coordination import AgentRole, Coordination, make_coordination
from powergrid.records import LearnerDecision, LearnerOffer
from simulators import run_federate

META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Agent": {
            "public": True,
            "params": ["name", "devices", "policy", "seed", "price", "steps_per_day",
                       "period_steps", "coordinator", "zone_devices", "load_mw", "load_series",
                       "pcc", "sell_discount", "bus_positions", "phase_names"],
            "attrs": ["setpoints", "outbox", "tariffs", "settlement", "coordination"],
            "any_inputs": True,
        },
    },
}


def observation_from_inputs(time: int, data: dict[str, dict[str, Any]]) -> Observation:
    """Sort one entity's mosaik inputs into an :class:`Observation` by attribute prefix."""
    obs = Observation(time_s=time)
    for attr, sources in data.items():
        if attr == "grid.state":  # the grid's outputs in one bundle
            obs.grid.update(next(iter(sources.values())) or {})
        elif attr.startswith("grid."):
            obs.grid[attr[5:]] = next(iter(sources.values()))
        elif attr == "device.report":  # a device's outputs in one bundle, by source
            for full_id, value in sources.items():
                obs.devices.setdefault(full_id.split(".", 1)[1], {}).update(value or {})
        elif attr.startswith("device."):
            for full_id, value in sources.items():
                obs.devices.setdefault(full_id.split(".", 1)[1], {})[attr[7:]] = value
        elif attr.startswith("agent."):
            for full_id, value in sources.items():
                obs.agents.setdefault(full_id.split(".", 1)[1], {})[attr[6:]] = value
        elif ":" in attr:
            obs.exogenous[attr] = float(next(iter(sources.values())))
    return obs


class AgentEntity:
    """One agent: its devices (or a coordinator's role), action spec, policy, state."""

    def __init__(self, name: str, devices: list[Device], policy: Policy | Callable[..., Any],
                 spec: ActionSpec, role: AgentRole, period_steps: int = 1) -> None:
        self.name, self.devices, self.policy, self.spec = name, devices, policy, spec
        self.role = role
        self.period_steps = max(1, int(period_steps))
        self.setpoints: dict[str, dict[str, float]] = {}
        self.action = np.zeros(spec.dim_c)  # a coordinator's last action
        self.messages: dict[str, float] = {}
        self.outbox: list[dict[str, Any]] = []
        self.settlement = 0.0
        self.info: dict[str, Any] = {}
        self.published: dict[str, dict[str, float]] = {}  # setpoints after coordination
        self.tariffs: dict[str, float] = {}

    def due(self, step_index: int) -> bool:
        return step_index % self.period_steps == 0

    def act(self, obs: Observation) -> None:
        act = cast("Callable[[Observation], Any]", getattr(self.policy, "act", self.policy))
        self.apply(act(obs))

    def apply(self, action: Any) -> None:
        """Take ``action``: ``(c, d)`` over the agent's spec, or a setpoints dict."""
        if isinstance(action, dict):
            self.setpoints = action
            return
        c, d = action
        if self.role.coordinator:
            self.action = np.asarray(c, dtype=float).reshape(-1)
        else:
            self.setpoints = setpoints_from_action(self.spec, np.asarray(c), np.asarray(d))


class _CoordinatorRule:
    """A coordinator's built-in policy, from its protocol."""

    def __init__(self, coordination: Coordination, name: str) -> None:
        self.coordination, self.name = coordination, name

    def act(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        return self.coordination.coordinator_rule(self.name, obs), np.zeros(0, np.int64)


class AgentsSim(mosaik_api_v3.Simulator):
    """Hosts control agents and the coordination between them.

    ``init(sid, time_resolution, step_size=3600, protocol="none", protocol_params=None,
    broker="in_memory", broker_password=None)``: ``protocol`` one of
    :data:`powergrid.protocols.coordination.PROTOCOLS`; ``broker`` ``"in_memory"`` or
    a ``redis://`` URL (unreachable: an error at start, naming the URL).

    ``Agent`` params: ``name``; ``devices`` (configs of the devices it controls);
    ``policy`` (``"idle"``, ``"random"``, ``"rule"``, or in-process a callable / an
    object with ``act(observation)`` returning ``(c, d)`` or a setpoints dict);
    ``seed``; ``price`` (series name); ``steps_per_day``; ``period_steps`` (acts
    every that many steps); ``coordinator`` (a coordinating agent without devices);
    ``zone_devices``, ``load_mw``, ``load_series``, ``pcc``, ``sell_discount``,
    ``bus_positions`` (what the protocol knows of the agent's zone).
    """

    def __init__(self) -> None:
        super().__init__(META)
        self.agents: dict[str, AgentEntity] = {}
        self.step_size = 3600
        self.dt_h = 1.0
        self.protocol = "none"
        self.protocol_params: dict[str, Any] = {}
        self.broker_spec = "in_memory"
        self.broker_password: str | None = None
        self.broker: Broker | None = None
        self.coordination: Coordination | None = None
        self.price: str | None = None
        self._pending: list[tuple[str, Any, dict[str, Any]]] = []

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             protocol: str = "none", protocol_params: dict[str, Any] | None = None,
             broker: str = "in_memory", broker_password: str | None = None,
             **sim_params: Any) -> Meta:
        self.step_size = int(step_size)
        self.dt_h = self.step_size * time_resolution / 3600.0
        self.protocol = protocol
        self.protocol_params = dict(protocol_params or {})
        self.broker_spec, self.broker_password = broker, broker_password
        return self.meta

    # mosaik_api_v3 types create's model params as **model_params; a federate names its own
    def create(self, num: int, model: str, name: str = "agent",  # type: ignore[override]
               devices: list[dict[str, Any]] | None = None, policy: Any = "idle",
               seed: int | None = None, price: str | None = None, steps_per_day: int = 24,
               period_steps: int = 1, coordinator: bool = False,
               zone_devices: list[dict[str, Any]] | None = None, load_mw: float = 0.0,
               load_series: str | None = None, pcc: str | None = None,
               sell_discount: float = 1.0, bus_positions: list[int] | None = None,
               phase_names: list[str] | None = None) -> list[CreateResult]:
        if num != 1:
            raise ValueError("create agents one at a time (each has its own name)")
        if name in self.agents:
            raise ValueError(f"agent {name!r} already exists")
        devs = [device_from_config(c) for c in (devices or [])]
        role = AgentRole(name, bool(coordinator), tuple(devs),
                         tuple(device_from_config(c) for c in (zone_devices or [])),
                         float(load_mw), load_series, pcc, float(sell_discount),
                         tuple(bus_positions or ()))
        spec = ActionSpec.concat([d.action_spec() for d in devs])
        self.price = price
        self._pending.append((name, policy, {"seed": seed, "price": price,
                                             "steps_per_day": steps_per_day,
                                             "phase_names": phase_names}))
        self.agents[name] = AgentEntity(name, devs, policy, spec, role, period_steps)
        return [{"eid": name, "type": model}]

    def setup_done(self) -> None:
        roles = [a.role for a in self.agents.values()]
        self.coordination = make_coordination(self.protocol, roles, self.price,
                                              **self.protocol_params)
        self.broker = make_broker(self.broker_spec, self.broker_password)
        self.broker.reset()
        for agent in self.agents.values():
            if not agent.role.coordinator:
                for topic in self.coordination.TOPICS:
                    self.broker.subscribe(agent.name, topic)
        for name, policy, kw in self._pending:
            agent = self.agents[name]
            if agent.role.coordinator:
                agent.spec = self.coordination.coordinator_spec(name)
                agent.action = np.zeros(agent.spec.dim_c)
                if policy == "rule":
                    policy = _CoordinatorRule(self.coordination, name)
            if isinstance(policy, str):
                policy = make_policy(policy, agent.devices, agent.spec, **kw)
            agent.policy = policy

    # -- one step, in three parts (the learner's variant waits between 1 and 3) --------
    def observe(self, time: int, inputs: InputData) -> dict[str, Observation]:
        """Deliver arrived messages into the broker, read mailboxes, build observations."""
        observations = {}
        for name, agent in self.agents.items():
            data = inputs.get(name, {})
            for messages in data.get("inbox", {}).values():
                for raw in messages or ():
                    self._deliver(name, Message(**raw))
            assert self.broker is not None     # made in setup_done
            for message in self.broker.receive(name):
                agent.messages.update({k: float(v) for k, v in message.payload.items()
                                       if isinstance(v, int | float) and k != "round"})
            obs = observation_from_inputs(time, data)
            obs.messages = dict(agent.messages)
            obs.own = {"settlement": agent.settlement,
                       "info": {**agent.info, "dropped_messages": self.broker.dropped(name)}}
            observations[name] = obs
        return observations

    def _deliver(self, agent: str, message: Message) -> None:
        assert self.broker is not None and self.coordination is not None  # setup_done
        if message.recipient == agent:
            self.broker.send(message)
        elif message.topic is not None and message.topic in self.coordination.TOPICS \
                and not self.agents[agent].role.coordinator:
            self.broker.send(Message(message.sender, message.payload, message.timestamp,
                                     recipient=agent))

    def due_agents(self, time: int) -> list[str]:
        k = time // self.step_size
        return [name for name, agent in self.agents.items() if agent.due(k)]

    def coordinate(self, time: int, observations: dict[str, Observation]) -> None:
        """Run the protocol over the agents' decisions; fill every entity's outputs."""
        assert self.broker is not None and self.coordination is not None  # setup_done
        result = self.coordination.step(
            time, self.dt_h, {n: a.setpoints for n, a in self.agents.items()},
            {n: a.action for n, a in self.agents.items() if a.role.coordinator},
            observations, self.broker)
        agent_names = set(self.agents)
        for agent in self.agents.values():
            agent.outbox = []
        for message in result.messages:
            if message.sender in agent_names:  # travels its routes, with their delays
                self.agents[message.sender].outbox.append(_as_dict(message))
            else:  # from the protocol itself (a market): delivered at once
                self._deliver(message.recipient or "", message)
        for name, agent in self.agents.items():
            agent.published = result.setpoints.get(name, agent.setpoints)
            agent.tariffs = result.tariffs if agent.role.coordinator else {}
            agent.settlement = float(result.settlements.get(name, 0.0))
            agent.info = result.infos.get(name, {})
            agent.messages.update(result.features.get(name, {}))

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        observations = self.observe(time, inputs)
        for name in self.due_agents(time):
            self.agents[name].act(observations[name])
        self.coordinate(time, observations)
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        data: OutputData = {}
        for eid, attrs in outputs.items():
            agent = self.agents[eid]
            values = {"setpoints": agent.published, "outbox": agent.outbox,
                      "tariffs": agent.tariffs,
                      "settlement": agent.settlement, "coordination": agent.info}
            data[eid] = {attr: values[attr] for attr in attrs}
        return data

    def finalize(self) -> None:
        if self.broker is not None:
            self.broker.close()


def _as_dict(message: Message) -> dict[str, Any]:
    return {"sender": message.sender, "payload": message.payload,
            "timestamp": message.timestamp, "recipient": message.recipient,
            "topic": message.topic}


class LearnerAgentsSim(AgentsSim):
    """Agents whose actions come from a learner outside the scheduler (the RL bridge).

    ``init(..., bridge=...)`` takes an in-process object with
    ``offer(time, observations, due) -> awaitable``. Each step hands the agents'
    observations and the names of the agents due to act to the bridge and waits
    -- without blocking the event loop -- for the actions ``{agent: (c, d) |
    setpoints}`` it resolves the awaitable with; a due agent missing from them
    acts by its own policy.
    """

    # mosaik calls init with keywords: bridge stands where AgentsSim has protocol, which
    # arrives in **sim_params
    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,  # type: ignore[override]
             bridge: Any = None, **sim_params: Any) -> Meta:
        if bridge is None:
            raise ValueError("LearnerAgentsSim needs a bridge (in-process only)")
        self.bridge = bridge
        return super().init(sid, time_resolution, step_size, **sim_params)

    def step(self, time: int, inputs: InputData, max_advance: int):  # a generator: mosaik
        observations = self.observe(time, inputs)                      # awaits what it
        due = self.due_agents(time)                                    # yields
        actions = yield self.bridge.offer(time, observations, due)
        for name in due:
            agent = self.agents[name]
            if name in actions:
                agent.apply(actions[name])
            else:
                agent.act(observations[name])
        self.coordinate(time, observations)
        return time + self.step_size




BATCH_META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        # N copies' learner in one entity (batched environments, in-process): inputs
        # "values" (N, S), "grid" and "report" (the batches' outputs of the last step);
        # outputs "actions" {"c": (N, dc), "d": (N, dd)}, "resets" [[copy, seed]] and
        # "feed_resets" [[copy, start]] for copies that start over now, and
        # "step_values": the series of this step (a new episode's rows for those copies)
        "AgentBatch": {"public": True, "params": [],
                       "attrs": ["values", "grid", "report", "actions", "resets",
                                 "feed_resets", "step_values"]},
    },
}


class BatchLearnerSim(mosaik_api_v3.Simulator):
    """The learner's side of a batched world: one entity for N copies.

    ``init(..., bridge=...)``: each step offers ``{"values", "grid", "report"}`` to
    the bridge and waits for ``{"c", "d", "resets", "feed_resets", "values"}``: the
    actions of every copy, the copies that start over now (``[copy, seed]`` for the
    devices and the grid, ``[copy, next start]`` for the feeds) and the series the
    devices and the grid use this step (the feeds' rows, with a new episode's first
    row for the copies that start over).
    """

    def __init__(self) -> None:
        super().__init__(BATCH_META)
        self.step_size = 3600
        self.outputs: dict[str, Any] = {}

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             bridge: Any = None, **sim_params: Any) -> Meta:
        if bridge is None:
            raise ValueError("BatchLearnerSim needs a bridge (in-process only)")
        self.bridge, self.step_size = bridge, int(step_size)
        return self.meta

    # mosaik_api_v3 types create's model params as **model_params; a federate names its own
    def create(self, num: int, model: str) -> list[CreateResult]:  # type: ignore[override]
        return [{"eid": "AgentBatch-0", "type": model}]

    def step(self, time: int, inputs: InputData, max_advance: int):  # a generator: mosaik
        data = inputs.get("AgentBatch-0", {})                          # awaits what it
        offered = cast(LearnerOffer, {key: next(iter(data[key].values()))  # yields
                                      for key in ("values", "grid", "report") if key in data})
        decided: LearnerDecision = yield self.bridge.offer(time, offered, None)
        self.outputs = {"actions": {"c": decided["c"], "d": decided["d"]},
                        "resets": decided.get("resets", []),
                        "feed_resets": decided.get("feed_resets", []),
                        "step_values": decided.get("values", offered.get("values"))}
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        return {eid: {attr: self.outputs[attr] for attr in attrs} for eid, attrs in outputs.items()}


if __name__ == "__main__":
    sys.exit(run_federate(AgentsSim(), "powergrid agents federate", "agents"))
