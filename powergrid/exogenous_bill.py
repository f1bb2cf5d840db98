"""The energy bill of a step if no device acted: a reward baseline made of data only.

``bill = PCC bill of (load demand - renewables' available power) at the step's price``

The loads' demand follows their profiles (:func:`powergrid.gridmodel.load_demand_mw`),
the renewables' available power their profiles and ratings
(:meth:`powergrid.devices.generator.RESFleet.available_mw`), and the bill is settled by
the PCC's own formula (:class:`powergrid.devices.grid.GridFleet`: import at the price,
export at ``price * sell_discount``). Network losses and every controllable device are
left out, so the bill depends on the exogenous series alone: subtracting it from a
step's cost changes no optimal policy, but removes the part of the cost that the loads
and the weather decide.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandapower as pp

from powergrid.devices.base import Device
from powergrid.devices.generator import RES, RESFleet
from powergrid.devices.grid import Grid, GridFleet
from powergrid.gridmodel import load_demand_mw, load_groups


class ExogenousBill:
    """The energy bill ($) a PCC would pay over one step if no device acted, from the
    step's series values: the scenario's external PCC, or (``zone_buses``) an agent's
    zone PCC for the loads and RES units on that zone's buses.

    ================  =================================================================
    argument          meaning
    ================  =================================================================
    ``net``           the pandapower net (its in-service loads' nominal P, MW)
    ``devices``       the scenario's devices; its :class:`RES` units are counted at
                      their available power
    ``pccs``          the PCCs; exactly one must be external (not ``internal``), unless
                      ``pcc`` names the one to bill
    ``profiles``      ``{device name: series}`` of the RES units
    ``load_profiles`` ``{load name: series}``
    ``price``         the series of the energy price ($/MWh)
    ``load_scale``    multiplies every profiled load
    ``dt_h``          step length in hours
    ``pcc``           the PCC to bill, by name (default: the one external PCC)
    ``zone_buses``    bus names: only the loads and RES units on them count (default:
                      all)
    ================  =================================================================
    """

    def __init__(self, net: pp.pandapowerNet, devices: Sequence[Device], pccs: Sequence[Grid],
                 profiles: Mapping[str, str], load_profiles: Mapping[str, str], price: str,
                 load_scale: float, dt_h: float, pcc: str | None = None,
                 zone_buses: Collection[str] | None = None) -> None:
        billed = ([g for g in pccs if g.name == pcc] if pcc is not None
                  else [g for g in pccs if not g.internal])
        if len(billed) != 1:
            raise ValueError(f"the exogenous bill needs exactly one external PCC, the"
                             f" scenario has {len(billed)}" if pcc is None
                             else f"the exogenous bill's PCC {pcc!r} is not a PCC of the"
                             " scenario")
        self.pcc_fleet = GridFleet(billed)
        buses = set(zone_buses) if zone_buses is not None else None
        res = [d for d in devices if isinstance(d, RES)
               and (buses is None or d.bus in buses)]
        self.res_fleet = RESFleet(res) if res else None
        self.res_series = [profiles[d.name] for d in res]
        nominal = (net.load.p_mw * net.load.scaling).to_numpy(float)
        #: every load's nominal consumption (MW); out-of-service loads at 0
        counted = net.load["in_service"].to_numpy(dtype=bool)
        if buses is not None:  # (a new array: to_numpy may give the table's own data)
            counted = counted & net.bus.loc[net.load.bus, "name"].astype(str).isin(
                buses).to_numpy()
        self.load_p_mw = np.where(counted, nominal, 0.0)
        self.load_groups = load_groups(net, load_profiles)
        self.price, self.load_scale, self.dt_h = price, float(load_scale), float(dt_h)

    def res_available_mw(self, values: Mapping[str, Any]) -> np.ndarray:
        """The RES units' available power summed, MW, ``(N,)`` for ``values``
        ``{series: (N,)}``."""
        n = np.atleast_1d(np.asarray(values[self.price])).shape[0]
        if self.res_fleet is None:
            return np.zeros(n)
        profiles = np.stack([np.broadcast_to(np.asarray(values[s], dtype=float), (n,))
                             for s in self.res_series], axis=-1)
        return self.res_fleet.available_mw(profiles).sum(axis=-1)

    def net_import_mw(self, values: Mapping[str, Any]) -> np.ndarray:
        """What the PCC would import with no device acting, MW (> 0 import), ``(N,)``:
        the loads' demand less the RES units' available power."""
        demand = load_demand_mw(self.load_p_mw, self.load_groups, values, self.load_scale)
        return np.atleast_1d(demand) - self.res_available_mw(values)

    def bill_usd(self, values: Mapping[str, Any]) -> np.ndarray:
        """The PCC's bill in $ over one step with no device acting, ``(N,)``, for the
        series ``values`` ``{series: value or (N,) values}`` (the price in $/MWh)."""
        p = self.net_import_mw(values)
        n = len(p)
        price = np.broadcast_to(np.asarray(values[self.price], dtype=float), (n,))
        settled = self.pcc_fleet.step({}, np.zeros((n, 0)), np.zeros((n, 0), np.int64),
                                      {"p_mw": p, "q_mvar": np.zeros(n), "price": price},
                                      self.dt_h, copies=n)[1]
        return settled.cost_terms["energy"]
