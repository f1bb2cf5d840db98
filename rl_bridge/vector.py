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
``train``, ``dataset_path``, ``solver``, ``reward_scale``, ``safety_scale``,
``max_penalty``, ``load_scale``) with its default and meaning.

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

from typing import Any, cast

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from powergrid.devices.batch import DeviceBatch, grid_layout
from powergrid.gridmodel import BatchGridModel
from powergrid.observation import time_features
from powergrid.rewards import reward
from rl_bridge.bridge import CoSimBridge
from rl_bridge.core import BridgedScenario
from rl_bridge.options import SINGLE_AGENT_DEFAULTS, env_options
from rl_bridge.render import RENDER_FPS
from rl_bridge.spaces import CheckedAction, check_batch
from scenarios.prepare import PreparedScenario
from scenarios.world import build_batch_world

#: "forever": a batched world runs until the environment is closed or reset
_FOREVER_STEPS = 10**7  # the scenario config allows at most 1e7 steps


class BatchBridge(CoSimBridge):
    """A :class:`CoSimBridge` over a world of N copies (batch entities)."""

    LEARNER = "batch"

    def __init__(self, prepared: PreparedScenario, n_copies: int,
                 features: list[tuple[str, Any]]) -> None:
        self.n_copies, self.features = int(n_copies), features
        self.starts: list[int] = []
        self.seeds: list[int] = []
        super().__init__(prepared)

    def _grid_model(self, prepared: PreparedScenario) -> BatchGridModel:
        injecting, positional = grid_layout(prepared.devices)
        return BatchGridModel(prepared.net, self.n_copies, prepared.series,
                              prepared.load_profiles, prepared.pccs, injecting, positional,
                              regulators=prepared.regulators)

    async def _build(self, world: Any, prepared: PreparedScenario) -> None:
        await build_batch_world(world, prepared, self.n_copies, self, self.grid_model,
                                self.starts, self.seeds, self.features)

    def start(self, starts: list[int], seeds: list[int]) -> dict[str, Any]:
        """A fresh world whose copies begin at ``starts`` with device ``seeds``."""
        self.starts, self.seeds = [int(s) for s in starts], [int(s) for s in seeds]
        return self.reset(0, 0, _FOREVER_STEPS)[1]


