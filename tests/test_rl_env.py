"""The Gymnasium and PettingZoo environments over the co-simulation."""

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

import powergrid
from rl_bridge import microgrids_v0
from rl_bridge.wrappers import NormalizeActionWrapper, NormalizeParallelActions
from scenarios.federation import REPO_ROOT

ENV_IDS = list(powergrid.ENV_IDS)


@pytest.fixture(scope="module")
def ieee13():
    env = gym.make("powergrid/IEEE13-v0", episode_length=6, train=True)
    yield env.unwrapped
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_with_and_without_the_wrapper(env_id):
    env = gym.make(env_id, episode_length=4)
    check_env(env.unwrapped, skip_render_check=True)
    wrapped = NormalizeActionWrapper(env.unwrapped)
    check_env(wrapped, skip_render_check=True)
    env.close()


def test_classic_import_paths_run_unchanged():
    from powergrid.envs.multi_agent.multi_agent_microgrids import MultiAgentMicrogrids
    from powergrid.envs.single_agent.ieee13_mg import IEEE13Env

    env = IEEE13Env({"episode_length": 24, "train": True})
    obs, info = env.reset()
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and np.isfinite(reward)
    assert {"converged", "cost", "safety", "cost_terms", "safety_terms", "time"} <= set(info)
    env.close()
    menv = MultiAgentMicrogrids({"centralized": True, "max_episode_steps": 96, "train": True})
    obs, info = menv.reset()
    actions = {a: menv.action_spaces[a].sample() for a in menv.agents}
    obs, rewards, terminateds, truncateds, infos = menv.step(actions)
    assert set(rewards) == {"MG1", "MG2", "MG3"}
    assert all(infos[a]["cost_terms"]["energy"] != 0.0 for a in infos)  # PCC bill in cost
    menv.close()


def _physical_zero(env):
    """An action that does nothing: 0 MW / hold every position (from the last obs)."""
    spec = env.scenario.specs[env.agent]
    c = np.clip(np.zeros(spec.dim_c), spec.low, spec.high).astype(np.float32)
    if spec.dim_d == 0:
        return c
    return {"continuous": c, "discrete": np.zeros(spec.dim_d, dtype=np.int64)}


def _run(env, edit, steps=3, seed=5):
    """Reset with ``seed``, hold every position at its reset value, apply ``edit`` to the
    action each step; return the infos and the last observation's named features."""
    obs, _ = env.reset(seed=seed)
    spec = env.scenario.specs[env.agent]
    names = env.observation_names
    infos, observations = [], [dict(zip(names, obs, strict=True))]
    hold = {}
    for dev in env.scenario.prepared.devices:
        for name in (f"{dev.name}.position", f"{dev.name}.on"):
            if name in spec.names_d:
                hold[name] = (dev.initial_position() - getattr(dev, "tap_min", 0)
                              if name.endswith("position") else int(dev.initially_on))
    for _ in range(steps):
        action = _physical_zero(env)
        if spec.dim_d:
            action["discrete"] = np.array([hold[n] for n in spec.names_d], dtype=np.int64)
        edit(action, spec)
        obs, _, _, _, info = env.step(action)
        infos.append(info)
        observations.append(dict(zip(names, obs, strict=True)))
    return infos, observations


def _set(name, value):
    def edit(action, spec):
        if name in spec.names_c:
            target = action["continuous"] if isinstance(action, dict) else action
            target[spec.names_c.index(name)] = value
        else:
            action["discrete"][spec.names_d.index(name)] = value
    return edit


def _no_edit(action, spec):
    return None


def test_battery_action_moves_the_grid(ieee13):
    _, base = _run(ieee13, _no_edit)
    _, charged = _run(ieee13, _set("ess1.p_mw", 0.4))
    assert charged[-1]["ess1.soc"] > base[-1]["ess1.soc"] + 0.3  # 3 h at 0.4 MW into 2 MWh
    # the PCC imports the battery's first hour of charge (per unit of the nominal load, 3.47 MW)
    assert charged[1]["pcc_p_pu:pcc"] > base[1]["pcc_p_pu:pcc"] + 0.1


