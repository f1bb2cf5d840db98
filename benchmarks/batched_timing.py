"""Microseconds per copy-step of the batched Z-bus backend.

One step = write every load and sgen of every copy (each copy its own profile
factor in 0.8-1.2, times per-element noise of +-5 %), optionally move every
tap-changing transformer of every copy to a random position within +-2 of its
base (so every copy refactors), then ``solve()``. Reported: median step time
divided by N, the mean fixed-point iterations per copy, the share of copy-steps
that did not converge (some random tap combinations have no solution; those
copies go through the fallback and fail there too) and the single-copy
lightsim2grid backend's step for comparison (one step of one copy).

    python benchmarks/batched_timing.py [--sizes 1 16 64 256] [--steps 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from benchmarks.solver_timing import time_steps
from powergrid.networks import build_network
from powergrid.solvers import BatchedSolver

NETWORKS = ("ieee13", "ieee34", "microgrids")
SIZES = (1, 16, 64, 256)


def time_batched(net, n: int, steps: int, taps: bool,
                 seed: int = 0) -> tuple[float, float, float]:
    """(median seconds per step of all ``n`` copies, mean iterations per copy,
    share of copy-steps not converged)."""
    b = BatchedSolver(net, n)
    rng = np.random.default_rng(seed)
    lp, lq = b.load_p_mw.copy(), b.load_q_mvar.copy()
    sp = b.sgen_p_mw.copy()
    tap0 = b.trafo_tap_pos.copy()
    tapped = b.trafo_tap_max > b.trafo_tap_min
    warm = 3
    profile = rng.uniform(0.8, 1.2, (steps + warm, n, 1))
    noise = rng.uniform(0.95, 1.05, (steps + warm, n, lp.shape[1]))
    if taps:
        moves = rng.integers(-2, 3, (steps + warm, *tap0.shape)) * tapped
    times, iterations, failed = [], [], []
    for k in range(steps + warm):
        f = profile[k] * noise[k]
        t0 = time.perf_counter()
        np.multiply(lp, f, out=b.load_p_mw)
        np.multiply(lq, f, out=b.load_q_mvar)
        np.multiply(sp, profile[k], out=b.sgen_p_mw)
        if taps:
            np.clip(tap0 + moves[k], b.trafo_tap_min, b.trafo_tap_max, out=b.trafo_tap_pos)
        ok = b.solve()
        dt = time.perf_counter() - t0
        if k >= warm:            # warm-up: first factorisations, cold starts
            times.append(dt)
            iterations.append(b.n_iterations[~b.fallback_used].mean())
            failed.append(1.0 - ok.mean())
    return statistics.median(times), float(np.mean(iterations)), float(np.mean(failed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--steps", type=int, default=60, help="steps timed per configuration")
    parser.add_argument("--json", help="also write the results as JSON here")
    args = parser.parse_args()
    rows = []
    print(f"{'network':11s} {'N':>4s} {'taps':>9s} {'us/copy-step':>13s} {'copy-steps/s':>13s} "
          f"{'iters':>6s} {'failed':>7s} {'lightsim2grid us/step (1 copy)':>31s}")
    for name in args.networks:
        net = build_network(name)
        single = time_steps(net, "lightsim2grid", 500) * 1e6
        for taps in (False, True):
            for n in args.sizes:
                t, its, failed = time_batched(net, n, args.steps, taps)
                per = t / n * 1e6
                label = "changing" if taps else "held"
                rows.append({"network": name, "n_copies": n, "taps": label,
                             "us_per_copy_step": per, "iterations": its, "failed": failed,
                             "lightsim2grid_us_per_step": single})
                print(f"{name:11s} {n:4d} {label:>9s} {per:13.2f} {1e6 / per:13,.0f} "
                      f"{its:6.1f} {failed:7.1%} {single:31.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
