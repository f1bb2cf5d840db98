"""Issue 16: the options that make the IEEE 13 task learnable without changing what it
measures -- the prices ahead in the observation (``price_forecast_steps``) and a reward
relative to the bill of the step with no device acting (``reward_baseline=
"exogenous_bill"``) -- in the single env, its Box variant, the vector env and
:class:`rl_bridge.policies.ModelPolicy`.

The baseline is recomputed here from the data and the network alone (the loads at their
profiles, the PV and wind units at their available power, the PCC's import and export
prices), independently of the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from test_finite import _sample, assert_finite

import powergrid  # noqa: F401 - registers the ids
from powergrid.data import series_at_step
from powergrid.devices import RES
from powergrid.observation import AgentView
from rl_bridge.env import GridEnv
from rl_bridge.exogenous import ScenarioSeries
from rl_bridge.options import MAX_PRICE_FORECAST_STEPS
from rl_bridge.policies import load_env_options, save_env_options
from rl_bridge.vector import GridVectorEnv
from scenarios import get_config
from scenarios.prepare import PreparedScenario, prepare

PRICE = "price:synthetic"
PRICE_NAME = "price_usd_per_100mwh:synthetic"
STEPS = 6
OPTIONS = {"price_forecast_steps": 4, "reward_baseline": "exogenous_bill"}


def _prices(split: str) -> np.ndarray:
    return series_at_step(PRICE, split, 1.0)


def _idle_action(env: GridEnv) -> dict[str, np.ndarray]:
    """No intervention, in the env's units: every controlled device's idle action."""
    prepared = env.scenario.prepared
    by_name = {d.name: d for d in prepared.devices}
    c: list[float] = []
    d: list[int] = []
    for name in prepared.config.agents[0].devices:
        cont, disc = by_name[name].idle_action({})
        c += cont
        d += disc
    return {"continuous": np.array(c, dtype=np.float32), "discrete": np.array(d)}


def _bill_with_no_device_acting(prepared: PreparedScenario, row: int) -> float:
    """The PCC's bill ($) of test-split row ``row`` if no device acted, from scratch."""
    cfg = prepared.config
    net = prepared.net

    def value(series: str) -> float:
        data = series_at_step(series, cfg.split, cfg.dt_h)
        return float(data[row % len(data)])

    load_mw = 0.0
    for k, name in enumerate(net.load["name"]):
        nominal = float(net.load.p_mw.iloc[k] * net.load.scaling.iloc[k])
        series = prepared.load_profiles.get(str(name))
        load_mw += nominal if series is None else nominal * value(series) * cfg.load_scale
    res_mw = sum(d.sn_mva * min(max(value(cfg.profiles[d.name]), 0.0), 1.0)
                 for d in prepared.devices if isinstance(d, RES))
    (pcc,) = prepared.pccs
    p_mw, price = load_mw - res_mw, value(cfg.price)
    rate = price if p_mw > 0 else price * pcc.sell_discount
    return p_mw * rate * cfg.dt_h


# -- prices ahead --------------------------------------------------------------------------

def test_the_forecast_features_are_the_next_prices_of_the_data() -> None:
    env = GridEnv(episode_length=STEPS, train=True, price_forecast_steps=4)
    try:
        names = env.observation_names
        now = names.index(PRICE_NAME)
        ahead = [names.index(f"{PRICE_NAME}+{j}") for j in range(1, 5)]
        assert ahead == list(range(ahead[0], ahead[0] + 4))  # after the series, in order
        assert f"{PRICE_NAME}+5" not in names
        columns = [now, *ahead]
        low, high = env.observation_space.low, env.observation_space.high
        assert (low[ahead] == low[now]).all()  # bounded like the price
        assert (high[ahead] == high[now]).all()
        prices = _prices("train")
        rng = np.random.default_rng(0)
        for episode in range(2):
            obs, info = env.reset(seed=episode)
            start = info["start_step"]
            for k in range(STEPS):
                rows = (start + k + np.arange(5)) % len(prices)
                expected = np.clip(prices[rows] / 100.0, low[now], high[now])
                np.testing.assert_allclose(obs[columns], expected.astype(np.float32),
                                           rtol=1e-6, atol=1e-7,
                                           err_msg=f"episode {episode} step {k}")
                obs, *_ = env.step(_sample(env.action_space, rng))
    finally:
        env.close()


