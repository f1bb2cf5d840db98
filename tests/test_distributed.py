"""Distributed control on the networked microgrids: protocols change what happens,
messages take their route's delay, agents act at their own rates, and in distributed
mode an agent sees only its own zone."""

import gc
import os
import time
import types

import numpy as np
import pandapower as pp
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

from powergrid.messaging import BrokerUnavailableError
from rl_bridge import microgrids_v0
from rl_bridge.bridge import CoSimulationError
from scenarios.microgrids import DER_SCALE

MEMBERS = ("MG1", "MG2", "MG3")


def make_env(**kwargs):
    kwargs.setdefault("max_episode_steps", 6)
    kwargs.setdefault("train", False)
    return microgrids_v0.parallel_env(**kwargs)


def hold(env, agent, **physical):
    """An action for ``agent``: every continuous control 0 except the ones given (by control
    name, e.g. ``ess1_p_mw=0.2``), discrete controls at 0."""
    spec = env.scenario.specs[agent]
    c = np.clip(np.zeros(spec.dim_c), spec.low, spec.high)
    for key, value in physical.items():
        c[spec.names_c.index(f"{agent}.{key.replace('_', '.', 1)}")] = value
    c = c.astype(np.float32)
    return c if spec.dim_d == 0 else {"continuous": c,
                                      "discrete": np.zeros(spec.dim_d, dtype=np.int64)}


def run(env, actions_for, steps, seed=0):
    """Reset and step with ``actions_for(k, due_agents)``; return per-step (obs, infos)."""
    obs, _ = env.reset(seed=seed)
    out = []
    for k in range(steps):
        acts = actions_for(k, list(obs))
        obs, _, _, _, infos = env.step(acts)
        out.append((obs, infos))
    return out


def names(env, agent):
    return env.scenario.views[agent].names


def test_price_signal_sets_the_microgrids_bill_and_they_are_told():
    bills = {}
    seen = {}
    for sign in (-1.0, 1.0):
        env = make_env(protocol="price_signal", protocol_params={"band_per_mwh": 30.0})
        try:
            def actions(k, due, sign=sign, env=env):
                acts = {a: hold(env, a) for a in due if a != "DSO"}
                if "DSO" in due:
                    acts["DSO"] = np.array([sign], dtype=np.float32)
                return acts
            steps = run(env, actions, 3)
            bills[sign] = [s[1]["MG1"]["cost_terms"]["energy"] for s in steps]
            retail = [s[1]["DSO"]["retail_price"] for s in steps]
            market = [s[1]["DSO"]["market_price"] for s in steps]
            assert retail == pytest.approx([m + 30.0 * sign for m in market])
            k = names(env, "MG1").index("message.price_usd_per_100mwh")
            # what MG1 sees at step t+1 is the price set at step t (one step of delay)
            seen[sign] = ([o["MG1"][k] * 100.0 for o, _ in steps[:-1]], retail[:-1])
        finally:
            env.close()
    # the same physics, a tariff 60 $/MWh apart: MG1 imports, so it pays more at +1
    assert all(hi > lo for hi, lo in zip(bills[1.0], bills[-1.0], strict=True))
    for sign in seen:
        assert seen[sign][0] == pytest.approx(seen[sign][1], abs=1e-3)


def test_setpoint_coordinator_dispatches_the_microgrid_batteries():
    env = make_env(protocol="setpoint")
    try:
        def actions(k, due):
            acts = {a: hold(env, a, ess1_p_mw=-0.2) for a in due if a != "DSO"}  # overridden
            if "DSO" in due:
                acts["DSO"] = np.array([0.3], dtype=np.float32)
            return acts
        steps = run(env, actions, 2)
        split = steps[0][1]["DSO"]["split_mw"]
        assert split == pytest.approx({f"{m}.ess1": 0.1 for m in MEMBERS})
        for m in MEMBERS:  # the batteries charge 0.1 MW each, whatever their own agents said
            k = names(env, m).index(f"{m}.ess1.p_pu")
            assert steps[0][0][m][k] == pytest.approx(0.1 / (0.2 * DER_SCALE), abs=1e-6)
    finally:
        env.close()


def test_p2p_trades_a_surplus_and_settles_it():
    env = make_env(protocol="p2p", protocol_params={"fee_per_mwh": 1.0})
    try:
        def actions(k, due):
            acts = {a: hold(env, a, ess1_p_mw=0.2) for a in due}  # buyers: charge
            acts["MG1"] = hold(env, "MG1", ess1_p_mw=-0.2, dg1_p_mw=0.3)  # seller: surplus
            return acts
        steps = run(env, actions, 3)
    finally:
        env.close()
    infos = steps[-1][1]
    traded = {m: infos[m]["p2p_energy_mwh"] for m in MEMBERS}
    assert traded["MG1"] < -0.1  # sold
    assert sum(traded.values()) == pytest.approx(0.0, abs=1e-9)
    for m in MEMBERS:
        if abs(traded[m]) > 1e-9:  # both sides gain against trading with the grid
            assert infos[m]["cost_terms"]["p2p"] < 0.0
            assert infos[m]["p2p_trades"] >= 1


def test_consensus_agrees_on_a_common_reactive_level():
    env = make_env(protocol="consensus", protocol_params={"tolerance": 1e-6})
    try:
        steps = run(env, lambda k, due: {a: hold(env, a) for a in due}, 3)
    finally:
        env.close()
    obs, infos = steps[-1]
    values = [infos[m]["consensus_value"] for m in MEMBERS]
    assert max(values) - min(values) < 1e-4
    for m in MEMBERS:  # each battery's Q follows the agreed level (q_max 0.1 Mvar)
        feature = names(env, m).index(f"{m}.ess1.q_pu")
        # both report step 2: the infos its coordination, obs the devices' state after it
        assert obs[m][feature] == pytest.approx(infos[m]["consensus_value"], abs=1e-5)


