"""Issue 16, multi-agent: the learnability options in the microgrids environment (each
agent's reward relative to its own zone's bill with no device acting, the prices ahead,
the agent's one-hot for a shared policy), the shared-policy SB3 adapter, and a model
trained with them played for every agent by ``powergrid evaluate``.

Each agent's baseline is recomputed here from the data and the network alone (its
zone's loads at their profiles, its PV and wind at their available power, its PCC's
import and export prices), independently of the code under test.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_finite import _sample, assert_finite

from powergrid.data import series_at_step
from powergrid.devices import RES
from rl_bridge import microgrids_v0
from scenarios.evaluate import evaluate
from scenarios.prepare import PreparedScenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MICROGRIDS = ("MG1", "MG2", "MG3")
OPTIONS: dict[str, Any] = {"centralized": False, "agent_indicator": True,
                           "price_forecast_steps": 4, "reward_baseline": "exogenous_bill"}


def _zone_bill_with_no_device_acting(prepared: PreparedScenario, mg: str, row: int,
                                     at_price: bool = False) -> float:
    """Microgrid ``mg``'s PCC bill ($) of test-split row ``row`` if no device acted
    (``at_price``: an export valued at the full price)."""
    cfg = prepared.config
    net = prepared.net

    def value(series: str) -> float:
        data = series_at_step(series, cfg.split, cfg.dt_h)
        return float(data[row % len(data)])

    zone_of = dict(zip(net.bus.index, net.bus["zone"].astype(str), strict=True))
    load_mw = 0.0
    for k, name in enumerate(net.load["name"]):
        if zone_of[net.load.bus.iloc[k]] != mg:
            continue
        nominal = float(net.load.p_mw.iloc[k] * net.load.scaling.iloc[k])
        series = prepared.load_profiles.get(str(name))
        load_mw += nominal if series is None else nominal * value(series) * cfg.load_scale
    res_mw = sum(d.sn_mva * min(max(value(cfg.profiles[d.name]), 0.0), 1.0)
                 for d in prepared.devices if isinstance(d, RES) and d.name.startswith(mg))
    (pcc,) = [p for p in prepared.pccs if p.name == f"{mg}.pcc"]
    p_mw, price = load_mw - res_mw, value(cfg.price)
    rate = price if p_mw > 0 or at_price else price * pcc.sell_discount
    return p_mw * rate * cfg.dt_h


def test_each_agents_baseline_is_its_own_zones_bill_and_moves_only_its_reward() -> None:
    plain = microgrids_v0.parallel_env(episode_length=4, train=False)
    relative = microgrids_v0.parallel_env(episode_length=4, train=False,
                                          reward_baseline="exogenous_bill")
    try:
        prepared = relative.scenario.prepared
        scale = relative.scenario.options["reward_scale"]
        rng = np.random.default_rng(3)
        _, infos = plain.reset(seed=2)
        _, infos_r = relative.reset(seed=2)
        start = infos_r["MG1"]["start_step"]
        assert start == infos["MG1"]["start_step"]
        bills = set()
        for k in range(4):
            actions = {a: _sample(plain.action_space(a), rng) for a in plain.agents}
            _, r_plain, _, _, i_plain = plain.step(actions)
            _, r_rel, _, _, i_rel = relative.step(actions)
            for mg in MICROGRIDS:
                bill = _zone_bill_with_no_device_acting(prepared, mg, start + k)
                assert i_rel[mg]["cost_baseline"] == pytest.approx(bill, rel=1e-9), (k, mg)
                assert r_rel[mg] - r_plain[mg] == pytest.approx(scale * bill, rel=1e-9), mg
                assert i_rel[mg]["cost"] == i_plain[mg]["cost"], (k, mg)
                bills.add(round(bill, 9))
        assert len(bills) > 4  # three zones, four hours: not one shared number
    finally:
        plain.close()
        relative.close()


def test_the_system_scope_gives_every_agent_a_third_of_the_systems_cost() -> None:
    """``reward_scope="system"``: each agent's reward is computed from the system's cost
    (the feeder's bill, which no zone view masks, plus every agent's device costs; the
    microgrids' own PCC bills are transfers inside the system), a third each; with the
    baseline, less a third of the system's bill with no device acting. The costs in
    ``info`` stay each agent's own."""
    options = {"episode_length": 3, "train": False, "safety_scale": 0.0}
    own = microgrids_v0.parallel_env(**options)
    system = microgrids_v0.parallel_env(**options, reward_scope="system")
    relative = microgrids_v0.parallel_env(**options, reward_scope="system",
                                          reward_baseline="exogenous_bill")
    envs = (own, system, relative)
    try:
        scale = system.scenario.options["reward_scale"]
        rng = np.random.default_rng(5)
        for env in envs:
            env.reset(seed=4)
        for _ in range(3):
            actions = {a: _sample(own.action_space(a), rng) for a in own.agents}
            (_, r_own, _, _, i_own), (_, r_sys, _, _, i_sys), (_, r_rel, _, _, _) = (
                env.step(actions) for env in envs)
            # the feeder's bill: the external PCC's, as the grid federate settled it
            feeder_bill = float(system.copies.offered["grid"]["energy_cost"][0])
            devices = sum(v for mg in MICROGRIDS for term, v in i_sys[mg]["cost_terms"].items()
                          if term != "energy")
            for mg in MICROGRIDS:
                assert r_sys[mg] == pytest.approx(-scale * (feeder_bill + devices) / 3,
                                                  rel=1e-12)
                assert i_sys[mg]["cost"] == i_own[mg]["cost"]
            assert len({r_own[mg] for mg in MICROGRIDS}) == 3  # each its own, before
            # the baseline is the same for every agent
            lifted = {r_rel[mg] - r_sys[mg] for mg in MICROGRIDS}
            assert max(lifted) - min(lifted) < 1e-9 and min(lifted) > 0
    finally:
        for env in envs:
            env.close()


def test_the_contribution_scope_values_each_zones_exchange_at_the_price() -> None:
    """``reward_scope="contribution"``: each agent's reward is computed from its own
    devices' costs and its zone's exchange at the price both ways (a MWh the microgrid
    exports saves the rest of the feeder a MWh imported at the full price, where its own
    bill credits 0.9 of it), less with the baseline its zone's bill with no device acting
    valued the same way. At a third of the loads the zones export in some hours, where the
    two valuations differ. The costs in ``info`` stay each agent's own bill."""
    options = {"episode_length": 4, "train": False, "safety_scale": 0.0, "load_scale": 0.3,
               "reward_baseline": "exogenous_bill", "centralized": False}
    own = microgrids_v0.parallel_env(**options)
    contribution = microgrids_v0.parallel_env(**options, reward_scope="contribution")
    try:
        prepared = contribution.scenario.prepared
        cfg = prepared.config
        scale = contribution.scenario.options["reward_scale"]
        prices = series_at_step(cfg.price, cfg.split, cfg.dt_h)
        rng = np.random.default_rng(8)
        _, infos = own.reset(seed=6)
        contribution.reset(seed=6)
        start = infos["MG1"]["start_step"]
        exports = 0
        for k in range(4):
            actions = {a: _sample(own.action_space(a), rng) for a in own.agents}
            (_, _, _, _, i_own), (_, r_c, _, _, i_c) = (env.step(actions)
                                                        for env in (own, contribution))
            price = float(prices[(start + k) % len(prices)])
            for mg in MICROGRIDS:
                # the zone's own PCC's exchange, as the grid federate measured it
                (pcc,) = contribution.scenario.views[mg].billed_pcc_positions
                p_mw = float(contribution.copies.offered["grid"]["pcc_p_mw"][0][pcc])
                devices = sum(v for term, v in i_c[mg]["cost_terms"].items()
                              if term != "energy")
                bill = _zone_bill_with_no_device_acting(prepared, mg, start + k, True)
                expected = -scale * (p_mw * price * cfg.dt_h + devices - bill)
                assert r_c[mg] == pytest.approx(expected, rel=1e-9), (k, mg)
                assert i_c[mg]["cost"] == i_own[mg]["cost"]
                exports += p_mw < 0
        assert exports > 0  # hours in which the two valuations differ
    finally:
        own.close()
        contribution.close()


def test_the_observation_carries_the_prices_ahead_and_the_agents_one_hot() -> None:
    env = microgrids_v0.parallel_env(episode_length=3, train=False, **OPTIONS)
    plain = microgrids_v0.parallel_env(episode_length=3, train=False, centralized=False)
    try:
        obs, info = env.reset(seed=0)
        plain_obs, _ = plain.reset(seed=0)
        prices = series_at_step("price:synthetic", "test", 1.0)
        start = info["MG1"]["start_step"]
        name = "price_usd_per_100mwh:synthetic"
        for j, mg in enumerate(MICROGRIDS):
            names = env.scenario.views[mg].names
            plain_names = plain.scenario.views[mg].names
            size = len(plain_names)
            assert env.observation_space(mg).shape == (size + 4 + 3,)
            assert obs[mg].shape == (size + 4 + 3,)
            assert env.observation_space(mg).contains(obs[mg])
            np.testing.assert_array_equal(obs[mg][-3:], np.eye(3)[j])
            # the four prices after the coming hour, in $/100 MWh like the price feature
            ahead = [names.index(f"{name}+{k}") for k in range(1, 5)]
            np.testing.assert_allclose(obs[mg][ahead], prices[start + 1:start + 5] / 100.0,
                                       rtol=1e-6)
            # and everything else as the env without the options shows it
            same = [names.index(n) for n in plain_names]
            np.testing.assert_allclose(obs[mg][same], plain_obs[mg], rtol=1e-6)
    finally:
        env.close()
        plain.close()


def test_a_coordinator_has_no_zone_bill_to_be_relative_to() -> None:
    with pytest.raises(ValueError, match="'DSO' is a coordinator"):
        microgrids_v0.parallel_env(protocol="price_signal", reward_baseline="exogenous_bill")


def test_the_options_keep_every_value_finite() -> None:
    rng = np.random.default_rng(5)
    for load_scale, scope in ((0.3, "agent"), (4.0, "agent"), (4.0, "system"),
                              (0.3, "contribution"), (4.0, "contribution")):
        # light (export), and power flows that fail, each agent's reward or the system's
        env = microgrids_v0.parallel_env(episode_length=3, load_scale=load_scale,
                                         reward_scope=scope, **OPTIONS)
        try:
            obs, info = env.reset(seed=0)
            assert_finite("reset", obs=obs, info=info)
            for k in range(3):
                obs, reward, _, _, info = env.step({a: _sample(env.action_space(a), rng)
                                                    for a in env.agents})
                assert_finite(f"x{load_scale} {scope} step {k}", obs=obs, reward=reward,
                              info=info)
        finally:
            env.close()


def test_shared_policy_slots_are_the_agents_and_restart_together() -> None:
    pytest.importorskip("stable_baselines3", reason="needs stable-baselines3 and torch,"
                        " the 'rl' extra: pip install -e \".[rl]\"")
    from rl_bridge.sb3 import SharedPolicyVecEnv

    envs = [microgrids_v0.parallel_env(episode_length=2, **OPTIONS) for _ in range(2)]
    venv = SharedPolicyVecEnv(envs)
    try:
        assert venv.num_envs == 6 and venv.agents == list(MICROGRIDS)
        venv.seed(7)
        obs = venv.reset()
        assert obs.shape == (6, envs[0].observation_space("MG1").shape[0])
        # slot k * 3 + j is agent j of env k: its one-hot says so
        np.testing.assert_array_equal(obs[:, -3:], np.tile(np.eye(3), (2, 1)))
        # -1 everywhere: the batteries discharge fully, the generators stay off
        venv.step_async(-np.ones((6, 4), np.float32))
        _, rewards, dones, infos = venv.step_wait()
        assert not dones.any() and np.isfinite(rewards).all()
        assert all(i["cost"] > 0.0 for i in infos)
        venv.step_async(np.zeros((6, 4), np.float32))
        obs, _, dones, infos = venv.step_wait()
        assert dones.all()  # two-step episodes: every agent of every env ends together
        for i in infos:
            assert i["TimeLimit.truncated"] and i["terminal_observation"].shape == obs[0].shape
    finally:
        venv.close()


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_shared_policy_recipe_trains_and_every_agent_plays_it_in_evaluate(
        tmp_path: Path) -> None:
    pytest.importorskip("stable_baselines3", reason="needs stable-baselines3 and torch,"
                        " the 'rl' extra: pip install -e \".[rl]\"")
    import pandas as pd

    from rl_bridge.policies import model_policies

    train = _example("train_ppo_microgrids")
    rows = train.main(["--timesteps", "3072", "--num-envs", "2", "--n-steps", "128",
                       "--batch-size", "256", "--out", str(tmp_path)])
    assert rows and all(np.isfinite(r[1]) and r[2] > 0 for r in rows)
    for name in ("model.zip", "model.vecnormalize.pkl", "model.env.json",
                 "learning_curve.csv", "learning_curve.png"):
        assert (tmp_path / name).exists(), name
    out = tmp_path / "runs"
    results = evaluate("microgrids", [str(tmp_path / "model.zip"), "idle"], days=1,
                       out_dir=out, load_policy=model_policies)
    model = results[str(tmp_path / "model.zip")]
    assert model["total_cost"] != pytest.approx(results["idle"]["total_cost"])
    played = pd.read_csv(out / "model" / "timeseries.csv")
    for mg in MICROGRIDS:  # every agent's battery followed the shared policy
        assert played[f"p_mw:{mg}.ess1"].abs().max() > 1e-4, mg
    # a model for one agent only is refused by name
    with pytest.raises(ValueError, match="name the one the model acts for"):
        from rl_bridge.policies import ModelPolicy
        from scenarios import get_config
        from scenarios.prepare import prepare

        ModelPolicy(tmp_path / "model.zip", prepare(get_config("microgrids")))


def test_one_command_writes_the_results_tables_from_the_committed_models(
        tmp_path: Path) -> None:
    """``examples/reproduce_results.py`` (here over one day) evaluates idle, rule, oracle
    and every committed model, and keeps the figures as JSON, Markdown and a plot."""
    pytest.importorskip("stable_baselines3", reason="needs stable-baselines3 and torch,"
                        " the 'rl' extra: pip install -e \".[rl]\"")
    import json

    script = _example("reproduce_results")
    assert script.main(["--scenario", "microgrids", "--days", "1", "--out",
                        str(tmp_path)]) == 0
    record = json.loads((tmp_path / "microgrids.json").read_text())
    policies = record["policies"]
    assert {"idle", "rule", "oracle", "ppo_microgrids_seed0", "ppo_microgrids_seed1",
            "ppo_microgrids_seed2"} <= set(policies)
    assert policies["oracle"]["recovered_share"] == pytest.approx(1.0)
    assert policies["idle"]["recovered_share"] == pytest.approx(0.0)
    over_seeds = record["learned_over_seeds"]["total_cost"]
    costs = [policies[f"ppo_microgrids_seed{k}"]["total_cost"] for k in range(3)]
    assert over_seeds["mean"] == pytest.approx(np.mean(costs))
    assert "| oracle |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "ppo_microgrids_learning_curves.png").stat().st_size > 0
