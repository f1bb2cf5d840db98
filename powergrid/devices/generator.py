"""Dispatchable generators (``Generator``, alias ``DG``) and renewables (``RES``).

Both live in pandapower's ``sgen`` table (generation positive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from powergrid.costs import piecewise_linear_cost, quadratic_cost, ramping_cost, throughput_cost
from powergrid.devices.base import (
    Device,
    Feature,
    Fleet,
    FleetOutput,
    State,
    bus_index,
    upsert_element,
)
from powergrid.devices.capability import clip
from powergrid.safety import setpoint_reduction


@dataclass(kw_only=True)
class Generator(Device):
    """A dispatchable generator (diesel, gas, micro-turbine).

    ==========================  ========  =================================================
    parameter                   unit      meaning
    ==========================  ========  =================================================
    ``p_min_mw, p_max_mw``      MW        output range while on
    ``p_init_mw``               MW        output at reset (default ``p_min_mw``)
    ``q_min_mvar, q_max_mvar``  Mvar      reactive setpoint range; None = no Q control (Q 0)
    ``sn_mva``                  MVA       rating: capability circle ``|S| <= sn``
    ``min_pf``                  --        minimum power factor ``|P|/|S|``
    ``cost_coefs``              $/h       quadratic fuel cost ``(a, b, c)``: a P^2 + b P + c
    ``cost_pwl``                MW, $/h   piecewise-linear fuel cost ``((p0, c0), (p1, c1), ..)``
                                          (replaces ``cost_coefs`` when given)
    ``ramp_up_mw_per_h``        MW/h      ramp limits (None = unlimited)
    ``ramp_down_mw_per_h``      MW/h
    ``ramp_cost_per_mw``        $/MW      cost of each MW of change
    ``commitment``              --        unit commitment: an on/off discrete control
    ``startup_time_h``          h         an on command takes effect after this long
    ``shutdown_time_h``         h         an off command takes effect after this long
    ``startup_cost``            $         charged when the unit comes on
    ``shutdown_cost``           $         charged when the unit goes off
    ``initially_on``            --        commitment state at reset
    ``controllable``            --        P (and Q) are setpoints of an agent
    ==========================  ========  =================================================

    Controls: continuous ``p_mw`` and, with Q limits, ``q_mvar``; discrete
    ``on`` (0 off, 1 on) with ``commitment``. A P setpoint is limited to the
    ramp limits and the output range; Q to the box, the capability circle and
    the power factor (P has priority). Each reduction is a safety term
    (``ramp``, ``capability``). Fuel cost is charged while on.
    """

    p_max_mw: float
    p_min_mw: float = 0.0
    p_init_mw: float | None = None
    q_min_mvar: float | None = None
    q_max_mvar: float | None = None
    sn_mva: float | None = None
    min_pf: float | None = None
    cost_coefs: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cost_pwl: tuple[tuple[float, float], ...] | None = None
    ramp_up_mw_per_h: float | None = None
    ramp_down_mw_per_h: float | None = None
    ramp_cost_per_mw: float = 0.0
    commitment: bool = False
    startup_time_h: float = 0.0
    shutdown_time_h: float = 0.0
    startup_cost: float = 0.0
    shutdown_cost: float = 0.0
    initially_on: bool = True
    controllable: bool = True

    ELEMENT: ClassVar[str] = "sgen"

    def __post_init__(self) -> None:
        if not self.p_min_mw <= self.p_max_mw:
            raise ValueError(f"generator {self.name!r}: p_min_mw > p_max_mw")
        if self.cost_pwl is not None and len(self.cost_pwl) < 2:
            raise ValueError(f"generator {self.name!r}: cost_pwl needs at least 2 points")

    @classmethod
    def fleet_class(cls) -> type[Fleet]:
        return GeneratorFleet

    @property
    def has_q_control(self) -> bool:
        return self.q_min_mvar is not None and self.q_max_mvar is not None

    def continuous_controls(self) -> dict[str, tuple[float, float]]:
        if not self.controllable:
            return {}
        out = {"p_mw": (self.p_min_mw, self.p_max_mw)}
        if self.has_q_control:
            assert self.q_min_mvar is not None and self.q_max_mvar is not None
            out["q_mvar"] = (self.q_min_mvar, self.q_max_mvar)
        return out

    def discrete_controls(self) -> dict[str, int]:
        return {"on": 2} if (self.controllable and self.commitment) else {}

    def neutral_setpoints(self) -> dict[str, float]:
        """No intervention: the lowest output (``p_min_mw``), no reactive power."""
        out = super().neutral_setpoints()
        if "p_mw" in out:
            out["p_mw"] = self.p_min_mw
        return out

    def neutral_categories(self, state: Mapping[str, float]) -> dict[str, int]:
        """No intervention: a unit with commitment is not started (off)."""
        return {"on": 0}

    def observation_spec(self) -> list[Feature]:
        """Output per unit of ``p_max_mw`` (and Q per unit of its range), commitment state."""
        out = [Feature(f"{self.name}.p_mw", "p_mw", scale=max(self.p_max_mw, 1e-9))]
        if self.has_q_control:
            assert self.q_min_mvar is not None and self.q_max_mvar is not None
            q = max(abs(self.q_min_mvar), abs(self.q_max_mvar), 1e-9)
            out.append(Feature(f"{self.name}.q_mvar", "q_mvar", scale=q, low=-1.0))
        if self.commitment:
            out.append(Feature(f"{self.name}.on", "on"))
        return out

    def write_to_net(self, net: Any) -> int:
        bus = bus_index(net, self.bus, self.name)
        p0 = self.p_min_mw if self.p_init_mw is None else self.p_init_mw
        sn = np.nan if self.sn_mva is None else self.sn_mva
        values = {"bus": bus, "p_mw": p0, "q_mvar": 0.0, "sn_mva": sn, "type": "DG",
                  "in_service": True, "max_p_mw": self.p_max_mw, "min_p_mw": self.p_min_mw}
        return upsert_element(net, "sgen", self.name, values,
                              lambda: _create_sgen(net, self.name, values))


DG = Generator


def _create_sgen(net: Any, name: str, values: dict[str, Any]) -> int:
    import pandapower as pp

    return pp.create_sgen(net, name=name, controllable=True, **values)


class GeneratorFleet(Fleet):
    """Generators stepped together. State: ``p_mw``, ``q_mvar``, ``on`` (0/1),
    ``pending_h`` (how long a commitment change has been commanded)."""

    CONTROLS_C = ("p_mw", "q_mvar")
    CONTROLS_D = ("on",)

    def __init__(self, devices: list[Generator]) -> None:
        super().__init__(devices)
        self.p_min = self.param("p_min_mw")
        self.p_max = self.param("p_max_mw")
        self.p_init = np.array([d.p_min_mw if d.p_init_mw is None else d.p_init_mw
                                for d in devices], dtype=float)
        self.sn = self.param("sn_mva")
        self.capability = self.reactive_capability(self.sn, self.param("min_pf"))
        coefs = np.array([d.cost_coefs for d in devices], dtype=float).reshape(self.n, 3)
        self.cost_a, self.cost_b, self.cost_c = coefs.T
        self.pwl = np.array([d.cost_pwl is not None for d in devices])
        self.pwl_p, self.pwl_cost = _stack_pwl([d.cost_pwl for d in devices])
        self.any_pwl = bool(self.pwl.any())
        self.ramp_up = self.param("ramp_up_mw_per_h", np.inf)
        self.ramp_down = self.param("ramp_down_mw_per_h", np.inf)
        self.ramp_cost = self.param("ramp_cost_per_mw")
        self.commitment = np.array([d.commitment for d in devices])
        self.any_commitment = bool(self.commitment.any())
        self.startup_time = self.param("startup_time_h")
        self.shutdown_time = self.param("shutdown_time_h")
        self.startup_cost = self.param("startup_cost")
        self.shutdown_cost = self.param("shutdown_cost")
        self.initially_on = np.array([d.initially_on or not d.commitment for d in devices], float)
        self.p_rating = np.maximum(np.abs(self.p_max), np.abs(self.p_min))

    def initial_state(self, rng: np.random.Generator | None = None) -> State:
        on = self.initially_on.copy()
        return {"p_mw": self.p_init * on, "q_mvar": np.zeros(self.n), "on": on,
                "pending_h": np.zeros(self.n)}

    def default_controls(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        c = np.empty((self.n, 2))
        c[:, 0] = np.where(state["on"] > 0, state["p_mw"], self.p_init)
        c[:, 1] = state["q_mvar"]
        return c, state["on"].astype(np.int64)[:, None]

    def fuel_cost_rate(self, p_mw: np.ndarray) -> np.ndarray:
        """Fuel cost rate in $/h at output ``p_mw`` (quadratic or piecewise-linear)."""
        quad = quadratic_cost(p_mw, self.cost_a, self.cost_b, self.cost_c)
        if not self.any_pwl:
            return quad
        return np.where(self.pwl, piecewise_linear_cost(p_mw, self.pwl_p, self.pwl_cost), quad)

    def commit(self, state: State, d: np.ndarray, dt_h: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Unit commitment over a step of ``dt_h`` hours at the commands ``d[:, 0]``
        (1 = on): ``(on, pending_h, started, stopped)``. A commanded change takes
        effect once it has been pending for the start-up (shut-down) time; units
        without commitment stay on."""
        on_prev = state["on"]
        if not self.any_commitment and on_prev.all():
            nothing = np.zeros(self.n, dtype=bool)
            return on_prev.copy(), np.zeros(self.n), nothing, nothing
        command = np.where(self.commitment, (d[:, 0] > 0).astype(float), 1.0)
        pending = command != on_prev
        delay = np.where(command > on_prev, self.startup_time, self.shutdown_time)
        switch = pending & (state["pending_h"] + 1e-9 >= delay)
        on = np.where(switch, command, on_prev)
        pending_h = np.where(pending & ~switch, state["pending_h"] + dt_h, 0.0)
        return on, pending_h, switch & (on > 0), switch & (on <= 0)

    def step(self, state: State, c: np.ndarray, d: np.ndarray,
             exog: dict[str, np.ndarray], dt_h: float) -> tuple[State, FleetOutput]:
        on, pending_h, started, stopped = self.commit(state, d, dt_h)
        running = on > 0
        p_box = clip(c[:, 0], self.p_min, self.p_max)
        p_prev = state["p_mw"]
        p_ramped = clip(p_box, p_prev - self.ramp_down * dt_h, p_prev + self.ramp_up * dt_h)
        p_on = clip(p_ramped, self.p_min, self.p_max)
        p = np.where(running, p_on, 0.0)
        q_on, q_reduction = self.capability.limit(c[:, 1], p)
        q = np.where(running, q_on, 0.0)

        cost_terms = {
            "fuel": on * self.fuel_cost_rate(p) * dt_h,
            "ramp": ramping_cost(p - p_prev, self.ramp_cost, self.ramp_cost),
            "commitment": np.where(started, self.startup_cost, 0.0)
            + np.where(stopped, self.shutdown_cost, 0.0),
        }
        safety_terms = {
            "ramp": np.where(running, setpoint_reduction(p_box, p_on, self.p_rating), 0.0),
            "capability": np.where(running, q_reduction, 0.0),
        }
        new = {"p_mw": p, "q_mvar": q, "on": on, "pending_h": pending_h}
        return new, FleetOutput(p, q, cost_terms, safety_terms)


