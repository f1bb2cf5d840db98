"""One answer from every path: the single env, the vector env with one copy and
``powergrid run`` agree step by step on the same seed and actions.

The single env and ``powergrid run`` solve each power flow with lightsim2grid, the vector
env with the batched Z-bus solver; the two agree to ~1e-8 p.u. (tests/test_solvers.py,
tests/test_batched_solver.py), so observations are compared to 1e-6 and costs to 1e-6
relative. Stressed load scales make power flows fail: after a failed one the grid holds
its last good solution and automatic regulators hold their taps on every path (the rule
lives in :class:`powergrid.devices.discrete.TapRegulation` only, settled within the
power flow by :func:`powergrid.gridmodel.settle_taps` on every path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from powergrid.policies import Observation
from rl_bridge.env import GridEnv
from rl_bridge.parallel import MultiAgentGridEnv
from rl_bridge.spaces import check_action
from rl_bridge.vector import GridVectorEnv
from scenarios import get_config
from scenarios.run import run_scenario

STEPS = 24
OBS_TOL = 1e-6
#: (scenario, load_scale, at least this many failed power flows in the episode)
CASES = [("ieee13", 1.0, 0), ("ieee34", 1.0, 0), ("cigre_mv", 1.0, 0),
         ("ieee13", 5.0, 1), ("ieee34", 4.0, 1)]


def _actions(space: Any, rng: np.random.Generator, n: int) -> list[Any]:
    """``n`` random actions in the physical units of ``space`` (Box or Dict)."""
    out: list[Any] = []
    for _ in range(n):
        if hasattr(space, "spaces"):
            box, multi = space["continuous"], space["discrete"]
            out.append({"continuous": rng.uniform(box.low, box.high).astype(np.float32),
                        "discrete": rng.integers(0, multi.nvec)})
        else:
            out.append(rng.uniform(space.low, space.high).astype(np.float32))
    return out


class Replay:
    """A policy for ``powergrid run`` that plays recorded env actions, one per step."""

    def __init__(self, spec: Any, actions: list[Any], agent: str) -> None:
        self.checked = [check_action(agent, spec, a) for a in actions]
        self.k = 0

    def act(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        checked = self.checked[self.k]
        self.k += 1
        return checked.c, checked.d


def _bus_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("vm_pu:")]


@pytest.mark.parametrize(("scenario", "load_scale", "failed_at_least"), CASES)
def test_single_env_vector_env_and_run_agree(scenario: str, load_scale: float,
                                             failed_at_least: int, tmp_path: Path) -> None:
    options = {"episode_length": STEPS, "train": False, "load_scale": load_scale}
    env = GridEnv(scenario=scenario, **options)
    venv = GridVectorEnv(1, scenario=scenario, **options)
    try:
        actions = _actions(env.action_space, np.random.default_rng(7), STEPS)
        o_single, _ = env.reset(seed=3)
        o_vector, _ = venv.reset(seed=3)
        np.testing.assert_array_equal(o_single, o_vector[0])
        names = env.scenario.views[env.agent].names
        vm_cols = [k for k, n in enumerate(names) if n.startswith("vm_pu")]
        single: list[tuple[np.ndarray, float, dict[str, Any]]] = []
        for k, action in enumerate(actions):
            o_single, r_single, _, _, i_single = env.step(action)
            batched = ({key: v[None] for key, v in action.items()} if isinstance(action, dict)
                       else action[None])
            o_vector, r_vector, _, _, i_vector = venv.step(batched)
            if k == STEPS - 1:  # same-step autoreset: the episode's last obs is in infos
                o_vector = i_vector["final_obs"][0][None]
            np.testing.assert_allclose(o_single, o_vector[0], atol=OBS_TOL, err_msg=f"step {k}")
            assert i_single["converged"] == bool(i_vector["converged"][0]), k
            assert r_single == pytest.approx(float(r_vector[0]), rel=1e-6, abs=1e-6), k
            assert i_single["cost"] == pytest.approx(float(i_vector["cost"][0]), rel=1e-6), k
            single.append((o_single, r_single, i_single))
        failed = sum(not info["converged"] for _, _, info in single)
        assert failed >= failed_at_least
        spec = env.scenario.specs[env.agent]
    finally:
        env.close()
        venv.close()

    config = get_config(scenario, split="test", start_step=0, steps=STEPS, load_scale=load_scale)
    agent = config.agents[0].name
    run_scenario(config, tmp_path, progress=False, plot=False,
                 policies={agent: Replay(spec, actions, agent)})
    df = pd.read_csv(tmp_path / "timeseries.csv")
    assert len(df) == STEPS
    for k, (obs, _, info) in enumerate(single):
        assert bool(df["converged"].iloc[k]) == info["converged"], k
        assert df["cost"].iloc[k] == pytest.approx(info["cost"], rel=1e-6, abs=1e-9), k
        np.testing.assert_allclose(obs[vm_cols], df[_bus_columns(df)].iloc[k].to_numpy(),
                                   atol=OBS_TOL, err_msg=f"step {k}")


def test_multi_agent_env_and_run_agree(tmp_path: Path) -> None:
    """microgrids, centralized: every agent sees the whole grid; the parallel env and
    ``powergrid run`` with the same actions give the same voltages and batteries."""
    env = MultiAgentGridEnv(scenario="microgrids", episode_length=12, train=False)
    try:
        rng = np.random.default_rng(5)
        actions = {a: _actions(env.action_space(a), rng, 12) for a in env.possible_agents}
        env.reset(seed=1)
        observations = []
        for k in range(12):
            obs, _, _, _, _ = env.step({a: actions[a][k] for a in env.possible_agents})
            observations.append(obs)
        views = env.scenario.views
        specs = env.scenario.specs
    finally:
        env.close()
    config = get_config("microgrids", split="test", start_step=0, steps=12)
    run_scenario(config, tmp_path, progress=False, plot=False,
                 policies={a: Replay(specs[a], actions[a], a) for a in actions})
    df = pd.read_csv(tmp_path / "timeseries.csv")
    for agent, view in views.items():
        vm_cols = [k for k, n in enumerate(view.names) if n.startswith("vm_pu")]
        soc_cols = {n.split(".soc")[0]: k for k, n in enumerate(view.names) if n.endswith(".soc")}
        for k, obs in enumerate(observations):
            np.testing.assert_allclose(obs[agent][vm_cols], df[_bus_columns(df)].iloc[k],
                                       atol=OBS_TOL, err_msg=f"{agent} step {k}")
            for device, col in soc_cols.items():
                assert obs[agent][col] == pytest.approx(df[f"soc:{device}"].iloc[k], abs=1e-6)


def test_each_microgrid_agent_answers_for_its_own_zone(tmp_path: Path) -> None:
    """Centralized agents see the whole grid but are charged for their own zone: each
    MG's cost is its zone's device costs plus its PCC's bill (as recorded by ``powergrid
    run`` for the same actions), so the three differ; ``share_reward`` gives each the
    mean of the three rewards."""
    steps = 8
    rng = np.random.default_rng(11)
    own = MultiAgentGridEnv(scenario="microgrids", episode_length=steps, train=False)
    shared = MultiAgentGridEnv(scenario="microgrids", episode_length=steps, train=False,
                               share_reward=True)
    try:
        actions = {a: _actions(own.action_space(a), rng, steps) for a in own.possible_agents}
        own.reset(seed=2)
        shared.reset(seed=2)
        infos, rewards = [], []
        for k in range(steps):
            joint = {a: actions[a][k] for a in own.possible_agents}
            _, r_own, _, _, info = own.step(joint)
            _, r_shared, _, _, _ = shared.step(joint)
            infos.append(info)
            rewards.append(r_own)
            mean = float(np.mean(list(r_own.values())))
            assert all(r == pytest.approx(mean, rel=1e-9) for r in r_shared.values())
        zone_devices = {a: [d.name for d in own.scenario.views[a].charged_devices or ()]
                        for a in own.possible_agents}
        specs = own.scenario.specs
    finally:
        own.close()
        shared.close()
    assert all(set(devs) == {d for d in devs if d.startswith(f"{a}.")}
               for a, devs in zone_devices.items())
    config = get_config("microgrids", split="test", start_step=0, steps=steps)
    run_scenario(config, tmp_path, progress=False, plot=False,
                 policies={a: Replay(specs[a], actions[a], a) for a in actions})
    df = pd.read_csv(tmp_path / "timeseries.csv")
    for k, info in enumerate(infos):
        costs = [info[a]["cost"] for a in info]
        assert len(set(np.round(costs, 9))) == len(costs), k  # not one shared figure
        for agent, devices in zone_devices.items():
            recorded = sum(df[f"cost:{d}"].iloc[k] for d in devices) \
                + df[f"pcc_cost:{agent}.pcc"].iloc[k]
            assert info[agent]["cost"] == pytest.approx(recorded, rel=1e-6, abs=1e-6), (k, agent)


@pytest.mark.parametrize("scenario", ["ieee13", "ieee34"])
def test_a_reset_inside_the_running_world_equals_a_fresh_world(scenario: str) -> None:
    """The single env starts its second episode inside the running world (devices reset,
    grid cold, feeds jump); a world built afresh for the same episode gives the same
    trajectory, bit for bit (ieee34: the regulators start from their initial taps, not
    from where the previous episode left them)."""
    length = 6
    in_place = GridEnv(scenario=scenario, episode_length=length, train=True)
    fresh = GridEnv(scenario=scenario, episode_length=length, train=True)
    try:
        actions = _actions(in_place.action_space, np.random.default_rng(11), 2 * length)
        in_place.reset(seed=4)
        for action in actions[:length]:
            in_place.step(action)
        first_a, info_a = in_place.reset()           # the running world, restarted in place
        fresh.reset(seed=4)
        fresh.close()                                 # no world: the next reset builds one
        first_b, info_b = fresh.reset()               # the same random stream: episode two
        assert info_a["start_step"] == info_b["start_step"]
        np.testing.assert_array_equal(first_a, first_b)
        for k, action in enumerate(actions[length:]):
            o_a, r_a, _, t_a, i_a = in_place.step(action)
            o_b, r_b, _, t_b, i_b = fresh.step(action)
            np.testing.assert_array_equal(o_a, o_b, err_msg=f"step {k}")
            assert (r_a, t_a, i_a["cost"]) == (r_b, t_b, i_b["cost"]), k
        assert t_a
    finally:
        in_place.close()
        fresh.close()


def test_the_parallel_envs_second_episode_equals_a_fresh_worlds() -> None:
    """The microgrids' PettingZoo env (every agent on its own devices) starts its second
    episode inside the running world, as the single env does; a world built afresh for
    the same episode gives every agent the same observations, rewards and costs, bit for
    bit (the regulators start from their initial taps again, the batteries from their
    initial charge)."""
    length = 4
    in_place = MultiAgentGridEnv(scenario="microgrids", episode_length=length, train=True)
    fresh = MultiAgentGridEnv(scenario="microgrids", episode_length=length, train=True)
    try:
        assert in_place.copies is not None  # the one-copy core, not a world per episode
        rng = np.random.default_rng(3)
        actions = {a: _actions(in_place.action_space(a), rng, 2 * length)
                   for a in in_place.possible_agents}
        in_place.reset(seed=9)
        for k in range(length):
            in_place.step({a: actions[a][k] for a in in_place.possible_agents})
        first_a, info_a = in_place.reset()
        fresh.reset(seed=9)
        fresh.close()                                 # no world: the next reset builds one
        first_b, info_b = fresh.reset()
        assert info_a == info_b
        for a in in_place.possible_agents:
            np.testing.assert_array_equal(first_a[a], first_b[a])
        for k in range(length, 2 * length):
            joint = {a: actions[a][k] for a in in_place.possible_agents}
            o_a, r_a, _, t_a, i_a = in_place.step(joint)
            o_b, r_b, _, t_b, i_b = fresh.step(joint)
            for a in in_place.possible_agents:
                np.testing.assert_array_equal(o_a[a], o_b[a], err_msg=f"{a} step {k}")
                assert (r_a[a], t_a[a], i_a[a]["cost"]) == (r_b[a], t_b[a], i_b[a]["cost"])
        assert all(t_a.values()) and not in_place.agents
    finally:
        in_place.close()
        fresh.close()
