"""Median time of one power-flow step per network and backend.

One step = set every load (a random profile factor) and every sgen, then
``solve()`` -- what the grid federate does each co-simulation step. Prints a
table (microseconds; median over many repetitions, after a warm-up).

    python benchmarks/solver_timing.py [--reps 2000] [--ref-reps 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import cast

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from powergrid.networks.radial import radial_feeder
from powergrid.solvers import make_solver


def networks() -> dict[str, Callable[[], pp.pandapowerNet]]:
    """The shipped networks (when available) plus pandapower reference nets."""
    nets: dict[str, Callable[[], pp.pandapowerNet]] = {}
    build_network: Callable[..., pp.pandapowerNet] | None
    try:
        from powergrid.networks import build_network
    except ImportError:
        build_network = None
    if build_network is not None:
        for name in ("ieee13", "ieee34", "microgrids", "cigre_mv"):
            # (cast: mypy cannot infer a lambda with a default argument)
            nets[name] = cast("Callable[[], pp.pandapowerNet]",
                              lambda name=name: build_network(name))
    nets["pp_cigre_mv_der"] = lambda: pn.create_cigre_network_mv(with_der="all")
    nets["case33bw"] = pn.case33bw
    nets["radial1000"] = radial_feeder
    return nets


def time_steps(net: pp.pandapowerNet, solver: str, reps: int, seed: int = 0) -> float:
    """Median seconds of one step (set all loads and sgens, solve)."""
    s = make_solver(net, solver)
    rng = np.random.default_rng(seed)
    lp, lq = s.load_p_mw.copy(), s.load_q_mvar.copy()
    sp = s.sgen_p_mw.copy()
    li, si = np.arange(len(lp)), np.arange(len(sp))
    factors = rng.uniform(0.8, 1.2, size=(reps + 5, 2))
    times = []
    for k in range(reps + 5):
        f, g = factors[k]
        t0 = time.perf_counter()
        s.set_load(li, lp * f, lq * f)
        s.set_sgen(si, sp * g, sp * 0.0)
        ok = s.solve()
        dt = time.perf_counter() - t0
        if not ok:
            raise RuntimeError(f"{solver} did not converge")
        if k >= 5:                      # warm-up: first solves, numba, caches
            times.append(dt)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="steps timed per fast backend")
    parser.add_argument("--ref-reps", type=int, default=40, help="steps timed for pandapower")
    parser.add_argument("--json", help="also write the results as JSON here")
    args = parser.parse_args()
    rows = []
    print(f"{'network':18s} {'buses':>6s} {'lightsim2grid us':>17s} {'pandapower us':>14s} "
          f"{'speed-up':>9s}")
    for name, build in networks().items():
        net = build()
        fast = time_steps(net, "lightsim2grid", args.reps)
        ref = time_steps(net, "pandapower", args.ref_reps)
        rows.append({"network": name, "buses": len(net.bus), "lightsim2grid_us": fast * 1e6,
                     "pandapower_us": ref * 1e6})
        print(f"{name:18s} {len(net.bus):6d} {fast * 1e6:17.1f} {ref * 1e6:14.0f} "
              f"{ref / fast:8.0f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
