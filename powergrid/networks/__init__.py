"""pandapower network builders: IEEE 13, IEEE 34, networked microgrids, CIGRE MV.

>>> from powergrid.networks import build_network, NETWORKS
>>> net = build_network("ieee13")          # a fresh pandapowerNet, not solved

``NETWORKS`` maps each name to ``(builder, one-line description)``. Every
builder also stands alone (:func:`ieee13`, :func:`ieee34`, :func:`microgrids`,
:func:`cigre_mv`).

The IEEE feeders are balanced positive-sequence models at 60 Hz built from the
IEEE PES Distribution Test Feeder data (line impedances and capacitances from
the configuration tables, see :mod:`powergrid.networks.line_configs`).

Naming conventions (other code relies on them)
----------------------------------------------
* Buses carry their IEEE node number as a string ("650", "632"), regulator
  output buses "RG60" (IEEE 13), "814r" / "852r" (IEEE 34), the IEEE 13 HV
  source bus "sourcebus".
* Other elements: loads "load 671" (spot load at 671) and "load 632-671 @632"
  (half of the 632-671 distributed load, lumped at 632); capacitors "cap 675";
  lines "<from bus>-<to bus>" ("632-671", "RG60-632"); transformers "sub"
  (substation), "reg1" / "reg2" (regulators, OLTC), "xfm1" (in-line
  transformer); the IEEE 13 switch "671-692"; the ext_grid "source".
* ``net.bus.zone`` is the network name ("ieee13", "ieee34", "cigre_mv"). In
  "microgrids" every name is prefixed by its area and a dot ("DSO.800",
  "MG1.632", "MG1.load 671", "MG2.cap 675", "DSO.source") and the zone is the
  area ("DSO", "MG1", "MG2", "MG3").
* Names are unique within each element table.
* Every bus has x/y geodata (published / OpenDSS coordinates or a schematic
  tree layout) for single-line diagrams.
* Loads are constant PQ (no constant-Z / constant-I share), ``scaling`` 1.
  Regulators are transformers with ``tap_changer_type="Ratio"``, taps
  -16..16 of 0.625 % on the output side (positive raises the output voltage).
  Capacitors are shunts with ``q_mvar < 0`` per step, ``step == max_step``.
* IEEE bus limits ``min_vm_pu`` / ``max_vm_pu`` are 0.95 / 1.05 (ANSI range A).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pandapower as pp

from powergrid.networks.cigre_mv import cigre_mv
from powergrid.networks.ieee13 import ieee13
from powergrid.networks.ieee34 import ieee34
from powergrid.networks.initial_voltage import tap_aware_vm_pu
from powergrid.networks.microgrids import microgrids
from powergrid.networks.radial import radial_feeder

NetworkBuilder = Callable[..., pp.pandapowerNet]

NETWORKS: dict[str, tuple[NetworkBuilder, str]] = {
    "ieee13": (ieee13, "IEEE 13 node test feeder, 4.16 kV, balanced, 60 Hz (3.47 MW)"),
    "ieee34": (ieee34, "IEEE 34 node test feeder, 24.9 kV, balanced, 60 Hz (1.77 MW)"),
    "microgrids": (
        microgrids,
        "IEEE 34 DSO feeder with three IEEE 13 microgrids at nodes 822, 848, 856",
    ),
    "cigre_mv": (cigre_mv, "CIGRE MV benchmark, 20 kV, 50 Hz, with PV, wind and storage"),
    "radial1000": (radial_feeder, "synthetic 20 kV radial feeder, 1,000 buses (scaling studies)"),
}


def build_network(name: str, **options: Any) -> pp.pandapowerNet:
    """Build the network ``name`` (a key of :data:`NETWORKS`), fresh and unsolved.

    ``options`` go to the builder (e.g. ``mg_load_scale`` for "microgrids").
    Raises ``ValueError`` for an unknown name or an option the builder does not take.
    """
    try:
        builder, _ = NETWORKS[name]
    except KeyError:
        valid = ", ".join(sorted(NETWORKS))
        raise ValueError(f"unknown network {name!r}; valid names: {valid}") from None
    try:
        inspect.signature(builder).bind(**options)
    except TypeError as exc:
        raise ValueError(f"network {name!r}: {exc} (network_params)") from None
    return builder(**options)


__all__ = [
    "NETWORKS",
    "build_network",
    "cigre_mv",
    "ieee13",
    "ieee34",
    "microgrids",
    "tap_aware_vm_pu",
]
