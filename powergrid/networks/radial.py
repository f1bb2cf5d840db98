"""A synthetic radial MV feeder of any size, for scaling studies.

Not a published test feeder: a seeded random tree, so the same ``(n_bus, seed)``
always gives the same net. 110/20 kV, 40 MVA substation transformer with an
OLTC (+-9 taps of 1.5 %), ten feeders of equal bus count whose buses hang on the
previous bus (75 %) or on a random earlier bus of the same feeder (laterals);
NA2XS2Y-like cable data (0.161 + j0.117 ohm/km, 273 nF/km, 420 A) with lengths
of 50-250 m; a constant-PQ load of 5-30 kW (pf 0.96) at every MV bus and a
3 x 0.3 Mvar capacitor bank at every 200th bus. Bus names ``"mv<k>"``.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp

NAME = "radial1000"


def radial_feeder(n_bus: int = 1000, seed: int = 0) -> pp.pandapowerNet:
    """The synthetic feeder: the 110 kV source bus, ``mv0`` and ten feeders of
    ``(n_bus - 1) // 10`` buses each (992 buses for ``n_bus=1000``)."""
    rng = np.random.default_rng(seed)
    net = pp.create_empty_network(name=NAME, f_hz=50.0, sn_mva=1.0)
    hv = pp.create_bus(net, 110.0, name="hv", zone=NAME, geodata=(0.0, 1.0))
    pp.create_ext_grid(net, hv, vm_pu=1.02, name="source")
    mv0 = pp.create_bus(net, 20.0, name="mv0", zone=NAME, geodata=(0.0, 0.0))
    pp.create_transformer_from_parameters(
        net, hv, mv0, sn_mva=40, vn_hv_kv=110, vn_lv_kv=20, vkr_percent=0.3, vk_percent=12,
        pfe_kw=20, i0_percent=0.05, tap_side="hv", tap_neutral=0, tap_min=-9, tap_max=9,
        tap_step_percent=1.5, tap_pos=2, tap_changer_type="Ratio", name="sub")
    buses = [mv0]
    n_feeders = 10
    per_feeder = (n_bus - 1) // n_feeders
    for f in range(n_feeders):
        start = len(buses)
        for i in range(per_feeder):
            if i == 0:
                parent = mv0
            elif rng.random() < 0.75:
                parent = buses[-1]
            else:
                parent = buses[int(rng.integers(start, len(buses)))]
            k = len(buses)
            bus = pp.create_bus(net, 20.0, name=f"mv{k}", zone=NAME,
                                geodata=(float(f - n_feeders / 2), -1.0 - i))
            buses.append(bus)
            pp.create_line_from_parameters(
                net, parent, bus, float(rng.uniform(0.05, 0.25)), r_ohm_per_km=0.161,
                x_ohm_per_km=0.117, c_nf_per_km=273, max_i_ka=0.42, name=f"line mv{k}")
    for k, bus in enumerate(buses[1:], start=1):
        p = float(rng.uniform(0.005, 0.03))
        pp.create_load(net, bus, p_mw=p, q_mvar=0.3 * p, name=f"load mv{k}")
    for k in range(100, len(buses), 200):
        pp.create_shunt(net, buses[k], q_mvar=-0.3, p_mw=0.0, step=1, max_step=3,
                        name=f"cap mv{k}")
    return net
