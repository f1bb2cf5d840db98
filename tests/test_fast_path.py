"""The fast path gives the trajectories of the reference path."""

import gymnasium as gym
import numpy as np

import powergrid  # noqa: F401 - registers the ids


def _episode(solver: str, seed: int = 3):
    env = gym.make("powergrid/IEEE13-v0", episode_length=24, train=True, solver=solver).unwrapped
    try:
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        names = env.observation_names
        solver = env.copies.bridge.grid_model.solver.backend  # the one copy's backend
        observations, rewards, converged, vm = [obs], [], [], []
        truncated = False
        while not truncated:
            obs, reward, _, truncated, info = env.step(env.action_space.sample())
            observations.append(obs)
            rewards.append(reward)
            converged.append(info["converged"])
            vm.append(solver.vm_pu.copy())  # float64, the step just solved
        return (names, np.array(observations, dtype=float), np.array(rewards), converged,
                np.array(vm))
    finally:
        env.close()


def test_fast_backend_trajectory_matches_pandapower_over_an_episode():
    names, fast, fast_r, fast_ok, fast_vm = _episode("lightsim2grid")
    _, ref, ref_r, ref_ok, ref_vm = _episode("pandapower")
    assert fast_ok == ref_ok and all(fast_ok)
    assert fast_vm.shape == (24, 15)
    assert np.abs(fast_vm - ref_vm).max() <= 1e-6  # every bus, every step, in p.u.
    assert np.allclose(fast, ref, atol=1e-5)  # float32 observations
    assert np.allclose(fast_r, ref_r, rtol=1e-6, atol=1e-6)
