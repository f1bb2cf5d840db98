"""Three-phase (unbalanced) feeder models solved with OpenDSS.

The balanced pandapower builders (:mod:`powergrid.networks`) stay the default;
this package writes the same feeders' data as OpenDSS circuits with their real
phasing (single- and two-phase laterals, per-phase loads with their published load
models, a regulator tap per phase) and solves them through OpenDSSDirect.py (the
``three_phase`` extra, imported only when a circuit is built).

>>> from powergrid.networks.three_phase import ieee13_circuit
>>> snap = ieee13_circuit().solve()      # published regulator taps +10 / +8 / +11
>>> snap.vm("675", "b")                  # p.u.
1.05...

Modules: :mod:`.dss` (OpenDSS text for the project's data types), :mod:`.feeder`
(a feeder's published data as one circuit), :mod:`.ieee13` and :mod:`.ieee34` (the
IEEE feeders), :mod:`.microgrids` (the two composed), :mod:`.opendss` (engine, solve,
per-bus-phase results).
:data:`FEEDERS` names the feeders.
"""

from __future__ import annotations

from powergrid.networks.three_phase.feeder import Feeder
from powergrid.networks.three_phase.ieee13 import IEEE13, ieee13_circuit, ieee13_dss
from powergrid.networks.three_phase.ieee34 import IEEE34, ieee34_circuit, ieee34_dss
from powergrid.networks.three_phase.microgrids import MICROGRIDS
from powergrid.networks.three_phase.opendss import OpenDSSCircuit, PhaseSnapshot

#: The three-phase feeders by name (the balanced networks' names).
FEEDERS: dict[str, Feeder] = {f.name: f for f in (IEEE13, IEEE34, MICROGRIDS)}

__all__ = [
    "FEEDERS",
    "IEEE13",
    "IEEE34",
    "MICROGRIDS",
    "Feeder",
    "OpenDSSCircuit",
    "PhaseSnapshot",
    "ieee13_circuit",
    "ieee13_dss",
    "ieee34_circuit",
    "ieee34_dss",
]
