"""Device models: state, controls, one-step dynamics, cost and safety.

Every type's physics is numpy over a :class:`Fleet` of devices of that type;
see :mod:`powergrid.devices.base`. Devices are built in code or from plain
config dicts (``{"type": "ESS", "name": "bat1", ...}``) with
:func:`device_from_config`, which is how they cross process boundaries.
"""

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from powergrid.devices.base import (
    ActionSpec,
    Device,
    Fleet,
    FleetOutput,
    State,
    check_field_types,
    device_params,
)
from powergrid.devices.collection import DeviceReport, DeviceSet
from powergrid.devices.discrete import Shunt, Switch, Transformer
from powergrid.devices.generator import DG, RES, Generator
from powergrid.devices.grid import Grid
from powergrid.devices.storage import ESS

DEVICE_TYPES: dict[str, type[Device]] = {
    "Generator": Generator, "DG": Generator, "RES": RES, "ESS": ESS, "Shunt": Shunt,
    "Transformer": Transformer, "Switch": Switch, "Grid": Grid,
}


def device_from_config(config: Mapping[str, Any]) -> Device:
    """Build a device from ``{"type": <name in DEVICE_TYPES>, <field>: value, ...}``.

    Unknown types and unknown fields raise a ValueError naming them.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"a device config must be a mapping ({{'type': ..., 'name': ...}}),"
                         f" not {type(config).__name__} {config!r:.40}")
    params = dict(config)
    kind = params.pop("type", None)
    name = params.get("name", "?")
    if kind not in DEVICE_TYPES:
        raise ValueError(f"device {name!r}: unknown type {kind!r}"
                         f" (valid: {sorted(DEVICE_TYPES)})")
    cls = DEVICE_TYPES[kind]
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(f"device {name!r}: unknown parameter(s) {unknown} for {kind}")
    check_field_types(cls, params, f"device {name!r}")
    check_param_ranges(params, f"device {name!r}")
    for key in ("cost_coefs",):
        if key in params and params[key] is not None:
            params[key] = tuple(params[key])
    if params.get("cost_pwl") is not None:
        params["cost_pwl"] = tuple(tuple(p) for p in params["cost_pwl"])
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"device {name!r}: {exc}") from None


#: ranges of device parameters by the unit their name ends with, inclusive: a value
#: outside is a slip (a unit, a sign, a run of zeros), never a real device
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "_per_mwh": (-1e6, 1e6), "_per_mw": (-1e6, 1e6),  # prices and costs ($) first
    "_mw": (-1e4, 1e4), "_mvar": (-1e4, 1e4), "_mva": (0.0, 1e4),  # up to 10 GW
    "_mwh": (0.0, 1e6), "_mw_per_h": (0.0, 1e5), "_h": (0.0, 8760.0),
    "_pu": (0.0, 2.0), "_percent": (-100.0, 100.0),
}
#: parameters named outright (positions, counts, efficiencies, costs)
NAMED_RANGES: dict[str, tuple[float, float]] = {
    "tap_min": (-256, 256), "tap_max": (-256, 256), "tap_init": (-256, 256),
    "max_tap_change": (0, 512), "max_step": (0, 1000), "step_init": (0, 1000),
    "soc_min": (0.0, 1.0), "soc_max": (0.0, 1.0), "soc_init": (0.0, 1.0),
    "eta_charge": (0.0, 1.0), "eta_discharge": (0.0, 1.0), "min_pf": (0.0, 1.0),
    "sell_discount": (0.0, 10.0),
}
#: any other number (costs in $, $/MWh, ...)
OTHER_RANGE = (-1e9, 1e9)


def check_param_ranges(params: Mapping[str, Any], where: str) -> None:
    """A ValueError naming the first number in ``params`` (nested in lists too) that is
    not finite or lies outside its range (:data:`NAMED_RANGES`, else by the unit suffix
    of its name, :data:`PARAM_RANGES`, else :data:`OTHER_RANGE`)."""
    for key, value in params.items():
        low, high = NAMED_RANGES.get(key) or next(
            (r for suffix, r in PARAM_RANGES.items() if key.endswith(suffix)), OTHER_RANGE)
        for number in _numbers_in(value):
            if not (math.isfinite(number) and low <= number <= high):
                raise ValueError(f"{where}: {key} = {number!r} is outside [{low:g}, {high:g}]")


def _numbers_in(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in _numbers_in(v)]
    return []


def device_to_config(device: Device) -> dict[str, Any]:
    """The inverse of :func:`device_from_config` (JSON-clean for plain parameters)."""
    kind = next(k for k, v in DEVICE_TYPES.items() if v is type(device) and k != "DG")
    return {"type": kind, **device_params(device)}


__all__ = ["DEVICE_TYPES", "DG", "ESS", "RES", "ActionSpec", "Device", "DeviceReport",
           "DeviceSet", "Fleet", "FleetOutput", "Generator", "Grid", "Shunt", "State", "Switch",
           "Transformer", "device_from_config", "device_to_config"]
