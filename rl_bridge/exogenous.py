"""The exogenous data an environment reads besides the co-simulation: the series of the
scenario's split as one table (for the prices ahead in the observation) and the energy
bill of a step with no device acting (for the ``exogenous_bill`` reward baseline).

Rows are steps of the split and wrap at its end, as the feeds federate's do.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from powergrid.data import series_at_step
from powergrid.exogenous_bill import ExogenousBill
from scenarios.config import AgentConfig
from scenarios.prepare import PreparedScenario
from scenarios.zones import agent_zone_facts


class ScenarioSeries:
    """The scenario's series over its split: ``table`` ``(steps, S)``, one column per
    name in ``names`` (``prepared.series``), in the data's units (price in $/MWh)."""

    def __init__(self, prepared: PreparedScenario) -> None:
        cfg = prepared.config
        self.names = list(prepared.series)
        self.price = cfg.price
        self.table = np.stack([series_at_step(c, cfg.split, cfg.dt_h, cfg.dataset)
                               for c in self.names], axis=1)

    def __len__(self) -> int:
        return len(self.table)

    def rows(self, steps: ArrayLike) -> np.ndarray:
        """The rows of the steps ``steps`` ``(N,)`` (wrapping), ``(N, S)``."""
        return self.table[np.asarray(steps, dtype=np.int64) % len(self.table)]

    def values(self, steps: ArrayLike) -> dict[str, np.ndarray]:
        """``{series: (N,) values}`` at the steps ``steps`` ``(N,)`` (wrapping)."""
        rows = self.rows(np.atleast_1d(steps))
        return {name: rows[:, j] for j, name in enumerate(self.names)}

    def prices_ahead(self, steps: ArrayLike, n_ahead: int) -> np.ndarray:
        """The price ($/MWh) of the ``n_ahead`` steps after each of ``steps`` ``(N,)``:
        ``(N, n_ahead)``, column ``j`` the price at step ``steps + 1 + j`` (wrapping)."""
        column = self.table[:, self.names.index(self.price)]
        ahead = np.atleast_1d(np.asarray(steps, dtype=np.int64))[:, None] \
            + np.arange(1, int(n_ahead) + 1)
        return column[ahead % len(column)]


def exogenous_bill(prepared: PreparedScenario, agent: AgentConfig | None = None,
                   at_price: bool = False) -> ExogenousBill:
    """The :class:`~powergrid.exogenous_bill.ExogenousBill` of a prepared scenario (its
    external PCC, every load and RES unit), or of ``agent``'s zone in a scenario with
    several agents (its zone's PCC, the loads and RES units on its buses: the part of
    the agent's own bill that no device of it decides). ``at_price``: an internal PCC's
    export is valued at the full price (the ``"contribution"`` reward scope)."""
    cfg = prepared.config
    pcc, buses = None, None
    if agent is not None and len(cfg.agents) > 1:
        if agent.coordinator:
            raise ValueError(f"reward_baseline 'exogenous_bill' is for agents that own"
                             f" devices; {agent.name!r} is a coordinator")
        facts = agent_zone_facts(prepared, agent)
        if not facts.get("pcc"):
            raise ValueError(f"reward_baseline 'exogenous_bill': agent {agent.name!r} has"
                             " no zone with its own PCC")
        zone_rows = facts["bus_positions"]
        pcc = facts["pcc"]
        buses = [str(prepared.net.bus["name"].iloc[int(r)]) for r in zone_rows]
    pccs = [replace(g, sell_discount=1.0) if at_price and g.internal else g
            for g in prepared.pccs]
    return ExogenousBill(prepared.net, prepared.devices, pccs, cfg.profiles,
                         prepared.load_profiles, cfg.price, cfg.load_scale, cfg.dt_h,
                         pcc=pcc, zone_buses=buses)
