"""Action wrappers for single- and multi-agent environments, and the one observation
space of agents that share a policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rl_bridge.spaces import ActionError, numeric_array


def _unit_box(box: spaces.Box) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, shape=box.shape, dtype=np.float32)


def _rescale(box: spaces.Box, action: Any, agent: str = "agent", label: str = "action",
             names: Sequence[str] = ()) -> tuple[np.ndarray, int]:
    """``[-1, 1]`` -> ``[low, high]``: values beyond ``[-1, 1]`` (inf too) are clipped, nan
    is taken as 0 (the middle of the range), and each such value is counted once. Not
    numeric or the wrong shape: an :class:`~rl_bridge.spaces.ActionError`."""
    a = numeric_array(agent, label, action, box.shape, names).astype(np.float64)
    clipped = np.clip(a, -1.0, 1.0)
    n_clipped = int(np.count_nonzero(clipped != a))  # nan != nan: nan is counted here
    clipped = np.nan_to_num(clipped, nan=0.0)
    low, high = box.low.astype(np.float64), box.high.astype(np.float64)
    return (low + 0.5 * (clipped + 1.0) * (high - low)).astype(np.float32), n_clipped


def normalized_space(space: spaces.Space[Any]) -> spaces.Space[Any]:
    """The same space with its continuous ``Box`` replaced by ``Box(-1, 1)``."""
    if isinstance(space, spaces.Box):
        return _unit_box(space)
    if isinstance(space, spaces.Dict) and "continuous" in space.spaces:
        return spaces.Dict({**space.spaces,
                            "continuous": _unit_box(cast(spaces.Box, space["continuous"]))})
    raise TypeError(f"cannot normalise a {type(space).__name__} action space")


def denormalize(space: spaces.Space[Any], action: Any, agent: str = "agent",
                names: Sequence[str] = ()) -> tuple[Any, int]:
    """A physical action from a normalised one, and how many values were clipped (nan
    counted as clipped). The discrete part of a ``Dict`` action passes through unchecked
    (the environment checks it)."""
    if isinstance(space, spaces.Box):
        return _rescale(space, action, agent, "action", names)
    if not isinstance(action, Mapping) or "continuous" not in action:
        raise ActionError(f"agent {agent!r}: action must be a dict with keys 'continuous'"
                          f" and 'discrete', got {type(action).__name__}"
                          + (" without 'continuous'" if isinstance(action, Mapping) else ""))
    # not a Box: a Dict(continuous=Box, discrete=MultiDiscrete)
    cont, n = _rescale(cast(spaces.Box, cast(spaces.Dict, space)["continuous"]),
                       action["continuous"], agent, "action 'continuous'", names)
    return {**action, "continuous": cont}, n


def _control_names(env: Any, agent: str) -> tuple[str, ...]:
    """The continuous control names of ``agent`` if ``env`` is one of ours, else ()."""
    scenario = getattr(getattr(env, "unwrapped", env), "scenario", None)
    spec = getattr(scenario, "specs", {}).get(agent)
    return tuple(spec.names_c) if spec is not None else ()


class NormalizeActionWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """The agent acts in ``[-1, 1]``; actions are rescaled to the physical ranges.

    ``x_phys = low + (x + 1) / 2 * (high - low)``. Discrete parts of a ``Dict``
    action pass through (checked by the environment). For PettingZoo parallel
    environments use :class:`NormalizeParallelActions`.

    | input (continuous part)       | behaviour                                         |
    |-------------------------------|---------------------------------------------------|
    | in ``[-1, 1]``                | rescaled                                          |
    | finite outside ``[-1, 1]``    | clipped to -1 / 1, counted                        |
    | ``+inf`` / ``-inf``           | clipped to 1 / -1, counted                        |
    | ``nan``                       | taken as 0 (middle of the physical range), counted|
    | wrong shape, not numeric      | ``ValueError`` naming the agent and the part      |

    The count is ``info["clipped_actions"]`` (each value once). Discrete values are
    checked by the environment (``ValueError`` as without the wrapper).

    Action 0 is the *middle* of each range, which is not doing nothing:

    | control                  | what 0 means                 | no intervention (``idle``) |
    |--------------------------|------------------------------|----------------------------|
    | ``<ess>.p_mw`` (+-P)     | 0 MW (symmetric range)       | 0 MW: the same             |
    | ``<ess>.q_mvar`` (+-Q)   | 0 Mvar                       | 0 Mvar: the same           |
    | ``<dg>.p_mw``            | ``(p_min + p_max) / 2``      | ``p_min`` (and off when it |
    |                          |                              | has unit commitment)       |
    | ``<pv>.p_limit_mw``      | half the rating: curtails    | the rating: no curtailment |
    |                          | PV above 50 %                | (action +1)                |

    The neutral setpoints are defined per device class in one place
    (:meth:`powergrid.devices.Device.idle_action`, the ``idle`` policy).
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self._physical = env.action_space
        self.action_space = normalized_space(env.action_space)
        self._agent = str(getattr(env.unwrapped, "agent", "agent"))
        self._names = _control_names(env, self._agent)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        physical, clipped = denormalize(self._physical, action, self._agent, self._names)
        obs, reward, terminated, truncated, info = self.env.step(physical)
        return obs, reward, terminated, truncated, {**info, "clipped_actions": clipped}


