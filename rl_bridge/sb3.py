"""Stable-Baselines3 on the batched environments.

``SB3VecEnv(vector_env)`` presents a :class:`~rl_bridge.vector.GridVectorEnv` (or any
Gymnasium VectorEnv with same-step autoreset) as SB3's ``VecEnv``: SB3's PPO, A2C,
SAC ... train on it unchanged. A ``Dict(continuous, discrete)`` action space is
offered to SB3 as one ``Box(-1, 1)`` (see :func:`rl_bridge.wrappers.relaxed_action_space`),
because SB3's policies take Box, Discrete or MultiDiscrete actions only.

``HeldControls(venv, keep, idle_relaxed_action(vector_env))`` lets an agent learn some
controls only (the battery, say) while the others stay at their no-intervention values
(the training examples' ``--controls``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvWrapper

from rl_bridge.wrappers import from_relaxed, relaxed_action_space


class SB3VecEnv(VecEnv):
    """A Gymnasium vector env (same-step autoreset) as an SB3 ``VecEnv``."""

    def __init__(self, env: Any) -> None:
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"SB3 needs same-step autoreset, the env has {mode}")
        self.env = env
        self._physical = env.single_action_space
        super().__init__(env.num_envs, env.single_observation_space,
                         relaxed_action_space(self._physical))
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        actions = from_relaxed(self._physical, np.asarray(self._actions), batched=True)
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        dones = terminated | truncated
        final = infos.get("final_obs")
        out = []
        for i in range(self.num_envs):
            info: dict[str, Any] = {k: v[i] for k, v in infos.items()
                                    if not k.startswith("_") and k != "final_obs"}
            if dones[i]:
                info["terminal_observation"] = final[i]
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            out.append(info)
        return obs, np.asarray(rewards, dtype=np.float32), dones, out

    def close(self) -> None:
        self.env.close()

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        self._seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.env, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None,
                   **kwargs: Any) -> list[Any]:
        return [getattr(self.env, method_name)(*args, **kwargs)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else indices


def idle_relaxed_action(vec: Any) -> np.ndarray:
    """No intervention (each device's :meth:`~powergrid.devices.Device.idle_action` at
    its initial state) in the relaxed ``Box(-1, 1)`` of :class:`SB3VecEnv`, for a
    :class:`~rl_bridge.vector.GridVectorEnv` or :class:`~rl_bridge.env.GridEnv` ``vec``:
    continuous setpoints rescaled, each discrete category at the middle of its part of
    ``[-1, 1]``. The middle of the
    relaxed range (action 0) is not idle: it commits the generator at half power,
    curtails PV to half its rating and moves the tap (see
    :class:`~rl_bridge.wrappers.NormalizeActionWrapper`)."""
    prepared = vec.scenario.prepared
    spec = vec.scenario.specs[vec.agent]
    by_name = {d.name: d for d in prepared.devices}
    cont: list[float] = []
    disc: list[int] = []
    for name in prepared.config.agents[0].devices:
        c, d = by_name[name].idle_action({})
        cont += c
        disc += d
    low, high = spec.low.astype(float), spec.high.astype(float)
    c_rel = 2.0 * (np.asarray(cont, dtype=float) - low) / (high - low) - 1.0
    d_rel = (np.asarray(disc, dtype=float) + 0.5) / spec.nvec * 2.0 - 1.0
    return np.clip(np.concatenate([c_rel, d_rel]), -1.0, 1.0).astype(np.float32)


def relaxed_names(vec: Any) -> list[str]:
    """The names of the relaxed action's dimensions, in order (continuous controls, then
    discrete ones), for a :class:`~rl_bridge.vector.GridVectorEnv` or
    :class:`~rl_bridge.env.GridEnv` ``vec``."""
    spec = vec.scenario.specs[vec.agent]
    return list(spec.names_c) + list(spec.names_d)


class HeldControls(VecEnvWrapper):
    """An SB3 ``VecEnv`` whose agent acts on the dimensions ``keep`` of ``venv``'s
    relaxed action only (``Box(-1, 1)`` of ``len(keep)``); the others are held at
    ``fixed`` (e.g. :func:`idle_relaxed_action`). A training aid: the environment is
    unchanged, the held controls are simply not explored."""

    def __init__(self, venv: Any, keep: list[int], fixed: np.ndarray) -> None:
        self.keep, self.fixed = np.asarray(keep), np.asarray(fixed, dtype=np.float32)
        super().__init__(venv, action_space=spaces.Box(-1.0, 1.0, shape=(len(keep),),
                                                       dtype=np.float32))

    def step_async(self, actions: np.ndarray) -> None:
        full = np.tile(self.fixed, (len(actions), 1))
        full[:, self.keep] = np.clip(actions, -1.0, 1.0)
        self.venv.step_async(full)

    def step_wait(self) -> Any:
        return self.venv.step_wait()

    def reset(self) -> Any:
        return self.venv.reset()
