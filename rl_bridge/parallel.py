"""``MultiAgentGridEnv``: a PettingZoo ``ParallelEnv`` over a multi-agent co-simulation."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rl_bridge.core import BridgedScenario, env_options


class MultiAgentGridEnv(ParallelEnv):
    """Several agents operate one network together, all acting every step.

    Every step goes through the mosaik co-simulation (:mod:`rl_bridge.bridge`):
    each agent's action reaches its devices through the agents federate.

    | item              | per agent                                               |
    |-------------------|---------------------------------------------------------|
    | action space      | its devices' controls: ``Box`` (physical units) or      |
    |                   | ``Dict(continuous=Box, discrete=MultiDiscrete)``        |
    | observation space | ``Box``: its own devices, and the voltages, loadings    |
    |                   | and PCC power of the whole grid (``centralized=True``)  |
    |                   | or of its own zone only (``centralized=False``), the    |
    |                   | series of the coming step, time of day and year         |
    | reward            | ``-reward_scale * cost - min(safety_scale * safety,     |
    |                   | max_penalty)`` over its devices, its PCC's energy bill  |
    |                   | and the safety of the buses and lines it observes; with |
    |                   | ``share_reward`` the mean over all agents               |
    | episode end       | every agent truncated after ``episode_length`` steps    |

    Options: as :class:`~rl_bridge.env.GridEnv` plus ``centralized`` (default
    True) and ``share_reward`` (default False). ``info`` per agent as in
    GridEnv.
    """

    metadata = {"name": "powergrid_multi_agent_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, config: dict[str, Any] | None = None, *,
                 scenario: str = "microgrids", **kwargs: Any) -> None:
        options = env_options(config, {"scenario": scenario, "centralized": True,
                                       "share_reward": False}, **kwargs)
        self.centralized = bool(options.pop("centralized"))
        self.share_reward = bool(options.pop("share_reward"))
        scope = "all" if self.centralized else "zone"
        self.scenario = BridgedScenario(options.pop("scenario"), options, scope=scope)
        self.possible_agents = list(self.scenario.agents)
        self.agents: list[str] = []
        self.observation_spaces = dict(self.scenario.observation_spaces)
        self.action_spaces = dict(self.scenario.action_spaces)
        self._rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        return self.scenario.reset(self._rng, restart_test=seed is not None)

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, float],
                                                     dict[str, bool], dict[str, bool],
                                                     dict[str, dict[str, Any]]]:
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset()")
        result = self.scenario.step(actions)
        rewards = result.rewards
        if self.share_reward:
            mean = float(np.mean(list(rewards.values())))
            rewards = {a: mean for a in rewards}
        terminations = {a: False for a in self.agents}
        truncations = {a: result.done for a in self.agents}
        if result.done:
            self.agents = []
        return result.observations, rewards, terminations, truncations, result.infos

    def close(self) -> None:
        self.scenario.close()
