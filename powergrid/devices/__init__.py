"""Device models: state, controls, one-step dynamics, cost and safety.

Every type's physics is numpy over a :class:`Fleet` of devices of that type;
see :mod:`powergrid.devices.base`. Devices are built in code or from plain
config dicts (``{"type": "ESS", "name": "bat1", ...}``) with
:func:`device_from_config`, which is how they cross process boundaries.
"""

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
    for key in ("cost_coefs",):
        if key in params and params[key] is not None:
            params[key] = tuple(params[key])
    if params.get("cost_pwl") is not None:
        params["cost_pwl"] = tuple(tuple(p) for p in params["cost_pwl"])
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"device {name!r}: {exc}") from None


def device_to_config(device: Device) -> dict[str, Any]:
    """The inverse of :func:`device_from_config` (JSON-clean for plain parameters)."""
    kind = next(k for k, v in DEVICE_TYPES.items() if v is type(device) and k != "DG")
    return {"type": kind, **device_params(device)}


__all__ = ["DEVICE_TYPES", "DG", "ESS", "RES", "ActionSpec", "Device", "DeviceReport",
           "DeviceSet", "Fleet", "FleetOutput", "Generator", "Grid", "Shunt", "State", "Switch",
           "Transformer", "device_from_config", "device_to_config"]
