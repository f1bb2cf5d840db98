"""CIGRE medium-voltage benchmark network with all its DER (pandapower's builder).

``pandapower.networks.create_cigre_network_mv(with_der="all")``: 15 buses
(110/20 kV, 50 Hz as published), PV, wind, fuel cells, CHP and two batteries,
8 switches (tie switches S1-S3 open). Kept as built; only names are
harmonised with the other networks: ``net.name`` and ``net.bus.zone`` are
"cigre_mv", the ext_grid is "source", and unnamed switches get unique names
("<type> <element name> @<bus name>", e.g. "CB Trafo 0-1 @Bus 0").
"""

from __future__ import annotations

import pandapower as pp
import pandapower.networks as pn

NAME = "cigre_mv"


def _name_switches(net: pp.pandapowerNet) -> None:
    tables = {"l": net.line, "t": net.trafo, "b": net.bus}
    for idx, sw in net.switch.iterrows():
        if isinstance(sw["name"], str) and sw["name"]:
            continue
        element = tables[sw["et"]].at[sw["element"], "name"]
        net.switch.at[idx, "name"] = f"{sw['type']} {element} @{net.bus.at[sw['bus'], 'name']}"


def cigre_mv() -> pp.pandapowerNet:
    """CIGRE MV benchmark with PV, wind, fuel cells, CHP and storage; 50 Hz; not solved."""
    net = pn.create_cigre_network_mv(with_der="all")
    net.name = NAME
    net.bus["zone"] = NAME
    net.ext_grid["name"] = "source"
    _name_switches(net)
    return net
