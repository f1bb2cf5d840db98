"""``GridVectorEnv``: N copies of a single-agent scenario in one co-simulation world.

One mosaik world hosts the copies as rows of one batch entity per federate (feeds,
agents, devices, grid): mosaik's scheduling is paid once per step for all copies,
the devices of every copy step as one set of numpy fleets and the grid solves every
copy in one batched power flow (:class:`powergrid.solvers.batched.BatchedSolver`).
Each copy has its own data window, seed and episode clock and resets on its own,
in Gymnasium's same-step autoreset mode: the step that ends a copy's episode returns
that copy's first observation of the next one (its last one is in
``infos["final_obs"]``), and the next step is the new episode's first. A copy's
trajectory does not depend on the other copies: copy ``i`` of ``reset(seed=s)`` is
bit for bit copy 0 of a one-copy env reset with ``seed=s + i``.

    envs = gymnasium.make_vec("powergrid/IEEE13-v0", num_envs=256,
                              vectorization_mode="vector_entry_point")

Spaces, reward and options are those of :class:`rl_bridge.env.GridEnv`, batched:

| argument                 | default         | meaning                                      |
|--------------------------|-----------------|----------------------------------------------|
| ``num_envs``             | 1               | copies in the world                          |
| ``scenario``             | ``"ieee13"``    | a single-agent scenario                      |
| ``render_mode``          | None            | or ``"rgb_array"`` (one frame per copy)      |
| ``price_forecast_steps`` | 0               | the energy price of the next N steps (0-168) |
|                          |                 | in the observation: each copy's own coming   |
|                          |                 | rows of the split, wrapping at its end       |
| ``reward_baseline``      | ``"none"``      | ``"exogenous_bill"``: each copy's reward     |
|                          |                 | from its cost less its step's bill with no   |
|                          |                 | device acting; ``infos["cost"]`` stays the   |
|                          |                 | absolute cost, ``infos["cost_baseline"]``    |
|                          |                 | holds the baseline                           |

and every other :class:`~rl_bridge.env.GridEnv` argument (``episode_length``,
``train``, ``dataset_path``, ``solver``, ``physics``, ``reward_scale``,
``safety_scale``, ``max_penalty``, ``load_scale``) with its default and meaning (with
``physics="three_phase"`` each copy solves its own OpenDSS circuit in turn:
:class:`powergrid.phase_batch.ThreePhaseBatchGridModel`).

Bad actions are handled as in GridEnv, for the whole batch at once and before the
world sees any of it (:func:`rl_bridge.spaces.check_batch`):

| actions                                        | behaviour                           |
|------------------------------------------------|-------------------------------------|
| a part without the leading ``num_envs`` axis,  | ``ValueError`` naming the part and  |
| wrong shape, not numeric                       | the shapes                          |
| nan/inf, discrete outside its range or not     | ``ValueError`` naming the first bad |
| integral in any copy                           | copy: ``agent 'operator', copy 3:   |
|                                                | action 'continuous'[2] (dg1.p_mw)   |
|                                                | is nan``; no copy steps             |
| finite continuous values outside the Box       | clipped by the devices;             |
|                                                | ``infos["clipped_setpoints"]`` per  |
|                                                | copy                                |

After a refused action every copy is where it was: a good ``step`` goes on, and
``reset()`` works.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rl_bridge.copies import BatchBridge, ScenarioCopies
from rl_bridge.core import BridgedScenario
from rl_bridge.options import LEARNABILITY_DEFAULTS, env_options
from rl_bridge.render import RENDER_FPS
from rl_bridge.spaces import CheckedAction, check_batch

__all__ = ["BatchBridge", "GridVectorEnv"]


class GridVectorEnv(VectorEnv):
    """``num_envs`` copies of a single-agent scenario, batched (see the module docstring).

    ``reset(seed=s)`` seeds copy ``i`` with ``s + i``; ``step`` returns arrays with one
    row per copy and ``infos`` with ``cost``, ``safety``, ``converged``,
    ``fallback`` (solved by the single-copy backend) and ``clipped_setpoints`` per copy.
    Training episodes start at random days of each copy's own stream; test episodes of
    copy ``i`` are the test split's episodes ``i, i + N, i + 2N, ...`` (wrapping).
    The copies are stepped by :class:`rl_bridge.copies.ScenarioCopies`, the core that
    :class:`rl_bridge.env.GridEnv` runs with one copy.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": ["rgb_array"],
                "render_fps": RENDER_FPS}

    def __init__(self, num_envs: int = 1, *, scenario: str = "ieee13",
                 render_mode: str | None = None, **kwargs: Any) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode of the vector env must be None or 'rgb_array',"
                             f" not {render_mode!r}")
        self.render_mode = render_mode
        self._renderer: Any = None
        options = env_options(None, {"scenario": scenario, **LEARNABILITY_DEFAULTS}, **kwargs)
        self.scenario = BridgedScenario(options.pop("scenario"), options, scope="all")
        if len(self.scenario.agents) != 1:
            raise ValueError("batched environments take single-agent scenarios")
        self.num_envs = int(num_envs)
        if self.num_envs < 1:
            raise ValueError("num_envs must be at least 1")
        self.options = options
        self.copies = ScenarioCopies(self.scenario, self.num_envs)
        self.agent = self.copies.agent
        self.view = self.copies.view
        self.action_spec = self.copies.spec
        self.single_observation_space = self.scenario.observation_spaces[self.agent]
        self.single_action_space = self.scenario.action_spaces[self.agent]
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.bridge = self.copies.bridge

    @property
    def episode_length(self) -> int:
        return self.copies.episode_length

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        copies = self.copies
        copies.reseed(seed)
        return copies.begin()[self.agent], {}

    # -- steps ---------------------------------------------------------------------
    def _split(self, actions: Any) -> CheckedAction:
        """Every copy's action checked (:func:`rl_bridge.spaces.check_batch`) before the
        world sees any: a ValueError naming the first bad copy leaves every copy where
        it was."""
        return check_batch(self.agent, self.action_spec, actions, self.num_envs)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        checked = self._split(actions)
        done, a = self.copies.step(checked), self.agent
        obs, truncated = done.observations[a], done.truncated
        terminated = np.zeros(self.num_envs, dtype=bool)
        every = np.ones(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {"cost": done.cost[a], "safety": done.safety[a],
                                 "converged": done.converged, "fallback": done.fallback,
                                 "clipped_setpoints": checked.clipped, "_cost": every,
                                 "_safety": every, "_converged": every, "_fallback": every,
                                 "_clipped_setpoints": every}
        if self.scenario.baseline is not None:
            infos["cost_baseline"], infos["_cost_baseline"] = done.baseline[a], every
        if truncated.any():
            ended = np.flatnonzero(truncated)
            final = np.empty(self.num_envs, dtype=object)
            final[ended] = list(obs[ended])
            infos["final_obs"], infos["_final_obs"] = final, truncated.copy()
            obs[ended] = self.copies.restart(ended)[a]
        return obs, done.rewards[a], terminated, truncated, infos

    def render(self) -> Any:  # tuple[np.ndarray, ...] | None
        """One frame per copy (``render_mode="rgb_array"``): the single-line diagram
        coloured by that copy's latest bus voltages, with its device states, as
        :meth:`rl_bridge.env.GridEnv.render` draws it. None (with a warning) without a
        render mode."""
        if self.render_mode is None:
            import gymnasium

            gymnasium.logger.warn('render() without a render_mode: make the vector env with'
                                  ' render_mode="rgb_array"')
            return None
        if self._renderer is None:
            self._renderer = self.scenario.renderer()
        frames = []
        for i in range(self.num_envs):
            vm, devices, step, k = self.copies.frame_inputs(i)
            frames.append(self._renderer.frame_of(vm, devices, step, k, self.episode_length))
        return tuple(frames)

    def close(self, **kwargs: Any) -> None:
        copies = getattr(self, "copies", None)  # None: __init__ refused its options
        if copies is not None:
            copies.close()
