"""Stable-Baselines3 on the batched environments.

``SB3VecEnv(vector_env)`` presents a :class:`~rl_bridge.vector.GridVectorEnv` (or any
Gymnasium VectorEnv with same-step autoreset) as SB3's ``VecEnv``: SB3's PPO, A2C,
SAC ... train on it unchanged. A ``Dict(continuous, discrete)`` action space is
offered to SB3 as one ``Box(-1, 1)`` (see :func:`rl_bridge.wrappers.relaxed_action_space`),
because SB3's policies take Box, Discrete or MultiDiscrete actions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

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
