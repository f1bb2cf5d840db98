"""The environments on three-phase physics (issue 18): ``physics="three_phase"``.

Each path -- the single env (one copy of the batched world), the vector env, the
PettingZoo parallel env (one entity per device) and ``powergrid run --physics
three_phase`` -- solves the feeder's OpenDSS circuit with
:class:`powergrid.phase_gridmodel.ThreePhaseGridModel`; on the same seed and actions they
must give the same voltage of every bus-phase (the observation's ``vm_pu.<phase>:<bus>``
block is the ``timeseries.csv`` column of that name), the same cost and the same safety.
Skipped without OpenDSSDirect.py (the ``three_phase`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_paths_agree import Replay, _actions

from powergrid.safety import voltage_violation
from rl_bridge.env import GridEnv
from rl_bridge.parallel import MultiAgentGridEnv
from rl_bridge.vector import GridVectorEnv
from scenarios import get_config
from scenarios.run import run_scenario

pytest.importorskip("opendssdirect", reason="the 'three-phase' extra")

STEPS = 12
#: every path solves with the same engine and the same model: agreement to rounding
TOL = 1e-9


def _phase_columns(names: list[str]) -> list[int]:
    return [k for k, n in enumerate(names) if n.startswith("vm_pu.")]


def _idle(env: GridEnv) -> dict[str, np.ndarray]:
    """No intervention: each device's idle action, in the env's Dict action."""
    by_name = {d.name: d for d in env.scenario.prepared.devices}
    cont: list[float] = []
    disc: list[int] = []
    for name in env.scenario.config.agents[0].devices:
        c, d = by_name[name].idle_action({})
        cont += c
        disc += d
    return {"continuous": np.array(cont, dtype=np.float32), "discrete": np.array(disc)}


@pytest.mark.parametrize("scenario", ["ieee13", "ieee34"])
def test_every_path_gives_the_same_bus_phase_voltages(scenario: str, tmp_path: Path) -> None:
    options = {"episode_length": STEPS, "train": False, "physics": "three_phase"}
    env = GridEnv(scenario=scenario, **options)
    venv = GridVectorEnv(1, scenario=scenario, **options)
    penv = MultiAgentGridEnv(scenario=scenario, **options)
    try:
        names = list(env.observation_names)
        assert names == list(penv.scenario.views[penv.possible_agents[0]].names)
        cols = _phase_columns(names)
        # every node of the circuit: the 41 of IEEE 13, the 138 of IEEE 34 (the
        # distributed loads' mid-line nodes among them), each named as its CSV column
        assert len(cols) == {"ieee13": 41, "ieee34": 138}[scenario]
        actions = _actions(env.action_space, np.random.default_rng(11), STEPS)
        o_single, _ = env.reset(seed=2)
        o_vector, _ = venv.reset(seed=2)
        o_parallel, _ = penv.reset(seed=2)
        agent = penv.possible_agents[0]
        np.testing.assert_array_equal(o_single, o_vector[0])
        np.testing.assert_array_equal(o_single, o_parallel[agent])
        single: list[tuple[np.ndarray, dict[str, Any]]] = []
        for k, action in enumerate(actions):
            o_single, r_single, _, _, info = env.step(action)
            o_vector, r_vector, _, _, i_vector = venv.step(
                {key: v[None] for key, v in action.items()} if isinstance(action, dict)
                else action[None])
            if k == STEPS - 1:
                o_vector = i_vector["final_obs"][0][None]
            o_par, r_par, _, _, i_par = penv.step({agent: action})
            assert np.isfinite(r_single) and np.isfinite(o_single).all()
            np.testing.assert_allclose(o_vector[0], o_single, atol=TOL, err_msg=f"step {k}")
            np.testing.assert_allclose(o_par[agent], o_single, atol=TOL, err_msg=f"step {k}")
            assert float(r_vector[0]) == pytest.approx(r_single, rel=1e-9, abs=1e-9)
            assert r_par[agent] == pytest.approx(r_single, rel=1e-9, abs=1e-9)
            assert i_par[agent]["cost"] == pytest.approx(info["cost"], rel=1e-9)
            single.append((o_single, info))
        spec = env.scenario.specs[env.agent]
    finally:
        env.close()
        venv.close()
        penv.close()

    config = get_config(scenario, split="test", start_step=0, steps=STEPS,
                        physics="three_phase")
    run_scenario(config, tmp_path, progress=False, plot=False,
                 policies={agent: Replay(spec, actions, agent)})
    df = pd.read_csv(tmp_path / "timeseries.csv")
    csv = [names[k] for k in cols]
    for k, (obs, info) in enumerate(single):
        assert df["cost"].iloc[k] == pytest.approx(info["cost"], rel=1e-9, abs=1e-12), k
        np.testing.assert_allclose(obs[cols], df[csv].iloc[k].to_numpy(), atol=TOL,
                                   err_msg=f"step {k}")


def test_the_voltage_safety_is_over_every_bus_phase() -> None:
    """At 1.6 x the loads (an evening peak above the feeder's rating) phases a and c of
    the laterals sag below 0.95 p.u.: the agent's voltage term is the violation summed
    over every bus-phase it observes, more than over each bus's worst phase alone."""
    env = GridEnv(episode_length=24, train=False, physics="three_phase", load_scale=1.6)
    try:
        names = env.observation_names
        cols = _phase_columns(names)
        buses = [k for k, n in enumerate(names) if n.startswith("vm_pu:")]
        env.reset(seed=0)
        idle = _idle(env)
        seen_more = False
        for _ in range(24):
            obs, reward, _, _, info = env.step(idle)
            assert np.isfinite(reward)
            per_phase = float(voltage_violation(obs[cols].astype(float)).sum())
            assert info["safety_terms"]["voltage"] == pytest.approx(per_phase, abs=1e-6)
            per_bus = float(voltage_violation(obs[buses].astype(float)).sum())
            seen_more |= per_phase > per_bus + 1e-6
        assert seen_more
    finally:
        env.close()


def test_a_battery_moves_the_phases_of_its_bus() -> None:
    """The battery at 675 (a balanced three-phase injection) discharging at full power
    (``p_mw < 0``) against charging at full power lifts each phase of 675."""
    def phases_after(p_fraction: float) -> np.ndarray:
        env = GridEnv(episode_length=4, train=False, physics="three_phase")
        try:
            names = env.observation_names
            action = _idle(env)
            k = env.spec_names.index("ess1.p_mw")
            action["continuous"][k] = env.action_space["continuous"].high[k] * p_fraction
            env.reset(seed=0)
            obs, *_ = env.step(action)
            return np.array([obs[names.index(f"vm_pu.{ph}:675")] for ph in "abc"])
        finally:
            env.close()

    lifted = phases_after(-1.0) - phases_after(1.0)
    assert (lifted > 0.002).all(), lifted


def test_the_agent_sets_a_tap_per_phase() -> None:
    """On three-phase physics the IEEE 13 regulator bank is a device per phase unit
    (``reg1.a``, ``reg1.b``, ``reg1.c``; a discrete action entry each): four taps up
    on phase c alone lift phase c at 675 by about 4 x 0.625 % and leave phase a
    (nearly: the lines couple the phases) where it was."""
    def phases_after(c_taps_up: int) -> np.ndarray:
        env = GridEnv(episode_length=4, train=False, physics="three_phase")
        try:
            assert [n for n in env.spec_names if n.startswith("reg1")] == [
                "reg1.a.position", "reg1.b.position", "reg1.c.position"]
            action = _idle(env)
            k = env.spec_names.index("reg1.c.position") - len(action["continuous"])
            action["discrete"][k] += c_taps_up
            env.reset(seed=0)
            obs, *_ = env.step(action)
            names = env.observation_names
            return np.array([obs[names.index(f"vm_pu.{ph}:675")] for ph in "abc"])
        finally:
            env.close()

    lifted = phases_after(4) - phases_after(0)
    assert lifted[2] == pytest.approx(0.025, abs=0.006)
    assert abs(lifted[0]) < 0.25 * lifted[2]


def test_a_model_trained_on_balanced_physics_moves_the_units_together(
        tmp_path: Path) -> None:
    """The committed IEEE 13 model (trained on the balanced physics: one tap for the
    bank) plays on three-phase physics: each unit gets the bank's tap, and the model
    observes the bank as its first unit."""
    pytest.importorskip("stable_baselines3", reason="the 'rl' extra")
    from powergrid.cli import main

    model = Path(__file__).resolve().parents[1] / "models" / "ppo_ieee13_seed0" / "model.zip"
    assert main(["evaluate", "ieee13", "--policy", str(model), "--days", "1", "--physics",
                 "three_phase", "--out", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "model" / "timeseries.csv")
    assert len(df) == 24 and np.isfinite(df["cost"]).all()
    assert (df["tap_pos:reg1.a"] == df["tap_pos:reg1.b"]).all()
    assert (df["tap_pos:reg1.a"] == df["tap_pos:reg1.c"]).all()
    assert (df["tap_pos.b:reg1"] == df["tap_pos:reg1.b"]).all()


def test_a_model_trained_on_three_phase_physics_evaluates_there(tmp_path: Path) -> None:
    """``examples/train_ppo_ieee13.py --physics three_phase`` trains on the circuit (a
    few thousand steps: a test that the chain works, not a learning result); its
    ``model.env.json`` says so, ``powergrid evaluate --physics three_phase`` plays it
    observing every bus-phase, and refuses it on the balanced physics, naming why."""
    pytest.importorskip("stable_baselines3", reason="the 'rl' extra")
    import json
    import subprocess
    import sys

    from test_baselines import _example

    train = _example("train_ppo_ieee13")
    rows = train.main(["--timesteps", "2048", "--num-envs", "4", "--physics", "three_phase",
                       "--out", str(tmp_path)])
    assert rows and all(np.isfinite(r[1]) for r in rows)
    assert json.loads((tmp_path / "model.env.json").read_text())["physics"] == "three_phase"
    from powergrid.cli import main

    model = str(tmp_path / "model.zip")
    assert main(["evaluate", "ieee13", "--policy", model, "--policy", "idle", "--days", "1",
                 "--physics", "three_phase", "--out", str(tmp_path / "runs")]) == 0
    played = pd.read_csv(tmp_path / "runs" / "model" / "timeseries.csv")
    idle = pd.read_csv(tmp_path / "runs" / "idle" / "timeseries.csv")
    assert not np.allclose(played["p_mw:ess1"], idle["p_mw:ess1"])  # its battery moved
    proc = subprocess.run([sys.executable, "-m", "powergrid.cli", "evaluate", "ieee13",
                           "--policy", model, "--days", "1"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 2
    assert "trained with physics 'three_phase'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_microgrids_on_three_phase_physics_agree_on_every_path(tmp_path: Path) -> None:
    """The networked microgrids' composed circuit (:mod:`powergrid.networks.three_phase.
    microgrids`): the PettingZoo parallel env, copy 0 of the batched multi-agent env and
    ``powergrid run --physics three_phase`` with the same seed and actions give the same
    voltage of every bus-phase (each agent observes them all, named as the CSV's
    columns), the same costs and rewards; and each microgrid's PCC is its substation's
    import, which its battery moves."""
    from rl_bridge import microgrids_v0

    options = {"episode_length": STEPS, "train": False, "physics": "three_phase"}
    penv = MultiAgentGridEnv(scenario="microgrids", **options)
    batched = microgrids_v0.vector_env(1, **options)
    try:
        agents = list(penv.possible_agents)
        rng = np.random.default_rng(7)
        actions = {a: _actions(penv.action_space(a), rng, STEPS) for a in agents}
        o_par, _ = penv.reset(seed=3)
        o_bat, _ = batched.reset(seed=3)
        names = {a: list(penv.scenario.views[a].names) for a in agents}
        cols = _phase_columns(names[agents[0]])
        # the DSO's 138 nodes, two more phases at each of the 7 nodes of its laterals to
        # 822 and 856 (three-phase here), and each microgrid's 41 but its source bus's 3
        assert len(cols) == 138 + 7 * 2 + 3 * (41 - 3)
        observations = []
        for k in range(STEPS):
            step = {a: actions[a][k] for a in agents}
            o_par, r_par, _, _, i_par = penv.step(step)
            o_bat, r_bat, _, _, i_bat = batched.step({a: v[None] for a, v in step.items()})
            for a in agents:
                got = i_bat[a]["final_obs"][0] if k == STEPS - 1 else o_bat[a][0]
                np.testing.assert_allclose(got, o_par[a], atol=TOL, err_msg=f"{a} step {k}")
                assert float(r_bat[a][0]) == pytest.approx(r_par[a], rel=1e-9, abs=1e-9)
                assert float(i_bat[a]["cost"][0]) == pytest.approx(i_par[a]["cost"], rel=1e-9)
                assert np.isfinite(r_par[a]) and np.isfinite(o_par[a]).all()
            observations.append(o_par)
        specs = penv.scenario.specs
    finally:
        penv.close()
        batched.close()
    config = get_config("microgrids", split="test", start_step=0, steps=STEPS,
                        physics="three_phase")
    run_scenario(config, tmp_path, progress=False, plot=False,
                 policies={a: Replay(specs[a], actions[a], a) for a in agents})
    df = pd.read_csv(tmp_path / "timeseries.csv")
    csv = [names[agents[0]][k] for k in cols]
    for k, obs in enumerate(observations):
        for a in agents:
            np.testing.assert_allclose(obs[a][cols], df[csv].iloc[k].to_numpy(), atol=TOL,
                                       err_msg=f"{a} step {k}")
    # MG2's import at its substation: the PCC's power, against the feeder's source
    for mg in ("MG1", "MG2", "MG3"):
        assert (df[f"pcc_p_mw:{mg}.pcc"].abs() < df["pcc_p_mw:DSO.pcc"]).all()


def test_a_microgrid_battery_moves_its_substation_import() -> None:
    """On the composed circuit, MG2's battery charging at full power raises MG2's PCC
    import (its substation transformer's HV power) by about that power, and the other
    microgrids' imports by under a hundredth of it."""
    from powergrid.phase_gridmodel import ThreePhaseGridModel
    from scenarios.prepare import prepare

    prepared = prepare(get_config("microgrids", physics="three_phase"))
    model = ThreePhaseGridModel(prepared.net, "microgrids", prepared.load_profiles,
                                prepared.pccs, regulators=prepared.regulators)
    model.set_load_profiles({"load:mv_rural": 0.5})
    idle = model.solve(50.0, 1.0)
    p_max = next(d.p_max_mw for d in prepared.devices if d.name == "MG2.ess1")
    model.set_injections({"MG2.ess1": p_max}, {"MG2.ess1": 0.0})
    charging = model.solve(50.0, 1.0)
    change = dict(zip(model.pcc_names, charging.pcc_p_mw - idle.pcc_p_mw, strict=True))
    assert change["MG2.pcc"] == pytest.approx(p_max, rel=0.05)
    assert abs(change["MG1.pcc"]) < 0.01 * p_max and abs(change["MG3.pcc"]) < 0.01 * p_max
