"""Stable-Baselines3 on the batched environments.

``SB3VecEnv(vector_env)`` presents a :class:`~rl_bridge.vector.GridVectorEnv` (or any
Gymnasium VectorEnv with same-step autoreset) as SB3's ``VecEnv``: SB3's PPO, A2C,
SAC ... train on it unchanged. A ``Dict(continuous, discrete)`` action space is
offered to SB3 as one ``Box(-1, 1)`` (see :func:`rl_bridge.wrappers.relaxed_action_space`),
because SB3's policies take Box, Discrete or MultiDiscrete actions only.

``HeldControls(venv, keep, idle_relaxed_action(vector_env))`` lets an agent learn some
controls only (the battery, say) while the others stay at their no-intervention values
(the training examples' ``--controls``).

``SharedPolicyVecEnv(parallel_envs)`` presents the agents of PettingZoo parallel
environments (every agent acting every step) as the slots of one SB3 ``VecEnv``: one
policy learns from every agent's experience (parameter sharing), each agent's actions
mapped from ``Box(-1, 1)`` to its own action space. ``BatchedSharedPolicyVecEnv`` does
the same for the copies of one batched multi-agent world
(:class:`rl_bridge.multi_vector.MultiAgentVectorEnv`), slot ``k * A + j`` again agent
``j`` of copy ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvWrapper

from rl_bridge.wrappers import from_relaxed, relaxed_action_space, shared_observation_space


class _SeededVecEnv(VecEnv):
    """What both adapters share: a seed kept for the next ``reset`` and no wrappers."""

    _seed: int | None = None

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        self._seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else indices


class _OneEnv(_SeededVecEnv):
    """An adapter over one (batched) environment ``self.env``: attributes and methods
    are that env's, whichever slots are asked for."""

    env: Any

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.env, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None,
                   **kwargs: Any) -> list[Any]:
        return [getattr(self.env, method_name)(*args, **kwargs)]

    def close(self) -> None:
        self.env.close()


class SB3VecEnv(_OneEnv):
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
        self._seed = None

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





def idle_relaxed_action(vec: Any, agent: str | None = None) -> np.ndarray:
    """No intervention (each device's :meth:`~powergrid.devices.Device.idle_action` at
    its initial state) in the relaxed ``Box(-1, 1)`` of :class:`SB3VecEnv`, for a
    :class:`~rl_bridge.vector.GridVectorEnv` or :class:`~rl_bridge.env.GridEnv` ``vec``
    (or a :class:`~rl_bridge.parallel.MultiAgentGridEnv` and one of its ``agent`` s):
    continuous setpoints rescaled, each discrete category at the middle of its part of
    ``[-1, 1]``. The middle of the
    relaxed range (action 0) is not idle: it commits the generator at half power,
    curtails PV to half its rating and moves the tap (see
    :class:`~rl_bridge.wrappers.NormalizeActionWrapper`)."""
    prepared = vec.scenario.prepared
    name = agent if agent is not None else vec.agent
    spec = vec.scenario.specs[name]
    by_name = {d.name: d for d in prepared.devices}
    (config,) = [a for a in prepared.config.agents if a.name == name]
    cont: list[float] = []
    disc: list[int] = []
    for name in config.devices:
        c, d = by_name[name].idle_action({})
        cont += c
        disc += d
    low, high = spec.low.astype(float), spec.high.astype(float)
    c_rel = 2.0 * (np.asarray(cont, dtype=float) - low) / (high - low) - 1.0
    d_rel = (np.asarray(disc, dtype=float) + 0.5) / spec.nvec * 2.0 - 1.0
    return np.clip(np.concatenate([c_rel, d_rel]), -1.0, 1.0).astype(np.float32)


def relaxed_names(vec: Any, agent: str | None = None) -> list[str]:
    """The names of the relaxed action's dimensions, in order (continuous controls, then
    discrete ones), for a :class:`~rl_bridge.vector.GridVectorEnv` or
    :class:`~rl_bridge.env.GridEnv` ``vec`` (or a multi-agent env and its ``agent``)."""
    spec = vec.scenario.specs[agent if agent is not None else vec.agent]
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


