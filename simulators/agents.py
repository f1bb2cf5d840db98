"""The agents federate: one entity per control agent, observation in, setpoints out.

Inputs are accepted under any name (``any_inputs``) and sorted into an
:class:`~powergrid.policies.Observation` by their prefix, which the scenario
sets when it connects:

* ``"<kind>:<name>"`` (``"price:DA"``): a series value of the coming step;
* ``"grid.<attr>"``: a grid output of the last step (``"grid.vm_pu"``);
* ``"device.<attr>"``: a device output of the last step, by source entity
  (``"device.state"`` from entity ``bat1``).

Output ``setpoints``: ``{device: {control: value}}`` for the agent's devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mosaik_api_v3
import numpy as np
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.devices import ActionSpec, Device, device_from_config
from powergrid.policies import Observation, Policy, make_policy, setpoints_from_action

META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Agent": {
            "public": True,
            "params": ["name", "devices", "policy", "seed", "price", "steps_per_day"],
            "attrs": ["setpoints"],
            "any_inputs": True,
        },
    },
}


def observation_from_inputs(time: int, data: dict[str, dict[str, Any]]) -> Observation:
    """Sort one entity's mosaik inputs into an :class:`Observation` by attribute prefix."""
    obs = Observation(time_s=time)
    for attr, sources in data.items():
        if attr.startswith("grid."):
            obs.grid[attr[5:]] = next(iter(sources.values()))
        elif attr.startswith("device."):
            for full_id, value in sources.items():
                obs.devices.setdefault(full_id.split(".", 1)[1], {})[attr[7:]] = value
        elif ":" in attr:
            obs.exogenous[attr] = float(next(iter(sources.values())))
    return obs


class AgentEntity:
    """One agent: its devices, their action spec and its policy."""

    def __init__(self, name: str, devices: list[Device], policy: Policy | Callable[..., Any],
                 spec: ActionSpec) -> None:
        self.name, self.devices, self.policy, self.spec = name, devices, policy, spec
        self.setpoints: dict[str, dict[str, float]] = {}

    def act(self, obs: Observation) -> dict[str, dict[str, float]]:
        act = getattr(self.policy, "act", self.policy)
        return self.apply(act(obs))

    def apply(self, action: Any) -> dict[str, dict[str, float]]:
        """Publish ``action``: ``(c, d)`` over the agent's spec, or a setpoints dict."""
        if isinstance(action, dict):
            self.setpoints = action
        else:
            c, d = action
            self.setpoints = setpoints_from_action(self.spec, np.asarray(c), np.asarray(d))
        return self.setpoints


class AgentsSim(mosaik_api_v3.Simulator):
    """Hosts control agents.

    ``init(sid, time_resolution, step_size=3600)``.

    ``Agent`` params: ``name``; ``devices`` (the device configs it controls,
    as for :func:`powergrid.devices.device_from_config`); ``policy``
    (``"zero"``, ``"random"``, ``"rule"``, or in-process any callable or object
    with ``act(observation) -> (c, d) | setpoints``); ``seed``; ``price`` (the
    price series name); ``steps_per_day``.
    """

    def __init__(self) -> None:
        super().__init__(META)
        self.agents: dict[str, AgentEntity] = {}
        self.step_size = 3600

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             **sim_params: Any) -> Meta:
        self.step_size = int(step_size)
        return self.meta

    def create(self, num: int, model: str, name: str = "agent",
               devices: list[dict[str, Any]] | None = None, policy: Any = "zero",
               seed: int | None = None, price: str | None = None, steps_per_day: int = 24
               ) -> list[CreateResult]:
        if num != 1:
            raise ValueError("create agents one at a time (each has its own name)")
        if name in self.agents:
            raise ValueError(f"agent {name!r} already exists")
        devs = [device_from_config(c) for c in (devices or [])]
        spec = ActionSpec.concat([d.action_spec() for d in devs])
        if isinstance(policy, str):
            policy = make_policy(policy, devs, spec, seed=seed, price=price,
                                 steps_per_day=steps_per_day)
        self.agents[name] = AgentEntity(name, devs, policy, spec)
        return [{"eid": name, "type": model}]

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        for name, agent in self.agents.items():
            agent.act(observation_from_inputs(time, inputs.get(name, {})))
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        return {eid: {"setpoints": self.agents[eid].setpoints} for eid in outputs}


class LearnerAgentsSim(AgentsSim):
    """Agents whose actions come from a learner outside the scheduler (the RL bridge).

    ``init(..., bridge=...)`` takes an in-process object with
    ``offer(time, observations) -> awaitable``. Each step hands the agents'
    observations to the bridge and waits -- without blocking the event loop --
    for the actions ``{agent: (c, d) | setpoints}`` it resolves the awaitable
    with; an agent missing from them acts by its own policy.
    """

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             bridge: Any = None, **sim_params: Any) -> Meta:
        if bridge is None:
            raise ValueError("LearnerAgentsSim needs a bridge (in-process only)")
        self.bridge = bridge
        return super().init(sid, time_resolution, step_size)

    def step(self, time: int, inputs: InputData, max_advance: int):  # a generator: mosaik
        observations = {name: observation_from_inputs(time, inputs.get(name, {}))  # awaits
                        for name in self.agents}                                     # what it
        actions = yield self.bridge.offer(time, observations)                       # yields
        for name, agent in self.agents.items():
            if name in actions:
                agent.apply(actions[name])
            else:
                agent.act(observations[name])
        return time + self.step_size


if __name__ == "__main__":
    mosaik_api_v3.start_simulation(AgentsSim(), "powergrid agents federate")
