"""The batched multi-agent environment (:class:`rl_bridge.multi_vector.MultiAgentVectorEnv`):
one world of N copies of the microgrids scenario, each copy playing the episodes of a
PettingZoo env seeded like it, bad actions refused before the world sees them.

The PettingZoo env solves each power flow with lightsim2grid, the batched env with the
batched Z-bus solver; the two agree to ~1e-8 p.u. (tests/test_batched_solver.py), so
observations are compared to 1e-6 and rewards and costs to 1e-6 (as in
tests/test_paths_agree.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rl_bridge import microgrids_v0
from rl_bridge.spaces import ActionError

N = 2
STEPS = 5  # episode length: the 2 x STEPS + 1 steps cross two restarts of every copy
OPTIONS: dict[str, Any] = {"centralized": False, "agent_indicator": True,
                           "price_forecast_steps": 6, "reward_baseline": "exogenous_bill",
                           "episode_length": STEPS}


def _random_actions(env: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {a: rng.uniform(env.action_space(a).low, env.action_space(a).high,
                           size=(env.num_envs, *env.action_space(a).shape)).astype(np.float32)
            for a in env.agents}


@pytest.mark.parametrize("scope", ["agent", "contribution", "system"])
def test_each_copy_plays_the_episodes_of_a_parallel_env_seeded_like_it(scope: str) -> None:
    options = {**OPTIONS, "reward_scope": scope}
    batched = microgrids_v0.vector_env(N, **options)
    singles = [microgrids_v0.parallel_env(**options) for _ in range(N)]
    rng = np.random.default_rng(11)
    try:
        obs, _ = batched.reset(seed=4)
        for i, env in enumerate(singles):
            first, _ = env.reset(seed=4 + i)
            for a in batched.agents:
                np.testing.assert_array_equal(obs[a][i], first[a])
        restarts = 0
        for _ in range(2 * STEPS + 1):
            actions = _random_actions(batched, rng)
            obs, rewards, terminated, truncated, infos = batched.step(actions)
            for i, env in enumerate(singles):
                o, r, _, t, info = env.step({a: actions[a][i] for a in batched.agents})
                for a in batched.agents:
                    assert truncated[a][i] == t[a] and not terminated[a][i]
                    np.testing.assert_allclose(rewards[a][i], r[a], rtol=1e-6, atol=1e-6)
                    np.testing.assert_allclose(infos[a]["cost"][i], info[a]["cost"],
                                               rtol=1e-6, atol=1e-6)
                    np.testing.assert_allclose(infos[a]["cost_baseline"][i],
                                               info[a]["cost_baseline"], rtol=1e-9)
                if not env.agents:  # the copy's episode ended: its last observations kept
                    restarts += 1
                    for a in batched.agents:
                        np.testing.assert_allclose(infos[a]["final_obs"][i], o[a], atol=1e-6)
                    o, _ = env.reset()
                for a in batched.agents:
                    np.testing.assert_allclose(obs[a][i], o[a], atol=1e-6)
        assert restarts == 2 * N
    finally:
        batched.close()
        for env in singles:
            env.close()


def test_an_action_moves_only_its_own_agents_devices_and_zone_bill() -> None:
    """MG2's battery charging at full power in copy 1 raises MG2's cost in copy 1; copy 0
    does not move at all, and the other microgrids of copy 1 only by what the feeder's
    changed voltages do to their zones' losses."""
    env = microgrids_v0.vector_env(N, **OPTIONS)
    try:
        env.reset(seed=0)
        idle = {a: np.zeros((N, *env.action_space(a).shape), np.float32) for a in env.agents}
        _, _, _, _, before = env.step(idle)
        env.reset(seed=0)
        charge = {a: v.copy() for a, v in idle.items()}
        charge["MG2"][1, 0] = env.action_space("MG2").high[0]
        _, _, _, _, after = env.step(charge)
        moved = {a: after[a]["cost"] - before[a]["cost"] for a in env.agents}
        assert moved["MG2"][1] > 1.0  # $: a MWh-scale charge at the hour's price
        for a in env.agents:
            assert moved[a][0] == 0.0
            if a != "MG2":
                assert abs(moved[a][1]) < 1e-3 * moved["MG2"][1]
    finally:
        env.close()


def test_bad_actions_name_the_agent_and_copy_and_leave_every_copy_in_place() -> None:
    env = microgrids_v0.vector_env(N, **OPTIONS)
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=0)
        good = _random_actions(env, rng)
        with pytest.raises(ActionError, match=r"no action for agent\(s\) \['MG3'\]"):
            env.step({a: good[a] for a in ("MG1", "MG2")})
        with pytest.raises(ActionError, match=r"unknown agent\(s\) \['MG9'\]"):
            env.step({**good, "MG9": good["MG1"]})
        bad = {a: v.copy() for a, v in good.items()}
        bad["MG2"][1, 2] = np.nan
        with pytest.raises(ActionError, match=r"'MG2', copy 1: .*dg1.p_mw.* is nan"):
            env.step(bad)
        with pytest.raises(ActionError, match="MG1"):
            env.step({**good, "MG1": good["MG1"][:1]})  # one copy's row missing
        _, _, _, _, infos = env.step(good)
        assert (env.copies.k == 1).all()  # the refused steps did not count
        assert all(np.isfinite(infos[a]["cost"]).all() for a in env.agents)
    finally:
        env.close()


def test_options_the_batched_world_cannot_honour_are_refused_in_one_line() -> None:
    for option in ({"protocol": "p2p"}, {"agent_periods": {"MG1": 2}}):
        with pytest.raises(ValueError, match=f"unknown environment option.*{next(iter(option))}"):
            microgrids_v0.vector_env(1, **option)


def test_the_docstring_options_table_is_the_options_the_env_takes() -> None:
    """Row by row: every option of the module docstring's table is one the env takes, with
    the default the table says, and every option of its own is in the table."""
    import re

    from rl_bridge import multi_vector
    from rl_bridge.options import ENV_DEFAULTS

    doc = multi_vector.__doc__ or ""
    table = doc[doc.index("| argument"):doc.index("| returned")]
    rows = dict(re.findall(r"^\| ``(\w+)``\s+\| (\S+)", table, flags=re.MULTILINE))
    own = {**multi_vector.MULTI_VECTOR_DEFAULTS, "num_envs": 1, "scenario": "microgrids"}
    assert set(rows) == set(own)
    for option, default in own.items():
        written = rows[option].strip("`")
        assert written == (f'"{default}"' if isinstance(default, str) else str(default)), \
            option
    for option in ENV_DEFAULTS:  # the options every env takes are named in the text
        assert f"``{option}``" in doc, option
