"""Batched environments: N copies in one co-simulation world."""

import gymnasium as gym
import numpy as np
import pytest

import powergrid  # noqa: F401 - registers the ids


def make(n, env_id="powergrid/IEEE13-v0", **kwargs):
    kwargs.setdefault("episode_length", 5)
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point",
                        **kwargs).unwrapped


def _actions(n_steps, seed=1):
    env = make(1)
    env.single_action_space.seed(seed)
    acts = [env.single_action_space.sample() for _ in range(n_steps)]
    env.close()
    return acts


def _batch(action, n):
    if isinstance(action, dict):
        return {k: np.repeat(v[None], n, axis=0) for k, v in action.items()}
    return np.repeat(action[None], n, axis=0)


def _run(n, seed, acts):
    env = make(n)
    try:
        obs, _ = env.reset(seed=seed)
        observations, rewards, truncations = [obs], [], []
        for a in acts:
            obs, r, _, tr, _ = env.step(_batch(a, n))
            observations.append(obs)
            rewards.append(r)
            truncations.append(tr)
        return np.array(observations), np.array(rewards), np.array(truncations)
    finally:
        env.close()


def test_each_copy_is_bit_identical_to_the_same_seed_run_alone():
    acts = _actions(12)  # through two autoresets (episodes of 5 steps)
    obs4, rew4, tr4 = _run(4, 10, acts)
    assert tr4[4].all() and tr4[9].all()
    for i in range(4):
        obs1, rew1, _ = _run(1, 10 + i, acts)
        assert np.array_equal(obs4[:, i], obs1[:, 0])
        assert np.array_equal(rew4[:, i], rew1[:, 0])
    assert not np.array_equal(obs4[:, 0], obs4[:, 1])  # own data windows and seeds


@pytest.mark.parametrize("env_id", ["powergrid/IEEE13-v0", "powergrid/IEEE34-v0"])
def test_autoreset_starts_an_episode_exactly_as_a_fresh_env(env_id):
    """ieee34's automatic regulators: a copy that starts over holds its initial taps, not
    the taps the grid settled on at the last step of its previous episode."""
    length = 5
    probe = make(1, env_id)
    probe.single_action_space.seed(2)
    acts = [probe.single_action_space.sample() for _ in range(2 * length)]
    probe.close()
    a = make(2, env_id, episode_length=length)
    try:
        a.reset(seed=7)
        trajectory = []
        for t, act in enumerate(acts):
            obs, r, _, tr, infos = a.step(_batch(act, 2))
            trajectory.append((obs.copy(), r.copy()))
            if t == length - 1:
                assert tr.all() and infos["_final_obs"].all()
                assert not np.array_equal(infos["final_obs"][0], obs[0])
                second = dict(a.copies._pending)
    finally:
        a.close()
    b = make(2, env_id, episode_length=length)
    try:
        fresh = b.copies._new_episode
        b.copies._new_episode = lambda i: second[i]  # b's first episode is a's second
        first_obs, _ = b.reset(seed=7)
        b.copies._new_episode = fresh
        assert np.array_equal(first_obs, trajectory[length - 1][0])
        for t in range(length - 1):
            obs, r, *_ = b.step(_batch(acts[length + t], 2))
            assert np.array_equal(obs, trajectory[length + t][0]), t
            assert np.array_equal(r, trajectory[length + t][1]), t
    finally:
        b.close()


def test_batched_env_moves_the_grid_and_stays_in_its_spaces():
    env = make(8, episode_length=24)
    try:
        obs, _ = env.reset(seed=0)
        env.action_space.seed(0)
        assert env.observation_space.contains(obs)
        for _ in range(30):
            obs, rewards, terminated, truncated, infos = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            assert np.isfinite(rewards).all() and not terminated.any()
            assert infos["converged"].all()
        assert len({tuple(o) for o in np.round(obs, 4)}) == 8  # the copies differ
    finally:
        env.close()


def test_a_copy_with_its_own_topology_falls_back_and_says_so():
    env = make(3, "powergrid/CIGREMV-v0", episode_length=4)
    try:
        env.reset(seed=0)
        actions = env.action_space.sample()
        names = list(env.action_spec.names_d)
        actions["discrete"][:] = 0
        for k, name in enumerate(names):
            if name.endswith(".position") and name.split(".")[0].startswith("Trafo"):
                actions["discrete"][:, k] = 9  # tap 0
        s1 = names.index("S1.position")
        actions["discrete"][1, s1] = 1  # copy 1 closes tie switch S1
        _, _, _, _, infos = env.step(actions)
        assert infos["fallback"].tolist() == [False, True, False]
        assert infos["converged"].all()
    finally:
        env.close()


def test_sb3_ppo_trains_on_the_vector_env_unchanged():
    pytest.importorskip("stable_baselines3", reason="needs stable-baselines3 and torch,"
                        " the 'rl' extra: pip install -e \".[rl]\"")
    import torch
    from stable_baselines3 import PPO

    from rl_bridge.sb3 import SB3VecEnv

    envs = SB3VecEnv(make(4, episode_length=24))
    try:
        model = PPO("MlpPolicy", envs, n_steps=32, batch_size=64, n_epochs=2, seed=0,
                    device="cpu")
        before = [p.detach().clone() for p in model.policy.parameters()]
        model.learn(total_timesteps=256)
        assert model.num_timesteps == 256
        assert any(not torch.equal(p, q) for p, q in zip(model.policy.parameters(), before,
                                                           strict=True))
    finally:
        envs.close()