def test_a_message_arrives_exactly_its_route_delay_later():
    env = make_env(protocol="price_signal", route_delays={"DSO->MG1": 3}, max_episode_steps=8)
    rng = np.random.default_rng(4)
    try:
        prices = []
        steps = []
        obs, _ = env.reset(seed=0)
        for _ in range(7):
            acts = {a: hold(env, a) for a in obs if a != "DSO"}
            acts["DSO"] = rng.uniform(-1, 1, size=1).astype(np.float32)
            obs, _, _, _, infos = env.step(acts)
            prices.append(infos["DSO"]["retail_price"])
            steps.append(obs)
        k1 = names(env, "MG1").index("message.price_usd_per_100mwh")
        k2 = names(env, "MG2").index("message.price_usd_per_100mwh")
        # steps[t - 1] is what the agents see at step t; prices[t] is the price set at t
        for t in range(3, 7):  # MG1's route takes 3 steps, MG2's the default 1
            assert steps[t - 1]["MG1"][k1] * 100 == pytest.approx(prices[t - 3], abs=1e-3)
            assert steps[t - 1]["MG2"][k2] * 100 == pytest.approx(prices[t - 1], abs=1e-3)
    finally:
        env.close()


def test_agents_act_at_their_own_periods():
    env = make_env(protocol="price_signal", max_episode_steps=8,
                   agent_periods={"DSO": 4, "MG2": 2})
    try:
        obs, _ = env.reset(seed=0)
        acting = [sorted(obs)]
        while env.agents:
            obs, rewards, _, truncations, _ = env.step({a: hold(env, a) if a != "DSO" else
                                                        np.zeros(1, np.float32) for a in obs})
            assert set(rewards) == set(obs)
            if env.agents:
                acting.append(sorted(obs))
        assert acting[:5] == [["DSO", "MG1", "MG2", "MG3"], ["MG1", "MG3"], ["MG1", "MG2", "MG3"],
                              ["MG1", "MG3"], ["DSO", "MG1", "MG2", "MG3"]]
    finally:
        env.close()


def test_distributed_mode_passes_the_pettingzoo_api_tests():
    parallel_api_test(make_env(centralized=False, protocol="p2p"), num_cycles=10)
    parallel_seed_test(lambda: make_env(centralized=False, protocol="consensus"), num_cycles=5)
    api_test(microgrids_v0.env(centralized=False, protocol="p2p", max_episode_steps=5),
             num_cycles=10)


def _reaches(root, kind, limit=200_000):
    """Whether an object of type ``kind`` is reachable from ``root`` through references
    (modules and classes are not followed: they are shared code, not agent state)."""
    seen = {id(root)}
    stack = [root]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if isinstance(obj, kind):
            return True
        for ref in gc.get_referents(obj):
            if isinstance(ref, types.ModuleType | type | types.FunctionType) or id(ref) in seen:
                continue
            seen.add(id(ref))
            stack.append(ref)
    return False


def test_in_distributed_mode_no_agent_holds_the_network():
    env = make_env(centralized=False, protocol="p2p")
    try:
        obs, _ = env.reset(seed=0)
        env.step({a: hold(env, a) for a in obs})
        agents_sim = env.scenario.bridge.world._proxies["agents-0"].sim
        grid_sim = env.scenario.bridge.world._proxies["grid-0"].sim
        assert _reaches(grid_sim, pp.pandapowerNet)  # the check can see a net
        for agent in agents_sim.agents.values():
            assert not _reaches(agent, pp.pandapowerNet), agent.name
        for m in MEMBERS:  # and what reached them of the grid is their own zone
            view = env.scenario.views[m]
            zones = env.scenario.prepared.net.bus.zone.to_numpy()
            assert set(zones[view.bus_positions]) == {m}
    finally:
        env.close()


def test_an_unreachable_broker_fails_at_reset_quickly():
    env = make_env(message_broker="redis://:secret@127.0.0.1:1/0", protocol="p2p")
    try:
        t0 = time.perf_counter()
        with pytest.raises((BrokerUnavailableError, CoSimulationError)) as err:
            env.reset(seed=0)
        assert time.perf_counter() - t0 < 5.0
        assert "127.0.0.1:1" in str(err.value) and "secret" not in str(err.value)
    finally:
        env.close()


REDIS_URL = os.environ.get("POWERGRID_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_up() -> bool:
    try:
        from powergrid.messaging import make_broker

        make_broker(REDIS_URL).close()
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _redis_up() and os.environ.get("POWERGRID_REQUIRE_REDIS") != "1",
                    reason="no Redis server")
def test_distributed_microgrids_over_a_redis_broker_match_in_memory():
    results = {}
    for broker in ("in_memory", REDIS_URL):
        env = make_env(centralized=False, protocol="price_signal", message_broker=broker)
        try:
            rng = np.random.default_rng(1)
            steps = run(env, lambda k, due, env=env, rng=rng: {
                a: (rng.uniform(-1, 1, 1).astype(np.float32) if a == "DSO" else hold(env, a))
                for a in due}, 4)
            results[broker] = [o["MG1"].tolist() for o, _ in steps]
        finally:
            env.close()
    assert results["in_memory"] == results[REDIS_URL]
