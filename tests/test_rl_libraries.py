"""RL users' own tools work unchanged (issue 14): each recipe of the README trains a few
hundred steps. A recipe whose optional library is absent is skipped with the reason."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import powergrid
from rl_bridge import microgrids_v0

BOX_IDS = [i.replace("-v0", "-Box-v0") for i in powergrid.ENV_IDS]


def test_every_id_takes_render_mode_and_has_max_episode_steps():
    for env_id in [*powergrid.ENV_IDS, *BOX_IDS]:
        env = gym.make(env_id, render_mode="rgb_array")
        try:
            assert env.spec.max_episode_steps == 24
            assert env.metadata["render_modes"] == ["human", "rgb_array"]
            env.reset(seed=0)
            frame = env.render()
            assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
            env.step(env.action_space.sample())
            assert (env.render() != frame).any()  # recoloured, new time
        finally:
            env.close()


@pytest.mark.parametrize("env_id, kwargs, steps", [
    ("powergrid/IEEE13-v0", {}, 24),
    ("powergrid/IEEE13-v0", {"episode_length": 3, "max_episode_steps": 3}, 3),
    ("powergrid/IEEE13-v0", {"max_episode_steps": 30}, 30),  # longer than registered
    ("powergrid/IEEE13-v0", {"max_episode_steps": 5}, 5),
    ("powergrid/IEEE13-Box-v0", {"max_episode_steps": 5}, 5),
    ("powergrid/IEEE13-Box-v0", {"episode_length": 3}, 3)])
def test_episode_length_follows_the_time_limit_and_back(env_id, kwargs, steps):
    if True:
        env = gym.make(env_id, **kwargs)
        try:
            assert env.spec.max_episode_steps == steps == env.unwrapped.episode_length
            env.reset(seed=1)
            for k in range(steps):
                *_, terminated, truncated, _ = env.step(env.action_space.sample())
                assert truncated == (k == steps - 1) and not terminated
        finally:
            env.close()


def test_check_env_with_render_and_box_actions():
    for env_id in ("powergrid/IEEE13-v0", "powergrid/CIGREMV-Box-v0"):
        env = gym.make(env_id, render_mode="rgb_array")
        check_env(env.unwrapped)
        env.close()


def test_record_video(tmp_path):
    pytest.importorskip("moviepy", reason="RecordVideo needs moviepy (pip install moviepy)")
    env = gym.wrappers.RecordVideo(gym.make("powergrid/IEEE13-v0", render_mode="rgb_array",
                                            max_episode_steps=4), str(tmp_path))
    env.reset(seed=0)
    for _ in range(4):
        env.step(env.action_space.sample())
    env.close()
    assert list(tmp_path.glob("*.mp4"))


def test_the_vector_env_renders_each_copy():
    from rl_bridge.vector import GridVectorEnv

    env = GridVectorEnv(2, scenario="ieee13", render_mode="rgb_array")
    try:
        assert env.metadata["render_modes"] == ["rgb_array"]
        env.reset(seed=0)
        first = env.render()
        assert len(first) == 2 and all(f.dtype == np.uint8 and f.ndim == 3 for f in first)
        env.step(env.action_space.sample())
        frames = env.render()
        assert (frames[0] != first[0]).any()  # recoloured, new time, device states
        assert (frames[0] != frames[1]).any()  # each copy its own day
    finally:
        env.close()
    with pytest.raises(ValueError, match="render_mode"):
        GridVectorEnv(1, render_mode="human")


def test_pettingzoo_env_renders_and_documents():
    env = microgrids_v0.parallel_env(render_mode="rgb_array", max_episode_steps=2)
    env.reset(seed=0)
    assert env.render().shape[2] == 3
    env.close()
    # PettingZoo's module convention for a parallel-first environment: raw_env is the
    # AEC one (parallel_to_aec of parallel_env), env the same for users
    from pettingzoo import AECEnv, ParallelEnv

    for make, kind in ((microgrids_v0.raw_env, AECEnv), (microgrids_v0.env, AECEnv),
                       (microgrids_v0.parallel_env, ParallelEnv)):
        made = make(max_episode_steps=2)
        assert isinstance(made, kind) and isinstance(made.unwrapped, ParallelEnv | AECEnv)
        made.close()
    for obj in (microgrids_v0.env, microgrids_v0.parallel_env, microgrids_v0.raw_env):
        doc = obj.__doc__ or ""
        for heading in ("Action space", "Observation space", "Rewards", "Episode end",
                        "info"):
            assert heading in doc, (obj, heading)


# ---- Stable-Baselines3: make_vec_env on every id, DummyVecEnv and SubprocVecEnv ----

@pytest.mark.parametrize("algo", ["PPO", "SAC", "A2C"])
@pytest.mark.parametrize("env_id", BOX_IDS)
def test_sb3_make_vec_env(algo, env_id):
    sb3 = pytest.importorskip("stable_baselines3",
                              reason="Stable-Baselines3 absent (pip install -e '.[rl]')")
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(env_id, n_envs=2, seed=0)
    kwargs = {"n_steps": 64, "batch_size": 64} if algo == "PPO" else (
        {"learning_starts": 32, "batch_size": 32} if algo == "SAC" else {"n_steps": 8})
    model = getattr(sb3, algo)("MlpPolicy", venv, seed=0, device="cpu", **kwargs)
    model.learn(200)
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (2, *venv.action_space.shape)
    venv.close()


def test_sb3_subproc_vec_env():
    pytest.importorskip("stable_baselines3", reason="Stable-Baselines3 absent")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # "powergrid:" makes each worker process import powergrid (which registers the ids)
    venv = make_vec_env("powergrid:powergrid/IEEE13-Box-v0", n_envs=2, seed=0,
                        vec_env_cls=SubprocVecEnv)
    PPO("MlpPolicy", venv, n_steps=64, batch_size=64, seed=0, device="cpu").learn(256)
    venv.close()


# ---- PettingZoo + SuperSuit parameter sharing with SB3 -----------------------------

@pytest.mark.parametrize("centralized", [True, False])
def test_supersuit_parameter_sharing_with_sb3(centralized):
    ss = pytest.importorskip("supersuit", reason="SuperSuit absent (pip install -e '.[marl]')")
    pytest.importorskip("stable_baselines3", reason="Stable-Baselines3 absent")
    from stable_baselines3 import PPO

    env = microgrids_v0.parallel_env(centralized=centralized, max_episode_steps=24)
    env = ss.pad_observations_v0(ss.pad_action_space_v0(env))  # agents' sizes may differ
    venv = ss.pettingzoo_env_to_vec_env_v1(env)
    venv = ss.concat_vec_envs_v1(venv, 2, num_cpus=1, base_class="stable_baselines3")
    # no seed= here: SB3 would call venv.seed(), which SuperSuit's ConcatVecEnv lacks
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, device="cpu")
    model.learn(300)
    venv.close()


# ---- TorchRL --------------------------------------------------------------------------

def test_torchrl_pettingzoo_wrapper_trains():
    pytest.importorskip("torchrl", reason="TorchRL absent (pip install -e '.[marl]')")
    import torch
    from pettingzoo.utils.wrappers import BaseParallelWrapper
    from tensordict.nn import TensorDictModule
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper
    from torchrl.modules import MultiAgentMLP

    class NoInfo(BaseParallelWrapper):
        """TorchRL takes the info keys of reset() as the spec of every step's info and
        wants numbers only; ours differ (reset: time, start_step) and hold dicts."""

        def reset(self, seed=None, options=None):
            obs, infos = self.env.reset(seed=seed, options=options)
            return obs, {a: {} for a in infos}

        def step(self, actions):
            *out, infos = self.env.step(actions)
            return (*out, {a: {} for a in infos})

    penv = NoInfo(microgrids_v0.parallel_env(max_episode_steps=24))
    agents = list(penv.possible_agents)
    # the microgrids' action bounds differ: TorchRL stacks them into one lazy spec
    low = torch.as_tensor(np.stack([penv.action_space(a).low for a in agents]))
    high = torch.as_tensor(np.stack([penv.action_space(a).high for a in agents]))
    env = PettingZooWrapper(penv, use_mask=False, group_map={"microgrids": ["MG1", "MG2", "MG3"]},
                            seed=0)
    spec = env.full_action_spec["microgrids", "action"]
    n_obs = env.observation_spec["microgrids", "observation"].shape[-1]
    net = MultiAgentMLP(n_agent_inputs=n_obs, n_agent_outputs=spec.shape[-1], n_agents=3,
                        centralised=False, share_params=True, depth=1, num_cells=32)
    actor = TensorDictModule(
        lambda o: low + (torch.tanh(net(o)) + 1) / 2 * (high - low),
        in_keys=[("microgrids", "observation")], out_keys=[("microgrids", "action")])
    optim = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps = 0
    while steps < 300:  # a deterministic policy-gradient-free check: roll out, regress
        td = env.rollout(24, policy=actor, break_when_any_done=True)
        steps += td.batch_size[0] * 3
        reward = td["next", "microgrids", "reward"]
        assert torch.isfinite(reward).all()
        loss = -(net(td["microgrids", "observation"]).mean() * reward.mean().detach())
        optim.zero_grad()
        loss.backward()
        optim.step()
    env.close()


# ---- RLlib ----------------------------------------------------------------------------

def test_rllib_parallel_pettingzoo_env_two_runners():
    pytest.importorskip("ray.rllib", reason="RLlib absent (pip install -e '.[rllib]')")
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    register_env("microgrids_v0", lambda cfg: ParallelPettingZooEnv(
        microgrids_v0.parallel_env(**cfg)))
    ray.init(num_cpus=3, include_dashboard=False, ignore_reinit_error=True)
    try:
        config = (PPOConfig()
                  .environment("microgrids_v0", env_config={"max_episode_steps": 24})
                  .env_runners(num_env_runners=2, rollout_fragment_length=48)
                  .training(train_batch_size=192, minibatch_size=64, num_epochs=1)
                  # one module per microgrid: their observation bounds differ
                  .multi_agent(policies={"MG1", "MG2", "MG3"},
                               policy_mapping_fn=lambda agent_id, *a, **k: agent_id))
        algo = config.build_algo()
        result = algo.train()
        runners = result["env_runners"]
        assert runners["num_env_steps_sampled"] >= 192
        algo.stop()
    finally:
        ray.shutdown()
