"""No NaN, ever: every reward, cost, safety term and numeric info value is finite, in
every environment kind, mode and protocol, under random actions (at the bounds too) and
at load scales that make power flows fail.

The API checkers (``check_env``, ``parallel_api_test``) pass NaN rewards without a word;
this test is what catches them (the DSO's reward was NaN in distributed mode).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import powergrid  # noqa: F401 - registers the ids
from powergrid.protocols.coordination import PROTOCOLS
from rl_bridge import microgrids_v0

EPISODES = 2
STEPS = 6
#: load scales: light, nominal, and one at which some power flows fail
LOAD_SCALES = (0.3, 1.0, 4.0)


def _numbers(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number in ``value`` (nested dicts, lists, arrays) with where it sits."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for k, item in enumerate(value):
            yield from _numbers(item, f"{path}[{k}]")
    elif isinstance(value, np.ndarray):
        if value.dtype.kind in "fiub":
            for k, item in enumerate(np.asarray(value, dtype=float).reshape(-1)):
                yield f"{path}[{k}]", float(item)
        elif value.dtype == object:
            for k, item in enumerate(value.reshape(-1)):
                yield from _numbers(item, f"{path}[{k}]")
    elif isinstance(value, bool | np.bool_):
        return
    elif isinstance(value, int | float | np.integer | np.floating):
        yield path, float(value)


def assert_finite(where: str, **values: Any) -> None:
    for name, value in values.items():
        for path, number in _numbers(value, name):
            assert math.isfinite(number), f"{where}: {path} = {number}"


def _sample(space: gym.Space[Any], rng: np.random.Generator) -> Any:
    """A random action; one in four sits on the bounds of every continuous control."""
    if isinstance(space, gym.spaces.Dict):
        return {k: _sample(s, rng) for k, s in space.spaces.items()}
    if isinstance(space, gym.spaces.Box):
        if rng.random() < 0.25:
            return np.where(rng.random(space.shape) < 0.5, space.low, space.high)
        return rng.uniform(space.low, space.high).astype(space.dtype)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return rng.integers(0, space.nvec)
    return space.sample()


@pytest.mark.parametrize("env_id", ["powergrid/IEEE13-v0", "powergrid/IEEE34-v0",
                                    "powergrid/CIGREMV-v0"])
@pytest.mark.parametrize("kind", ["single", "vector"])
def test_single_agent_envs_are_finite(env_id: str, kind: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{env_id} {kind}".encode()))
    for load_scale in LOAD_SCALES:
        if kind == "single":
            env: Any = gym.make(env_id, episode_length=STEPS, load_scale=load_scale)
            space = env.action_space
        else:
            env = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                               episode_length=STEPS, load_scale=load_scale)
            space = env.action_space
        try:
            for episode in range(EPISODES):
                obs, info = env.reset(seed=episode)
                assert_finite(f"{env_id} {kind} reset", obs=obs, info=info)
                for k in range(STEPS):
                    obs, reward, _, _, info = env.step(_sample(space, rng))
                    assert_finite(f"{env_id} {kind} x{load_scale} step {k}", obs=obs,
                                  reward=reward, info=info)
        finally:
            env.close()


@pytest.mark.parametrize("env_id", ["powergrid/IEEE13-v0", "powergrid/IEEE34-v0"])
@pytest.mark.parametrize("kind", ["single", "vector"])
def test_three_phase_envs_are_finite(env_id: str, kind: str) -> None:
    """The same on three-phase physics (OpenDSS). Its loads turn to constant impedance
    below 0.95 p.u., so the circuit still solves at 10 x the loads (0.66 p.u. at worst
    on IEEE 13); at 30 x its power flow fails."""
    pytest.importorskip("opendssdirect", reason="the 'three-phase' extra")
    rng = np.random.default_rng(zlib.crc32(f"{env_id} {kind} three_phase".encode()))
    failed = 0
    for load_scale in (*LOAD_SCALES[:-1], 30.0):
        options = {"episode_length": STEPS, "load_scale": load_scale,
                   "physics": "three_phase"}
        env: Any = (gym.make(env_id, **options) if kind == "single" else
                    gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                                 **options))
        try:
            obs, info = env.reset(seed=0)
            assert_finite(f"{env_id} {kind} three-phase reset", obs=obs, info=info)
            for k in range(STEPS):
                obs, reward, _, _, info = env.step(_sample(env.action_space, rng))
                assert_finite(f"{env_id} {kind} three-phase x{load_scale} step {k}", obs=obs,
                              reward=reward, info=info)
                failed += int(not np.all(info["converged"]))
        finally:
            env.close()
    assert failed > 0  # the stressed steps were reached


MULTI_AGENT_CASES = [(protocol, centralized) for protocol in PROTOCOLS
                     for centralized in (True, False)]


@pytest.mark.parametrize(("protocol", "centralized"), MULTI_AGENT_CASES)
def test_microgrids_parallel_env_is_finite(protocol: str, centralized: bool) -> None:
    rng = np.random.default_rng(len(protocol) + 10 * centralized)
    for load_scale in (1.0, 3.0):
        env = microgrids_v0.parallel_env(centralized=centralized, protocol=protocol,
                                         max_episode_steps=STEPS, load_scale=load_scale)
        try:
            for episode in range(EPISODES):
                obs, infos = env.reset(seed=episode)
                assert_finite(f"{protocol} reset", obs=obs, infos=infos)
                while env.agents:
                    actions = {a: _sample(env.action_space(a), rng) for a in env.agents}
                    obs, rewards, _, _, infos = env.step(actions)
                    assert_finite(f"{protocol} centralized={centralized} x{load_scale}",
                                  obs=obs, rewards=rewards, infos=infos)
        finally:
            env.close()


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_microgrids_aec_env_is_finite(protocol: str) -> None:
    rng = np.random.default_rng(3)
    env = microgrids_v0.env(centralized=False, protocol=protocol, max_episode_steps=STEPS)
    try:
        env.reset(seed=0)
        for agent in env.agent_iter():
            obs, reward, termination, truncation, info = env.last()
            assert_finite(f"{protocol} AEC {agent}", obs=obs, reward=reward, info=info)
            env.step(None if termination or truncation
                     else _sample(env.action_space(agent), rng))
    finally:
        env.close()


@pytest.mark.parametrize("scope", ["agent", "system", "contribution"])
def test_microgrids_vector_env_is_finite(scope: str) -> None:
    """The batched multi-agent env, every reward scope, at load scales up to failing
    power flows (copies restarting inside the running world)."""
    rng = np.random.default_rng(len(scope))
    for load_scale in (1.0, 3.0):
        env = microgrids_v0.vector_env(2, centralized=False, max_episode_steps=STEPS,
                                       load_scale=load_scale, reward_scope=scope,
                                       reward_baseline="exogenous_bill",
                                       price_forecast_steps=4, agent_indicator=True)
        try:
            obs, infos = env.reset(seed=1)
            assert_finite(f"vector {scope} reset", obs=obs, infos=infos)
            for _ in range(EPISODES * STEPS):
                actions = {a: np.stack([_sample(env.action_space(a), rng) for _ in range(2)])
                           for a in env.agents}
                obs, rewards, _, _, infos = env.step(actions)
                assert_finite(f"vector {scope} x{load_scale}", obs=obs, rewards=rewards,
                              infos=infos)
        finally:
            env.close()


@pytest.mark.parametrize("kind", ["parallel", "vector"])
def test_microgrids_on_three_phase_physics_are_finite(kind: str) -> None:
    """The microgrids' composed circuit (OpenDSS), the parallel env under a protocol and
    the batched env, up to the load at which its power flow fails."""
    pytest.importorskip("opendssdirect", reason="the 'three-phase' extra")
    rng = np.random.default_rng(zlib.crc32(f"microgrids {kind} three_phase".encode()))
    failed = 0
    for load_scale in (1.0, 3.0, 30.0):
        options = {"centralized": False, "max_episode_steps": STEPS, "load_scale": load_scale,
                   "physics": "three_phase"}
        env: Any = (microgrids_v0.parallel_env(protocol="p2p", **options) if kind == "parallel"
                    else microgrids_v0.vector_env(2, reward_scope="contribution", **options))
        try:
            obs, infos = env.reset(seed=2)
            assert_finite(f"three-phase {kind} reset", obs=obs, infos=infos)
            for _ in range(STEPS):
                actions = ({a: _sample(env.action_space(a), rng) for a in env.agents}
                           if kind == "parallel" else
                           {a: np.stack([_sample(env.action_space(a), rng) for _ in range(2)])
                            for a in env.agents})
                obs, rewards, _, _, infos = env.step(actions)
                assert_finite(f"three-phase {kind} x{load_scale}", obs=obs, rewards=rewards,
                              infos=infos)
                first = infos[next(iter(infos))]
                failed += int(not np.all(first["converged"]))
        finally:
            env.close()
    assert failed > 0  # the stressed steps were reached
