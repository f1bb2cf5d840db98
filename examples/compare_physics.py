"""What each grid model is good for: every feeder with a three-phase model, balanced
against three-phase physics, under ``idle`` and ``rule``, over the test split.

    python examples/compare_physics.py                 # the whole test split (70 days)
    python examples/compare_physics.py --days 7 --out /tmp/physics

Each run is ``powergrid run <feeder> --policy <idle|rule> [--physics three_phase]``
(:func:`scenarios.run.run_scenario`) and is measured from its ``timeseries.csv``:

=====================  =====  ========================================================
column                 unit   meaning
=====================  =====  ========================================================
``min_vm_pu``          p.u.   the lowest bus voltage (three-phase: bus-phase) of the run
``min_at``             --     where (``vm_pu:<bus>`` or ``vm_pu.<phase>:<bus>``)
``max_vm_pu``          p.u.   the highest
``max_at``             --     where
``violations``         --     bus-steps (three-phase: bus-phase-steps) outside 0.95-1.05
``hours_outside``      --     steps with any bus(-phase) outside 0.95-1.05
``import_mwh``         MWh    energy into the feeder at its source (the PCC)
``losses_mwh``         MWh    import + generation - battery charging - load demand
``total_cost``         $      the run's cost (devices and the energy bill)
=====================  =====  ========================================================

Writes ``physics.json`` and ``physics.md`` (the table) to ``--out`` (default
``docs/results``). Needs the ``three_phase`` extra (OpenDSSDirect.py).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere in a checkout

from powergrid.devices import ESS  # noqa: E402
from powergrid.gridmodel import load_demand_mw, load_groups  # noqa: E402
from powergrid.networks.three_phase import FEEDERS  # noqa: E402
from powergrid.results import PHASE_VOLTAGE_PREFIXES, summarize, write_json_atomic  # noqa: E402
from scenarios import get_config  # noqa: E402
from scenarios.prepare import PreparedScenario, prepare  # noqa: E402
from scenarios.run import run_scenario  # noqa: E402

PHYSICS = ("balanced", "three_phase")
POLICIES = ("idle", "rule")
TEST_DAYS = 70  # the test split: 1,680 hourly steps


def energy_balance_mwh(df: pd.DataFrame, prepared: PreparedScenario) -> tuple[float, float]:
    """``(import, losses)`` in MWh over a run: the source's import, and import plus
    the devices' generation less the batteries' charging and the loads' demand (their
    profiles' values are columns of the run)."""
    cfg = prepared.config
    net = prepared.net
    load_p = (net.load.p_mw * net.load.scaling).where(net.load.in_service, 0.0).to_numpy(float)
    series = set(prepared.load_profiles.values())
    demand = load_demand_mw(load_p, load_groups(net, prepared.load_profiles),
                            {s: df[s].to_numpy(float) for s in series}, cfg.load_scale)
    net_injection = np.zeros(len(df))
    for device in prepared.devices:
        column = f"p_mw:{device.name}"
        if column in df:  # sgens inject p_mw; a battery's p_mw > 0 charges
            sign = -1.0 if isinstance(device, ESS) else 1.0
            net_injection += sign * df[column].to_numpy(float)
    imported = df["pcc_p_mw"].to_numpy(float)
    losses = imported + net_injection - np.broadcast_to(demand, imported.shape)
    return float(imported.sum() * cfg.dt_h), float(losses.sum() * cfg.dt_h)


def measure(run_dir: Path, prepared: PreparedScenario) -> dict[str, Any]:
    """The table's columns of one run (see the module docstring)."""
    df = pd.read_csv(run_dir / "timeseries.csv")
    summary = summarize(run_dir / "timeseries.csv")
    columns = [c for c in df.columns if c.startswith(PHASE_VOLTAGE_PREFIXES)] or \
        [c for c in df.columns if c.startswith("vm_pu:")]
    vm = df[columns].where(df[columns] > 0.0)
    outside = (vm < 0.95) | (vm > 1.05)
    imported, losses = energy_balance_mwh(df, prepared)
    return {"min_vm_pu": float(vm.min().min()), "min_at": str(vm.min().idxmin()),
            "max_vm_pu": float(vm.max().max()), "max_at": str(vm.max().idxmax()),
            "violations": int(outside.to_numpy().sum()),
            "hours_outside": int(outside.any(axis=1).sum()),
            "import_mwh": imported, "losses_mwh": losses,
            "total_cost": float(summary["total_cost"])}


def compare(feeders: list[str], days: int, out: Path | None = None) -> dict[str, Any]:
    """Every feeder under every policy and physics over ``days`` test days:
    ``{feeder: {policy: {physics: measure(...)}}}``."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for feeder in feeders:
            for policy in POLICIES:
                for physics in PHYSICS:
                    config = get_config(feeder, split="test", start_step=0, steps=days * 24,
                                        policy=policy, physics=physics)
                    prepared = prepare(config)
                    run_dir = (out or Path(tmp)) / "runs" / f"{feeder}_{policy}_{physics}"
                    run_scenario(config, run_dir, progress=False, plot=out is not None)
                    results.setdefault(feeder, {}).setdefault(policy, {})[physics] = \
                        measure(run_dir, prepared)
    return results


def format_table(results: dict[str, Any], days: int) -> str:
    lines = [f"Over the first {days} test days ({days * 24} hourly steps); three-phase"
             " voltages are per bus-phase, balanced per bus.", "",
             "| feeder | policy | physics | lowest (p.u., where) | highest (p.u., where) |"
             " outside 0.95-1.05 (steps, hours) | import (MWh) | losses (MWh) |"
             " total cost ($) |", "|---|---|---|---|---|---|---|---|---|"]
    for feeder, by_policy in results.items():
        for policy, by_physics in by_policy.items():
            for physics, m in by_physics.items():
                lines.append(
                    f"| {feeder} | {policy} | {physics.replace('_', '-')} |"
                    f" {m['min_vm_pu']:.3f} ({m['min_at'].split(':', 1)[0][6:] or 'bus'}"
                    f" {m['min_at'].split(':', 1)[1]}) |"
                    f" {m['max_vm_pu']:.3f} ({m['max_at'].split(':', 1)[0][6:] or 'bus'}"
                    f" {m['max_at'].split(':', 1)[1]}) |"
                    f" {m['violations']:,}, {m['hours_outside']:,} |"
                    f" {m['import_mwh']:,.0f} | {m['losses_mwh']:,.1f} |"
                    f" {m['total_cost']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=TEST_DAYS)
    parser.add_argument("--feeder", action="append", default=None,
                        help=f"default: every feeder with a three-phase model ({sorted(FEEDERS)})")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = parser.parse_args(argv)
    feeders = args.feeder or sorted(FEEDERS)
    out = Path(args.out)
    results = compare(feeders, args.days)
    table = format_table(results, args.days)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "physics.json", {
        "command": "python examples/compare_physics.py"
                   + ("" if args.days == TEST_DAYS else f" --days {args.days}"),
        "date": datetime.date.today().isoformat(), "days": args.days, "results": results})
    (out / "physics.md").write_text(table + "\n")
    return results


if __name__ == "__main__":
    main()