def test_the_prices_ahead_wrap_at_the_end_of_the_split() -> None:
    data = ScenarioSeries(prepare(get_config("ieee13", split="test")))
    prices = _prices("test")
    last = len(prices) - 1
    np.testing.assert_array_equal(data.prices_ahead([last - 1, 0], 3),
                                  [[prices[last], prices[0], prices[1]],
                                   [prices[1], prices[2], prices[3]]])


def test_a_view_with_a_forecast_needs_its_values() -> None:
    view = AgentView(devices=[], bus_positions=[], line_positions=[], trafo_positions=[],
                     pcc_positions=[], series_bounds={PRICE: (-50.0, 300.0)},
                     time_features=False, forecast_series=PRICE, forecast_steps=2)
    assert view.names == [PRICE_NAME, f"{PRICE_NAME}+1", f"{PRICE_NAME}+2"]
    np.testing.assert_array_equal(view.bounds()[0], [-0.5, -0.5, -0.5])
    out = view.vectors(np.zeros((1, 0)), {}, np.array([[100.0]]), None, np.zeros((1, 4)),
                       np.array([[200.0, 1e6]]))
    np.testing.assert_array_equal(out, [[1.0, 2.0, 3.0]])  # scaled, clipped into bounds
    with pytest.raises(ValueError, match=r"forecast must have shape \(1, 2\), not None"):
        view.vectors(np.zeros((1, 0)), {}, np.array([[100.0]]), None, np.zeros((1, 4)))


# -- the reward baseline -------------------------------------------------------------------

def test_the_baseline_moves_the_reward_by_exactly_the_bill_and_leaves_the_cost() -> None:
    plain = GridEnv(episode_length=STEPS, train=False)
    relative = GridEnv(episode_length=STEPS, train=False, reward_baseline="exogenous_bill")
    try:
        prepared = relative.scenario.prepared
        scale = relative.scenario.options["reward_scale"]
        rng = np.random.default_rng(4)
        _, info = plain.reset(seed=1)
        _, info_r = relative.reset(seed=1)
        start = info_r["start_step"]
        assert start == info["start_step"]
        for k in range(STEPS):
            action = _sample(plain.action_space, rng)
            _, r_plain, _, _, i_plain = plain.step(action)
            _, r_rel, _, _, i_rel = relative.step(action)
            bill = _bill_with_no_device_acting(prepared, start + k)
            assert i_rel["cost_baseline"] == pytest.approx(bill, rel=1e-9), k
            assert r_rel - r_plain == pytest.approx(scale * bill, rel=1e-9, abs=1e-12), k
            # the absolute figures are untouched
            assert i_rel["cost"] == i_plain["cost"], k
            assert i_rel["cost_terms"] == i_plain["cost_terms"], k
            assert i_rel["safety_terms"] == i_plain["safety_terms"], k
            assert "cost_baseline" not in i_plain
    finally:
        plain.close()
        relative.close()


def test_with_no_device_acting_the_energy_bill_is_the_baseline_but_for_losses() -> None:
    """The baseline is the bill of the step the reward is for (not the one before or after):
    doing nothing, the PCC pays it plus the network's losses (about 1 % on IEEE 13)."""
    env = GridEnv(episode_length=24, train=False, reward_baseline="exogenous_bill")
    try:
        env.reset(seed=0)
        idle = _idle_action(env)
        for k in range(24):
            _, reward, _, _, info = env.step(idle)
            energy, bill = info["cost_terms"]["energy"], info["cost_baseline"]
            assert bill < energy < 1.03 * bill, (k, energy, bill)
            losses = energy - bill
            assert reward == pytest.approx(-0.01 * (info["cost"] - bill)
                                           - min(100 * info["safety"], 100.0)), k
            assert losses == pytest.approx(info["cost"] - bill), k  # idle: no device cost
    finally:
        env.close()


def test_the_box_variant_takes_the_options() -> None:
    env = gym.make("powergrid/IEEE13-Box-v0", **OPTIONS)
    try:
        names = env.unwrapped.observation_names
        assert f"{PRICE_NAME}+4" in names and f"{PRICE_NAME}+5" not in names
        assert env.observation_space.shape == (len(names),)
        env.reset(seed=0)
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert np.isfinite(reward) and info["cost_baseline"] > 0.0
    finally:
        env.close()


# -- one answer from both paths, and finite ------------------------------------------------

