"""``powergrid bench``: environment throughput, side by side, in one process.

Every figure is measured with random actions on this machine, in one process (the
vector-env rows use subprocesses, as Gymnasium's AsyncVectorEnv does). Rows:

* ``ieee13`` single-agent env through the co-simulation, fast backend, and the
  same with ``solver="pandapower"`` (one runpp per step) and the ratio;
* ``grid2op``: the reference, Grid2Op with its ``LightSimBackend`` on
  ``l2rpn_case14_sandbox`` (``test=True``), do-nothing actions, in the same process
  right after the IEEE 13 row, and the IEEE 13 env's ratio to it; skipped with a note
  without the ``bench`` extra;
* ``microgrids`` with all agents acting, centralized (protocol ``none``: the PettingZoo
  env on the one-copy core, one world for every episode) and distributed (``p2p``: the
  agents federate's messages, a world per episode);
* ``reset``: median time of an episode reset;
* ``scaling``: steps/s and time per step against bus count;
* ``federates``: where an IEEE 13 step goes;
* ``vector``: AsyncVectorEnv with 1 and 2 copies;
* ``batched``: the batched IEEE 13 env (one world, N copies) for N = 1, 16, 64, 256;
* ``batched_multi``: the batched microgrids env (one world, N copies of the three
  agents; :func:`rl_bridge.microgrids_v0.vector_env`) for N = 16, 64, in agent-steps/s;
* ``three_phase``: the env of each scenario with a three-phase model
  (``physics="three_phase"``, OpenDSS; the microgrids' parallel env, the others'
  single-agent env), skipped with a note without the
  ``three-phase`` extra;
* ``command line``: wall time of ``powergrid --help``, ``powergrid list`` and
  ``powergrid run ieee13`` (one test week, start-up and figure included), each a fresh
  process, median of three;
* ``peak memory`` of the process.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Any, cast

QUICK = {"steps": 300, "pp_steps": 40, "resets": 15, "scale_steps": 150, "vector_steps": 150,
         "batch_steps": 30}
FULL = {"steps": 3000, "pp_steps": 200, "resets": 60, "scale_steps": 1000, "vector_steps": 1500,
        "batch_steps": 300}
BATCH_SIZES = (1, 16, 64, 256)
#: copies of the microgrids in the batched multi-agent world
MULTI_BATCH_SIZES = (16, 64)
SCALING = ("ieee13", "ieee34", "cigre_mv", "microgrids", "radial1000")


def _single(scenario: str, **kwargs: Any) -> Any:
    from rl_bridge.env import GridEnv

    return GridEnv(scenario=scenario, episode_length=24, train=True, **kwargs)


def _multi(**kwargs: Any) -> Any:
    from rl_bridge import microgrids_v0

    return microgrids_v0.parallel_env(max_episode_steps=24, train=True, **kwargs)


def _run_single(env: Any, steps: int) -> float:
    """Env steps/s over ``steps`` random steps, resets (every 24 steps) included, after a
    warm-up episode (first calls compile numba kernels, fill caches)."""
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(24):
        env.step(env.action_space.sample())
    env.reset()
    actions = [env.action_space.sample() for _ in range(steps)]
    t0 = time.perf_counter()
    for action in actions:
        if env.step(action)[3]:
            env.reset()
    return steps / (time.perf_counter() - t0)


def run_multi(env: Any, steps: int) -> float:
    """Parallel steps/s (every agent acting) over ``steps`` steps, resets included; the
    random actions drawn before the clock starts, as :func:`_run_single` does (the
    figure is the environment's, not Gymnasium's sampler's)."""
    obs, _ = env.reset(seed=0)
    for agent in env.possible_agents:
        env.action_space(agent).seed(0)
    actions = [{a: env.action_space(a).sample() for a in env.possible_agents}
               for _ in range(steps)]
    t0 = time.perf_counter()
    for joint in actions:
        obs, _, _, _, _ = env.step({a: joint[a] for a in obs})
        if not env.agents:
            obs, _ = env.reset()
    return steps / (time.perf_counter() - t0)


def _closing(make: Callable[[], Any], run: Callable[[Any, int], float], steps: int) -> float:
    env = make()
    try:
        return run(env, steps)
    finally:
        env.close()


def reset_ms(n: int) -> float:
    """Median wall time of ``reset()`` of the IEEE 13 env, in ms."""
    env = _single("ieee13")
    try:
        env.reset(seed=0)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            env.reset()
            times.append(time.perf_counter() - t0)
        return 1000.0 * statistics.median(times)
    finally:
        env.close()


def federate_us(steps: int) -> dict[str, float]:
    """Microseconds per IEEE 13 env step spent in each federate (and in the rest)."""
    from powergrid.observation import AgentView
    from simulators.agents import BatchLearnerSim
    from simulators.devices import DevicesSim
    from simulators.feeds import FeedsSim
    from simulators.grid import GridSim

    spent: dict[str, float] = defaultdict(float)
    patched = []
    targets = [(GridSim, ("step", "get_data"), "grid"), (DevicesSim, ("step", "get_data"),
                                                          "devices"),
               (FeedsSim, ("step", "get_data"), "feeds"),
               (BatchLearnerSim, ("get_data",), "agents (learner hand-off)"),
               (AgentView, ("vectors", "accounts"), "env (observation, reward)")]
    for cls, methods, name in targets:
        for method in methods:
            original = getattr(cls, method)
            patched.append((cls, method, original))

            def timed(self: Any, *args: Any, _f: Any = original, _n: str = name,
                      **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return _f(self, *args, **kwargs)
                finally:
                    spent[_n] += time.perf_counter() - t0

            setattr(cls, method, timed)
    try:
        env = _single("ieee13")
        try:
            _run_single(env, 50)
            spent.clear()
            t0 = time.perf_counter()
            rate = _run_single(env, steps)
            total = time.perf_counter() - t0
        finally:
            env.close()
    finally:
        for cls, method, original in patched:
            setattr(cls, method, original)
    out = {name: 1e6 * seconds / steps for name, seconds in spent.items()}
    out["mosaik scheduling, bridge, resets"] = 1e6 * (total - sum(spent.values())) / steps
    out["total"] = 1e6 / rate
    return out


def _vector_rate(copies: int, steps: int) -> float:
    import gymnasium as gym

    import powergrid  # noqa: F401 - registers the ids

    envs = gym.vector.AsyncVectorEnv([lambda: gym.make("powergrid/IEEE13-v0", episode_length=24)
                                      for _ in range(copies)])
    try:
        envs.reset(seed=0)
        envs.action_space.seed(0)
        t0 = time.perf_counter()
        for _ in range(steps):
            envs.step(envs.action_space.sample())
        return copies * steps / (time.perf_counter() - t0)
    finally:
        envs.close()


def batched_rate(num_envs: int, steps: int) -> float:
    """Env steps/s (all copies) of the batched IEEE 13 env, random actions, autoresets
    (24-step episodes) included."""
    import gymnasium as gym

    import powergrid  # noqa: F401 - registers the ids

    env = gym.make_vec("powergrid/IEEE13-v0", num_envs=num_envs,
                       vectorization_mode="vector_entry_point", episode_length=24)
    try:
        env.reset(seed=0)
        env.action_space.seed(0)
        actions = [env.action_space.sample() for _ in range(steps + 5)]
        for action in actions[:5]:
            env.step(action)
        t0 = time.perf_counter()
        for action in actions[5:]:
            env.step(action)
        return num_envs * steps / (time.perf_counter() - t0)
    finally:
        env.close()


def batched_multi_rate(num_envs: int, steps: int) -> float:
    """Agent-steps/s (all copies, three agents each) of the batched microgrids env
    (:func:`rl_bridge.microgrids_v0.vector_env`, each agent its zone, the recipe's
    options), random actions, autoresets (24-step episodes) included."""
    from rl_bridge import microgrids_v0

    env = microgrids_v0.vector_env(num_envs, centralized=False, episode_length=24,
                                   agent_indicator=True, price_forecast_steps=24,
                                   reward_baseline="exogenous_bill")
    try:
        env.reset(seed=0)
        for k, space in enumerate(env.action_spaces.values()):
            space.seed(k)
        actions = [{a: space.sample() for a, space in env.action_spaces.items()}
                   for _ in range(steps + 5)]
        for action in actions[:5]:
            env.step(action)
        t0 = time.perf_counter()
        for action in actions[5:]:
            env.step(action)
        return len(env.agents) * num_envs * steps / (time.perf_counter() - t0)
    finally:
        env.close()


def grid2op_rate(steps: int) -> dict[str, Any]:
    """Grid2Op's env steps/s with its lightsim2grid backend on ``l2rpn_case14_sandbox``
    (the package's test copy), do-nothing actions, resets at episode end included, after
    a warm-up; ``{"skipped": why}`` without grid2op."""
    try:
        import grid2op
        from lightsim2grid import LightSimBackend
    except ImportError:
        return {"skipped": "grid2op not installed (pip install -e '.[bench]')"}
    env = grid2op.make("l2rpn_case14_sandbox", test=True, backend=LightSimBackend())
    try:
        env.seed(0)
        env.reset()
        nothing = env.action_space({})
        for _ in range(24):
            env.step(nothing)
        env.reset()
        t0 = time.perf_counter()
        for _ in range(steps):
            if env.step(nothing)[2]:
                env.reset()
        return {"steps_per_s": steps / (time.perf_counter() - t0),
                "version": str(grid2op.__version__)}
    finally:
        env.close()


#: the commands the command-line rows time (argv after ``powergrid``)
CLI_COMMANDS = {"powergrid --help": ["--help"], "powergrid list": ["list"],
                "powergrid run ieee13": ["run", "ieee13", "--quiet"]}


def cli_seconds(repeats: int = 3) -> dict[str, float]:
    """Median wall time (s) of each of :data:`CLI_COMMANDS` as a fresh process (``python
    -m powergrid.cli``, what the ``powergrid`` script runs), the run into a temporary
    folder."""
    import subprocess
    import sys
    import tempfile

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, argv in CLI_COMMANDS.items():
            extra = ["--out", f"{tmp}/run"] if argv[0] == "run" else []
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "powergrid.cli", *argv, *extra],
                               check=True, capture_output=True)
                times.append(time.perf_counter() - t0)
            out[label] = statistics.median(times)
    return out


