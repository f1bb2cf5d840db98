"""Which part of a scenario each agent observes and answers for.

``scope="all"``: every device, bus, line, transformer and PCC of the scenario
(a single agent, or centralized multi-agent training). ``scope="zone"``: the
agent's own zone -- the devices on buses of the zone its controlled devices sit
in, those buses, the lines and transformers between them and the PCCs named
``"<zone>.*"`` -- which is all a microgrid agent sees in distributed mode.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from powergrid.data import load_dataset
from powergrid.observation import AgentView, phase_positions
from powergrid.zones import pcc_in_zone, whole_network, zone
from scenarios.config import AgentConfig
from scenarios.prepare import PreparedScenario
from scenarios.zones import agent_zone_name


@lru_cache(maxsize=16)
def series_bounds(column: str, path: str | None) -> tuple[float, float]:
    """Smallest and largest value of a series over both splits of the data set."""
    dataset = load_dataset(path)
    kind, name = column.split(":", 1)
    values = np.concatenate([dataset.series(kind, name, s) for s in ("train", "test")])
    return float(values.min()), float(values.max())


def circuit_phase_names(prepared: PreparedScenario) -> list[str]:
    """The bus-phases (``"<bus>.<phase>"``, the grid's ``vm_phase_pu`` order) of a
    scenario with three-phase physics: the nodes of its feeder's OpenDSS circuit (built
    once per prepared scenario to read them)."""
    key = ("circuit_phase_names", "")
    if key not in prepared.cache:
        from powergrid.phase_gridmodel import ThreePhaseGridModel

        cfg = prepared.config
        prepared.cache[key] = list(ThreePhaseGridModel(
            prepared.net, cfg.network, prepared.load_profiles, prepared.pccs,
            regulators=prepared.regulators).phase_names)
    return list(prepared.cache[key])


def agent_zone(prepared: PreparedScenario, agent: AgentConfig) -> str:
    """The zone of the buses an agent's devices sit on (one zone per agent), or the
    zone a coordinator is given."""
    zone = agent_zone_name(prepared, agent)
    if zone is None:
        raise ValueError(f"agent {agent.name!r}: its devices do not sit in one zone;"
                         " a zone-scoped agent needs exactly one")
    return zone


def build_view(prepared: PreparedScenario, agent: AgentConfig, scope: str = "all",
               price_forecast_steps: int = 0,
               phase_names: list[str] | None = None) -> AgentView:
    """The :class:`AgentView` of ``agent`` with ``scope`` ``"all"`` or ``"zone"``, observing
    the scenario's price ``price_forecast_steps`` steps ahead too (the caller passes those
    prices to :meth:`AgentView.vector`). With three-phase physics, ``phase_names`` (the
    grid's bus-phases, ``"<bus>.<phase>"``): the agent observes and answers for the
    voltage of every phase of its buses (of the whole circuit, with its extra nodes,
    when it sees the whole network).

    ``scope`` sets what the agent *observes*. What it is *charged for* does not depend
    on it: in a scenario with several agents, each agent answers for its own zone (the
    costs of the devices there, the energy bill of its zone's PCC, the voltages of its
    buses and the loading of its lines and transformers; plus the grid-wide terms), so
    the agents' costs add up to the microgrids' total; a single agent answers for the
    whole scenario. Members of a coordination protocol also observe its message
    features; a coordinator answers for the energy it buys at its zone's PCC less the
    bills it collects at the other PCCs.
    """
    from powergrid.protocols.coordination import PROTOCOLS

    net = prepared.net
    cfg = prepared.config
    pcc_names = [p.name for p in prepared.pccs]
    everything = whole_network(net, prepared.devices, pcc_names)
    if scope == "all" or (agent.coordinator and agent.zone is None):
        seen = everything
        series = list(prepared.series)
    elif scope == "zone":
        seen = zone(net, agent_zone(prepared, agent), prepared.devices, pcc_names,
                    own=agent.devices)
        own = set(seen.devices)
        series = sorted({cfg.price} | {s for d, s in cfg.profiles.items() if d in own}
                        | set(prepared.load_profiles.values()))
    else:
        raise ValueError(f"unknown view scope {scope!r} (valid: 'all', 'zone')")
    name = agent_zone_name(prepared, agent)
    charged = (zone(net, name, prepared.devices, pcc_names, own=agent.devices)
               if len(cfg.agents) > 1 and name is not None else everything)
    total_load_mw = float((net.load.p_mw * net.load.scaling).abs().sum()) or 1.0
    billed, revenue = charged.pccs, np.zeros(0, dtype=np.intp)
    if agent.coordinator:
        mine = agent_zone(prepared, agent)
        billed = np.array([k for k, n in enumerate(pcc_names) if pcc_in_zone(n, mine)],
                          dtype=np.intp)
        revenue = np.array([k for k, n in enumerate(pcc_names) if not pcc_in_zone(n, mine)],
                           dtype=np.intp)
    features = () if agent.coordinator else PROTOCOLS[cfg.protocol].FEATURES
    by_name = {d.name: d for d in prepared.devices}
    bus_names = [str(n) for n in net.bus["name"]]
    phases: dict[str, Any] = {}
    if phase_names is not None:
        def bus_phases(buses: Any) -> np.ndarray:
            return phase_positions(phase_names, None if buses is everything.buses else
                                   [bus_names[int(b)] for b in buses])
        phases = {"phase_names": phase_names, "phase_positions": bus_phases(seen.buses),
                  "charged_phase_positions": bus_phases(charged.buses)}
    return AgentView(
        devices=[by_name[d] for d in seen.devices], bus_positions=seen.buses,
        line_positions=seen.lines,
        trafo_positions=seen.trafos, pcc_positions=seen.pccs,
        series_bounds={s: series_bounds(s, cfg.dataset) for s in series},
        pcc_scale_mw=total_load_mw, billed_pcc_positions=billed,
        revenue_pcc_positions=revenue, message_features=features,
        forecast_series=cfg.price if price_forecast_steps else None,
        forecast_steps=int(price_forecast_steps),
        charged_devices=[by_name[d] for d in charged.devices],
        charged_bus_positions=charged.buses,
        charged_line_positions=charged.lines, charged_trafo_positions=charged.trafos,
        bus_names=bus_names, line_names=[str(n) for n in net.line["name"]],
        trafo_names=[str(n) for n in net.trafo["name"]],
        pcc_names=[p.name for p in prepared.pccs], **phases)