class NormalizeParallelActions:
    """:class:`NormalizeActionWrapper` for a PettingZoo ``ParallelEnv`` (every agent).

    Same rules per agent; ``infos[agent]["clipped_actions"]``. Actions that are not a
    dict, or for unknown agents, reach the environment unchanged, which refuses them
    with its ``ValueError``.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self._physical = {a: env.action_space(a) for a in env.possible_agents}
        self.action_spaces = {a: normalized_space(s) for a, s in self._physical.items()}
        self._names = {a: _control_names(env, a) for a in env.possible_agents}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self.action_spaces[agent]

    def step(self, actions: dict[str, Any]) -> tuple[Any, ...]:
        if not isinstance(actions, Mapping):
            return self.env.step(actions)  # refused there, with the environment's message
        physical: dict[str, Any] = {}
        clipped: dict[str, int] = {}
        for agent, action in actions.items():
            if agent not in self._physical:
                physical[agent] = action
                continue
            physical[agent], clipped[agent] = denormalize(self._physical[agent], action,
                                                          agent, self._names[agent])
        obs, rewards, terminations, truncations, infos = self.env.step(physical)
        infos = {a: {**i, "clipped_actions": clipped.get(a, 0)} for a, i in infos.items()}
        return obs, rewards, terminations, truncations, infos


def shared_observation_space(env: Any) -> spaces.Box:
    """One ``Box`` for every agent of the PettingZoo ``env``, the union of their
    observations' bounds, for one policy shared by them (a ValueError when their shapes
    differ). The agents of a zone each see their own devices, whose bounds may differ."""
    observation = [env.observation_space(a) for a in env.possible_agents]
    shapes = {space.shape for space in observation}
    if len(shapes) != 1:
        raise ValueError(f"the agents' observations differ in shape {sorted(shapes)}:"
                         " one shared policy needs one shape")
    low = np.min([s.low for s in observation], axis=0)
    high = np.max([s.high for s in observation], axis=0)
    return spaces.Box(low, high, dtype=np.float32)


class SharedObservationSpace:
    """A PettingZoo ``ParallelEnv`` whose agents all show
    :func:`shared_observation_space` (RLlib maps agents to one shared module only when
    their spaces are equal); everything else is the wrapped env's."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._space = shared_observation_space(env)
        self.observation_spaces = dict.fromkeys(env.possible_agents, self._space)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._space


