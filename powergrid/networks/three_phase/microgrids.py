"""The networked microgrids (:mod:`powergrid.networks.microgrids`) as one three-phase
OpenDSS circuit, composed from the two feeders' circuits (:mod:`.ieee34`,
:mod:`.ieee13`): one source of numbers.

As the balanced builder composes them: the IEEE 34 feeder is the DSO (every name
prefixed ``"DSO."``), with its source, substation and substation LTC; an IEEE 13 feeder
(prefixed ``"MG1."`` ...) hangs off each DSO node of
:data:`powergrid.networks.microgrids.MG_CONNECTIONS`, its source and 115 kV substation
replaced by a 24.9 / 4.16 kV transformer ``"<mg>.sub"`` with the published IEEE 13
substation data (5 MVA, R 1 %, X 8 %, D / Gr.Y). The microgrids' loads follow the
balanced net's (scaled there) through :func:`powergrid.phase_mapping.phase_mapping`.

One change the balanced model does not need (it has no phases): MG1's host 822 and
MG3's host 856 end single-phase laterals of the published feeder (816-818-820-822 on
phase a, 854-856 on phase b), which cannot feed a three-phase substation. Here those
laterals are three-phase, built as the feeder's three-phase #2 ACSR branches
(configuration 301; the published laterals are #4 ACSR, 302 / 303):
:data:`UPGRADED_LATERALS`. Their loads stay on their published phases.
"""

from __future__ import annotations

from dataclasses import replace

from powergrid.networks.ieee13 import FEEDER_KV as MG_KV
from powergrid.networks.ieee13 import SUBSTATION as MG_SUBSTATION
from powergrid.networks.ieee13 import SUBSTATION_VECTOR_GROUP as MG_SUBSTATION_VECTOR_GROUP
from powergrid.networks.ieee34 import FEEDER_KV as DSO_KV
from powergrid.networks.microgrids import DSO, MG_CONNECTIONS, NAME
from powergrid.networks.three_phase.feeder import (
    Feeder,
    RegulatorBank,
    Transformer,
    transformer,
)
from powergrid.networks.three_phase.ieee13 import IEEE13
from powergrid.networks.three_phase.ieee34 import IEEE34

#: the DSO's single-phase laterals that host a microgrid, built three-phase (module
#: docstring): segment -> configuration
UPGRADED_LATERALS: dict[tuple[str, str], str] = {
    ("816", "818"): "301", ("818", "820"): "301", ("820", "822"): "301",
    ("854", "856"): "301",
}


def prefixed(feeder: Feeder, prefix: str) -> Feeder:
    """``feeder`` with ``prefix`` before every bus and element name (the balanced
    builders' area prefix, e.g. "MG1.")."""
    def p(name: str) -> str:
        return f"{prefix}{name}"

    def tr(t: Transformer) -> Transformer:
        return replace(t, name=p(t.name), hv_bus=p(t.hv_bus), lv_bus=p(t.lv_bus))

    def reg(r: RegulatorBank) -> RegulatorBank:
        return replace(r, name=p(r.name), from_bus=p(r.from_bus), to_bus=p(r.to_bus))

    return replace(
        feeder,
        source=replace(feeder.source, bus=p(feeder.source.bus)),
        substation=tr(feeder.substation),
        buses_kv=tuple((p(b), kv) for b, kv in feeder.buses_kv),
        lines=tuple((p(f), p(t), length, config) for f, t, length, config in feeder.lines),
        regulators=tuple(reg(r) for r in feeder.regulators),
        spot_loads=tuple(replace(sl, bus=p(sl.bus)) for sl in feeder.spot_loads),
        distributed_loads=tuple(replace(dl, from_bus=p(dl.from_bus), to_bus=p(dl.to_bus))
                                for dl in feeder.distributed_loads),
        capacitors=tuple(replace(c, bus=p(c.bus)) for c in feeder.capacitors),
        transformers=tuple(tr(t) for t in feeder.transformers),
        switches=tuple((p(f), p(t)) for f, t in feeder.switches),
        lumped_nodes={(p(f), p(t)): p(node) for (f, t), node in feeder.lumped_nodes.items()},
    )


def networked_microgrids() -> Feeder:
    """The DSO feeder with its microgrids as one :class:`Feeder` (module docstring)."""
    dso = IEEE34
    dso = replace(dso, lines=tuple((f, t, length, UPGRADED_LATERALS.get((f, t), config))
                                   for f, t, length, config in dso.lines))
    dso = prefixed(dso, f"{DSO}.")
    parts = [dso]
    substations = []
    for area, (host, _) in MG_CONNECTIONS.items():
        mg = prefixed(IEEE13, f"{area}.")
        parts.append(mg)
        substations.append(transformer(
            f"{area}.{IEEE13.substation.name}", (f"{DSO}.{host}", mg.substation.lv_bus),
            MG_SUBSTATION_VECTOR_GROUP, (DSO_KV, MG_KV), MG_SUBSTATION))
    lumped: dict[tuple[str, str], str] = {}
    for part in parts:
        lumped.update(part.lumped_nodes)
    return Feeder(
        name=NAME,
        source=dso.source,
        substation=dso.substation,
        substation_ltc=dso.substation_ltc,
        buses_kv=tuple(row for part in parts for row in part.buses_kv),
        lines=tuple(row for part in parts for row in part.lines),
        configs={**IEEE34.configs, **IEEE13.configs},
        regulators=tuple(r for part in parts for r in part.regulators),
        spot_loads=tuple(sl for part in parts for sl in part.spot_loads),
        distributed_loads=tuple(dl for part in parts for dl in part.distributed_loads),
        capacitors=tuple(c for part in parts for c in part.capacitors),
        transformers=(*dso.transformers, *substations,
                      *(t for part in parts[1:] for t in part.transformers)),
        switches=tuple(s for part in parts for s in part.switches),
        lumped_nodes=lumped,
    )


#: the networked microgrids' three-phase circuit
MICROGRIDS = networked_microgrids()