def test_single_env_and_vector_env_agree_with_the_options_on() -> None:
    """Two episodes of the single env against a one-copy vector env (same-step autoreset:
    its first observation of the second episode comes from the batch's own path)."""
    options = {"episode_length": STEPS, "train": True, **OPTIONS}
    env = GridEnv(**options)
    venv = GridVectorEnv(1, **options)
    try:
        assert venv.single_observation_space == env.observation_space
        rng = np.random.default_rng(8)
        o_single, _ = env.reset(seed=5)
        o_vector, _ = venv.reset(seed=5)
        np.testing.assert_array_equal(o_single, o_vector[0])
        for k in range(2 * STEPS):
            action = _sample(env.action_space, rng)
            o_single, r_single, _, truncated, i_single = env.step(action)
            o_vector, r_vector, _, _, i_vector = venv.step(
                {key: v[None] for key, v in action.items()})
            last = o_vector[0] if not truncated else i_vector["final_obs"][0]
            np.testing.assert_allclose(o_single, last, atol=1e-6, err_msg=f"step {k}")
            assert r_single == pytest.approx(float(r_vector[0]), rel=1e-6, abs=1e-6), k
            assert i_single["cost"] == pytest.approx(float(i_vector["cost"][0]), rel=1e-6)
            assert i_single["cost_baseline"] == pytest.approx(
                float(i_vector["cost_baseline"][0]), rel=1e-12), k
            if truncated:
                o_single, _ = env.reset()
                np.testing.assert_array_equal(o_single, o_vector[0])
    finally:
        env.close()
        venv.close()


@pytest.mark.parametrize("kind", ["single", "vector"])
def test_the_options_keep_everything_finite(kind: str) -> None:
    rng = np.random.default_rng(11)
    for load_scale in (0.3, 4.0):  # light (export), and power flows that fail
        options = {"episode_length": STEPS, "load_scale": load_scale, **OPTIONS}
        env: Any = (gym.make("powergrid/IEEE13-v0", **options) if kind == "single" else
                    gym.make_vec("powergrid/IEEE13-v0", num_envs=2,
                                 vectorization_mode="vector_entry_point", **options))
        try:
            obs, info = env.reset(seed=0)
            assert_finite(f"{kind} reset", obs=obs, info=info)
            for k in range(STEPS + (kind == "vector")):  # the vector env through a reset
                obs, reward, _, _, info = env.step(_sample(env.action_space, rng))
                assert_finite(f"{kind} x{load_scale} step {k}", obs=obs, reward=reward,
                              info=info)
        finally:
            env.close()


# -- bad values ----------------------------------------------------------------------------

BAD = [({"price_forecast_steps": -1}, r"price_forecast_steps must be a whole number of steps"
         rf" in \[0, {MAX_PRICE_FORECAST_STEPS}\], not -1"),
       ({"price_forecast_steps": 2.0}, r"price_forecast_steps .* not 2\.0"),
       ({"price_forecast_steps": True}, r"price_forecast_steps .* not True"),
       ({"price_forecast_steps": "3"}, r"price_forecast_steps .* not '3'"),
       ({"price_forecast_steps": MAX_PRICE_FORECAST_STEPS + 1}, r"price_forecast_steps"),
       ({"reward_baseline": "idle"}, r"reward_baseline must be one of 'none',"
                                     r" 'exogenous_bill', not 'idle'"),
       ({"reward_baseline": None}, r"reward_baseline .* not None")]


@pytest.mark.parametrize(("option", "message"), BAD)
@pytest.mark.parametrize("kind", ["single", "box", "vector", "config"])
def test_a_bad_option_is_one_line_naming_it(kind: str, option: dict[str, Any],
                                            message: str) -> None:
    with pytest.raises(ValueError) as caught:
        if kind == "single":
            GridEnv(**option)
        elif kind == "box":
            gym.make("powergrid/IEEE13-Box-v0", **option)
        elif kind == "vector":
            GridVectorEnv(2, **option)
        else:
            GridEnv({"episode_length": 24, **option})
    text = str(caught.value)
    assert "\n" not in text
    assert re.search(message, text), text


# -- a trained model sees what it saw in training ------------------------------------------