def _stack_pwl(curves: list[tuple[tuple[float, float], ...] | None]) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Stack piecewise-linear curves of different lengths into ``(n, K)`` arrays.

    Short curves are padded with knots on the extension of their last segment,
    which leaves the interpolated values unchanged.
    """
    k = max([len(c) for c in curves if c is not None] + [2])
    xs = np.zeros((len(curves), k))
    ys = np.zeros((len(curves), k))
    for i, curve in enumerate(curves):
        pts = np.array(curve if curve is not None else ((0.0, 0.0), (1.0, 0.0)), dtype=float)
        pts = pts[np.argsort(pts[:, 0])]
        slope = (pts[-1, 1] - pts[-2, 1]) / (pts[-1, 0] - pts[-2, 0])
        extra = np.arange(1, k - len(pts) + 1, dtype=float)
        xs[i] = np.concatenate([pts[:, 0], pts[-1, 0] + extra])
        ys[i] = np.concatenate([pts[:, 1], pts[-1, 1] + slope * extra])
    return xs, ys


@dataclass(kw_only=True)
class RES(Device):
    """A renewable unit: solar PV or wind.

    =============================  ======  ===============================================
    parameter                      unit    meaning
    =============================  ======  ===============================================
    ``sn_mva``                     MVA     rating; available P = ``sn_mva * profile``
    ``source``                     --      ``"solar"`` or ``"wind"`` (which data feeds it)
    ``curtailable``                --      a ``p_limit_mw`` setpoint caps the output
    ``q_min_mvar, q_max_mvar``     Mvar    reactive setpoint range; None = no Q control
    ``min_pf``                     --      minimum power factor when producing
    ``curtailment_cost_per_mwh``   $/MWh   cost of energy curtailed (lost subsidy etc.)
    =============================  ======  ===============================================

    Exogenous input ``profile`` in [0, 1] (per unit of rating; values outside
    are clipped). Safety term ``capability`` reports Q reductions.
    """

    sn_mva: float
    source: str = "solar"
    curtailable: bool = False
    q_min_mvar: float | None = None
    q_max_mvar: float | None = None
    min_pf: float | None = None
    curtailment_cost_per_mwh: float = 0.0

    ELEMENT: ClassVar[str] = "sgen"

    def __post_init__(self) -> None:
        if self.source not in ("solar", "wind"):
            raise ValueError(f"RES {self.name!r}: source must be 'solar' or 'wind',"
                             f" not {self.source!r}")
        if not self.sn_mva > 0:
            raise ValueError(f"RES {self.name!r}: sn_mva must be positive")

    @classmethod
    def fleet_class(cls) -> type[Fleet]:
        return RESFleet

    @property
    def has_q_control(self) -> bool:
        return self.q_min_mvar is not None and self.q_max_mvar is not None

    def continuous_controls(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        if self.curtailable:
            out["p_limit_mw"] = (0.0, self.sn_mva)
        if self.has_q_control:
            assert self.q_min_mvar is not None and self.q_max_mvar is not None
            out["q_mvar"] = (self.q_min_mvar, self.q_max_mvar)
        return out

    def neutral_setpoints(self) -> dict[str, float]:
        """No intervention: no curtailment (the limit at the rating), no reactive power."""
        out = super().neutral_setpoints()
        if "p_limit_mw" in out:
            out["p_limit_mw"] = self.sn_mva
        return out

    def observation_spec(self) -> list[Feature]:
        """Available and delivered power per unit of rating."""
        out = [Feature(f"{self.name}.p_avail_mw", "p_avail_mw", scale=self.sn_mva),
               Feature(f"{self.name}.p_mw", "p_mw", scale=self.sn_mva)]
        if self.has_q_control:
            out.append(Feature(f"{self.name}.q_mvar", "q_mvar", scale=self.sn_mva, low=-1.0))
        return out

    def write_to_net(self, net: Any) -> int:
        values = {"bus": bus_index(net, self.bus, self.name), "p_mw": 0.0, "q_mvar": 0.0,
                  "sn_mva": self.sn_mva, "type": "PV" if self.source == "solar" else "WP",
                  "in_service": True, "max_p_mw": self.sn_mva, "min_p_mw": 0.0}
        return upsert_element(net, "sgen", self.name, values,
                              lambda: _create_sgen(net, self.name, values))


class RESFleet(Fleet):
    """Renewables stepped together. State: ``p_mw``, ``q_mvar``, ``p_avail_mw``."""

    CONTROLS_C = ("p_limit_mw", "q_mvar")
    EXOGENOUS = ("profile",)

    def __init__(self, devices: list[RES]) -> None:
        super().__init__(devices)
        self.sn = self.param("sn_mva")
        self.curtailable = np.array([d.curtailable for d in devices])
        self.capability = self.reactive_capability(self.sn, self.param("min_pf"))
        self.curtail_cost = self.param("curtailment_cost_per_mwh")
        #: the controls of nobody acting: the limit at the rating, no reactive power
        self._no_curtailment = np.stack([self.sn, np.zeros(self.n)], axis=1)

    def initial_state(self, rng: np.random.Generator | None = None) -> State:
        z = np.zeros(self.n)
        return {"p_mw": z, "q_mvar": z.copy(), "p_avail_mw": z.copy()}

    def default_controls(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        return self._no_curtailment.copy(), np.zeros((self.n, 0), np.int64)

    def available_mw(self, profile: np.ndarray) -> np.ndarray:
        """Available power in MW at ``profile`` (per unit of rating, ``(..., n)``; nan as 0,
        clipped into [0, 1]): ``sn_mva * profile``."""
        return self.sn * np.minimum(np.fmax(profile, 0.0), 1.0)  # fmax: nan -> 0

    def step(self, state: State, c: np.ndarray, d: np.ndarray,
             exog: dict[str, np.ndarray], dt_h: float) -> tuple[State, FleetOutput]:
        p_avail = self.available_mw(exog["profile"])
        limit = np.where(self.curtailable, clip(c[:, 0], 0.0, self.sn), self.sn)
        p = np.minimum(p_avail, limit)
        q, q_reduction = self.capability.limit(c[:, 1], p)
        cost_terms = {"curtailment": throughput_cost(p_avail - p, self.curtail_cost, dt_h)}
        new = {"p_mw": p, "q_mvar": q, "p_avail_mw": p_avail}
        return new, FleetOutput(p, q, cost_terms, {"capability": q_reduction})
