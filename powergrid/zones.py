"""Zones: the part of a network an agent owns.

A zone is a value of ``net.bus["zone"]`` (``"MG1"``, ``"DSO"``). An agent's zone is the
one its devices sit in (or the one it is given); the zone holds

* its buses (``net.bus["zone"]`` equal to the zone),
* the lines with both ends in it and the transformers with either end in it,
* the PCCs named ``"<zone>.<anything>"``,
* the devices on its buses, and the agent's own devices wherever they are.

This is the only place these rules are written; the world's visibility masks, the
agents' views (what they observe and what they are charged for) and the coordination
protocols' zone facts all read a :class:`Zone`. Positions are row positions in the
net's tables (``net.bus`` order, ...) and in the list of PCCs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandapower as pp


def pcc_in_zone(pcc_name: str, zone: str | None) -> bool:
    """A PCC belongs to the zone its name starts with (``"MG1.pcc"`` to ``"MG1"``)."""
    return zone is not None and pcc_name.startswith(f"{zone}.")


def zone_of_devices(net: pp.pandapowerNet, device_buses: Iterable[str],
                    given: str | None = None) -> str | None:
    """The zone of the buses ``device_buses`` (bus names; "" for a device on no bus):
    ``given`` if set, else the one zone they all sit in (None if they span several or
    none)."""
    if given is not None:
        return given
    zone_of = dict(zip(net.bus["name"].astype(str), net.bus["zone"].astype(str),
                       strict=True))
    zones = {zone_of.get(bus, "") for bus in device_buses} - {""}
    return zones.pop() if len(zones) == 1 else None


@dataclass(frozen=True)
class Zone:
    """The buses, lines, transformers and PCCs (row positions) and the device names of
    one zone, or of the whole network (``name`` None)."""

    name: str | None
    buses: np.ndarray
    lines: np.ndarray
    trafos: np.ndarray
    pccs: np.ndarray
    devices: tuple[str, ...]

    def masks(self, net: pp.pandapowerNet, n_pccs: int) -> dict[str, np.ndarray]:
        """Boolean keep-masks over ``net.bus``, ``net.line``, ``net.trafo`` and the PCCs."""
        out = {}
        for key, size, positions in (("bus", len(net.bus), self.buses),
                                     ("line", len(net.line), self.lines),
                                     ("trafo", len(net.trafo), self.trafos),
                                     ("pcc", n_pccs, self.pccs)):
            keep = np.zeros(size, dtype=bool)
            keep[positions] = True
            out[key] = keep
        return out


def whole_network(net: pp.pandapowerNet, devices: Sequence[Any],
                  pcc_names: Sequence[str]) -> Zone:
    """Everything: every bus, line, transformer, PCC and device."""
    return Zone(None, np.arange(len(net.bus)), np.arange(len(net.line)),
                np.arange(len(net.trafo)), np.arange(len(pcc_names)),
                tuple(d.name for d in devices))


def zone(net: pp.pandapowerNet, name: str | None, devices: Sequence[Any],
         pcc_names: Sequence[str], own: Iterable[str] = ()) -> Zone:
    """Zone ``name`` of ``net`` with ``devices`` (objects with ``name`` and ``bus``) and
    the PCCs ``pcc_names``; ``own``: device names that belong to it wherever they sit
    (an agent's own devices). Zone None holds nothing but ``own``."""
    in_zone = ((net.bus["zone"].astype(str) == name).to_numpy() if name is not None
               else np.zeros(len(net.bus), dtype=bool))
    row = {b: k for k, b in enumerate(net.bus.index)}
    buses = {str(n) for n, z in zip(net.bus["name"], in_zone, strict=True) if z}
    own = set(own)
    lines = [k for k, (f, t) in enumerate(zip(net.line.from_bus, net.line.to_bus,
                                              strict=True))
             if in_zone[row[f]] and in_zone[row[t]]]
    trafos = [k for k, (h, lo) in enumerate(zip(net.trafo.hv_bus, net.trafo.lv_bus,
                                                strict=True))
              if in_zone[row[h]] or in_zone[row[lo]]]
    pccs = [k for k, p in enumerate(pcc_names) if pcc_in_zone(p, name)]
    return Zone(name, np.flatnonzero(in_zone), np.array(lines, dtype=np.intp),
                np.array(trafos, dtype=np.intp), np.array(pccs, dtype=np.intp),
                tuple(d.name for d in devices
                      if getattr(d, "bus", "") in buses or d.name in own))
