"""``powergrid evaluate``: policies over consecutive test-period days, one table.

Every policy -- ``idle`` (no intervention), ``rule``, ``oracle`` (the perfect-foresight
day-ahead optimum, :mod:`powergrid.baselines.oracle`) or a trained model's path -- runs
through the same co-simulation over the same days, and is measured from its
``timeseries.csv`` by the same code:

=======================  ======  ===================================================
column                   unit    meaning
=======================  ======  ===================================================
``total_cost``           $       devices' costs and the energy bill
``total_safety``         --      the sum of every step's safety terms
``voltage_violations``   --      bus-steps outside 0.95-1.05 p.u.
``energy_import_mwh``    MWh     energy bought at the (first) PCC
``battery_cycles``       --      equivalent full cycles, summed over batteries
                                 (throughput / (2 x capacity))
``recovered_share``      --      share of the idle-to-oracle saving the policy
                                 recovers, ``(idle - policy) / (idle - oracle)`` in
                                 total cost (1 = the oracle, 0 = no better than
                                 idle; present when idle and oracle both ran)
=======================  ======  ===================================================
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from powergrid.baselines import DayAheadOracle, DayInputs, SchedulePolicy
from powergrid.data import series_at_step
from powergrid.devices import ESS, Grid
from powergrid.gridmodel import GridModel
from scenarios import get_config
from scenarios.config import ScenarioConfig
from scenarios.prepare import PreparedScenario, prepare
from scenarios.run import run_scenario

BUILT_IN = ("idle", "rule", "oracle")


def billed_pcc(prepared: PreparedScenario) -> Grid:
    """The PCC whose bill is the scenario's energy cost: the first that is not internal
    (a microgrid's PCC is a bill between two parties of the simulated system)."""
    for pcc in prepared.pccs:
        if not pcc.internal:
            return pcc
    raise ValueError(f"scenario {prepared.config.name!r} has no PCC that is not internal")


def oracle_setpoints(prepared: PreparedScenario) -> list[dict[str, dict[str, float]]]:
    """The day-by-day optimum over ``prepared``'s run (``steps`` from ``start_step``).

    Every agent's devices are scheduled jointly, against the bill at the scenario's
    billed PCC (:func:`billed_pcc`): the quantity ``total_cost`` measures. With several
    agents (microgrids) this is the system's optimum, which no agent's own reward sees
    whole (each pays its own PCC's bill, exports at ``sell_discount``).
    """
    cfg = prepared.config
    devices = [d for agent in cfg.agents for d in agent.devices]
    grid = GridModel(prepared.net, cfg.solver, prepared.load_profiles, prepared.pccs,
                     regulators=prepared.regulators)
    pcc = billed_pcc(prepared)
    oracle = DayAheadOracle(grid, prepared.devices, devices, cfg.profiles,
                            prepared.load_profiles, getattr(pcc, "sell_discount", 1.0),
                            cfg.load_scale)
    table = {s: series_at_step(s, cfg.split, cfg.dt_h, cfg.dataset) for s in prepared.series}
    per_day = cfg.steps_per_day
    setpoints: list[dict[str, dict[str, float]]] = []
    soc: dict[str, float] = {}
    on: dict[str, float] = {}
    p: dict[str, float] = {}
    for day_start in range(0, cfg.steps, per_day):
        steps = min(per_day, cfg.steps - day_start)
        rows = (cfg.start_step + day_start + np.arange(steps)) % len(next(iter(table.values())))
        day = DayInputs(cfg.dt_h, {s: v[rows] for s, v in table.items()},
                        table[cfg.price][rows], soc, on, p)
        schedule = oracle.solve_day(day)
        if schedule.status != "optimal":
            raise RuntimeError(f"oracle: day {day_start // per_day} not solved"
                               f" ({schedule.status})")
        setpoints += schedule.setpoints
        soc, on, p = schedule.soc_end, schedule.on_end, schedule.p_end
    return setpoints


def schedule_policies(prepared: PreparedScenario,
                      setpoints: Sequence[dict[str, dict[str, float]]]
                      ) -> dict[str, SchedulePolicy]:
    """Each agent plays its own devices' part of a joint schedule."""
    cfg = prepared.config
    return {agent.name: SchedulePolicy([{d: s[d] for d in agent.devices if d in s}
                                        for s in setpoints], cfg.step_s)
            for agent in cfg.agents}


def metrics(timeseries_csv: str | Path, config: ScenarioConfig,
            batteries: Sequence[ESS]) -> dict[str, float]:
    """The table's columns from a run's ``timeseries.csv``."""
    from powergrid.results import summarize

    summary = summarize(timeseries_csv)
    df = pd.read_csv(timeseries_csv)
    dt = config.dt_h
    cycles = sum(float(df[f"p_mw:{b.name}"].abs().sum()) * dt / (2.0 * b.capacity_mwh)
                 for b in batteries if f"p_mw:{b.name}" in df)
    return {"total_cost": summary["total_cost"], "total_safety": summary["total_safety"],
            "voltage_violations": summary["voltage_violations"],
            "energy_import_mwh": float(df["pcc_p_mw"].clip(lower=0.0).sum() * dt),
            "battery_cycles": cycles, "steps": summary["steps"]}


def evaluate(scenario: str, policies: Sequence[str], days: int = 7,
             out_dir: str | Path | None = None,
             load_policy: Callable[[str, PreparedScenario], Any] | None = None,
             **overrides: Any) -> dict[str, dict[str, float]]:
    """Run each policy over ``days`` consecutive test days from the start of the test split.

    A policy that is not built in (:data:`BUILT_IN`) is a path that ``load_policy(path,
    prepared)`` turns into an object with ``act(observation)``; ``powergrid evaluate``
    passes :class:`rl_bridge.policies.ModelPolicy` (models saved by
    ``examples/train_ppo_ieee13.py``). This layer knows no RL library.
    """
    config = get_config(scenario, split="test", start_step=0, **overrides)
    config = config.with_(steps=int(days) * config.steps_per_day)
    if any(agent.coordinator for agent in config.agents):
        raise ValueError(f"evaluate runs the agents that own devices; {scenario!r} with"
                         f" protocol {config.protocol!r} has a coordinator")
    prepared = prepare(config)
    batteries = [d for d in prepared.devices if isinstance(d, ESS)]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        for policy in policies:
            run_dir = root / Path(policy).name.replace(".zip", "")
            override: dict[str, Any] | None = None
            cfg = config
            if policy == "oracle":
                override = schedule_policies(prepared, oracle_setpoints(prepared))
            elif policy in ("idle", "rule"):
                cfg = config.with_(policy=policy)
            elif load_policy is not None:
                loaded = load_policy(policy, prepared)
                override = (loaded if isinstance(loaded, dict)
                            else {config.agents[0].name: loaded})
            else:
                raise ValueError(f"policy {policy!r} is not one of {', '.join(BUILT_IN)}"
                                 " (a model file needs load_policy)")
            run_scenario(cfg, run_dir, progress=False, plot=False, policies=override)
            results[policy] = metrics(run_dir / "timeseries.csv", config, batteries)
    add_recovered_share(results)
    return results


def recovered_share(cost_idle: float, cost_policy: float, cost_oracle: float) -> float:
    """``(cost_idle - cost_policy) / (cost_idle - cost_oracle)``: the share of the saving
    from no intervention to the perfect-foresight optimum that a policy recovers (0 when
    the oracle saves nothing)."""
    gap = cost_idle - cost_oracle
    return float((cost_idle - cost_policy) / gap) if gap > 0 else 0.0


def add_recovered_share(results: dict[str, dict[str, float]]) -> None:
    """Set ``recovered_share`` on every row when ``idle`` and ``oracle`` both ran."""
    if "idle" not in results or "oracle" not in results:
        return
    idle, oracle = results["idle"]["total_cost"], results["oracle"]["total_cost"]
    for m in results.values():
        m["recovered_share"] = recovered_share(idle, m["total_cost"], oracle)


def format_table(results: dict[str, dict[str, float]], scenario: str, days: int) -> str:
    share = all("recovered_share" in m for m in results.values())
    lines = [f"{scenario}, {days} test days", "",
             "| policy | total cost ($) | recovered share | total safety | voltage violations |"
             " energy imported (MWh) | battery cycles |", "|---|---|---|---|---|---|---|"]
    for policy, m in results.items():
        recovered = f"{100 * m['recovered_share']:.0f} %" if share else "n/a"
        lines.append(f"| {policy} | {m['total_cost']:,.0f} | {recovered} |"
                     f" {m['total_safety']:.3f} |"
                     f" {m['voltage_violations']} | {m['energy_import_mwh']:,.1f} |"
                     f" {m['battery_cycles']:.2f} |")
    return "\n".join(lines)