def test_generator_commitment_and_dispatch_reach_the_grid(ieee13):
    _, off = _run(ieee13, _no_edit)
    def on_at_half(action, spec):
        _set("dg1.on", 1)(action, spec)
        _set("dg1.p_mw", 0.5)(action, spec)
    infos, on = _run(ieee13, on_at_half)
    assert off[-1]["dg1.on"] == 0.0 and on[-1]["dg1.on"] == 1.0
    assert on[-1]["dg1.p_pu"] > 0.5  # 0.5 MW of 0.6
    assert on[-1]["pcc_p_pu:pcc"] < off[-1]["pcc_p_pu:pcc"] - 0.05
    assert infos[-1]["cost_terms"]["fuel"] > 0.0


def test_curtailment_caps_pv_output():
    env = gym.make("powergrid/IEEE13-v0", episode_length=16).unwrapped  # midnight to 4 pm
    try:
        _, capped = _run(env, _set("pv1.p_limit_mw", 0.0), steps=16, seed=11)
        _, free = _run(env, _set("pv1.p_limit_mw", 0.3), steps=16, seed=11)
    finally:
        env.close()
    assert max(o["pv1.p_avail_pu"] for o in free) > 0.1  # the sun was up
    assert [o["pv1.p_pu"] for o in free] == [o["pv1.p_avail_pu"] for o in free]
    assert max(o["pv1.p_pu"] for o in capped) == 0.0


def test_tap_changer_moves_the_regulated_voltage(ieee13):
    rg60 = "vm_pu:RG60"
    _, low = _run(ieee13, _set("reg1.position", 0))    # tap -16
    _, high = _run(ieee13, _set("reg1.position", 32))  # tap +16
    assert high[-1][rg60] > low[-1][rg60] + 0.15
    assert low[-1]["reg1.tap_pos_frac"] == 0.0 and high[-1]["reg1.tap_pos_frac"] == 1.0


def test_capacitor_steps_raise_the_voltage(ieee13):
    bus = "vm_pu:675"
    _, out = _run(ieee13, _set("cap 675.position", 0))
    _, full = _run(ieee13, _set("cap 675.position", 3))
    assert full[-1][bus] > out[-1][bus] + 0.005


def test_switch_reconfigures_cigre_mv():
    env = gym.make("powergrid/CIGREMV-v0", episode_length=3).unwrapped
    try:
        _, open_ = _run(env, _no_edit)
        _, closed = _run(env, _set("S1.position", 1))
        lines = [n for n in env.observation_names if n.startswith("line_loading")]
        assert closed[-1]["S1.closed"] == 1.0 and open_[-1]["S1.closed"] == 0.0
        assert max(abs(closed[-1][n] - open_[-1][n]) for n in lines) > 0.01
    finally:
        env.close()


def test_observations_stay_in_their_space_and_infos_are_complete(ieee13):
    obs, _ = ieee13.reset(seed=3)
    for _ in range(12):
        assert ieee13.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = ieee13.step(ieee13.action_space.sample())
        assert np.isfinite(reward) and not terminated
        assert info["cost"] == pytest.approx(sum(info["cost_terms"].values()))
        assert info["safety"] == pytest.approx(sum(info["safety_terms"].values()))
        if truncated:
            obs, _ = ieee13.reset()


def test_episodes_truncate_and_the_test_period_wraps():
    env = gym.make("powergrid/IEEE13-v0", episode_length=24, train=False).unwrapped
    try:
        starts = []
        _, info = env.reset(seed=0)
        n_days = env.scenario.starts.n_steps // 24
        for k in range(n_days + 2):
            if k:
                _, info = env.reset()
            starts.append(info["start_step"])
        assert starts[:3] == [0, 24, 48]
        assert starts[n_days] == 0  # wrapped at the end of the test split, no index error
        steps = 0
        truncated = False
        while not truncated:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            steps += 1
        assert steps == 24 and not terminated
    finally:
        env.close()


def _trajectory(seed: int, n: int = 10):
    env = gym.make("powergrid/IEEE13-v0", episode_length=24, train=True).unwrapped
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    out = [obs.tolist(), info]
    for _ in range(n):
        obs, reward, _, _, info = env.step(env.action_space.sample())
        out.append([obs.tolist(), reward, info])
    env.close()
    return out


def test_same_seed_same_trajectory_across_runs_and_processes():
    first = json.dumps(_trajectory(7), sort_keys=True, default=str)
    assert first == json.dumps(_trajectory(7), sort_keys=True, default=str)
    assert first != json.dumps(_trajectory(8), sort_keys=True, default=str)
    code = ("import json, sys; sys.path.insert(0, 'tests'); from test_rl_env import _trajectory;"
            " print(json.dumps(_trajectory(7), sort_keys=True, default=str))")
    other = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=REPO_ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert other == first