def relaxed_action_space(space: spaces.Space[Any]) -> spaces.Box:
    """One ``Box(-1, 1)`` for a Box or ``Dict(continuous, discrete)`` action space: the
    continuous part rescaled, each discrete control as one more dimension whose value
    picks the category (``[-1, 1]`` cut into equal parts)."""
    if isinstance(space, spaces.Box):
        return _unit_box(space)
    parts = cast(spaces.Dict, space)   # not a Box: Dict(continuous=Box, discrete=MultiDiscrete)
    box = cast(spaces.Box, parts["continuous"])
    dims = box.shape[0] + len(cast(spaces.MultiDiscrete, parts["discrete"]).nvec)
    return spaces.Box(-1.0, 1.0, shape=(dims,), dtype=np.float32)


def from_relaxed(space: spaces.Space[Any], action: np.ndarray, batched: bool = False) -> Any:
    """A physical action of ``space`` from one of :func:`relaxed_action_space` (rows of a
    batch with ``batched``); values outside ``[-1, 1]`` are clipped."""
    a = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64)), -1.0, 1.0)
    a = a if batched else a[None]
    if isinstance(space, spaces.Box):
        low, high = space.low.astype(float), space.high.astype(float)
        out = low + 0.5 * (a + 1.0) * (high - low)
        return out.astype(np.float32) if batched else out[0].astype(np.float32)
    parts = cast(spaces.Dict, space)   # not a Box: Dict(continuous=Box, discrete=MultiDiscrete)
    box = cast(spaces.Box, parts["continuous"])
    nvec = cast(spaces.MultiDiscrete, parts["discrete"]).nvec
    k = box.shape[0]
    low, high = box.low.astype(float), box.high.astype(float)
    c = (low + 0.5 * (a[:, :k] + 1.0) * (high - low)).astype(np.float32)
    d = np.minimum((0.5 * (a[:, k:] + 1.0) * nvec).astype(np.int64), nvec - 1)
    if batched:
        return {"continuous": c, "discrete": d}
    return {"continuous": c[0], "discrete": d[0]}


class BoxActionWrapper(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """The action space as one ``Box(-1, 1)``, for libraries that take Box actions only
    (Stable-Baselines3's PPO, SAC, A2C; RLlib; TorchRL).

    The continuous controls are rescaled from ``[-1, 1]`` to their physical range;
    each discrete control (tap, capacitor step, on/off, switch) is one more dimension
    whose value is rounded to a category: ``[-1, 1]`` is cut into ``n`` equal parts,
    part ``k`` picks category ``k`` (:func:`relaxed_action_space`,
    :func:`from_relaxed`). Values outside ``[-1, 1]`` and nan are clipped (nan as 0).
    The registered ids ``powergrid/<NAME>-Box-v0`` are the environments with this
    wrapper.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        self._physical = env.action_space
        self.action_space = relaxed_action_space(env.action_space)

    def action(self, action: Any) -> Any:
        return from_relaxed(self._physical, action)


class EpisodeLengthFromSpec(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Keeps ``gym.make``'s ``TimeLimit`` and the environment's own episode length equal
    (added by the registration; not for direct use).

    ``gym.make(id)`` and ``gym.make(id, max_episode_steps=N)``: the environment's
    ``episode_length`` becomes ``spec.max_episode_steps``. ``gym.make(id,
    episode_length=N)``: the ``TimeLimit`` (and ``spec.max_episode_steps``) becomes N.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        limit, inner = None, env
        while isinstance(inner, gym.Wrapper):
            if isinstance(inner, gym.wrappers.TimeLimit):
                limit = inner
                break
            inner = inner.env
        base = env.unwrapped
        if limit is None or not hasattr(base, "scenario"):
            return
        kwargs = base.spec.kwargs if base.spec is not None else {}
        config = next((v for v in kwargs.values() if isinstance(v, Mapping)), {})
        explicit = any(k in kwargs or k in config for k in ("episode_length",
                                                            "max_episode_steps"))
        if explicit:
            limit._max_episode_steps = base.scenario.episode_length
        else:
            base.scenario.set_episode_length(int(limit._max_episode_steps))
        for w in (limit, self):
            w._cached_spec = None
