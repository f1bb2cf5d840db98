"""``MultiAgentGridEnv``: a PettingZoo ``ParallelEnv`` over a multi-agent co-simulation."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rl_bridge.copies import ScenarioCopies, batch_refusal, side_by_side
from rl_bridge.core import BridgedScenario, StepResult
from rl_bridge.options import LEARNABILITY_DEFAULTS, env_options
from rl_bridge.render import RENDER_FPS, RENDER_MODES, Renderer, check_render_mode
from rl_bridge.spaces import (
    CheckedAction,
    agent_indicated_space,
    check_joint_action,
    with_agent_indicator,
)

#: multi-agent options and their defaults (beyond the ones every environment takes)
MULTI_AGENT_DEFAULTS: dict[str, Any] = {
    "centralized": True, "share_reward": False, "agent_indicator": False,
    "protocol": "none", "protocol_params": {},
    "message_broker": "in_memory", "broker_password": None, "message_delay_steps": 1,
    "route_delays": {}, "agent_periods": {}, **LEARNABILITY_DEFAULTS,
}
#: options that configure the scenario itself
SCENARIO_KEYS = ("protocol", "protocol_params", "message_broker", "broker_password",
                 "message_delay_steps", "route_delays", "agent_periods")


class MultiAgentGridEnv(ParallelEnv):
    """Several agents operate one network together, all acting every step.

    Every step goes through the mosaik co-simulation (:mod:`rl_bridge.bridge`). Agents
    that act on their own devices every step (no coordinator, protocol ``none``, no
    ``agent_periods``) run on the core of the batched environments with one copy
    (:class:`rl_bridge.copies.ScenarioCopies`): one world for every episode, the learner
    entity handing every agent's action to the devices federate; with a coordinator, a
    message protocol or agent periods, each agent is an entity of the agents federate,
    which carries its messages, in a world per episode. Without messages the two wirings
    give the same trajectory for the same actions: tests/test_paths_agree.py holds this env
    against ``powergrid run``, which wires the agents federate.

    | item              | per agent                                               |
    |-------------------|---------------------------------------------------------|
    | action space      | its devices' controls: ``Box`` (physical units) or      |
    |                   | ``Dict(continuous=Box, discrete=MultiDiscrete)``        |
    | observation space | ``Box``: its own devices, and the voltages, loadings    |
    |                   | and PCC power of the whole grid (``centralized=True``)  |
    |                   | or of its own zone only (``centralized=False``), the    |
    |                   | series of the coming step, time of day and year         |
    | reward            | ``-reward_scale * cost - min(safety_scale * safety,     |
    |                   | max_penalty)`` over its own zone, whatever it observes: |
    |                   | the costs of the devices in its zone, its PCC's energy  |
    |                   | bill, the voltages of its buses and the loading of its  |
    |                   | lines and transformers, and the grid-wide terms (failed |
    |                   | power flow, unsupplied load); a coordinator (DSO) pays  |
    |                   | for its feeder's import less the bills it collects.     |
    |                   | With ``share_reward`` every agent gets the mean of the  |
    |                   | agents' rewards                                         |
    | episode end       | every agent truncated after ``episode_length`` steps    |

    Options: as :class:`~rl_bridge.env.GridEnv` plus ``centralized`` (default
    True), ``share_reward`` (default False), ``protocol`` (``none``,
    ``price_signal``, ``setpoint``, ``p2p``, ``consensus``), ``protocol_params``,
    ``message_broker`` (``"in_memory"`` or a ``redis://`` URL; unreachable: an
    error at reset), ``broker_password``, ``message_delay_steps`` and
    ``route_delays`` (``{"DSO->MG1": 2}``), ``agent_periods`` (``{"DSO": 4}``:
    the agent acts every 4 steps), ``agent_indicator`` (each observation ends with the
    agent's one-hot, for one shared policy), and the learnability options of GridEnv
    (``price_forecast_steps``; ``reward_baseline="exogenous_bill"``: each agent's
    baseline is its own zone PCC's bill with no device acting; ``reward_scope="system"``:
    every agent's reward is computed from a 1/n share of the system's cost -- the
    external PCCs' bills and every agent's device costs -- instead of its own zone's,
    less with the baseline 1/n of the system's bill with no device acting;
    ``reward_scope="contribution"``: its own devices' costs and its zone's exchange at the
    price both ways, less with the baseline its zone's bill valued so; the ``cost``
    in ``info`` stays the agent's own). ``info`` per agent as in GridEnv,
    plus the protocol's (``p2p_energy_mwh``, ``retail_price``, ...). With agents
    acting at different periods, each step's observations (and ``agents``) hold
    only the agents due to act; an agent's reward accumulates until it acts.

    Bad actions are refused before anything enters the co-simulation, with a
    one-line ``ValueError`` (:class:`~rl_bridge.spaces.ActionError`); the episode is
    left where it was (a good ``step`` goes on, ``reset()`` works):

    | ``actions``                              | behaviour                             |
    |------------------------------------------|---------------------------------------|
    | not a dict                               | ``ValueError``                        |
    | a name that is not an agent              | ``ValueError``: ``unknown agent(s)    |
    |                                          | ['MG4'] (agents: MG1, MG2, MG3)``     |
    | an agent due to act is missing           | ``ValueError``: ``no action for       |
    |                                          | agent(s) ['MG2'] ...``                |
    | an action for an agent not due this step | ignored (``agent_periods``)           |
    | one agent's action: nan/inf, wrong shape | ``ValueError`` naming the agent and   |
    | or dtype, discrete out of range          | the part, as in GridEnv: ``agent      |
    |                                          | 'MG2': action[0] (MG2.ess1.p_mw) is   |
    |                                          | nan``                                 |
    | finite values outside the Box            | clipped by the devices (by the        |
    |                                          | protocol for a coordinator);          |
    |                                          | ``info[agent]["clipped_setpoints"]``  |
    |                                          | counts them                           |

    :class:`~rl_bridge.wrappers.NormalizeParallelActions` gives every agent
    ``[-1, 1]`` actions with clipping (nan as 0) instead.
    """

    metadata = {"name": "powergrid_multi_agent_v0", "render_modes": RENDER_MODES,
                "render_fps": RENDER_FPS, "is_parallelizable": True}

    def __init__(self, config: dict[str, Any] | None = None, *,
                 scenario: str = "microgrids", render_mode: str | None = None,
                 **kwargs: Any) -> None:
        self.render_mode = check_render_mode(render_mode)
        options = env_options(config, {"scenario": scenario, **MULTI_AGENT_DEFAULTS}, **kwargs)
        self.centralized = bool(options.pop("centralized"))
        self.share_reward = bool(options.pop("share_reward"))
        self.agent_indicator = bool(options.pop("agent_indicator"))
        overrides = {key: options.pop(key) for key in SCENARIO_KEYS}
        overrides["centralized"] = self.centralized
        scope = "all" if self.centralized else "zone"
        self.scenario = BridgedScenario(options.pop("scenario"), options, scope=scope,
                                        **overrides)
        #: agents that act on their own devices every step run on the one copy of the
        #: core the batched environments step N copies with (one world for every episode,
        #: the arrays of every agent at once); a coordinator, a message protocol or agent
        #: periods need the agents federate's messages (the scenario's own world)
        self._on_copies = batch_refusal(self.scenario.config) is None
        self._copies: ScenarioCopies | None = None
        self._renderer = Renderer(self.render_mode, self._frame)
        self.possible_agents = list(self.scenario.agents)
        self.agents: list[str] = []
        self.observation_spaces = {a: agent_indicated_space(space, len(self.possible_agents))
                                   if self.agent_indicator else space
                                   for a, space in self.scenario.observation_spaces.items()}
        self.action_spaces = dict(self.scenario.action_spaces)
        self._rng = np.random.default_rng()

    @property
    def copies(self) -> ScenarioCopies | None:
        """The one copy of the batched core this env runs on (made on first use: an env
        not yet reset pickles, as SuperSuit's vector envs need), None with messages."""
        if self._copies is None and self._on_copies:
            self._copies = ScenarioCopies(self.scenario, 1,
                                          solver=self.scenario.config.solver)
        return self._copies

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        copies = self.copies
        if copies is None:
            obs, infos = self.scenario.reset(self._rng, restart_test=seed is not None)
        else:  # the episode's start and device seed come from the same stream
            copies.rngs[0] = self._rng
            if seed is not None:
                copies.episodes[0] = 0
            first = copies.restart(np.array([0])) if copies.running else copies.begin()
            obs = {a: v[0] for a, v in first.items()}
            infos = {a: {"time": 0, "start_step": int(copies.starts[0])} for a in obs}
        obs = self._indicated(obs)
        self.agents = list(obs)
        if self.render_mode == "human":
            self.render()
        return obs, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, float],
                                                     dict[str, bool], dict[str, bool],
                                                     dict[str, dict[str, Any]]]:
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset()")
        result = self.scenario.step(actions) if self.copies is None else \
            self._step_copy(actions)
        rewards = result.rewards
        if self.share_reward:
            mean = float(np.mean(list(rewards.values())))
            rewards = {a: mean for a in rewards}
        acting = list(result.observations)
        terminations = dict.fromkeys(acting, False)
        truncations = dict.fromkeys(acting, result.done)
        self.agents = [] if result.done else acting
        if self.render_mode == "human":
            self.render()
        return (self._indicated(result.observations), rewards, terminations, truncations,
                result.infos)

    def _step_copy(self, actions: dict[str, Any]) -> StepResult:
        """One step of the one copy: every agent's action checked before the world sees
        any, then its observation, reward and ``info`` as the scenario's world gives them."""
        copies = self.copies
        assert copies is not None
        checked = check_joint_action(self.scenario.specs, self.possible_agents, actions)
        joint = side_by_side([checked[a] for a in self.possible_agents])
        done = copies.step(CheckedAction(joint.c[None], joint.d[None], joint.clipped))
        baselines = self.scenario.baselines
        return StepResult({a: v[0] for a, v in done.observations.items()},
                          {a: float(v[0]) for a, v in done.rewards.items()},
                          {a: done.info(a, 0, int(checked[a].clipped), a in baselines)
                           for a in self.possible_agents},
                          bool(done.truncated[0]))

    def _frame(self) -> np.ndarray:
        if self.copies is None:
            return self.scenario.render_frame()
        vm, devices, step, k = self.copies.frame_inputs(0)
        return self.scenario.renderer().frame_of(vm, devices, step, k,
                                                 self.scenario.episode_length)

    def _indicated(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """With ``agent_indicator``, each agent's observation with its one-hot appended."""
        if not self.agent_indicator:
            return observations
        return {a: with_agent_indicator(v, self.possible_agents.index(a),
                                        len(self.possible_agents))
                for a, v in observations.items()}

    def render(self) -> np.ndarray | None:
        """As :meth:`rl_bridge.env.GridEnv.render`: the whole network, every agent's
        devices."""
        return self._renderer.render()

    def close(self) -> None:
        self._renderer.close()
        if self._copies is not None:
            self._copies.close()
        self.scenario.close()