def test_env_options_next_to_a_model(tmp_path: Path) -> None:
    model = tmp_path / "model.zip"
    assert load_env_options(model)["price_forecast_steps"] == 0  # no file: the defaults
    assert load_env_options(model)["reward_baseline"] == "none"
    written = save_env_options(model, {"episode_length": 24, **OPTIONS})
    assert written == tmp_path / "model.env.json"
    assert json.loads(written.read_text()) == {"episode_length": 24, **OPTIONS}
    assert load_env_options(tmp_path / "model")["price_forecast_steps"] == 4
    with pytest.raises(ValueError, match="reward_baseline must be one of"):
        save_env_options(model, {"reward_baseline": "idle"})
    written.write_text(json.dumps({"price_forecast_steps": -2}))
    with pytest.raises(ValueError, match=r"model\.env\.json: price_forecast_steps must be"):
        load_env_options(model)
    written.write_text(json.dumps({"forecast": 2}))
    with pytest.raises(ValueError, match=r"model\.env\.json: unknown environment option"):
        load_env_options(model)
    written.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"model\.env\.json: not a JSON object"):
        load_env_options(model)


def test_a_model_trained_with_the_options_is_evaluated_with_the_same_observation(
        tmp_path: Path) -> None:
    """A short run of the example with both options writes ``model.env.json``; in
    ``evaluate`` its ModelPolicy observes the prices ahead of the test days (checked
    against the data at every step), and the figures are the absolute ones of a run."""
    pytest.importorskip("stable_baselines3", reason="needs stable-baselines3 and torch,"
                        " the 'rl' extra: pip install -e \".[rl]\"")
    from test_baselines import _example

    from rl_bridge.policies import ModelPolicy
    from scenarios.evaluate import evaluate

    train = _example("train_ppo_ieee13")
    train.main(["--timesteps", "512", "--num-envs", "2", "--out", str(tmp_path),
                "--price-forecast-steps", "3", "--reward-baseline", "exogenous_bill"])
    assert json.loads((tmp_path / "model.env.json").read_text()) == {
        "episode_length": 24, "price_forecast_steps": 3, "reward_baseline": "exogenous_bill",
        "safety_scale": 1.0, "train": True}
    seen: list[np.ndarray] = []

    class Recording(ModelPolicy):
        def __init__(self, path: str, prepared: PreparedScenario) -> None:
            super().__init__(path, prepared)
            self.obs_rms = None  # the raw vector reaches the model
            predict = self.model.predict

            def recorded(vec: np.ndarray, **kwargs: Any) -> Any:
                seen.append(np.array(vec))
                return predict(vec, **kwargs)

            self.model.predict = recorded

    model = str(tmp_path / "model.zip")
    results = evaluate("ieee13", [model, "idle"], days=1, load_policy=Recording)
    names = Recording(model, prepare(get_config("ieee13", split="test"))).view.names
    ahead = [names.index(f"{PRICE_NAME}+{j}") for j in (1, 2, 3)]
    prices = _prices("test")
    assert len(seen) == 24
    for k, vec in enumerate(seen):
        np.testing.assert_allclose(vec[ahead], prices[k + 1:k + 4] / 100.0, rtol=1e-6,
                                   err_msg=f"step {k}")
    # the day's bill, not the bill less its baseline (which is a few % of it)
    assert results[model]["total_cost"] > 0.5 * results["idle"]["total_cost"]

    (tmp_path / "model.env.json").unlink()  # the same model read with the defaults
    with pytest.raises(ValueError, match=r"takes observations of shape \(\d+,\); the"
                                         r" environment options of the defaults"):
        ModelPolicy(model, prepare(get_config("ieee13", split="test")))


def test_the_relaxed_idle_action_is_the_idle_policys() -> None:
    """:func:`rl_bridge.sb3.idle_relaxed_action` (where the training examples start and
    hold the controls they do not learn) maps back to every device's idle action; the
    middle of the relaxed range does not."""
    pytest.importorskip("stable_baselines3", reason="needs stable-baselines3 and torch,"
                        " the 'rl' extra: pip install -e \".[rl]\"")
    from rl_bridge.sb3 import idle_relaxed_action, relaxed_names
    from rl_bridge.wrappers import from_relaxed

    env = GridEnv(episode_length=STEPS)
    try:
        idle = idle_relaxed_action(env)
        assert relaxed_names(env) == env.spec_names
        assert idle.shape == (len(env.spec_names),) and np.all(np.abs(idle) <= 1.0)
        expected = _idle_action(env)
        for relaxed, same in ((idle, True), (np.zeros_like(idle), False)):
            physical = from_relaxed(env.action_space, relaxed)
            equal = (np.allclose(physical["continuous"], expected["continuous"], atol=1e-6)
                     and np.array_equal(physical["discrete"], expected["discrete"]))
            assert equal is same
    finally:
        env.close()
