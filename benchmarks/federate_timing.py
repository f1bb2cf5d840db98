"""Where the time of a co-simulation step goes: wall time per federate per step.

    python benchmarks/federate_timing.py ieee13 --steps 2000

Each federate's ``step`` and ``get_data`` are timed in-process; the rest of the
wall time is mosaik's scheduling (and the recorder's file writes count as the
recorder's).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path
from tempfile import TemporaryDirectory

from scenarios import get_config
from scenarios.run import run_scenario
from simulators.agents import AgentsSim
from simulators.devices import DevicesSim
from simulators.feeds import FeedsSim
from simulators.grid import GridSim
from simulators.recorder import RecorderSim

FEDERATES = {"feeds": FeedsSim, "agents": AgentsSim, "devices": DevicesSim, "grid": GridSim,
             "recorder": RecorderSim}


def timed_run(scenario: str, steps: int) -> dict[str, float]:
    """Run ``scenario`` for ``steps`` steps; seconds spent in each federate and in total."""
    spent: dict[str, float] = defaultdict(float)
    originals = []
    for name, cls in FEDERATES.items():
        for method in ("step", "get_data"):
            original = getattr(cls, method)
            originals.append((cls, method, original))

            def wrapper(self, *args, _orig=original, _name=name, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _orig(self, *args, **kwargs)
                finally:
                    spent[_name] += time.perf_counter() - t0

            setattr(cls, method, wrapper)
    try:
        with TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_scenario(get_config(scenario, steps=steps), Path(tmp), progress=False,
                         plot=False)
            spent["total"] = time.perf_counter() - t0
    finally:
        for cls, method, original in originals:
            setattr(cls, method, original)
    return dict(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="ieee13")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    spent = timed_run(args.scenario, args.steps)
    total = spent.pop("total")
    print(f"{args.scenario}: {args.steps} steps in {total:.2f} s"
          f" ({args.steps / total:.0f} steps/s, {1e6 * total / args.steps:.0f} us/step)")
    federates = sum(spent.values())
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        share = 100 * seconds / total
        print(f"  {name:9s} {1e6 * seconds / args.steps:7.0f} us/step  {share:5.1f} %")
    print(f"  {'mosaik+setup':9s} {1e6 * (total - federates) / args.steps:7.0f} us/step "
          f" {100 * (total - federates) / total:5.1f} %")


if __name__ == "__main__":
    main()
