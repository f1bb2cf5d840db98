"""Zones: which buses, lines, transformers, PCCs and devices an agent owns, and what of
the grid and the devices reaches it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from powergrid.devices import device_from_config, device_to_config
from powergrid.protocols.coordination import AgentRole
from powergrid.zones import zone, zone_of_devices
from scenarios.config import AgentConfig
from scenarios.prepare import PreparedScenario


def agent_zone_facts(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    """What the coordination protocols know of an agent's zone (no reference to the net):
    its devices, nominal load and the series it follows, its PCC and the rows of its
    buses. An agent whose devices span several zones (or none) has no zone facts."""
    return _once(prepared, ("zone_facts", agent.name), lambda: _zone_facts(prepared, agent))


def _once(prepared: PreparedScenario, key: tuple[str, str], make: Callable[[], Any]) -> Any:
    """``make()``, worked out once per prepared scenario (every episode's world reuses it)."""
    if key not in prepared.cache:
        prepared.cache[key] = make()
    return prepared.cache[key]


def _zone_facts(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    net = prepared.net
    name = agent_zone_name(prepared, agent)
    if name is None:
        return {}
    part = zone(net, name, prepared.devices, [p.name for p in prepared.pccs])
    on_zone_buses = set(part.devices)
    bus_rows = set(part.buses.tolist())
    row = {b: k for k, b in enumerate(net.bus.index)}
    loads = net.load[[row[b] in bus_rows for b in net.load.bus]]
    series = [prepared.load_profiles.get(str(n)) for n in loads["name"]]
    series = [s for s in series if s]
    pcc = prepared.pccs[int(part.pccs[0])] if len(part.pccs) else None
    return {"zone_devices": [device_to_config(d) for d in prepared.devices
                             if d.name in on_zone_buses],
            "load_mw": float((loads.p_mw * loads.scaling).sum()),
            "load_series": max(set(series), key=series.count) if series else None,
            "pcc": pcc.name if pcc is not None else None,
            "sell_discount": float(getattr(pcc, "sell_discount", 1.0)),
            "bus_positions": [int(k) for k in part.buses]}


def agent_roles(prepared: PreparedScenario) -> list[AgentRole]:
    """Every agent's :class:`AgentRole`, as the agents federate builds them."""
    by_name = {d.name: d for d in prepared.devices}
    roles = []
    for agent in prepared.config.agents:
        facts = agent_zone_facts(prepared, agent)
        roles.append(AgentRole(
            agent.name, agent.coordinator, tuple(by_name[d] for d in agent.devices),
            tuple(device_from_config(c) for c in facts.get("zone_devices", [])),
            facts.get("load_mw", 0.0), facts.get("load_series"), facts.get("pcc"),
            facts.get("sell_discount", 1.0), tuple(facts.get("bus_positions", ()))))
    return roles


class _Mask:
    """A connection transform that blanks (nan) the entries of the grid's lists an agent
    may not see (``{attr: keep mask}``; the other entries of the bundle pass)."""

    def __init__(self, keep: dict[str, np.ndarray]) -> None:
        self.keep = keep

    def __call__(self, state: Any) -> Any:
        if not isinstance(state, dict):
            return state
        out = dict(state)
        for attr, keep in self.keep.items():
            if isinstance(out.get(attr), list):
                out[attr] = [v if k else float("nan")
                             for v, k in zip(out[attr], keep, strict=False)]
        return out


def visible_to(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    """What of the grid and the devices reaches an agent: everything when the scenario
    is centralized; otherwise only its zone's buses, lines, transformers, PCCs and
    devices (the other entries of the grid's lists arrive as nan), plus messages."""
    cfg = prepared.config
    if cfg.centralized:
        return {}
    return _once(prepared, ("visible", agent.name), lambda: _visible(prepared, agent))


def _visible(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    net = prepared.net
    name = agent_zone_name(prepared, agent)
    pcc_names = [p.name for p in prepared.pccs]
    part = zone(net, name, prepared.devices, pcc_names, own=agent.devices)
    keep = part.masks(net, len(pcc_names))
    # a coordinator collects the other zones' bills: it sees what it bills, not their flows
    billed = np.ones(len(pcc_names), dtype=bool) if agent.coordinator else keep["pcc"]
    grid_mask = _Mask({"vm_pu": keep["bus"], "va_degree": keep["bus"],
                       "line_loading_percent": keep["line"],
                       "trafo_loading_percent": keep["trafo"], "pcc_p_mw": keep["pcc"],
                       "pcc_q_mvar": keep["pcc"], "pcc_cost": billed, "pcc_safety": billed})
    return {"grid": grid_mask, "devices": set(part.devices)}


def agent_zone_name(prepared: PreparedScenario, agent: AgentConfig) -> str | None:
    """The zone of an agent's devices (None if they span several zones or none)."""
    by_name = {d.name: d for d in prepared.devices}
    return zone_of_devices(prepared.net, (str(getattr(by_name[d], "bus", "") or "")
                                          for d in agent.devices), agent.zone)
