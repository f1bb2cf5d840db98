"""Device models: state, controls, one-step dynamics, cost and safety.

Every type's physics is numpy over a :class:`Fleet` of devices of that type;
see :mod:`powergrid.devices.base`.
"""

from powergrid.devices.base import ActionSpec, Device, Fleet, FleetOutput, State
from powergrid.devices.discrete import Shunt, Switch, Transformer
from powergrid.devices.generator import DG, RES, Generator
from powergrid.devices.grid import Grid
from powergrid.devices.storage import ESS

DEVICE_TYPES: dict[str, type[Device]] = {
    "Generator": Generator, "DG": Generator, "RES": RES, "ESS": ESS, "Shunt": Shunt,
    "Transformer": Transformer, "Switch": Switch, "Grid": Grid,
}

__all__ = ["DG", "DEVICE_TYPES", "ESS", "RES", "ActionSpec", "Device", "Fleet", "FleetOutput",
           "Generator", "Grid", "Shunt", "State", "Switch", "Transformer"]