def test_async_vector_env_with_two_copies_steps():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make("powergrid/IEEE13-v0", episode_length=4)
                                      for _ in range(2)])
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape[0] == 2
        for _ in range(6):  # through an autoreset
            obs, rewards, _, _, _ = envs.step(envs.action_space.sample())
            assert np.isfinite(rewards).all()
    finally:
        envs.close()


def test_pettingzoo_api_and_seed_tests_on_microgrids():
    parallel_api_test(microgrids_v0.parallel_env(max_episode_steps=5), num_cycles=12)
    parallel_seed_test(lambda: microgrids_v0.parallel_env(max_episode_steps=5), num_cycles=6)
    api_test(microgrids_v0.env(max_episode_steps=5), num_cycles=12)


def test_distributed_agents_see_only_their_own_microgrid():
    env = microgrids_v0.parallel_env(centralized=False, max_episode_steps=3)
    central = microgrids_v0.parallel_env(centralized=True, max_episode_steps=3)
    try:
        view = env.scenario.views["MG1"]
        zones = env.scenario.prepared.net.bus["zone"].to_numpy()
        assert set(zones[view.bus_positions]) == {"MG1"}
        assert {d.name.split(".")[0] for d in view.devices} == {"MG1"}
        assert env.observation_space("MG1").shape[0] < central.observation_space("MG1").shape[0]
        obs, _ = env.reset(seed=1)
        assert all(env.observation_space(a).contains(o) for a, o in obs.items())
    finally:
        env.close()
        central.close()


def test_normalize_wrapper_rescales_clips_and_counts():
    env = NormalizeActionWrapper(gym.make("powergrid/IEEE13-v0", episode_length=4).unwrapped)
    try:
        env.reset(seed=0)
        action = env.action_space.sample()
        action["continuous"][:] = 1.0
        action["continuous"][0] = 7.0  # out of range: clipped to 1 and counted
        _, _, _, _, info = env.step(action)
        assert info["clipped_actions"] == 1
        penv = NormalizeParallelActions(microgrids_v0.parallel_env(max_episode_steps=3))
        penv.reset(seed=0)
        acts = {a: np.full(penv.action_space(a).shape, -1.0, dtype=np.float32)
                for a in penv.possible_agents}
        _, _, _, _, infos = penv.step(acts)
        assert all(i["clipped_actions"] == 0 for i in infos.values())
        penv.close()
    finally:
        env.close()


def test_reactive_power_setpoint_moves_the_voltage(ieee13):
    bus = "vm_pu:675"
    # storage uses pandapower's load convention: q_mvar > 0 absorbs reactive power
    _, absorb = _run(ieee13, _set("ess1.q_mvar", 0.3))
    _, inject = _run(ieee13, _set("ess1.q_mvar", -0.3))
    assert inject[1][bus] > absorb[1][bus] + 0.003


def test_a_power_flow_that_fails_is_penalised_and_the_episode_goes_on():
    env = gym.make("powergrid/IEEE13-v0", episode_length=3, load_scale=40.0).unwrapped
    try:
        obs, _ = env.reset(seed=0)
        for _ in range(3):
            obs, reward, terminated, truncated, info = env.step(_physical_zero_hold(env))
            assert info["converged"] is False and not terminated
            assert info["safety_terms"]["nonconvergence"] == 1.0
            assert reward <= -env.scenario.options["max_penalty"]
            assert env.observation_space.contains(obs)
        assert truncated
    finally:
        env.close()


def _physical_zero_hold(env):
    action = _physical_zero(env)
    if isinstance(action, dict):
        action["discrete"] = env.action_space["discrete"].nvec // 2
    return action


SHARED_PICKLE = REPO_ROOT.parent / "shared" / "data" / "seed_data2023-2024.pkl"


@pytest.mark.skipif(not SHARED_PICKLE.exists(), reason="../shared/data is not present")
def test_multi_agent_env_runs_on_the_classic_pickle_layout():
    from powergrid.envs.multi_agent.multi_agent_microgrids import MultiAgentMicrogrids

    env = MultiAgentMicrogrids({"centralized": True, "max_episode_steps": 96, "train": True,
                                "dataset_path": str(SHARED_PICKLE)})
    try:
        obs, info = env.reset(seed=0)
        actions = {a: env.action_spaces[a].sample() for a in env.agents}
        obs, rewards, terminateds, truncateds, infos = env.step(actions)
        assert all(np.isfinite(r) for r in rewards.values())
    finally:
        env.close()
