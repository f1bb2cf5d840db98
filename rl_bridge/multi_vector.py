"""``MultiAgentVectorEnv``: N copies of a multi-agent scenario in one co-simulation world.

The batched counterpart of :class:`rl_bridge.parallel.MultiAgentGridEnv`, as
:class:`rl_bridge.vector.GridVectorEnv` is of the single environment: one mosaik world
hosts the copies as rows of one batch entity per federate (one learner entity acting for
every agent of every copy, the devices as numpy fleets, one batched power flow), stepped
by the core the single environments use (:class:`rl_bridge.copies.ScenarioCopies`).
Observations, actions, rewards and flags are dicts keyed by agent of arrays with a
leading copy axis; each copy has its own data window, seed and episode clock and starts
over on its own, in Gymnasium's same-step autoreset mode (the step that ends a copy's
episode returns its first observations of the next one; the last ones are in
``infos[agent]["final_obs"]``). Copy ``i`` of ``reset(seed=s)`` plays the episodes of a
:class:`~rl_bridge.parallel.MultiAgentGridEnv` reset with ``seed=s + i`` (the same
starts and device seeds; the power flow is the batched Z-bus solver's, equal to the
single env's to about 1e-8 p.u.).

    from rl_bridge import microgrids_v0
    envs = microgrids_v0.vector_env(num_envs=64, centralized=False)
    obs, infos = envs.reset(seed=0)                 # {agent: (64, D)}
    obs, rewards, terminations, truncations, infos = envs.step(
        {a: envs.action_spaces[a].sample() for a in envs.agents})

Every agent acts every step: the scenario's agents act on their own devices, with no
coordinator, message protocol or ``agent_periods`` (those need the PettingZoo env; asking
for them is a one-line ValueError). Options (beyond :class:`~rl_bridge.env.GridEnv`'s
``episode_length``, ``train``, ``dataset_path``, ``solver``, ``physics``,
``reward_scale``, ``safety_scale``, ``max_penalty``, ``load_scale``):

| argument                 | default          | meaning                                     |
|--------------------------|------------------|---------------------------------------------|
| ``num_envs``             | 1                | copies in the world                         |
| ``scenario``             | ``"microgrids"`` | a scenario (one agent works too)            |
| ``centralized``          | True             | every agent observes the whole network;     |
|                          |                  | False: its own zone                         |
| ``agent_indicator``      | False            | each agent's one-hot appended to its        |
|                          |                  | observation                                 |
| ``share_reward``         | False            | every agent gets the mean of the agents'    |
|                          |                  | rewards (per copy)                          |
| ``price_forecast_steps`` | 0                | the price of the next N steps observed      |
| ``reward_baseline``      | ``"none"``       | ``"exogenous_bill"``: relative to the bill  |
|                          |                  | of the agent's zone with no device acting   |
| ``reward_scope``         | ``"agent"``      | ``"system"``, ``"contribution"``: as in     |
|                          |                  | :class:`~rl_bridge.parallel.                |
|                          |                  | MultiAgentGridEnv`                          |

| returned                  | shape                                                  |
|---------------------------|--------------------------------------------------------|
| observations              | ``{agent: (N, D_agent)}`` float32                      |
| rewards                   | ``{agent: (N,)}``                                      |
| terminations, truncations | ``{agent: (N,)}`` bool (an episode ends for every      |
|                           | agent of a copy at once, truncated at its length)      |
| infos                     | ``{agent: {"cost", "safety", "converged",              |
|                           | "clipped_setpoints", ["cost_baseline"]: (N,),          |
|                           | ["final_obs"]: (N,) objects}}``, with Gymnasium's      |
|                           | ``"_<key>"`` masks                                     |

Bad actions (checked for every agent and copy before the world sees any; after a refused
action every copy is where it was):

| actions                                      | behaviour                              |
|----------------------------------------------|----------------------------------------|
| not a dict, an unknown agent, an agent       | ``ValueError`` naming them             |
| without an action                            |                                        |
| a part without the leading ``num_envs``      | ``ValueError`` naming the agent, the   |
| axis, nan/inf, discrete out of range         | first bad copy and the part, as in     |
|                                              | :class:`~rl_bridge.vector.GridVectorEnv`|
| finite values outside the Box                | clipped by the devices;                |
|                                              | ``clipped_setpoints`` per copy         |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from rl_bridge.copies import ScenarioCopies, side_by_side
from rl_bridge.core import BridgedScenario
from rl_bridge.options import LEARNABILITY_DEFAULTS, env_options
from rl_bridge.spaces import (
    ActionError,
    CheckedAction,
    agent_indicated_space,
    check_batch,
    with_agent_indicator,
)

#: the options of the batched multi-agent env beyond those every environment takes
MULTI_VECTOR_DEFAULTS: dict[str, Any] = {"centralized": True, "share_reward": False,
                                         "agent_indicator": False, **LEARNABILITY_DEFAULTS}


class MultiAgentVectorEnv:
    """``num_envs`` copies of a multi-agent scenario, batched (see the module docstring).

    ``reset(seed=s)`` seeds copy ``i`` with ``s + i``; training episodes start at random
    days of each copy's own stream, test episodes of copy ``i`` are the test split's
    episodes ``i, i + N, i + 2N, ...`` (wrapping).
    """

    metadata = {"name": "powergrid_multi_agent_vector_v0",
                "autoreset_mode": AutoresetMode.SAME_STEP}
    #: no rendering (the PettingZoo env renders a copy's diagram)
    render_mode: str | None = None

    def __init__(self, num_envs: int = 1, *, scenario: str = "microgrids",
                 config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        options = env_options(config, {"scenario": scenario, **MULTI_VECTOR_DEFAULTS},
                              **kwargs)
        self.centralized = bool(options.pop("centralized"))
        self.share_reward = bool(options.pop("share_reward"))
        self.agent_indicator = bool(options.pop("agent_indicator"))
        self.num_envs = int(num_envs)
        if self.num_envs < 1:
            raise ValueError("num_envs must be at least 1")
        self.scenario = BridgedScenario(options.pop("scenario"), options,
                                        scope="all" if self.centralized else "zone",
                                        centralized=self.centralized)
        self.options = options
        self.copies = ScenarioCopies(self.scenario, self.num_envs)
        self.possible_agents = list(self.copies.agents)
        self.agents = list(self.possible_agents)
        n_agents = len(self.possible_agents)
        self.single_observation_spaces: dict[str, spaces.Space[Any]] = {
            a: agent_indicated_space(s, n_agents) if self.agent_indicator else s
            for a, s in self.scenario.observation_spaces.items()}
        self.single_action_spaces: dict[str, spaces.Space[Any]] = dict(
            self.scenario.action_spaces)
        self.observation_spaces = {a: batch_space(s, self.num_envs)
                                   for a, s in self.single_observation_spaces.items()}
        self.action_spaces = {a: batch_space(s, self.num_envs)
                              for a, s in self.single_action_spaces.items()}

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        """One copy's observation space of ``agent`` (as a PettingZoo env's)."""
        return self.single_observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        """One copy's action space of ``agent`` (as a PettingZoo env's)."""
        return self.single_action_spaces[agent]

    @property
    def episode_length(self) -> int:
        return self.copies.episode_length

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        copies = self.copies
        copies.reseed(seed)
        return self._indicated(copies.begin()), {a: {} for a in self.possible_agents}

    def _check(self, actions: Any) -> tuple[CheckedAction, dict[str, np.ndarray]]:
        """Every agent's actions checked for every copy before the world sees any, side
        by side in the agents' order; and each agent's clipped setpoints per copy."""
        if not isinstance(actions, Mapping):
            raise ActionError(f"actions must be a dict {{agent: (num_envs, ...) actions}}"
                              f" for {self.possible_agents}, got {type(actions).__name__}")
        unknown = sorted(map(str, set(actions) - set(self.possible_agents)))
        if unknown:
            raise ActionError(f"unknown agent(s) {unknown} (agents:"
                              f" {', '.join(self.possible_agents)})")
        missing = [a for a in self.possible_agents if a not in actions]
        if missing:
            raise ActionError(f"no action for agent(s) {missing}")
        checked = [check_batch(a, self.copies.specs[a], actions[a], self.num_envs)
                   for a in self.possible_agents]
        clipped = {a: np.asarray(x.clipped) for a, x in zip(self.possible_agents, checked,
                                                             strict=True)}
        return side_by_side(checked), clipped

    def step(self, actions: Mapping[str, Any]
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray],
                        dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        checked, clipped = self._check(actions)
        done = self.copies.step(checked)
        obs = self._indicated(done.observations)
        truncated = done.truncated
        rewards = done.rewards
        if self.share_reward:
            mean = np.mean([rewards[a] for a in self.possible_agents], axis=0)
            rewards = {a: mean.copy() for a in self.possible_agents}
        every = np.ones(self.num_envs, dtype=bool)
        infos: dict[str, dict[str, Any]] = {}
        for a in self.possible_agents:
            info: dict[str, Any] = {"cost": done.cost[a], "safety": done.safety[a],
                                    "converged": done.converged,
                                    "clipped_setpoints": clipped[a]}
            if a in self.scenario.baselines:
                info["cost_baseline"] = done.baseline[a]
            info.update({f"_{key}": every for key in list(info)})
            infos[a] = info
        if truncated.any():
            ended = np.flatnonzero(truncated)
            first = self._indicated(self.copies.restart(ended))
            for a in self.possible_agents:
                final = np.empty(self.num_envs, dtype=object)
                final[ended] = list(obs[a][ended])
                infos[a]["final_obs"], infos[a]["_final_obs"] = final, truncated.copy()
                obs[a][ended] = first[a]
        terminated = np.zeros(self.num_envs, dtype=bool)
        return (obs, rewards, {a: terminated.copy() for a in self.possible_agents},
                {a: truncated.copy() for a in self.possible_agents}, infos)

    def _indicated(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """With ``agent_indicator``, each agent's observations with its one-hot appended."""
        if not self.agent_indicator:
            return observations
        n = len(self.possible_agents)
        return {a: with_agent_indicator(v, self.possible_agents.index(a), n)
                for a, v in observations.items()}

    def close(self) -> None:
        copies = getattr(self, "copies", None)  # None: __init__ refused its options
        if copies is not None:
            copies.close()