class SharedPolicyVecEnv(_SeededVecEnv):
    """The agents of ``envs`` (PettingZoo parallel envs, every agent acting every step,
    episodes ending for all agents at once) as one SB3 ``VecEnv``: slot ``k * A + j`` is
    agent ``j`` of env ``k``. Observations must have one shape for every agent (the
    slots' space is the union of their bounds); actions are ``Box(-1, 1)``, mapped to
    each agent's own (physical) action space. An env whose episode ended is reset at
    once (its last observations in ``infos[slot]["terminal_observation"]``)."""

    def __init__(self, envs: Sequence[Any]) -> None:
        self.envs = list(envs)
        self.agents = list(self.envs[0].possible_agents)
        observation = shared_observation_space(self.envs[0])
        self._physical = {a: self.envs[0].action_space(a) for a in self.agents}
        relaxed = {relaxed_action_space(s).shape for s in self._physical.values()}
        if len(relaxed) != 1:
            raise ValueError(f"the agents' actions differ in size {sorted(relaxed)}")
        super().__init__(len(self.envs) * len(self.agents), observation,
                         relaxed_action_space(self._physical[self.agents[0]]))
        self._actions: np.ndarray | None = None
        self._seed = None

    def _stack(self, per_env: list[dict[str, np.ndarray]]) -> np.ndarray:
        return np.stack([obs[a] for obs in per_env for a in self.agents]).astype(np.float32)

    def reset(self) -> np.ndarray:
        seeds = [None if self._seed is None else self._seed + k for k in range(len(self.envs))]
        self._seed = None
        return self._stack([env.reset(seed=s)[0] for env, s in zip(self.envs, seeds,
                                                                     strict=True)])

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        assert self._actions is not None
        n_agents = len(self.agents)
        observations, rewards, dones, infos = [], [], [], []
        for k, env in enumerate(self.envs):
            actions = {a: from_relaxed(self._physical[a], self._actions[k * n_agents + j])
                       for j, a in enumerate(self.agents)}
            obs, reward, terminated, truncated, info = env.step(actions)
            done = not env.agents
            slot_infos = [dict(info.get(a, {})) for a in self.agents]
            if done:
                for j, a in enumerate(self.agents):
                    slot_infos[j]["terminal_observation"] = obs[a]
                    slot_infos[j]["TimeLimit.truncated"] = bool(truncated.get(a, False)
                                                                and not terminated.get(a))
                obs, _ = env.reset()
            observations.append(obs)
            rewards += [float(reward.get(a, 0.0)) for a in self.agents]
            dones += [done] * n_agents
            infos += slot_infos
        return (self._stack(observations), np.asarray(rewards, dtype=np.float32),
                np.asarray(dones), infos)

    def close(self) -> None:
        for env in self.envs:
            env.close()


    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.envs[0], attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        for env in self.envs:
            setattr(env, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None,
                   **kwargs: Any) -> list[Any]:
        return [getattr(env, method_name)(*args, **kwargs) for env in self.envs]



class BatchedSharedPolicyVecEnv(_OneEnv):
    """:class:`SharedPolicyVecEnv` over the copies of one batched multi-agent env
    (:class:`rl_bridge.multi_vector.MultiAgentVectorEnv`): slot ``k * A + j`` is agent
    ``j`` of copy ``k``; copy ``k`` is seeded as :class:`SharedPolicyVecEnv` seeds its
    env ``k`` (the same episodes, the world's power flow batched)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.agents = list(env.possible_agents)
        observation = shared_observation_space(env)
        self._physical = {a: env.action_space(a) for a in self.agents}
        relaxed = {relaxed_action_space(s).shape for s in self._physical.values()}
        if len(relaxed) != 1:
            raise ValueError(f"the agents' actions differ in size {sorted(relaxed)}")
        super().__init__(env.num_envs * len(self.agents), observation,
                         relaxed_action_space(self._physical[self.agents[0]]))
        self._actions: np.ndarray | None = None
        self._seed = None

    def _stack(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """``(copies * agents, D)``: copy-major, agents in order."""
        return np.stack([observations[a] for a in self.agents], axis=1).reshape(
            self.num_envs, -1).astype(np.float32)

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return self._stack(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        assert self._actions is not None
        n_agents = len(self.agents)
        per_copy = self._actions.reshape(self.env.num_envs, n_agents, -1)
        actions = {a: from_relaxed(self._physical[a], per_copy[:, j], batched=True)
                   for j, a in enumerate(self.agents)}
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        dones = np.stack([terminated[a] | truncated[a] for a in self.agents], axis=1)
        out: list[dict[str, Any]] = []
        for k in range(self.env.num_envs):
            for a in self.agents:
                info = {key: v[k] for key, v in infos[a].items()
                        if not key.startswith("_") and key != "final_obs"}
                if truncated[a][k] or terminated[a][k]:
                    info["terminal_observation"] = infos[a]["final_obs"][k]
                    info["TimeLimit.truncated"] = bool(truncated[a][k] and not terminated[a][k])
                out.append(info)
        return (self._stack(obs), self._stack({a: rewards[a][:, None] for a in self.agents})
                .reshape(-1), dones.reshape(-1), out)