def three_phase_rates(steps: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Steps/s of each scenario with a three-phase model on three-phase physics: the
    single-agent env, the microgrids' parallel env (all agents acting); ``{"skipped":
    why}`` without OpenDSSDirect.py."""
    try:
        import opendssdirect  # noqa: F401
    except ImportError:
        return {"skipped": "OpenDSSDirect.py not installed (pip install -e '.[three-phase]')"}
    from powergrid.networks.three_phase import FEEDERS

    rates: dict[str, Any] = {}
    for scenario in sorted(FEEDERS):
        log(f"{scenario}, three-phase physics ...")
        if scenario == "microgrids":
            rates[scenario] = _closing(lambda: _multi(physics="three_phase"), run_multi, steps)
            continue
        rates[scenario] = _closing(
            cast("Callable[[], Any]", lambda s=scenario: _single(s, physics="three_phase")),
            _run_single, steps)
    return rates


def _bus_count(scenario: str) -> int:
    from scenarios import get_config
    from scenarios.prepare import prepare

    return len(prepare(get_config(scenario)).net.bus)


def run_bench(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure everything; return the results as a JSON-clean dict."""
    warnings.filterwarnings("ignore")
    n = QUICK if quick else FULL
    results: dict[str, Any] = {"quick": quick, "machine": {
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "processor": platform.processor() or "?"}}
    log("IEEE 13 single agent (fast backend) ...")
    fast = _closing(lambda: _single("ieee13"), _run_single, n["steps"])
    log("IEEE 13 single agent (solver='pandapower') ...")
    slow = _closing(lambda: _single("ieee13", solver="pandapower"), _run_single, n["pp_steps"])
    results["ieee13"] = {"fast_steps_per_s": fast, "pandapower_steps_per_s": slow,
                         "speedup": fast / slow}
    log("Grid2Op + LightSimBackend, l2rpn_case14_sandbox ...")
    results["grid2op"] = grid2op_rate(n["steps"])
    if "steps_per_s" in results["grid2op"]:
        results["grid2op"]["ieee13_ratio"] = fast / results["grid2op"]["steps_per_s"]
    log("microgrids, all agents acting ...")
    results["microgrids"] = {
        "centralized_steps_per_s": _closing(lambda: _multi(centralized=True), run_multi,
                                            n["steps"] // 2),
        "distributed_steps_per_s": _closing(lambda: _multi(centralized=False, protocol="p2p"),
                                            run_multi, n["steps"] // 2)}
    log("reset ...")
    results["reset_ms"] = reset_ms(n["resets"])
    log("scaling ...")
    scaling = []
    for scenario in SCALING:
        if scenario == "microgrids":
            rate = _closing(lambda: _multi(), run_multi, n["scale_steps"])
        else:
            # (cast: mypy cannot infer a lambda with a default argument)
            rate = _closing(cast("Callable[[], Any]", lambda s=scenario: _single(s)), _run_single,
                            n["scale_steps"])
        scaling.append({"scenario": scenario, "buses": _bus_count(scenario),
                        "steps_per_s": rate, "us_per_step": 1e6 / rate})
    results["scaling"] = scaling
    log("where an IEEE 13 step goes ...")
    results["federates_us_per_step"] = federate_us(n["steps"] // 2)
    log("AsyncVectorEnv ...")
    one = _vector_rate(1, n["vector_steps"])
    two = _vector_rate(2, n["vector_steps"])
    results["vector"] = {"one_copy_steps_per_s": one, "two_copies_steps_per_s": two,
                         "ratio": two / one, "single_env_steps_per_s": fast}
    log("batched environments ...")
    results["batched"] = [{"num_envs": n_envs, "steps_per_s": batched_rate(n_envs,
                                                                          n["batch_steps"])}
                          for n_envs in BATCH_SIZES]
    log("batched microgrids ...")
    results["batched_multi"] = [{"num_envs": n_envs, "agent_steps_per_s": batched_multi_rate(
        n_envs, n["batch_steps"] // 3)} for n_envs in MULTI_BATCH_SIZES]
    results["three_phase"] = three_phase_rates(n["scale_steps"], log)
    log("command line ...")
    results["cli_s"] = cli_seconds(1 if quick else 3)
    results["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return results


TARGETS = (
    ("IEEE 13 single agent >= 1.0x Grid2Op + LightSimBackend",
     lambda r: r.get("grid2op", {}).get("ieee13_ratio", 0.0) >= 1.0),
    ("IEEE 13 >= 40x solver='pandapower'", lambda r: r["ieee13"]["speedup"] >= 40),
    ("microgrids >= 600 parallel steps/s",
     lambda r: r["microgrids"]["centralized_steps_per_s"] >= 600),
    ("reset <= 5 ms median", lambda r: r["reset_ms"] <= 5.0),
    ("1,000-bus feeder >= 300 steps/s",
     lambda r: next(s for s in r["scaling"] if s["scenario"] == "radial1000")["steps_per_s"]
     >= 300),
    ("AsyncVectorEnv 2 copies >= 1.6x one copy", lambda r: r["vector"]["ratio"] >= 1.6),
    ("batched IEEE 13, N = 256 >= 100,000 steps/s",
     lambda r: r["batched"][-1]["steps_per_s"] >= 100_000),
    ("batched microgrids, N = 64 >= 20,000 agent-steps/s",
     lambda r: next((b["agent_steps_per_s"] for b in r.get("batched_multi", [])
                     if b["num_envs"] == 64), 0.0) >= 20_000),
    ("IEEE 13 three-phase single agent >= 300 steps/s",
     lambda r: r.get("three_phase", {}).get("ieee13", 0.0) >= 300),
    ("powergrid --help and powergrid list < 1 s",
     lambda r: max(r.get("cli_s", {}).get(k, 1e9) for k in ("powergrid --help",
                                                              "powergrid list")) < 1.0),
    ("powergrid run ieee13 (one week) < 4 s", lambda r: r.get("cli_s", {}).get(
        "powergrid run ieee13", 1e9) < 4.0),
)


def _grid2op_row(g2o: dict[str, Any]) -> str:
    if "steps_per_s" not in g2o:
        return f"| Grid2Op + LightSimBackend, case 14 | skipped: {g2o.get('skipped', '?')} |"
    return (f"| Grid2Op {g2o['version']} + LightSimBackend, case 14 (do nothing) |"
            f" {g2o['steps_per_s']:,.0f} steps/s (IEEE 13 env: {g2o['ieee13_ratio']:.2f}x) |")


def format_table(r: dict[str, Any]) -> str:
    """The results as the table ``powergrid bench`` prints."""
    lines = [f"powergrid bench{' --quick' if r['quick'] else ''}: {r['machine']['cpu_count']}"
             f" CPUs, Python {r['machine']['python']}, {r['machine']['platform']}", ""]
    i13 = r["ieee13"]
    lines += ["| measure | value |", "|---|---|",
              f"| IEEE 13 env, fast backend | {i13['fast_steps_per_s']:,.0f} steps/s |",
              f"| IEEE 13 env, solver='pandapower' | {i13['pandapower_steps_per_s']:,.1f}"
              f" steps/s |",
              f"| speed-up | {i13['speedup']:,.1f}x |",
              _grid2op_row(r.get("grid2op", {})),
              f"| microgrids, 3 agents, centralized | "
              f"{r['microgrids']['centralized_steps_per_s']:,.0f} steps/s |",
              f"| microgrids, 3 agents, distributed (p2p) | "
              f"{r['microgrids']['distributed_steps_per_s']:,.0f} steps/s |",
              f"| reset (median) | {r['reset_ms']:.2f} ms |",
              f"| AsyncVectorEnv, 1 copy | {r['vector']['one_copy_steps_per_s']:,.0f} steps/s |",
              f"| AsyncVectorEnv, 2 copies | {r['vector']['two_copies_steps_per_s']:,.0f}"
              f" steps/s ({r['vector']['ratio']:.2f}x) |",
              f"| peak memory | {r['peak_memory_mb']:,.0f} MB |", "",
              "| scenario | buses | steps/s | us/step |", "|---|---|---|---|"]
    lines += [f"| {s['scenario']} | {s['buses']} | {s['steps_per_s']:,.0f} |"
              f" {s['us_per_step']:,.0f} |" for s in r["scaling"]]
    lines += ["", "| batched IEEE 13 (one world, N copies) | env steps/s |", "|---|---|"]
    lines += [f"| N = {b['num_envs']} | {b['steps_per_s']:,.0f} |" for b in r["batched"]]
    lines += ["", "| batched microgrids (one world, N copies, 3 agents each) | agent-steps/s |",
              "|---|---|"]
    lines += [f"| N = {b['num_envs']} | {b['agent_steps_per_s']:,.0f} |"
              for b in r.get("batched_multi", [])]
    three = r.get("three_phase", {})
    lines += ["", "| three-phase physics (OpenDSS; microgrids: all agents) | env steps/s |",
              "|---|---|"]
    lines += ([f"| skipped: {three['skipped']} | |"] if "skipped" in three else
              [f"| {scenario} | {rate:,.0f} |" for scenario, rate in three.items()])
    lines += ["", "| command line (fresh process, median) | wall s |", "|---|---|"]
    lines += [f"| `{k}` | {v:.2f} |" for k, v in r.get("cli_s", {}).items()]
    lines += ["", "| where an IEEE 13 step goes | us/step |", "|---|---|"]
    lines += [f"| {k} | {v:,.0f} |" for k, v in r["federates_us_per_step"].items()]
    lines += ["", "| target | met |", "|---|---|"]
    lines += [f"| {name} | {'yes' if ok(r) else 'no'} |" for name, ok in TARGETS]
    return "\n".join(lines)


def main(quick: bool = False, json_path: str | None = None) -> dict[str, Any]:
    results = run_bench(quick)
    print(format_table(results))
    if json_path:
        from powergrid.results import write_json_atomic

        write_json_atomic(json_path, results)
        print(f"wrote {json_path}")
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="powergrid throughput benchmark")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    main(args.quick, args.json)
