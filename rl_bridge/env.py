"""``GridEnv``: a single-agent Gymnasium environment over a powergrid co-simulation."""

from __future__ import annotations

import sys
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np

from rl_bridge.copies import ScenarioCopies
from rl_bridge.core import BridgedScenario
from rl_bridge.options import LEARNABILITY_DEFAULTS, env_options
from rl_bridge.render import RENDER_FPS, RENDER_MODES, Renderer, check_render_mode
from rl_bridge.spaces import CheckedAction, check_action


class GridEnv(gym.Env):
    """Operate a distribution feeder for a day, one decision per step.

    Every step goes through the mosaik co-simulation: the action reaches the
    devices through the agents federate, the devices and the grid step, and the
    observation comes back through the agents federate
    (:mod:`rl_bridge.bridge`). The env is one copy of the core that the batched
    :class:`~rl_bridge.vector.GridVectorEnv` runs with N
    (:class:`rl_bridge.copies.ScenarioCopies`): one code path for both, the power flow
    by the scenario's ``solver``. The first ``reset`` builds the world; later resets
    start the next episode inside the running world (the devices reset with the
    episode's seed, the grid starts cold, the feeds jump to the episode's start), exactly
    as a fresh world would begin it.

    ## Action space

    The controllable devices of the scenario's agent, in physical units:
    ``Box`` when every control is continuous, else
    ``Dict({"continuous": Box, "discrete": MultiDiscrete})``.

    | control             | unit | devices                                  |
    |---------------------|------|------------------------------------------|
    | ``<ess>.p_mw``      | MW   | battery power, > 0 charges               |
    | ``<ess>.q_mvar``    | Mvar | battery reactive power (if controllable) |
    | ``<dg>.p_mw``       | MW   | generator output                         |
    | ``<dg>.q_mvar``     | Mvar | generator reactive power                 |
    | ``<pv>.p_limit_mw`` | MW   | curtailment cap of a PV / wind unit      |
    | ``<dg>.on``         | 0/1  | unit commitment (discrete)               |
    | ``<trafo>.position``| tap  | OLTC tap ``tap_min + k`` (discrete)      |
    | ``<cap>.position``  | step | capacitor bank step (discrete)           |
    | ``<switch>.position``| 0/1 | open / closed (discrete)                 |

    Names in order: ``env.unwrapped.spec_names``. Setpoints beyond what a device
    can do (SOC window, ramp, capability circle) are reduced by the device and
    the reduction is a safety term.

    ## Bad actions

    Every action is checked before it enters the co-simulation
    (:mod:`rl_bridge.spaces`): a refused one raises a one-line ``ValueError``
    (:class:`~rl_bridge.spaces.ActionError`) naming the agent, the part, the index
    and the control, and leaves the episode untouched -- the next ``step`` with a
    good action goes on from where it was, and ``reset()`` works as always.

    | action                                  | behaviour                              |
    |-----------------------------------------|----------------------------------------|
    | continuous ``nan``, ``inf``, ``-inf``   | ``ValueError``: ``agent 'operator':    |
    |                                         | action 'continuous'[2] (dg1.p_mw) is   |
    |                                         | nan``                                  |
    | finite continuous value outside the Box | accepted: the device clips it to its   |
    | (``1e30`` too)                          | limits, which are the Box bounds (to   |
    |                                         | float32 rounding, outwards);           |
    |                                         | ``info["clipped_setpoints"]`` counts   |
    |                                         | such values                            |
    | wrong shape; str, None, complex or      | ``ValueError`` naming the part, the    |
    | ragged lists                            | shape or dtype and the controls        |
    | ``Dict`` space: not a dict, missing or  | ``ValueError`` naming the keys         |
    | unknown keys; ``Box`` space: a dict     |                                        |
    | discrete ``nan``/``inf``, not integral  | ``ValueError``: ``... action           |
    | (``0.5``), outside ``0..n-1``           | 'discrete'[1] (reg1.position) = 33 is  |
    |                                         | outside 0..32``                        |

    Integer and bool arrays are numbers (a discrete ``2.0`` is category 2). For
    actions in ``[-1, 1]`` with clipping instead of errors, wrap the environment in
    :class:`~rl_bridge.wrappers.NormalizeActionWrapper`.

    ## Observation space

    ``Box`` (float32), finite bounds, every feature clipped into them: device
    states (SOC, powers per unit of rating, positions as a fraction of their
    range), every bus voltage (p.u.; with ``physics="three_phase"`` each bus's phase
    farthest from 1 p.u., then every bus-phase's, ``vm_pu.<phase>:<bus>``), line and
    transformer loadings (per unit),
    PCC power (per unit of total nominal load), the load / PV / wind / price
    values of the coming step (price in $/100 MWh), with ``price_forecast_steps=N``
    the price of the N steps after it (``price_usd_per_100mwh:<name>+1`` .. ``+N``,
    day-ahead prices from the data set's split, wrapping at its end; scaled and
    bounded like the price), and the hour of day and day of year as sine/cosine.
    Names: ``env.unwrapped.observation_names``.

    ## Reward

    ``-reward_scale * cost - min(safety_scale * safety, max_penalty)``, cost in $
    (device costs and the energy bill at the PCC), safety the sum of the safety
    terms (device limits, voltages outside 0.95-1.05 p.u. -- every bus-phase's with
    three-phase physics --, overloads, and 1 for a
    power flow that did not converge). ``info`` holds ``converged``, ``cost``,
    ``safety``, ``cost_terms``, ``safety_terms``, ``time`` (s) and
    ``clipped_setpoints`` (continuous values of the action outside its Box).

    With ``reward_baseline="exogenous_bill"`` the reward is computed from ``cost -
    baseline``, the baseline ($) being the energy bill the PCC would pay at this step
    if no device acted (the loads' demand less the renewables' available power, at
    the step's price, settled like the PCC's bill; :mod:`powergrid.exogenous_bill`).
    It depends on the data only, so it changes no optimal policy, but it takes out the
    swings of the loads' bill between days. ``info["cost"]`` and ``cost_terms`` stay
    the absolute figures; ``info["cost_baseline"]`` holds the baseline.

    ## Episode end

    Truncation after ``episode_length`` steps (a time limit, not a terminal
    state: the grid goes on). There is no termination: a failed power flow is
    penalised and the episode continues from the last converged state.

    ## Arguments

    | argument                 | default            | meaning                                    |
    |--------------------------|--------------------|--------------------------------------------|
    | ``scenario``             | ``"ieee13"``       | ``ieee13``, ``ieee34``, ``cigre_mv``       |
    | ``episode_length``       | 24                 | steps per episode (``max_episode_steps``)  |
    | ``train``                | True               | random training days, else consecutive     |
    |                          |                    | test days (wrapping at the end)            |
    | ``dataset_path``         | None               | a data set in CSV or classic pickle layout |
    | ``solver``               | ``"lightsim2grid"``| or ``"pandapower"`` (the reference)        |
    | ``physics``              | ``"balanced"``     | ``"three_phase"``: the feeder's OpenDSS    |
    |                          |                    | circuit (ieee13, ieee34; the               |
    |                          |                    | ``three_phase`` extra)                     |
    | ``reward_scale``         | 0.01               | per $                                      |
    | ``safety_scale``         | 100                | per unit of safety                         |
    | ``max_penalty``          | 100                | cap of the safety penalty per step         |
    | ``load_scale``           | 1.0                | multiplies every load                      |
    | ``price_forecast_steps`` | 0                  | the energy price of the next N steps       |
    |                          |                    | (0-168) in the observation                 |
    | ``reward_baseline``      | ``"none"``         | ``"exogenous_bill"``: reward from the cost |
    |                          |                    | less the bill with no device acting        |
    | ``reward_scope``         | ``"agent"``        | ``"system"``: of several agents, each is   |
    |                          |                    | rewarded for 1/n of the system's cost;     |
    |                          |                    | ``"contribution"``: for its own, its       |
    |                          |                    | zone's exchange at the price both ways     |

    A classic config dict is accepted as the first argument:
    ``GridEnv({"episode_length": 24, "train": True})``. With ``gym.make``,
    ``max_episode_steps=N`` sets the episode length too (the env and its ``TimeLimit``
    agree); ``episode_length=N`` alone ends episodes after N steps but leaves a plain
    id's ``spec.max_episode_steps`` at 24 (the ``-Box-`` ids follow it).
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": RENDER_FPS}
    #: scenario config overrides a subclass may set (e.g. ``{"agents": [...]}`` to give
    #: the operator other devices); passed to the scenario's ``config()``
    scenario_overrides: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: dict[str, Any] | None = None, *, scenario: str = "ieee13",
                 render_mode: str | None = None, **kwargs: Any) -> None:
        self.render_mode = check_render_mode(render_mode)
        options = env_options(config, {"scenario": scenario, **LEARNABILITY_DEFAULTS}, **kwargs)
        self.scenario = BridgedScenario(options.pop("scenario"), options, scope="all",
                                        **dict(self.scenario_overrides))
        if len(self.scenario.agents) != 1:
            raise ValueError(f"scenario {self.scenario.config.name!r} has"
                             f" {len(self.scenario.agents)} agents; use the PettingZoo env")
        #: the one copy, stepped by the core the vector env runs with N copies
        self.copies = ScenarioCopies(self.scenario, 1, solver=self.scenario.config.solver)
        self._renderer = Renderer(self.render_mode, self._frame)
        self.agent = self.scenario.agents[0]
        self.observation_space = self.scenario.observation_spaces[self.agent]
        self.action_space = self.scenario.action_spaces[self.agent]
        spec = self.scenario.specs[self.agent]
        self.spec_names = list(spec.names_c) + list(spec.names_d)
        self.observation_names = list(self.scenario.views[self.agent].names)
        self._episode_over = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        copies = self.copies
        copies.rngs[0] = self.np_random  # the episode's start and device seed come from it
        if seed is not None:
            copies.episodes[0] = 0
        # a running world restarts the copy in place; the first reset builds the world
        obs = (copies.restart(np.array([0])) if copies.running else copies.begin())[self.agent]
        self._episode_over = False
        if self.render_mode == "human":
            self.render()
        return obs[0], {"time": 0, "start_step": int(copies.starts[0])}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._episode_over:
            raise RuntimeError("step() called before reset() or after the episode ended:"
                               " call reset()")
        checked = check_action(self.agent, self.copies.spec, action)
        done = self.copies.step(CheckedAction(checked.c[None], checked.d[None],
                                              checked.clipped))
        a = self.agent
        info = done.info(a, 0, int(checked.clipped), self.scenario.baseline is not None)
        truncated = bool(done.truncated[0])
        self._episode_over = truncated
        if self.render_mode == "human":
            self.render()
        return done.observations[a][0], float(done.rewards[a][0]), False, truncated, info

    @property
    def spec(self) -> Any:
        return self.__dict__.get("_spec")

    @spec.setter
    def spec(self, value: Any) -> None:
        """``gym.make`` sets the spec: without an explicit ``episode_length`` the
        episode length follows the registered ``max_episode_steps``."""
        self.__dict__["_spec"] = value
        if value is None or not isinstance(getattr(value, "kwargs", None), dict):
            return
        kwargs = value.kwargs
        config = next((v for v in kwargs.values() if isinstance(v, dict)), {})
        if any(k in kwargs or k in config for k in ("episode_length", "max_episode_steps")):
            return
        registered = gym.envs.registration.registry.get(value.id)
        steps = _make_max_episode_steps() or getattr(registered, "max_episode_steps", None)
        if steps and steps != self.scenario.episode_length:
            self.scenario.set_episode_length(int(steps))

    @property
    def episode_length(self) -> int:
        """Steps per episode; ``gym.make`` keeps it equal to ``spec.max_episode_steps``."""
        return self.scenario.episode_length

    def render(self) -> Any:  # np.ndarray | None (gymnasium types it by a TypeVar)
        """The single-line diagram, buses coloured by their present voltage, device
        states and the time: an ``(H, W, 3)`` uint8 array in ``"rgb_array"`` mode; a
        matplotlib window in ``"human"`` mode; None (with a warning) without a mode."""
        return self._renderer.render()

    def _frame(self) -> np.ndarray:
        vm, devices, step, k = self.copies.frame_inputs(0)
        return cast(np.ndarray, self.scenario.renderer().frame_of(vm, devices, step, k,
                                                                   self.episode_length))

    def close(self) -> None:
        if hasattr(self, "copies"):  # not when __init__ refused its options
            self._renderer.close()
            self.copies.close()
        self._episode_over = True


def _make_max_episode_steps() -> int | None:
    """The ``max_episode_steps`` argument of the ``gymnasium.make`` call that is setting
    the spec (None outside one, or without it). Gymnasium wraps the env in its
    ``TimeLimit`` without telling the env, and the plain ids cannot carry the wrapper
    that would (``make_vec``'s vector entry point refuses additional wrappers), so the
    spec setter reads it from the caller: ``gym.make(id, max_episode_steps=168)`` gives
    168-step episodes instead of being cut at the registered 24."""
    frame = sys._getframe(2)  # noqa: SLF001 -- make() -> spec setter -> here
    if frame.f_code.co_name != "make" or "gymnasium" not in frame.f_code.co_filename:
        return None
    steps = frame.f_locals.get("max_episode_steps")
    return int(steps) if isinstance(steps, int) and steps > 0 else None
