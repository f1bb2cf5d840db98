"""Bad actions: refused with a clear ValueError before the co-simulation sees them, or
clipped where that is the documented behaviour; the environment goes on afterwards.

Real environments, real mosaik worlds, real power flows. Every ``step``/``reset`` that
follows a bad action runs under a bounded wait, so a hung event loop fails the test
instead of hanging the suite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import powergrid
from rl_bridge import microgrids_v0
from rl_bridge.env import GridEnv
from rl_bridge.wrappers import NormalizeActionWrapper, NormalizeParallelActions
from scenarios.config import AgentConfig

ENV_IDS = list(powergrid.ENV_IDS)
#: longest wait for one reset/step, s (they take milliseconds; this only catches a hang)
TIMEOUT_S = 60.0
#: episodes long enough that no test here reaches their end by accident
LONG = 50


def bounded(fn: Callable[[], Any], timeout_s: float = TIMEOUT_S) -> Any:
    """``fn()`` in a thread joined with a timeout: its result, or its exception re-raised;
    a call still running after ``timeout_s`` fails the test (a hung event loop)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), f"no answer within {timeout_s} s: the event loop hangs"
    if "error" in out:
        raise out["error"]
    return out["value"]


def middle(space: gym.spaces.Space) -> Any:
    """A valid action: the middle of every continuous range and of every category range."""
    if isinstance(space, gym.spaces.Box):
        return ((space.low.astype(np.float64) + space.high) / 2).astype(np.float32)
    return {"continuous": middle(space["continuous"]),
            "discrete": (space["discrete"].nvec // 2).astype(np.int64)}


class BoxGridEnv(GridEnv):
    """GridEnv on IEEE 13 whose operator controls only the battery and the PV plant, so
    its action space is a plain ``Box`` (every registered id has a ``Dict`` one)."""

    scenario_overrides = {"agents": [AgentConfig(name="operator", devices=["ess1", "pv1"])]}


@pytest.fixture(scope="module")
def dict_env() -> Iterator[gym.Env]:
    env = gym.make("powergrid/IEEE13-v0", episode_length=LONG)
    yield env
    env.close()


@pytest.fixture(scope="module")
def box_env() -> Iterator[gym.Env]:
    env = BoxGridEnv(episode_length=LONG)
    yield env
    env.close()


@pytest.fixture(scope="module")
def parallel() -> Iterator[Any]:
    env = microgrids_v0.parallel_env(max_episode_steps=LONG)
    yield env
    env.close()


@pytest.fixture(scope="module")
def vector() -> Iterator[Any]:
    env = gym.make_vec("powergrid/IEEE13-v0", num_envs=3,
                       vectorization_mode="vector_entry_point", episode_length=LONG)
    yield env
    env.close()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def refused_then_recovers(env: Any, good: Any, bad: Any, match: str, seed: int = 3) -> None:
    """``bad`` raises a one-line ValueError matching ``match``, leaves no trace (the good
    step that follows gives exactly what it gives without the bad one) and ``reset()``
    works afterwards."""
    first, _ = bounded(lambda: env.reset(seed=seed))
    clean = bounded(lambda: env.step(good))[:2]
    again, _ = bounded(lambda: env.reset(seed=seed))
    assert _same(again, first)
    with pytest.raises(ValueError, match=match) as caught:
        bounded(lambda: env.step(bad))
    assert "\n" not in str(caught.value)
    after = bounded(lambda: env.step(good))[:2]
    assert _same(after[0], clean[0]) and _same(after[1], clean[1])  # obs, reward
    with pytest.raises(ValueError, match=match):  # refused mid-episode too
        bounded(lambda: env.step(bad))
    obs, _ = bounded(lambda: env.reset(seed=seed))
    assert _same(obs, first)
    bounded(lambda: env.step(good))


def _edit(part: str | None, index: int | None, value: Any) -> Callable[[Any], Any]:
    """An action edit: ``part``[``index``] = ``value``; ``index`` None replaces the part;
    ``part`` None replaces the whole action."""
    def edit(action: Any) -> Any:
        if part is None:
            return value
        action = dict(action)
        if index is None:
            action[part] = value
        else:
            arr = np.asarray(action[part]).astype(type(value) if isinstance(value, float)
                                                  else action[part].dtype)
            arr[index] = value
            action[part] = arr
        return action
    return edit


def _drop(key: str) -> Callable[[Any], Any]:
    return lambda action: {k: v for k, v in action.items() if k != key}


# IEEE 13 operator: continuous ess1.p_mw, ess1.q_mvar, dg1.p_mw, dg1.q_mvar, pv1.p_limit_mw,
# pv1.q_mvar; discrete dg1.on (2), reg1.position (33), cap 675.position (4), cap 611 (2)
OP = "agent 'operator': "
DICT_CASES = {
    "continuous nan": (_edit("continuous", 2, np.nan),
                       OP + r"action 'continuous'\[2\] \(dg1\.p_mw\) is nan$"),
    "continuous +inf": (_edit("continuous", 0, np.inf),
                        OP + r"action 'continuous'\[0\] \(ess1\.p_mw\) is inf$"),
    "continuous -inf": (_edit("continuous", 5, -np.inf),
                        OP + r"action 'continuous'\[5\] \(pv1\.q_mvar\) is -inf$"),
    "continuous too short": (_edit("continuous", None, np.zeros(5)),
                             OP + r"action 'continuous' has shape \(5,\), expected \(6,\)"
                                  r" \(ess1\.p_mw, .*pv1\.q_mvar\)"),
    "continuous 2-D": (_edit("continuous", None, np.zeros((1, 6))),
                       OP + r"action 'continuous' has shape \(1, 6\), expected \(6,\)"),
    "continuous strings": (_edit("continuous", None, np.array(["0.1"] * 6)),
                           OP + r"action 'continuous' is not numeric \(got ndarray of dtype"
                                r" <U3\)"),
    "continuous None": (_edit("continuous", None, None),
                        OP + r"action 'continuous' is not numeric \(got NoneType"),
    "continuous complex": (_edit("continuous", None, np.zeros(6) + 1j),
                           OP + r"action 'continuous' is not numeric .*complex128"),
    "continuous ragged list": (_edit("continuous", None, [0.0, 0.1, [0.2, 0.3], 0, 0, 0]),
                               OP + r"action 'continuous' is not an array of numbers"),
    "discrete nan": (_edit("discrete", 1, np.nan),
                     OP + r"action 'discrete'\[1\] \(reg1\.position\) is nan$"),
    "discrete inf": (_edit("discrete", 0, np.inf),
                     OP + r"action 'discrete'\[0\] \(dg1\.on\) is inf$"),
    "discrete not integral": (_edit("discrete", 2, 1.5),
                              OP + r"action 'discrete'\[2\] \(cap 675\.position\) = 1\.5 is"
                                   r" not an integer$"),
    "discrete negative": (_edit("discrete", 1, -1),
                          OP + r"action 'discrete'\[1\] \(reg1\.position\) = -1 is outside"
                               r" 0\.\.32$"),
    "discrete one past the end": (_edit("discrete", 1, 33),
                                  OP + r"action 'discrete'\[1\] \(reg1\.position\) = 33 is"
                                       r" outside 0\.\.32$"),
    "discrete huge float": (_edit("discrete", 3, 1e30),
                            OP + r"action 'discrete'\[3\] \(cap 611\.position\) = 1e\+30 is"
                                 r" outside 0\.\.1$"),
    "discrete wrong shape": (_edit("discrete", None, np.zeros(3, dtype=np.int64)),
                             OP + r"action 'discrete' has shape \(3,\), expected \(4,\)"
                                  r" \(dg1\.on, reg1\.position, cap 675\.position,"
                                  r" cap 611\.position\)"),
    "discrete strings": (_edit("discrete", None, ["a", "b", "c", "d"]),
                         OP + r"action 'discrete' is not numeric"),
    "flat array for a Dict space": (_edit(None, None, np.zeros(10)),
                                    OP + r"action must be a dict with keys 'continuous' and"
                                         r" 'discrete', got ndarray"),
    "None": (_edit(None, None, None), OP + r"action must be a dict .* got NoneType"),
    "missing key": (_drop("discrete"), OP + r"action must be a dict .*; missing \['discrete'\]"),
    "unknown key": (lambda a: {**a, "extra": 1}, OP + r"action must be a dict .*; unknown"
                                                      r" \['extra'\]"),
}


@pytest.mark.parametrize("case", list(DICT_CASES))
def test_dict_action_space_refuses_bad_actions_and_goes_on(dict_env, case):
    edit, match = DICT_CASES[case]
    good = middle(dict_env.action_space)
    refused_then_recovers(dict_env, good, edit({k: v.copy() for k, v in good.items()}), match)


BOX_CASES = {
    "nan": (lambda a: np.where(np.arange(4) == 3, np.nan, a),
            OP + r"action\[3\] \(pv1\.q_mvar\) is nan$"),
    "-inf": (lambda a: np.where(np.arange(4) == 0, -np.inf, a),
             OP + r"action\[0\] \(ess1\.p_mw\) is -inf$"),
    "too long": (lambda a: np.zeros(5, dtype=np.float32),
                 OP + r"action has shape \(5,\), expected \(4,\) \(ess1\.p_mw, ess1\.q_mvar,"
                      r" pv1\.p_limit_mw, pv1\.q_mvar\)"),
    "scalar": (lambda a: np.float32(0.1), OP + r"action has shape \(\), expected \(4,\)"),
    "strings": (lambda a: "0.1", OP + r"action is not numeric \(got str"),
    "a dict": (lambda a: {"continuous": a, "discrete": np.zeros(0)},
               OP + r"action must be an array of 4 values \(ess1\.p_mw, .*\), got a dict"),
}


@pytest.mark.parametrize("case", list(BOX_CASES))
def test_box_action_space_refuses_bad_actions_and_goes_on(box_env, case):
    assert isinstance(box_env.action_space, gym.spaces.Box)
    edit, match = BOX_CASES[case]
    good = middle(box_env.action_space)
    refused_then_recovers(box_env, good, edit(good.copy()), match)


def _with(agent: str, make: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda actions: {**actions, agent: make(actions[agent])}


PARALLEL_CASES = {
    "not a dict": (lambda acts: [acts["MG1"], acts["MG2"], acts["MG3"]],
                   r"^actions must be a dict \{agent: action\} for \['MG1', 'MG2', 'MG3'\],"
                   r" got list$"),
    "unknown agent": (lambda acts: {**acts, "MG4": acts["MG1"]},
                      r"^unknown agent\(s\) \['MG4'\] \(agents: MG1, MG2, MG3\)$"),
    "missing agent": (lambda acts: {a: v for a, v in acts.items() if a != "MG2"},
                      r"^no action for agent\(s\) \['MG2'\] \(due to act: MG1, MG2, MG3\)$"),
    "nan for one agent": (_with("MG2", lambda a: np.where(np.arange(4) == 0, np.nan, a)),
                          r"^agent 'MG2': action\[0\] \(MG2\.ess1\.p_mw\) is nan$"),
    "inf for one agent": (_with("MG3", lambda a: np.where(np.arange(4) == 2, np.inf, a)),
                          r"^agent 'MG3': action\[2\] \(MG3\.dg1\.p_mw\) is inf$"),
    "wrong shape for one agent": (_with("MG1", lambda a: a[:3]),
                                  r"^agent 'MG1': action has shape \(3,\), expected \(4,\)"),
    "dtype object for one agent": (_with("MG1", lambda a: [None] * 4),
                                   r"^agent 'MG1': action is not numeric"),
    "a dict for a Box agent": (_with("MG1", lambda a: {"continuous": a}),
                               r"^agent 'MG1': action must be an array of 4 values"),
}


@pytest.mark.parametrize("case", list(PARALLEL_CASES))
def test_parallel_env_refuses_bad_joint_actions_and_goes_on(parallel, case):
    edit, match = PARALLEL_CASES[case]
    good = {a: middle(parallel.action_space(a)) for a in parallel.possible_agents}
    refused_then_recovers(parallel, good, edit(dict(good)), match)
    assert parallel.agents == parallel.possible_agents


def _rows(action: Any, n: int) -> Any:
    if isinstance(action, dict):
        return {k: np.repeat(np.asarray(v)[None], n, axis=0) for k, v in action.items()}
    return np.repeat(np.asarray(action)[None], n, axis=0)


def _cell(part: str, copy: int, index: int, value: Any) -> Callable[[Any], Any]:
    def edit(actions: Any) -> Any:
        arr = np.asarray(actions[part]).astype(np.float64)
        arr[copy, index] = value
        return {**actions, part: arr}
    return edit


VECTOR_CASES = {
    "nan in copy 1": (_cell("continuous", 1, 2, np.nan),
                      r"^agent 'operator', copy 1: action 'continuous'\[2\] \(dg1\.p_mw\)"
                      r" is nan$"),
    "inf in copy 2": (_cell("continuous", 2, 4, -np.inf),
                      r"^agent 'operator', copy 2: action 'continuous'\[4\]"
                      r" \(pv1\.p_limit_mw\) is -inf$"),
    "discrete out of range in copy 2": (_cell("discrete", 2, 2, 4),
                                        r"^agent 'operator', copy 2: action 'discrete'\[2\]"
                                        r" \(cap 675\.position\) = 4\.0 is outside 0\.\.3$"),
    "discrete not integral in copy 0": (_cell("discrete", 0, 0, 0.25),
                                        r"^agent 'operator', copy 0: action 'discrete'\[0\]"
                                        r" \(dg1\.on\) = 0\.25 is not an integer$"),
    "one copy's action (no batch axis)": (lambda acts: {k: v[0] for k, v in acts.items()},
                                          r"^agent 'operator': action 'continuous' has shape"
                                          r" \(6,\), expected \(3, 6\)"),
    "too few copies": (lambda acts: {k: v[:2] for k, v in acts.items()},
                       r"^agent 'operator': action 'continuous' has shape \(2, 6\),"
                       r" expected \(3, 6\)"),
    "strings": (lambda acts: {**acts, "continuous": np.full((3, 6), "x")},
                r"^agent 'operator': action 'continuous' is not numeric"),
    "not a dict": (lambda acts: acts["continuous"],
                   r"^agent 'operator': action must be a dict with keys 'continuous' and"
                   r" 'discrete', got ndarray$"),
}


@pytest.mark.parametrize("case", list(VECTOR_CASES))
def test_vector_env_refuses_bad_batches_and_goes_on(vector, case):
    edit, match = VECTOR_CASES[case]
    good = _rows(middle(vector.single_action_space), vector.num_envs)
    refused_then_recovers(vector, good, edit(dict(good)), match)


def test_lists_ints_and_integral_floats_are_accepted_as_the_same_action(dict_env):
    good = middle(dict_env.action_space)
    bounded(lambda: dict_env.reset(seed=8))
    reference = bounded(lambda: dict_env.step(good))[:2]
    loose = {"continuous": [float(x) for x in good["continuous"]],
             "discrete": good["discrete"].astype(np.float64)}  # 16.0 is category 16
    bounded(lambda: dict_env.reset(seed=8))
    obs, reward = bounded(lambda: dict_env.step(loose))[:2]
    assert _same(obs, reference[0]) and reward == reference[1]


# -- finite values outside the Box: clipped by the devices, counted in info -----------------

def _beyond(sign: np.ndarray) -> np.ndarray:
    """1e30 where ``sign`` > 0, -1e30 elsewhere."""
    return np.where(sign > 0, 1e30, -1e30)


def _limits(spec: Any, sign: np.ndarray) -> np.ndarray:
    """The devices' own limits (float64; the float32 Box bounds round them outwards): the
    high one where ``sign`` > 0, the low one elsewhere."""
    return np.where(sign > 0, spec.high, spec.low)


SIGNS = np.array([1, -1, 1, -1, 1, -1])


def test_huge_setpoints_act_like_the_device_limits_and_are_counted(dict_env):
    spec = dict_env.unwrapped.scenario.specs["operator"]
    discrete = middle(dict_env.action_space)["discrete"]
    runs = []
    for continuous in (_limits(spec, SIGNS), _beyond(SIGNS)):
        bounded(lambda: dict_env.reset(seed=4))
        obs, reward, _, _, info = bounded(lambda c=continuous: dict_env.step(
            {"continuous": c, "discrete": discrete}))
        obs2, reward2, _, _, info2 = bounded(lambda c=continuous: dict_env.step(
            {"continuous": c, "discrete": discrete}))
        runs.append((obs, reward, obs2, reward2, info2["clipped_setpoints"], info2))
    edge, beyond = runs
    assert edge[4] == 0 and beyond[4] == 6
    for a, b in zip(edge[:4], beyond[:4], strict=True):
        assert np.array_equal(a, b)  # the devices clipped 1e30 to exactly their limits
    assert beyond[5]["cost_terms"] == edge[5]["cost_terms"]


def test_parallel_huge_setpoints_act_like_the_limits_and_are_counted(parallel):
    runs = []
    for value in ("edge", "beyond"):
        bounded(lambda: parallel.reset(seed=2))
        sign = np.array([1, -1, 1, 1])
        acts = {a: _limits(parallel.scenario.specs[a], sign) if value == "edge"
                else _beyond(sign) for a in parallel.possible_agents}
        runs.append(bounded(lambda acts=acts: parallel.step(acts)))
    (obs_e, rew_e, *_, inf_e), (obs_b, rew_b, *_, inf_b) = runs
    assert all(np.array_equal(obs_e[a], obs_b[a]) for a in obs_e) and rew_e == rew_b
    assert {a: i["clipped_setpoints"] for a, i in inf_b.items()} == dict.fromkeys(rew_b, 4)
    assert all(i["clipped_setpoints"] == 0 for i in inf_e.values())


def test_vector_huge_setpoints_act_like_the_limits_and_are_counted_per_copy(vector):
    good = _rows(middle(vector.single_action_space), vector.num_envs)
    edge = _rows(_limits(vector.action_spec, SIGNS), vector.num_envs)
    mixed = edge.copy()
    mixed[1, [0, 3]] = [1e30, -1e300]  # copy 1: two values beyond, at the same limits
    bounded(lambda: vector.reset(seed=5))
    obs_e, rew_e, *_, inf_e = bounded(lambda: vector.step({**good, "continuous": edge}))
    bounded(lambda: vector.reset(seed=5))
    obs_m, rew_m, *_, inf_m = bounded(lambda: vector.step({**good, "continuous": mixed}))
    assert np.array_equal(obs_e, obs_m) and np.array_equal(rew_e, rew_m)
    assert inf_e["clipped_setpoints"].tolist() == [0, 0, 0]
    assert inf_m["clipped_setpoints"].tolist() == [0, 2, 0]


# -- the [-1, 1] wrappers: documented clipping, nan as 0, counted once ----------------------

def test_normalize_wrapper_clips_counts_and_takes_nan_as_the_middle(dict_env):
    env = NormalizeActionWrapper(dict_env.unwrapped)
    discrete = middle(dict_env.action_space)["discrete"]
    results = {}
    for name, cont in {"reference": [1, -1, 0, 0, 1, 0], "beyond": [7, -np.inf, np.nan, 0,
                                                                     np.inf, -0.0]}.items():
        bounded(lambda: env.reset(seed=6))
        results[name] = bounded(lambda c=cont: env.step(
            {"continuous": np.array(c, dtype=np.float32), "discrete": discrete}))
    ref, beyond = results["reference"], results["beyond"]
    assert np.array_equal(ref[0], beyond[0]) and ref[1] == beyond[1]
    assert ref[4]["clipped_actions"] == 0 and beyond[4]["clipped_actions"] == 4
    assert beyond[4]["clipped_setpoints"] == 0  # rescaled values are inside the Box
    with pytest.raises(ValueError, match=r"^agent 'operator': action 'continuous' has shape"
                                         r" \(5,\), expected \(6,\) \(ess1\.p_mw, "):
        bounded(lambda: env.step({"continuous": np.zeros(5), "discrete": discrete}))
    with pytest.raises(ValueError, match=r"^agent 'operator': action 'discrete'\[1\]"
                                         r" \(reg1\.position\) = 40 is outside 0\.\.32$"):
        bounded(lambda: env.step({"continuous": np.zeros(6),
                                  "discrete": np.array([0, 40, 0, 0])}))
    with pytest.raises(ValueError, match=r"^agent 'operator': action must be a dict"):
        bounded(lambda: env.step(np.zeros(6)))
    bounded(lambda: env.step({"continuous": np.zeros(6), "discrete": discrete}))


def test_normalize_parallel_actions_clip_count_and_refuse_unknown_agents(parallel):
    env = NormalizeParallelActions(parallel)
    bounded(lambda: env.reset(seed=1))
    acts = {a: np.zeros(4, dtype=np.float32) for a in env.possible_agents}
    acts["MG1"] = np.array([np.nan, 2.0, -np.inf, 0.5], dtype=np.float32)
    _, rewards, _, _, infos = bounded(lambda: env.step(acts))
    assert {a: i["clipped_actions"] for a, i in infos.items()} == {"MG1": 3, "MG2": 0, "MG3": 0}
    assert all(np.isfinite(r) for r in rewards.values())
    with pytest.raises(ValueError, match=r"^unknown agent\(s\) \['DSO'\]"):
        bounded(lambda: env.step({**acts, "DSO": np.zeros(1)}))
    with pytest.raises(ValueError, match=r"^agent 'MG2': action has shape \(2,\), expected"
                                         r" \(4,\) \(MG2\.ess1\.p_mw, "):
        bounded(lambda: env.step({**acts, "MG2": np.zeros(2)}))
    bounded(lambda: env.step(acts))


# -- property: random action sequences with extreme values stay in the spaces ---------------

EXTREMES = [0.0, -0.0, 1e30, -1e30, 1e300, -1e300, 1e-30, -1e-30, 5e-324,
            float(np.finfo(np.float32).max), -float(np.finfo(np.float32).max)]
EPISODE = 3
KINDS = [*ENV_IDS, "microgrids_v0", "vector"]


def _value(low: float, high: float) -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from([*EXTREMES, low, high]),
                     st.floats(min_value=low, max_value=high, width=32),
                     st.floats(allow_nan=False, allow_infinity=False))


def _action(space: gym.spaces.Space) -> st.SearchStrategy[Any]:
    if isinstance(space, gym.spaces.Box):
        return st.tuples(*[_value(float(lo), float(hi)) for lo, hi in
                           zip(space.low, space.high, strict=True)]).map(np.array)
    return st.fixed_dictionaries({
        "continuous": _action(space["continuous"]),
        "discrete": st.tuples(*[st.integers(0, int(n) - 1) for n in space["discrete"].nvec]
                              ).map(lambda d: np.array(d, dtype=np.int64))})


def _outside(space: gym.spaces.Space, action: Any) -> int:
    box = space if isinstance(space, gym.spaces.Box) else space["continuous"]
    c = np.asarray(action if isinstance(space, gym.spaces.Box) else action["continuous"])
    return int(((c < box.low) | (c > box.high)).sum())


@pytest.fixture(scope="module")
def any_env() -> Iterator[Callable[[str], Any]]:
    made: dict[str, Any] = {}

    def get(kind: str) -> Any:
        if kind not in made:
            if kind == "microgrids_v0":
                made[kind] = microgrids_v0.parallel_env(max_episode_steps=EPISODE)
            elif kind == "vector":
                made[kind] = gym.make_vec("powergrid/IEEE13-v0", num_envs=2,
                                          vectorization_mode="vector_entry_point",
                                          episode_length=EPISODE)
            else:
                made[kind] = gym.make(kind, episode_length=EPISODE)
        return made[kind]

    yield get
    for env in made.values():
        env.close()


def _check_single(env: gym.Env, seed: int, actions: list[Any]) -> None:
    obs, _ = bounded(lambda: env.reset(seed=seed))
    assert env.observation_space.contains(obs)
    for action in actions:
        obs, reward, terminated, truncated, info = bounded(lambda a=action: env.step(a))
        assert env.observation_space.contains(obs), obs
        assert np.isfinite(reward) and not terminated
        assert np.isfinite(info["cost"]) and np.isfinite(info["safety"])
        assert info["clipped_setpoints"] == _outside(env.action_space, action)
        if truncated:
            obs, _ = bounded(lambda: env.reset())
            assert env.observation_space.contains(obs)


def _check_parallel(env: Any, seed: int, actions: list[dict[str, Any]]) -> None:
    obs, _ = bounded(lambda: env.reset(seed=seed))
    for joint in actions:
        obs, rewards, terminations, truncations, infos = bounded(lambda j=joint: env.step(j))
        for a in obs:
            assert env.observation_space(a).contains(obs[a]), (a, obs[a])
            assert np.isfinite(rewards[a]) and not terminations[a]
            assert infos[a]["clipped_setpoints"] == _outside(env.action_space(a), joint[a])
        if not env.agents:
            obs, _ = bounded(lambda: env.reset())


def _check_vector(env: Any, seed: int, actions: list[list[Any]]) -> None:
    obs, _ = bounded(lambda: env.reset(seed=seed))
    space = env.single_action_space
    for rows in actions:
        batch = {k: np.stack([r[k] for r in rows]) for k in ("continuous", "discrete")}
        obs, rewards, terminated, _, infos = bounded(lambda b=batch: env.step(b))
        assert env.observation_space.contains(obs)
        assert np.isfinite(rewards).all() and not terminated.any()
        assert infos["clipped_setpoints"].tolist() == [_outside(space, r) for r in rows]


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=12, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_extreme_action_sequences_keep_observations_in_their_spaces(any_env, kind, data, seed):
    env = any_env(kind)
    steps = st.integers(1, EPISODE + 2)  # through an episode end now and then
    if kind == "microgrids_v0":
        joint = st.fixed_dictionaries({a: _action(env.action_space(a))
                                       for a in env.possible_agents})
        _check_parallel(env, seed, data.draw(st.lists(joint, min_size=1, max_size=EPISODE + 2)))
    elif kind == "vector":
        rows = st.lists(_action(env.single_action_space), min_size=env.num_envs,
                        max_size=env.num_envs)
        _check_vector(env, seed, data.draw(st.lists(rows, min_size=1, max_size=EPISODE + 2)))
    else:
        n = data.draw(steps)
        _check_single(env, seed, data.draw(st.lists(_action(env.action_space), min_size=n,
                                                    max_size=n)))