class GridVectorEnv(VectorEnv):
    """``num_envs`` copies of a single-agent scenario, batched (see the module docstring).

    ``reset(seed=s)`` seeds copy ``i`` with ``s + i``; ``step`` returns arrays with one
    row per copy and ``infos`` with ``cost``, ``safety``, ``converged``,
    ``fallback`` (solved by the single-copy backend) and ``clipped_setpoints`` per copy.
    Training episodes start at random days of each copy's own stream; test episodes of
    copy ``i`` are the test split's episodes ``i, i + N, i + 2N, ...`` (wrapping).
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
        options = env_options(None, {"scenario": scenario, **SINGLE_AGENT_DEFAULTS}, **kwargs)
        self.scenario = BridgedScenario(options.pop("scenario"), options, scope="all")
        if len(self.scenario.agents) != 1:
            raise ValueError("batched environments take single-agent scenarios")
        self.num_envs = int(num_envs)
        if self.num_envs < 1:
            raise ValueError("num_envs must be at least 1")
        self.options = options
        self.agent = self.scenario.agents[0]
        self.view = self.scenario.views[self.agent]
        self.action_spec = self.scenario.specs[self.agent]
        self.single_observation_space = self.scenario.observation_spaces[self.agent]
        self.single_action_space = self.scenario.action_spaces[self.agent]
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.bridge = BatchBridge(self.scenario.prepared, self.num_envs, self.view.features)
        self._calendar = time_features(self.scenario.hours, self.scenario.days)
        self._data = self.scenario.data
        self._series = list(self._data.names)
        self._view_series = [self._series.index(s) for s in self.view.series]
        self.episode_length = self.scenario.episode_length
        n = self.num_envs
        self._rngs = [np.random.default_rng(i) for i in range(n)]
        self._starts = np.zeros(n, dtype=np.int64)
        self._k = np.zeros(n, dtype=np.int64)
        self._episodes = np.zeros(n, dtype=np.int64)
        self._pending: dict[int, tuple[int, int]] = {}  # copy -> (start, seed) to send
        prepared = self.scenario.prepared
        self._table = self._data.table
        self._first = DeviceBatch(prepared.devices, n, prepared.config.agents[0].devices,
                                  self._series, dict(prepared.config.profiles))
        self._features = self.view.features

    # -- episodes ----------------------------------------------------------------
    def _new_episode(self, i: int) -> tuple[int, int]:
        """Copy ``i``'s next start (in scenario steps) and device seed."""
        rng = self._rngs[i]
        if self.options["train"]:
            start = self.scenario.starts.train(rng)
        else:
            start = self.scenario.starts.test(i + self.num_envs * int(self._episodes[i]))
        self._episodes[i] += 1
        return start, int(rng.integers(2**31 - 1))

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        n = self.num_envs
        if seed is not None:
            seeds = list(seed) if isinstance(seed, list | tuple) else [seed + i for i in range(n)]
            self._rngs = [np.random.default_rng(s) for s in seeds]
            self._episodes[:] = 0
        started = [self._new_episode(i) for i in range(n)]
        self._starts[:] = [s for s, _ in started]
        self._k[:] = 0
        self._pending = {}
        self._offered = offered = self.bridge.start(self._starts.tolist(),
                                                    [s for _, s in started])
        return self._observe(offered), {}

    # -- steps ---------------------------------------------------------------------
    def _split(self, actions: Any) -> CheckedAction:
        """Every copy's action checked (:func:`rl_bridge.spaces.check_batch`) before the
        world sees any: a ValueError naming the first bad copy leaves every copy where
        it was."""
        return check_batch(self.agent, self.action_spec, actions, self.num_envs)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        checked = self._split(actions)
        decided: dict[str, Any] = {"c": checked.c, "d": checked.d, "resets": [], "feed_resets": []}
        if self._pending:  # copies whose new episode began with the last observation
            values = self._offered["values"].copy()
            for i, (start, seed) in self._pending.items():
                decided["resets"].append([i, seed])
                decided["feed_resets"].append([i, start + 1])
                values[i] = self._table[start % len(self._table)]
            decided["values"] = values
            self._pending = {}
        # the batch offers one dict of arrays ("values", "grid", "report"), no Observations
        self._offered = offered = cast("dict[str, Any]", self.bridge.step(decided)[1])
        baseline = self._baseline_usd(self._starts + self._k)  # the rows just solved
        self._k += 1
        report, grid = offered["report"], offered["grid"]
        cost_terms, safety_terms = self.view.accounts(report["cost_terms"],
                                                      report["safety_terms"], grid)
        cost = sum(cost_terms.values(), np.zeros(self.num_envs))
        safety = sum(safety_terms.values(), np.zeros(self.num_envs))
        o = self.options
        rewards = reward(cost - baseline, safety, o["reward_scale"], o["safety_scale"],
                         o["max_penalty"])
        obs = self._observe(offered)
        truncated = self._k >= self.episode_length
        terminated = np.zeros(self.num_envs, dtype=bool)
        every = np.ones(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {"cost": cost, "safety": safety,
                                 "converged": np.asarray(grid["converged"]),
                                 "fallback": np.asarray(grid["fallback"]),
                                 "clipped_setpoints": checked.clipped, "_cost": every,
                                 "_safety": every, "_converged": every, "_fallback": every,
                                 "_clipped_setpoints": every}
        if self.scenario.baseline is not None:
            infos["cost_baseline"], infos["_cost_baseline"] = baseline, every
        if truncated.any():
            done = np.flatnonzero(truncated)
            final = np.empty(self.num_envs, dtype=object)
            final[done] = list(obs[done])
            infos["final_obs"], infos["_final_obs"] = final, truncated.copy()
            obs[done] = self._first_observations(done)
        return obs, rewards, terminated, truncated, infos

    def _first_observations(self, copies: np.ndarray) -> np.ndarray:
        """Start the next episode of ``copies`` now: their first observations, as a fresh
        world would give them (the world follows at the next step)."""
        started = [self._new_episode(int(i)) for i in copies]
        for i, (start, seed) in zip(copies, started, strict=True):
            self._pending[int(i)] = (start, seed)
        starts = np.array([s for s, _ in started], dtype=np.int64)
        self._starts[copies], self._k[copies] = starts, 0
        self._first.reset(list(copies), [np.random.default_rng(s) for _, s in started])
        features = self._first.features(self._features, copies)
        values = self._table[starts % len(self._table)][:, self._view_series]
        calendar = self._calendar[starts % len(self._calendar)]
        grid = self.bridge.grid_model.initial_state(len(copies))
        return self.view.vectors(features, grid, values, None, calendar,
                                 self._prices_ahead(starts))

    def _observe(self, offered: dict[str, Any]) -> np.ndarray:
        index = (self._starts + self._k) % len(self._calendar)
        values = offered["values"]
        return self.view.vectors(offered["report"]["features"], offered["grid"],
                                 values[:, self._view_series], None, self._calendar[index],
                                 self._prices_ahead(self._starts + self._k))

    def _prices_ahead(self, steps: np.ndarray) -> np.ndarray | None:
        """The price ($/MWh) of the ``price_forecast_steps`` steps after each copy's
        coming step ``steps`` ``(N,)`` (None without a forecast)."""
        n_ahead = self.view.forecast_steps
        return self._data.prices_ahead(steps, n_ahead) if n_ahead else None

    def _baseline_usd(self, steps: np.ndarray) -> np.ndarray:
        """Each copy's reward baseline in $ at its scenario step ``steps`` ``(N,)``: the
        bill with no device acting (zeros without a baseline)."""
        bill = self.scenario.baseline
        if bill is None:
            return np.zeros(self.num_envs)
        return bill.bill_usd(self._data.values(steps))

    def render(self) -> tuple[np.ndarray, ...] | None:
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
            from rl_bridge.render import GridRenderer

            cfg = self.scenario.prepared.config
            self._renderer = GridRenderer(self.scenario.prepared, cfg.split, cfg.dt_h,
                                          self.options["dataset_path"])
        offered = getattr(self, "_offered", None) or {}
        vm = (offered.get("grid") or {}).get("vm_pu")
        states = (offered.get("report") or {}).get("states")
        frames = []
        for i in range(self.num_envs):
            devices = ({} if states is None else
                       {name: {"state": state}
                        for name, state in self._first.device_states(i, states).items()})
            frames.append(self._renderer.frame_of(None if vm is None else vm[i], devices,
                                                  int(self._starts[i] + self._k[i]),
                                                  int(self._k[i]), self.episode_length))
        return tuple(frames)

    def close(self, **kwargs: Any) -> None:
        self.bridge.close()
