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

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from powergrid.solvers import make_solver


def radial_feeder(n_bus: int = 1000, seed: int = 0) -> pp.pandapowerNet:
    """A synthetic 20 kV radial feeder: 110/20 kV OLTC, ``n_bus`` MV buses in ten
    feeders with laterals, a load at every bus, PV at every fifth, a few capacitors."""
    rng = np.random.default_rng(seed)
    net = pp.create_empty_network(sn_mva=1.0)
    hv = pp.create_bus(net, 110.0, name="hv")
    pp.create_ext_grid(net, hv, vm_pu=1.02)
    mv0 = pp.create_bus(net, 20.0, name="mv0")
    pp.create_transformer_from_parameters(
        net, hv, mv0, sn_mva=40, vn_hv_kv=110, vn_lv_kv=20, vkr_percent=0.3, vk_percent=12,
        pfe_kw=20, i0_percent=0.05, tap_side="hv", tap_neutral=0, tap_min=-9, tap_max=9,
        tap_step_percent=1.5, tap_pos=-2, tap_changer_type="Ratio")
    buses = [mv0]
    n_feeders = 10
    per_feeder = (n_bus - 1) // n_feeders
    for _ in range(n_feeders):
        start = len(buses)
        for i in range(per_feeder):
            if i == 0:
                parent = mv0
            elif rng.random() < 0.75:
                parent = buses[-1]
            else:
                parent = buses[int(rng.integers(start, len(buses)))]
            bus = pp.create_bus(net, 20.0)
            buses.append(bus)
            pp.create_line_from_parameters(
                net, parent, bus, float(rng.uniform(0.05, 0.25)), r_ohm_per_km=0.161,
                x_ohm_per_km=0.117, c_nf_per_km=273, max_i_ka=0.42)
    for bus in buses[1:]:
        p = float(rng.uniform(0.005, 0.03))
        pp.create_load(net, bus, p_mw=p, q_mvar=0.3 * p)
    for bus in buses[1::5]:
        pp.create_sgen(net, bus, p_mw=float(rng.uniform(0.01, 0.04)), q_mvar=0.0)
    for bus in buses[100::200]:
        pp.create_shunt(net, bus, q_mvar=-0.3, p_mw=0.0, step=1, max_step=3)
    return net


def networks() -> dict[str, Callable[[], pp.pandapowerNet]]:
    """The shipped networks (when available) plus pandapower reference nets."""
    nets: dict[str, Callable[[], pp.pandapowerNet]] = {}
    try:
        from powergrid.networks import build_network
    except ImportError:
        build_network = None
    if build_network is not None:
        for name in ("ieee13", "ieee34", "microgrids", "cigre_mv"):
            nets[name] = lambda name=name: build_network(name)
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
